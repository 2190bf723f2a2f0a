"""The cart in a browser: add from two archives, reload, restart, export a valid VOTable,
send it over SAMP, share it, and run its notebook."""

from __future__ import annotations

import io
import json

import nbformat
import pytest
import requests
from astropy.io.votable import parse
from astropy.table import vstack
from prov.model import ProvDocument

from esap_dash import Cart
from esap_dash.core.config import load_profile

from ..conftest import ARTIFACTS
from ..test_cart import votlint_errors
from ..test_notebook import execute
from .conftest import page_said, serve, tick_all

pytestmark = pytest.mark.browser
#: The title of OpenNGC's row of the Crab: its name, then its other names.
CRAB = "NGC1952 (Crab Nebula, M1, IRAS 05315+2158, LBN 833)"


def open_cart(page, url: str) -> None:
    page.goto(url + "?page=cart")
    page.get_by_role("button", name="Create cart").wait_for()


def test_cart_survives_reload_and_restart_and_exports(local_stack, page, tmp_path,
                                                      topcat) -> None:
    with serve("local", "server-cart-1.log") as url:
        page.goto(url + "?page=discovery&target=M+1&radius=0.5")
        page.get_by_text("rows from 5 archives").wait_for(timeout=30_000)
        name = page.get_by_label("Cart", exact=True)
        name.fill("browser test")
        name.press("Enter")
        tick_all([page.locator(".tabulator-row", has=page.locator(
            ".tabulator-cell", has_text=text)).first
            for text in ("NGC1952", "UKIDSS K-band, Crab Nebula field")])
        page.get_by_role("button", name="Add selected rows to cart").click()
        try:
            page.get_by_text("Added 2 rows to cart 'browser test'").wait_for(timeout=60_000)
        except Exception as exc:  # report what the page said instead
            said = page.locator(".alert:visible").all_inner_texts()
            raise AssertionError(f"the page said {said}") from exc
        open_cart(page, url)
        page.get_by_label("Cart", exact=True).select_option("browser test")
        page.locator(".tabulator-cell", has_text="NGC1952").first.wait_for(timeout=20_000)
        page.reload()
        page.get_by_label("Cart", exact=True).select_option("browser test")
        page.locator(".tabulator-cell", has_text="NGC1952").first.wait_for(timeout=20_000)
    with serve("local", "server-cart-2.log") as url:
        open_cart(page, url)
        page.get_by_label("Cart", exact=True).select_option("browser test")
        page.locator(".tabulator-cell", has_text="UKIDSS K-band").first.wait_for(timeout=20_000)
        page.screenshot(path=str(ARTIFACTS / "cart.png"), full_page=True)
        with page.expect_download() as download:
            page.get_by_role("button", name="Export VOTable").click()
        assert download.value.suggested_filename == "browser_test.xml"  # after the cart
        path = tmp_path / "cart.xml"
        download.value.save_as(path)
        page.get_by_text("Provenance", exact=True).click()  # opens the card
        with page.expect_download() as prov_download:
            page.get_by_role("button", name="Export PROV-JSON").click()
        assert prov_download.value.suggested_filename == "browser_test.prov.json"
        prov_path = tmp_path / "cart.prov.json"
        prov_download.value.save_as(prov_path)
        page.get_by_role("button", name="Draw the provenance").click()
        page.get_by_text("Provenance of all 2 items of cart 'browser test'").wait_for(
            timeout=30_000)
        drawing = page.get_by_alt_text("Provenance graph")
        drawing.wait_for(timeout=20_000)
        drawing.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "cart-provenance.png"), full_page=True)
        assert drawing.bounding_box()["width"] > 200
        page.get_by_role("button", name="Send to TOPCAT (SAMP)").click()
        page.get_by_text("Sent 2 items to topcat-like").wait_for(timeout=20_000)
        make_link = page.get_by_role("button", name="Make a link to this cart")
        make_link.click()
        link = page.locator("a", has_text="/browser_test.ipynb").first
        try:
            link.wait_for(timeout=20_000)
        except Exception:  # the server logs each share: a click it never saw is made again
            if "shared cart 'browser test'" in (ARTIFACTS / "server-cart-2.log").read_text():
                raise
            print("the first click on 'Make a link to this cart' did not reach the server")
            make_link.click()
        try:
            link.wait_for(timeout=60_000)
        except Exception as exc:  # report what the page said instead
            page.screenshot(path=str(ARTIFACTS / "cart-no-link.png"), full_page=True)
            raise AssertionError(f"no link to the cart; the page said {page_said(page)}"
                                 ) from exc
        notebook_url = link.get_attribute("href")
        shared = requests.get(notebook_url, timeout=30)
        votable = requests.get(notebook_url.replace(".ipynb", ".xml"), timeout=30)
        assert requests.get(notebook_url.replace(".ipynb", ".html"),
                            timeout=30).status_code == 404
        page.get_by_role("button", name="Revoke all links").click()
        page.get_by_text("1 link revoked").wait_for(timeout=20_000)
        assert requests.get(notebook_url, timeout=30).status_code == 404
    assert votlint_errors(path) == []
    doc = ProvDocument.deserialize(content=prov_path.read_text(), format="json")
    titles = {str(next(iter(r.get_attribute("voprov:name")), "")) for r in doc.get_records()
              if r.is_element()}
    assert {CRAB, "UKIDSS K-band, Crab Nebula field"} <= titles
    shared_info = parse(io.BytesIO(votable.content)).resources[0].infos
    assert any(i.name == "provenance" and "NGC1952" in i.content for i in shared_info)
    table = vstack([t.to_table() for t in parse(str(path)).iter_tables()])  # one per archive
    assert {CRAB, "UKIDSS K-band, Crab Nebula field"} <= set(table["title"])
    received = topcat[1]
    assert set(received[0]["title"]) == set(table["title"])
    # The shared link: any origin may read it; the notebook finds both items again.
    assert shared.headers["Access-Control-Allow-Origin"] == "*"
    (tmp_path / "shared.xml").write_bytes(votable.content)
    assert votlint_errors(tmp_path / "shared.xml") == []
    notebook = nbformat.reads(shared.text, as_version=4)
    execute(notebook, tmp_path)
    summary = json.loads(notebook.cells[-1].outputs[-1]["text"].splitlines()[-1])
    assert sum(summary["found"].values()) == 2
    # The same cart in the notebook API.
    cart = Cart.open("browser test", profile=load_profile("local"), create=False)
    assert {i.title for i in cart.items()} == set(table["title"])
