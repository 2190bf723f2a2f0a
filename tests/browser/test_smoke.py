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
