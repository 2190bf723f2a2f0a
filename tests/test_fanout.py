"""The process's threads are shared by every session: a service that hangs holds at
most a few of them, and once it keeps hanging it is skipped, saying so."""

from __future__ import annotations

import time

from connectors.http import make_session, request
from esap_dash.core.fanout import fan_out, guard

from .conftest import run_coroutine


def _outcomes(calls: dict, services: dict, deadline: float = 10) -> dict:
    async def collect() -> dict:
        return {o.key: o async for o in fan_out(calls, deadline=deadline, services=services)}
    return run_coroutine(collect())


def test_a_hung_service_holds_at_most_its_cap_then_is_skipped_and_others_answer(
        hung_server: str, profile) -> None:
    session = make_session(timeout=1.5, retries=0)
    tap = profile.service("dachs-tap").url
    cap = guard(hung_server).cap
    calls = {f"hung {i}": (lambda: request(session, "GET", hung_server))
             for i in range(cap + 2)}
    calls["healthy"] = lambda: request(make_session(timeout=10), "GET", tap + "/availability")
    services = {**dict.fromkeys([k for k in calls if k != "healthy"], hung_server),
                "healthy": tap}
    started = time.monotonic()
    outcomes = _outcomes(calls, services)
    refused = [o for o in outcomes.values() if o.reason and "still waiting" in o.reason]
    assert len(refused) == 2 and all(o.seconds < 0.5 for o in refused)
    asked = [o for k, o in outcomes.items() if k != "healthy" and o not in refused]
    assert len(asked) == cap and all(o.error is not None for o in asked)
    assert outcomes["healthy"].error is None and outcomes["healthy"].value.status_code == 200
    assert time.monotonic() - started < 5

    # Its last calls found no answer: it is skipped at once, and says why.
    again = _outcomes({"hung": lambda: request(session, "GET", hung_server)},
                      {"hung": hung_server})["hung"]
    assert again.seconds < 0.5
    assert f"did not answer its last {cap} calls; asked again in" in again.reason
