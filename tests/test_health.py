"""The concurrent health round: a dead or hung service costs only itself."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

from esap_dash.core.config import Profile
from esap_dash.core.health import check_all
from esap_dash.core.runtime import Runtime

from .conftest import run_coroutine


def test_all_local_services_are_up(profile: Profile) -> None:
    results = check_all(profile.services)
    assert [h.name for h in results] == [s.name for s in profile.services]
    assert all(h.up for h in results), [(h.name, h.detail) for h in results if not h.up]


def test_dead_and_hung_services_do_not_hold_up_the_others(profile: Profile, dead_url: str,
                                                          hung_server: str) -> None:
    rucio = profile.service("rucio")
    dead = replace(rucio, name="dead rucio", url=dead_url)
    hung = replace(profile.service("dachs-tap"), name="hung tap", url=hung_server + "/tap",
                   options={"timeout": 2})
    services = [*profile.services, dead, hung]
    start = time.perf_counter()
    results = {h.name: h for h in check_all(services, deadline=4)}
    elapsed = time.perf_counter() - start
    assert elapsed < 6
    assert not results["dead rucio"].up
    assert "connection refused" in results["dead rucio"].detail
    assert not results["hung tap"].up
    assert "no answer" in results["hung tap"].detail
    assert all(results[s.name].up for s in profile.services)


def test_sessions_share_health_answers_and_checks_under_way(profile, monkeypatch) -> None:
    from esap_dash.core import health

    asked: list[str] = []
    real = health.check

    def counting(service, connector=None):
        asked.append(service.name)
        return real(service, connector)

    monkeypatch.setattr(health, "check", counting)
    services = profile.services[:3]

    async def two_sessions() -> list[list[str]]:
        async def one() -> list[str]:
            return [h.name async for h in health.shared_health(services, max_age=60)]
        return list(await asyncio.gather(one(), one()))

    with Runtime():  # a server process of its own: nothing answered yet
        first, second = run_coroutine(two_sessions())
        assert sorted(first) == sorted(second) == sorted(s.name for s in services)
        assert sorted(asked) == sorted(s.name for s in services)
        again = run_coroutine(two_sessions())
        assert len(again[0]) == 3 and len(asked) == 3
        fresh = run_coroutine(_collect(health.shared_health(services, max_age=0)))
        assert len(fresh) == 3 and len(asked) == 6


async def _collect(iterator) -> list:
    return [item async for item in iterator]
