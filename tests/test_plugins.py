"""Archives added by installing a package: the esap_dash.connectors entry points."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import connectors
from esap_dash.core.config import load_profile
from esap_dash.ui.pages.discovery import DiscoveryPage

from .conftest import run_coroutine

PACKAGE = Path(__file__).with_name("example_connector")


@pytest.fixture
def installed_example() -> Iterator[None]:
    """The example package on sys.path, as an installed distribution would be."""
    sys.path.insert(0, str(PACKAGE))
    yield
    sys.path.remove(str(PACKAGE))
    sys.modules.pop("example_csv_connector", None)


def test_builtin_kinds_are_entry_points() -> None:
    assert {"tap", "conesearch", "sia2", "registry", "rucio", "dask-gateway",
            "zenodo", "hips", "ssa"} <= set(connectors.available_kinds())


def test_installed_package_adds_an_archive_to_the_search(installed_example, tmp_path,
                                                         profile) -> None:
    assert "example-csv" in connectors.available_kinds()
    site = tmp_path / "site.toml"
    site.write_text(f'''
[[archives]]
id = "ngc-csv"
name = "OpenNGC via CSV"
kind = "example-csv"
url = "{profile.service("dachs-tap").url}"
table = "ongc.main"
''')
    page = DiscoveryPage(profile=load_profile(str(site)), target="83.633 22.0145", radius=0.1)
    assert page.archives == ["OpenNGC via CSV"]
    run_coroutine(page.search())
    result = page.results["OpenNGC via CSV"]
    assert result.state == "done", result.message
    assert list(result.table["id"]) == ["NGC1952"]


def test_resolver_must_be_a_tap_service(installed_example, tmp_path) -> None:
    site = tmp_path / "site.toml"
    site.write_text('[[archives]]\nid = "x"\nkind = "example-csv"\nurl = "http://h"\n'
                    'table = "t"\n[resolver]\ntap = "x"\n')
    with pytest.raises(Exception, match=r"\[resolver\] tap: 'x' is a 'example-csv' service"):
        load_profile(str(site), environ={})


def test_unknown_option_of_a_plugin_is_a_profile_error(installed_example, tmp_path) -> None:
    site = tmp_path / "site.toml"
    site.write_text('[[archives]]\nkind = "example-csv"\nurl = "http://h"\ntable = "t"\n'
                    'colour = "red"\n')
    with pytest.raises(Exception, match=r"unknown setting.*colour"):
        load_profile(str(site), environ={})
