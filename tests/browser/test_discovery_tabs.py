"""Discovery's registry, ADQL (async jobs), data lake and software tabs in a browser."""

from __future__ import annotations

import re

import pytest

from ..conftest import ARTIFACTS
from .conftest import tick

pytestmark = pytest.mark.browser


def open_tab(page, served_app: str, name: str) -> None:
    page.goto(served_app + "?page=discovery")
    page.locator(".bk-tab", has_text=name).click()


def start_async_query(page, served_app: str, adql: str) -> None:
    """Start ``adql`` as an async TAP job from Discovery > ADQL."""
    open_tab(page, served_app, "ADQL")
    editor = page.get_by_placeholder("SELECT TOP 10 * FROM ...")
    editor.fill(adql)
    editor.press("Tab")
    page.get_by_role("button", name="Run as async job").click()
    page.get_by_text(re.compile(r"Job \d+ started on")).wait_for(timeout=20_000)


def test_registry_search_finds_the_local_cone_service(served_app: str, page) -> None:
    open_tab(page, served_app, "Registry")
    page.get_by_placeholder("hipparcos, NGC, images").fill("openngc")
    page.get_by_placeholder("hipparcos, NGC, images").press("Enter")
    page.get_by_role("button", name="Search the registry").click()
    # Beyond the registry's own timeout (20 s): a slow answer is the registry's to report.
    said = page.get_by_text(re.compile(r"\d+ services found in"))
    said.wait_for(timeout=45_000)
    assert not said.inner_text().startswith("0 "), said.inner_text()
    page.get_by_text("OpenNGC cone search", exact=True).wait_for(timeout=5_000)
    page.get_by_text("http://127.0.0.1:8091/ongc/q/cone/scs.xml?").first.wait_for()
    page.screenshot(path=str(ARTIFACTS / "registry.png"), full_page=True)


def test_routine_news_is_a_quiet_line_and_an_error_a_box(served_app: str, page) -> None:
    open_tab(page, served_app, "ADQL")
    page.get_by_role("button", name="Load tables").click()
    news = page.get_by_text(re.compile(r"\d+ tables in Local DaCHS")).first
    news.wait_for(timeout=30_000)
    background = "e => getComputedStyle(e.getRootNode().host).backgroundColor"
    assert news.evaluate(background) == "rgba(0, 0, 0, 0)"
    editor = page.get_by_placeholder("SELECT TOP 10 * FROM ...")
    editor.fill("SELECT nonsense FROM nowhere")
    editor.press("Tab")
    page.get_by_role("button", name="Run now").click()
    error = page.get_by_text("Local DaCHS ObsCore (TAP): ").last
    error.wait_for(timeout=30_000)
    assert error.evaluate(background) != "rgba(0, 0, 0, 0)"
    # the table's columns, read after the query was written, did not replace it
    assert editor.input_value() == "SELECT nonsense FROM nowhere"


def test_async_adql_job_returns_its_rows_after_a_reload(served_app: str, page) -> None:
    start_async_query(page, served_app,
                      "SELECT TOP 4 hip, hpmag FROM hipparcos.main ORDER BY hpmag")
    # This job's row: the list holds every async job of the user.
    row = page.locator(".tabulator-row", has=page.locator(
        ".tabulator-cell", has_text="ORDER BY hpmag")).first
    row.locator(".tabulator-cell", has_text="COMPLETED").wait_for(timeout=30_000)
    page.reload()
    page.locator(".bk-tab", has_text="ADQL").click()
    cell = row.locator(".tabulator-cell", has_text="COMPLETED")
    cell.wait_for(timeout=30_000)
    cell.click()
    page.get_by_role("button", name="Open result").click()
    page.get_by_text(re.compile(r"Result of job \d+: 4 rows")).wait_for(timeout=20_000)
    page.locator(".tabulator-cell", has_text="32349").first.wait_for(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "adql.png"), full_page=True)


def test_did_wildcard_search_lists_the_rucio_files(served_app: str, page) -> None:
    open_tab(page, served_app, "Data lake")
    page.get_by_role("button", name="Load scopes").click()
    # esap and the users' scopes (the operator's root account sees them all)
    page.get_by_text(re.compile(r"^[3-9] scopes\.")).wait_for(timeout=20_000)
    pattern = page.get_by_label("Pattern")
    pattern.fill("*crab*")
    pattern.press("Enter")
    page.get_by_role("button", name="List data identifiers").click()
    page.get_by_text("data identifiers in scope esap").wait_for(timeout=20_000)
    page.locator(".tabulator-cell", has_text="ukidss_crab_k.fits").first.wait_for(timeout=10_000)
    row = page.locator(".tabulator-row", has=page.locator(".tabulator-cell",
                                                           has_text="crab_images")).first
    tick(row)
    page.get_by_text("files on LOCAL_A").wait_for(timeout=20_000)
    page.locator(".tabulator-cell", has_text="poss_m1.fits").first.wait_for(timeout=10_000)


def test_software_records_are_text(served_app: str, page) -> None:
    open_tab(page, served_app, "Software")
    page.get_by_role("button", name="Search software and workflows").click()
    page.get_by_text("records in Software and workflows").wait_for(timeout=20_000)
    page.locator(".tabulator-cell", has_text="Gammapy").first.wait_for(timeout=10_000)
    hostile = page.locator(".tabulator-cell", has_text="hostile title")
    hostile.first.wait_for(timeout=10_000)
    assert hostile.count() == 1
    assert "<script>" in hostile.inner_text()
    page.locator(".tabulator-cell", has_text="hostile title").click()
    page.wait_for_timeout(500)
    assert page.dialogs == []
