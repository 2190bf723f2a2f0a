"""The process's threads are shared by every session: a service that hangs holds at
most a few of them, and once it keeps hanging it is skipped, saying so."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from connectors.http import make_session, request
from esap_dash.core.fanout import fan_out, guard

from .conftest import run_coroutine


def _outcomes(calls: dict, services: dict, deadline: float = 10,
              database: str | None = None) -> dict:
    async def collect() -> dict:
        return {o.key: o async for o in fan_out(calls, deadline=deadline, services=services,
                                                database=database)}
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


#: Another server process of the deployment: it takes every place for calls to a
#: service, says so, and holds them until it is killed.
OTHER_WORKER = """
import sys, time
from esap_dash.core.places import places_for
from esap_dash.core.runtime import Runtime
database, service, cap = sys.argv[1], sys.argv[2], int(sys.argv[3])
with Runtime():
    print([places_for(database).take(service, cap) for _ in range(cap)], flush=True)
    time.sleep(600)
"""


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_the_workers_of_a_deployment_share_a_service_s_cap_and_a_killed_one_frees_it(
        backend: str, hung_server: str, secrets, tmp_path) -> None:
    database = (secrets["ESAP_DASH_PG_URL"] if backend == "postgresql"
                else f"sqlite:///{tmp_path}/esap-dash.db")
    session = make_session(timeout=1.5, retries=0)
    cap = guard(hung_server, "hung", database).cap
    other = subprocess.Popen([sys.executable, "-c", OTHER_WORKER, database, hung_server,
                              str(cap)], stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == str(list(range(cap)))
        refused = _outcomes({"hung": lambda: request(session, "GET", hung_server)},
                            {"hung": hung_server}, database=database)["hung"]
        assert refused.seconds < 0.5
        assert refused.reason == (f"skipped: {cap} calls of this deployment's servers to "
                                  "hung are still waiting for an answer")
    finally:
        other.kill()
        other.wait()
        other.stdout.close()
    asked = _outcomes({"hung": lambda: request(session, "GET", hung_server)},
                      {"hung": hung_server}, database=database)["hung"]
    assert "skipped" not in asked.reason and asked.seconds >= 1.4  # it waited for an answer
    # A process without the deployment's database counts its own calls only.
    alone = _outcomes({"hung": lambda: request(session, "GET", hung_server)},
                      {"hung": hung_server})["hung"]
    assert "skipped" not in alone.reason
