"""The Zenodo connector.

Zenodo cannot run here: these tests talk to the local stand-in of its
records API (stack/zenodo/standin.py), the one service of esap-dash not
tested against the real server.
"""

from __future__ import annotations

import pytest

from connectors.exceptions import QueryError, ServiceUnavailableError
from connectors.zenodo import ZenodoConnector
from esap_dash.ui.components.software_search import SoftwareSearch, safe_link

from ..conftest import run_coroutine


@pytest.fixture
def zenodo(service) -> ZenodoConnector:
    return service("software").connector()


def test_keyword_search_in_the_community(zenodo: ZenodoConnector) -> None:
    table = zenodo.search("gamma-ray", record_type="software")
    titles = set(table["title"])
    assert {"Gammapy: a Python package for gamma-ray astronomy",
            "ctapipe: low-level data processing pipeline software for CTAO"} <= titles
    row = table[table["title"] == "Gammapy: a Python package for gamma-ray astronomy"][0]
    assert row["license"] == "BSD-3-Clause"
    assert row["repository"] == "https://github.com/gammapy/gammapy"
    assert row["doi"].startswith("10.5072/")
    assert table.meta["total"] == len(table) and not table.meta["truncated"]


def test_type_and_community_filters(zenodo: ZenodoConnector) -> None:
    workflows = zenodo.search("", record_type="workflow")
    assert set(workflows["type"]) == {"workflow"} and len(workflows) == 2
    assert len(zenodo.search("", community="no-such-community")) == 0
    small = zenodo.search("", size=3)
    assert len(small) == 3 and small.meta["truncated"]


def test_bad_type_is_refused(zenodo: ZenodoConnector) -> None:
    with pytest.raises(QueryError, match="unknown record type"):
        zenodo.search("x", record_type="movie")


def test_dead_service(dead_url: str) -> None:
    dead = ZenodoConnector(dead_url, timeout=2)
    assert not dead.health().up
    with pytest.raises(ServiceUnavailableError):
        dead.search("x")


def test_hostile_metadata_is_shown_as_text(zenodo: ZenodoConnector) -> None:
    view = SoftwareSearch(zenodo, keywords="hostile")
    run_coroutine(view.search())
    assert len(view.records) == 1
    view.selection = [0]
    detail = view.detail
    assert "<script>" not in detail and "<img" not in detail and "<b>Mallory" not in detail
    assert "&lt;script&gt;" in detail
    assert 'href="https://github.com/example/javascript:alert(1)"' in detail
    assert safe_link("javascript:alert(1)") == "javascript:alert(1)"
