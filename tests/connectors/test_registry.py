"""Registry searches against the local RegTAP (harvested from DaCHS's OAI-PMH)."""

from __future__ import annotations

import pytest

from connectors.exceptions import QueryError


@pytest.fixture
def registry(service):
    return service("registry").connector()


def test_servicetype_conesearch_finds_both_local_cones(registry) -> None:
    table = registry.search(servicetype="conesearch")
    assert set(table["ivoid"]) == {"ivo://esapdash.local/ongc/q/cone",
                                   "ivo://esapdash.local/hipparcos/q/cone"}
    assert all(url.endswith("scs.xml?") for url in table["access_url"])


def test_keyword_search_finds_hipparcos(registry) -> None:
    table = registry.search(keywords=["hipparcos"], servicetype="conesearch")
    assert list(table["ivoid"]) == ["ivo://esapdash.local/hipparcos/q/cone"]


def test_sia2_and_obscore_are_discoverable(registry) -> None:
    sia = registry.search(servicetype="sia2")
    assert list(sia["ivoid"]) == ["ivo://esapdash.local/__system__/siap2/sitewide"]
    obscore = registry.search(datamodel="obscore")
    assert "ivo://esapdash.local/tap" in set(obscore["ivoid"])


def test_sky_area_search_uses_declared_coverage(registry) -> None:
    near_crab = set(registry.search(servicetype="conesearch", spatial=(83.63, 22.01, 0.5))["ivoid"])
    assert "ivo://esapdash.local/ongc/q/cone" in near_crab


def test_works_through_pyvo_registry_too(registry) -> None:
    """pyvo's own registry search runs unchanged against the local RegTAP."""
    from pyvo import registry as pyvo_registry

    previous = pyvo_registry.regtap.REGISTRY_BASEURL
    pyvo_registry.choose_RegTAP_service(registry.url)
    try:
        found = pyvo_registry.search(servicetype="conesearch", keywords=["openngc"])
    finally:
        pyvo_registry.choose_RegTAP_service(previous)
    assert [r.ivoid for r in found] == ["ivo://esapdash.local/ongc/q/cone"]


@pytest.mark.parametrize("kwargs, message", [
    ({}, "at least one constraint"),
    ({"servicetype": "wms"}, "unknown service type"),
    ({"datamodel": "nonsense"}, "nonsense"),
])
def test_bad_constraints_are_refused_clearly(registry, kwargs, message) -> None:
    with pytest.raises(QueryError, match=message):
        registry.search(**kwargs)


def test_every_local_service_has_a_real_short_name(registry) -> None:
    found = registry.search(servicetype="tap")
    assert len(found) and all(name and "<" not in name for name in found["short_name"])
