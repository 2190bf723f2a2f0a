"""The Jobs page in a real browser: a cluster from the gateway's options, a workflow run on
a cart next to the data, and every job of the user in one view."""

from __future__ import annotations

import re
import uuid

import pytest

from ..conftest import ARTIFACTS
from .conftest import page_said, tick
from .test_discovery_tabs import start_async_query

pytestmark = pytest.mark.browser

# A cart of this run's own: the served app's database outlives one test session.
CART = f"workflow test {uuid.uuid4().hex[:6]}"


def fill_cart(page, served_app: str) -> None:
    """Five Hipparcos-2 stars of the Pleiades and the Crab images of the data lake."""
    page.goto(served_app + "?page=discovery&target=M+45&radius=1")
    page.get_by_text(re.compile(r"rows from \d+ archives")).wait_for(timeout=30_000)
    name = page.get_by_label("Cart", exact=True)
    name.fill(CART)
    name.press("Enter")
    stars = page.locator(".tabulator-row", has=page.locator(
        ".tabulator-cell", has_text="Hipparcos-2 (cone search)"))
    for i in range(5):
        tick(stars.nth(i))
    page.get_by_role("button", name="Add selected rows to cart").click()
    page.get_by_text(f"Added 5 rows to cart '{CART}'").wait_for(timeout=20_000)
    page.locator(".bk-tab", has_text="Data lake").click()
    page.get_by_role("button", name="Load scopes").click()
    page.get_by_text(re.compile(r"^[3-9] scopes\.")).wait_for(timeout=20_000)
    page.get_by_label("Pattern").fill("crab_images")
    page.get_by_label("Pattern").press("Enter")
    page.get_by_role("button", name="List data identifiers").click()
    row = page.locator(".tabulator-row", has=page.locator(".tabulator-cell",
                                                           has_text="crab_images")).first
    row.wait_for(timeout=20_000)
    tick(row)
    # Ticking shows where its files are; add once that answer is on the page.
    page.get_by_text(re.compile(r"crab_images: \d+ files on")).wait_for(timeout=20_000)
    page.get_by_role("button", name="Add ticked identifiers to cart").click()
    page.get_by_text(f"Added 1 item to cart '{CART}'").wait_for(timeout=20_000)


def ask_for_a_rule(page, served_app: str) -> None:
    page.goto(served_app + "?page=cart")
    page.get_by_label("Cart", exact=True).select_option(CART)
    page.locator(".tabulator-cell", has_text="crab_images").first.wait_for(timeout=20_000)
    page.get_by_role("button", name="Make available at the RSE").click()
    page.get_by_text(re.compile(r"Asked for esap:crab_images at")).wait_for(timeout=30_000)


def start_a_cluster(page) -> None:
    """On the Jobs page: start a Dask Gateway cluster and scale it to its first worker."""
    page.get_by_text("Worker cores (1–2)").wait_for(timeout=20_000)
    page.get_by_role("button", name="Start cluster").click()
    page.get_by_text(re.compile(r"Cluster \w{8} asked for")).wait_for(timeout=20_000)
    page.locator(".tabulator-cell", has_text="RUNNING").first.wait_for(timeout=60_000)
    page.locator(".tabulator-cell", has_text="RUNNING").first.click()
    page.get_by_role("button", name="Scale").click()
    page.get_by_text(re.compile(r"First worker [\d.]+ s after")).wait_for(timeout=60_000)
    page.get_by_text("Dask dashboard of").first.wait_for()


def test_a_workflow_runs_on_a_cart_next_to_the_data_and_every_job_is_in_one_view(
        served_app: str, page) -> None:
    fill_cart(page, served_app)
    ask_for_a_rule(page, served_app)
    start_async_query(page, served_app, "SELECT TOP 2 hip FROM hipparcos.main")
    page.get_by_role("button", name="Jobs", exact=True).click()
    start_a_cluster(page)

    page.get_by_label("Workflow").select_option(label="Cross-match with a reference catalogue")
    page.get_by_label("Cart", exact=True).select_option(CART)
    page.get_by_role("button", name="Run workflow").click()
    started = page.get_by_text(re.compile(r"Job \d+ started: Cross-match"))
    try:
        started.wait_for(timeout=30_000)
    except Exception as exc:  # say what the page said instead
        page.screenshot(path=str(ARTIFACTS / "jobs-not-started.png"), full_page=True)
        raise AssertionError(f"the run did not start; the page says {page_said(page)}") from exc
    page.get_by_text(re.compile(r"COMPLETED, (\d+) of \1 tasks done \(100 %\)")).wait_for(
        timeout=90_000)
    page.get_by_role("button", name="Run workflow").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "jobs-workflow.png"))
    run = page.locator(".tabulator-row", has=page.locator(
        ".tabulator-cell", has_text=f"Cross-match with a reference catalogue on cart '{CART}'"))
    run.locator(".tabulator-cell", has_text="COMPLETED").first.click()
    page.get_by_role("button", name="Open result").click()
    page.get_by_text(re.compile(r"Result of job \d+: 5 rows")).wait_for(timeout=20_000)
    page.locator(".tabulator-cell", has_text="separation_arcsec").or_(
        page.locator(".tabulator-col-title", has_text="separation_arcsec")).first.wait_for()
    page.get_by_role("button", name="Add result to cart").click()
    page.get_by_text(f"Added 5 result rows to cart '{CART}'").wait_for(timeout=20_000)

    jobs = page.locator(".tabulator-cell", has_text=re.compile(r"^(tap|rucio-rule|dask)$"))
    jobs.first.wait_for(timeout=20_000)
    assert {jobs.nth(i).inner_text() for i in range(jobs.count())} >= {
        "tap", "rucio-rule", "dask"}
    assert "PRIVATE KEY" not in page.content()
    page.screenshot(path=str(ARTIFACTS / "jobs.png"), full_page=True)
    page.locator(".tabulator-cell", has_text="RUNNING").first.click()
    page.get_by_role("button", name="Stop cluster").click()
    page.get_by_text("Stopping.").wait_for(timeout=20_000)
