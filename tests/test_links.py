"""DataLink links of result rows and SODA cutouts to the cart, against the local DaCHS."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pytest
import requests
from astropy.io import fits
from astropy.wcs import WCS

from connectors.datalink import fetch_links
from connectors.exceptions import ServiceUnavailableError
from connectors.http import make_session
from esap_dash.core.cart import Cart
from esap_dash.core.config import Profile
from esap_dash.core.links import links_url
from esap_dash.core.provenance import Provenance
from esap_dash.ui.pages.discovery import DiscoveryPage
from esap_dash.ui.pages.sky import SkyPage

from .conftest import run_coroutine

CRAB = "UKIDSS K-band, Crab Nebula field"


@pytest.fixture(scope="module")
def crab_page(profile: Profile, tmp_path_factory) -> SkyPage:
    """The Sky page after a search around M 1, in a database of its own."""
    database = tmp_path_factory.mktemp("links") / "links.db"
    private = replace(profile, database=f"sqlite:///{database}")
    discovery = DiscoveryPage(profile=private, target="M 1", radius=0.5)
    run_coroutine(discovery.search())
    return SkyPage(profile=private, discovery=discovery)


def test_an_image_s_links_and_a_soda_cutout_around_the_target_go_to_the_cart(
        crab_page: SkyPage, tmp_path) -> None:
    page = crab_page
    rows = page.rows
    linked = [i for i, r in enumerate(rows) if r["title"] == CRAB and links_url(rows, r)]
    assert linked  # ObsCore announced DataLink for its rows
    page.map.selection = linked[:1]
    run_coroutine(page.show_links())
    links = page.datalink.links
    semantics = set(links.links["semantics"])
    assert "#this" in semantics and links.cutout() is not None
    this = links.links[links.links["semantics"] == "#this"][0]
    assert this["access_url"] == rows[linked[0]]["access_url"]
    page.cart_name, page.datalink.cutout_radius = "cutouts", 0.2  # the image is 1′ wide
    run_coroutine(page.datalink.cutout_to_cart())
    run_coroutine(page.datalink.cutout_to_cart())  # the same cutout again: one item
    items = Cart.open("cutouts", profile=page.profile).items()
    assert len(items) == 1
    item = items[0]
    assert item.title == f"Cutout 0.20′ of {CRAB}" and item.product_type == "image"
    record = Provenance.from_json(item.query)
    service = record.service(item.archive)
    assert (record.activity, service.kind, service.asked) == ("cutout", "soda", item.access_url)
    assert record.query["parent"] == rows[linked[0]]["access_url"]
    # The cutout is a FITS image of the field around M 1, smaller than the image.
    cut = requests.get(item.access_url, timeout=30)
    cut.raise_for_status()
    whole = requests.get(str(rows[linked[0]]["access_url"]), timeout=30).content
    with fits.open(io.BytesIO(cut.content)) as part, fits.open(io.BytesIO(whole)) as full:
        shape, wcs = part[0].data.shape, WCS(part[0].header)
        assert shape[0] * shape[1] < full[0].data.size
    ra, dec = page.map.cone[:2]
    x, y = wcs.world_to_pixel_values(ra, dec)
    assert 0 <= x < shape[1] and 0 <= y < shape[0]
    corner = wcs.pixel_to_world_values(0, 0)
    assert np.hypot((corner[0] - ra) * np.cos(np.radians(dec)), corner[1] - dec) < 0.35 / 60
    # Fetched from the cart, it is a FITS file, named apart from any other cutout.
    cart = Cart.open("cutouts", profile=page.profile)
    fetched = cart.fetch(item, tmp_path)
    assert fetched.suffix == ".fits" and fetched.read_bytes() == cut.content
    page.datalink.cutout_radius = 0.1
    run_coroutine(page.datalink.cutout_to_cart())
    other = next(i for i in cart.items() if i.key != item.key)
    assert cart.fetch(other, tmp_path).name != fetched.name


def test_unknown_data_sets_and_dead_services_are_said(crab_page: SkyPage) -> None:
    rows = crab_page.rows
    url = links_url(rows, next(r for r in rows if links_url(rows, r)))
    bogus = url.split("?")[0] + "?ID=ivo%3A%2F%2Fnowhere%2F~%3Fnothing.fits"
    links = fetch_links(bogus, session=make_session(20), timeout=20)
    assert links.cutout() is None and any(links.links["error_message"])
    with pytest.raises(ServiceUnavailableError):
        fetch_links("http://127.0.0.1:9/dl?ID=x", session=make_session(2), timeout=2)
    page = SkyPage(profile=crab_page.profile)
    run_coroutine(page.show_links())  # nothing selected
    assert page.notice.kind == "warning"
    run_coroutine(page.datalink.cutout_to_cart())
    assert "links first" in page.notice.text
