"""The served dashboard in a real browser: every page, and live service health."""

from __future__ import annotations

import re

import pytest

from ..conftest import ARTIFACTS

pytestmark = pytest.mark.browser


def test_all_pages_and_the_services_up(served_app: str, page, profile) -> None:
    page.goto(served_app)
    page.get_by_role("heading", name="Discovery").wait_for()
    page.get_by_role("button", name="Jobs", exact=True).click()
    page.get_by_role("heading", name="Jobs", exact=True).wait_for()
    page.get_by_text("Clusters run on the Dask Gateway").wait_for()
    page.get_by_role("button", name="Sky", exact=True).click()
    page.get_by_role("heading", name="Sky").wait_for()
    page.get_by_text("Whole catalogue (TAP)").wait_for()
    page.get_by_role("button", name="Cart", exact=True).click()
    page.get_by_role("button", name="Create cart").wait_for()
    page.get_by_role("button", name="Discovery", exact=True).click()
    page.get_by_role("button", name="Search all archives").wait_for()
    page.get_by_role("button", name="Services", exact=True).click()
    page.get_by_role("heading", name="Services", exact=True).wait_for()
    total = len(profile.services)
    page.get_by_text(f"{total}/{total} services up").first.wait_for(timeout=30_000)
    states = page.locator("span.esap-state.up")
    assert states.count() == total
    for name in ("Local DaCHS ObsCore (TAP)", "Rucio data lake", "Dask Gateway"):
        row = page.locator("tr", has=page.get_by_text(name, exact=True)).first
        assert row.locator("span.esap-state").inner_text() == "up"
    assert re.search(r"page=services", page.url)
    page.screenshot(path=str(ARTIFACTS / "services.png"), full_page=True)
    assert page.failed_requests == []


def test_page_in_the_url_opens_that_page(served_app: str, page) -> None:
    page.goto(served_app + "?page=jobs")
    page.get_by_role("heading", name="Jobs", exact=True).wait_for()
    page.screenshot(path=str(ARTIFACTS / "jobs.png"))


@pytest.mark.parametrize(("scheme", "address", "theme"),
                         [("dark", "", "dark"), ("light", "", "light"),
                          ("dark", "&theme=default", "light")])
def test_dark_mode_follows_the_browser_unless_the_address_chooses(
        served_app: str, browser, scheme: str, address: str, theme: str) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 900},
                                  color_scheme=scheme)
    try:
        page = context.new_page()
        page.goto(served_app + "?page=cart" + address)
        page.get_by_text(re.compile(r"default: \d+ items")).wait_for(timeout=60_000)
        page.wait_for_function(
            "(theme) => document.documentElement.getAttribute('data-bs-theme') === theme",
            arg=theme, timeout=30_000)
        background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
        level = sum(int(v) for v in re.findall(r"\d+", background)[:3]) / 3
        assert (level < 80) if theme == "dark" else (level > 200), background
        if scheme == "dark" and not address:
            page.screenshot(path=str(ARTIFACTS / "cart-dark.png"))
    finally:
        context.close()
