"""The Jobs page in a real browser: a cluster from the gateway's options, and every job."""

from __future__ import annotations

import re

import pytest

from ..conftest import ARTIFACTS
from .test_discovery_tabs import start_async_query

pytestmark = pytest.mark.browser


def test_start_scale_and_stop_a_cluster_and_see_the_jobs(served_app: str, page) -> None:
    start_async_query(page, served_app, "SELECT TOP 2 hip FROM hipparcos.main")
    page.get_by_role("button", name="Jobs", exact=True).click()
    page.get_by_text("Worker cores (1–2)").wait_for(timeout=20_000)
    page.get_by_role("button", name="Start cluster").click()
    page.get_by_text("Cluster asked for").wait_for(timeout=20_000)
    page.locator(".tabulator-cell", has_text="RUNNING").first.wait_for(timeout=60_000)
    page.locator(".tabulator-cell", has_text="RUNNING").first.click()
    page.get_by_role("button", name="Scale").click()
    page.get_by_text(re.compile(r"First worker [\d.]+ s after")).wait_for(timeout=60_000)
    page.locator(".tabulator-cell", has_text="COMPLETED").first.wait_for(timeout=30_000)
    assert page.get_by_text("Dask dashboard of").first.is_visible()
    assert "PRIVATE KEY" not in page.content()
    page.screenshot(path=str(ARTIFACTS / "jobs.png"), full_page=True)
    page.get_by_role("button", name="Stop cluster").click()
    page.get_by_text("Stopping.").wait_for(timeout=20_000)
