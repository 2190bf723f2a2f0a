"""The cart in a browser: add from two archives, reload, restart, export a valid VOTable."""

from __future__ import annotations

import pytest
from astropy.table import Table

from ..conftest import ARTIFACTS
from ..test_cart import votlint_errors
from .conftest import serve

pytestmark = pytest.mark.browser


def open_cart(page, url: str) -> None:
    page.goto(url + "?page=cart")
    page.get_by_role("button", name="Create cart").wait_for()


def test_cart_survives_reload_and_restart_and_exports(local_stack, page, tmp_path) -> None:
    with serve("local", "server-cart-1.log") as url:
        page.goto(url + "?page=discovery&target=M+1&radius=0.5")
        page.get_by_text("rows from 4 archives").wait_for(timeout=30_000)
        name = page.get_by_label("Cart", exact=True)
        name.fill("browser test")
        name.press("Enter")
        for text in ("NGC1952", "UKIDSS K-band, Crab Nebula field"):
            row = page.locator(".tabulator-row", has=page.locator(".tabulator-cell",
                                                                   has_text=text)).first
            row.locator("input[type=checkbox]").check()
        page.get_by_role("button", name="Add selected rows to cart").click()
        page.get_by_text("to cart 'browser test'").wait_for(timeout=20_000)
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
        path = tmp_path / "cart.xml"
        download.value.save_as(path)
    assert votlint_errors(path) == []
    table = Table.read(path)
    assert {"NGC1952", "UKIDSS K-band, Crab Nebula field"} <= set(table["title"])
