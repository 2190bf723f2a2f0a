"""Cone search and SIA v2 connectors against the local DaCHS."""

from __future__ import annotations

import pytest
from astropy.io import fits

from connectors.http import request
from connectors.scs import ConeSearchConnector
from connectors.sia2 import SIA2Connector

CRAB = (83.633, 22.0145)


def test_openngc_cone_finds_m1(service) -> None:
    ongc = service("ongc").connector()
    table = ongc.search(*CRAB, 0.05)
    assert "NGC1952" in list(table["name"])


def test_hipparcos_cone_returns_stars_with_positions(service) -> None:
    hip = service("hipparcos").connector()
    table = hip.search(*CRAB, 1.0)
    assert len(table) > 0
    assert {"hip", "ra_icrs", "de_icrs"} <= set(table.colnames)


def test_cone_maxrec_truncation_is_flagged(service) -> None:
    hip = service("hipparcos").connector()
    table = hip.search(*CRAB, 10.0, maxrec=5)
    assert len(table) == 5
    assert table.meta["truncated"] is True


def test_cone_health_without_vosi_sends_a_metadata_query(service) -> None:
    svc = service("ongc")
    plain = ConeSearchConnector(svc.url, timeout=10)
    health = plain.health()
    assert health.up, health.detail
    assert "columns" in health.detail


@pytest.mark.parametrize("service_id", ["ongc", "hipparcos", "images"])
def test_health_is_up(service, service_id: str) -> None:
    health = service(service_id).connector().health()
    assert health.up, health.detail


def test_sia2_finds_both_crab_images_and_serves_the_fits(service) -> None:
    sia = service("images").connector()
    table = sia.search(*CRAB, 0.05)
    titles = set(table["obs_title"])
    assert {"UKIDSS K-band, Crab Nebula field", "POSS-I E plate scan, Messier 1"} <= titles
    url = str(table[table["obs_title"] == "UKIDSS K-band, Crab Nebula field"]["access_url"][0])
    resp = request(sia.session, "GET", url)
    assert resp.content[:6] == b"SIMPLE"


def test_sia2_far_from_any_image_is_empty(service) -> None:
    sia = service("images").connector()
    assert len(sia.search(0.0, -89.0, 0.1)) == 0


def test_sia2_dead_service_is_down(dead_url: str) -> None:
    assert not SIA2Connector(dead_url + "/siap2.xml", timeout=2).health().up


def test_image_footprint_is_in_icrs(service) -> None:
    """MAGPIS is in galactic coordinates; its ObsCore centre must be in ICRS."""
    tap = service("dachs-tap").connector()
    row = tap.run_sync("SELECT s_ra, s_dec FROM ivoa.obscore "
                       "WHERE obs_title LIKE 'MAGPIS%'")
    assert float(row["s_ra"][0]) == pytest.approx(272.2, abs=0.1)
    assert float(row["s_dec"][0]) == pytest.approx(-19.85, abs=0.1)


def test_served_fits_has_celestial_wcs(service, tmp_path) -> None:
    sia = service("images").connector()
    table = sia.search(250.423, 36.46, 0.05)
    url = str(table["access_url"][0])
    path = tmp_path / "m13.fits"
    path.write_bytes(request(sia.session, "GET", url).content)
    with fits.open(path) as hdul:
        assert hdul[0].header["CTYPE1"].startswith("RA---")
