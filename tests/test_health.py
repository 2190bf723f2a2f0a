"""The concurrent health round: a dead or hung service costs only itself."""

from __future__ import annotations

import time
from dataclasses import replace

from esap_dash.config import Profile
from esap_dash.health import check_all


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
