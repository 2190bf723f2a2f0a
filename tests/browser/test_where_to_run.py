"""“Where can this run?” in a real browser: a cart of Crab images and Pleiades stars
ranked over the local gateway and the Slurm-backed one, the cross-match run on Slurm as
the user's batch jobs, its result back in the cart, and the cluster stopped."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest
from astropy.table import Table

from connectors.slurm import SlurmQueue
from esap_dash.core.cart import Cart

from ..conftest import ARTIFACTS

pytestmark = pytest.mark.browser

CART = f"placement {uuid.uuid4().hex[:6]}"


def slurm_jobs() -> Table:
    return SlurmQueue().jobs(user="esapdash", name="dask-gateway")


def test_the_crossmatch_runs_where_the_ranking_says_on_slurm(served_app: str, page,
                                                             profile) -> None:
    cart = Cart.open(CART, profile=profile)
    stars = profile.service("hipparcos").connector().search(56.75, 24.12, 0.5, maxrec=5)
    cart.add_rows(Table({"archive": ["Hipparcos-2 (cone search)"] * len(stars),
                         "id": [f"HIP {h}" for h in stars["hip"]],
                         "title": [f"HIP {h}" for h in stars["hip"]],
                         "ra": stars["ra_icrs"], "dec": stars["de_icrs"]}))
    cart.add_rows(Table({"archive": ["Rucio data lake"], "id": ["esap:crab_images"],
                         "title": ["crab_images"], "product_type": ["dataset"]}), kind="did")

    page.goto(served_app + "?page=cart")
    page.get_by_label("Cart", exact=True).select_option(CART)
    page.locator("button.card-header", has_text="Where can this run?").click()  # open it
    ask = page.locator(".bk-btn", has_text="Where can this run?")
    ask.click()
    page.get_by_text(re.compile(r"3 places for 6 items; best: ")).wait_for(timeout=60_000)
    slurm = page.locator(".tabulator-row", has=page.locator(
        ".tabulator-cell", has_text="Dask Gateway on Slurm")).first
    slurm.locator(".tabulator-cell", has_text="batch partition esap").wait_for(timeout=10_000)
    page.locator(".tabulator-cell", has_text="local processes").first.wait_for()
    page.get_by_text(re.compile(r"5 archive item\(s\) downloaded")).first.wait_for()
    slurm.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "where-can-this-run.png"))

    slurm.locator(".tabulator-cell", has_text="slurm").first.click()
    page.get_by_label("Workflow").select_option(label="Cross-match with a reference catalogue")
    page.get_by_role("button", name="Run here").click()
    page.get_by_text(re.compile(r"Job \d+ started: crossmatch on cart .* at Dask Gateway on "
                                r"Slurm")).wait_for(timeout=150_000)
    deadline = time.monotonic() + 60
    while len(slurm_jobs()) < 2:  # the scheduler and at least one worker
        assert time.monotonic() < deadline, list(slurm_jobs())
        time.sleep(0.5)
    assert set(slurm_jobs()["state"]) <= {"RUNNING", "PENDING"}

    page.goto(served_app + "?page=jobs")
    run = page.locator(".tabulator-row", has=page.locator(
        ".tabulator-cell", has_text=f"Cross-match with a reference catalogue on cart '{CART}'"))
    run.locator(".tabulator-cell", has_text="COMPLETED").first.wait_for(timeout=120_000)
    run.locator(".tabulator-cell", has_text="Dask Gateway on Slurm").first.wait_for()
    run.locator(".tabulator-cell", has_text="COMPLETED").first.click()
    page.get_by_role("button", name="Open result").click()
    page.get_by_text(re.compile(r"Result of job \d+: \d+ rows")).wait_for(timeout=20_000)
    page.get_by_label("Cart for the result").select_option(CART)
    page.get_by_role("button", name="Add result to cart").click()
    page.get_by_text(re.compile(rf"Added \d+ result rows to cart '{CART}'")).wait_for(
        timeout=20_000)
    assert len(Cart.open(CART, profile=profile)) > 6

    page.get_by_label("Where clusters run").select_option(label="Dask Gateway on Slurm")
    batch = page.get_by_text(re.compile(r"Slurm jobs of cluster \w{8}: \d+ RUNNING"))
    batch.wait_for(timeout=30_000)
    batch.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "jobs-slurm.png"))
    page.locator(".tabulator-cell", has_text="RUNNING").first.click()
    page.get_by_role("button", name="Stop cluster").click()
    page.get_by_text("Stopping.").wait_for(timeout=20_000)
    deadline = time.monotonic() + 60
    while len(slurm_jobs()):
        assert time.monotonic() < deadline, list(slurm_jobs())
        time.sleep(0.5)


def test_make_available_here_copies_the_files_and_shows_the_rule_s_progress(
        served_app: str, page, profile) -> None:
    name = f"plates {uuid.uuid4().hex[:6]}"
    cart = Cart.open(name, profile=profile)
    cart.add_rows(Table({"archive": ["Rucio data lake"], "id": ["esap:optical_plates"],
                         "title": ["optical_plates"], "product_type": ["dataset"]}),
                  kind="did")
    page.goto(served_app + "?page=cart")
    page.get_by_label("Cart", exact=True).select_option(name)
    page.locator("button.card-header", has_text="Where can this run?").click()
    page.locator(".bk-btn", has_text="Where can this run?").click()
    slurm = page.locator(".tabulator-row", has=page.locator(
        ".tabulator-cell", has_text="Dask Gateway on Slurm")).first
    slurm.locator(".tabulator-cell", has_text="slurm").first.click(timeout=60_000)
    page.get_by_role("button", name="Make available here").click()
    page.get_by_text(re.compile(r"Asked Rucio for 1 data-lake item\(s\) at LOCAL_B")).wait_for(
        timeout=30_000)
    # The Data lake card follows the rule until its three images are at LOCAL_B.
    rule = page.locator(".tabulator-row", has=page.locator(
        ".tabulator-cell", has_text="esap:optical_plates"))
    rule.locator(".tabulator-cell", has_text="3 of 3 files, 296.6 kB of 296.6 kB").wait_for(
        timeout=120_000)
    rule.locator(".tabulator-cell", has_text="OK").first.wait_for()
    rule.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "make-available-here.png"))
    lake = profile.service("rucio").connector()
    replicas = lake.list_replicas("esap", "optical_plates")
    for row in replicas[replicas["rse"] == "LOCAL_B"]:
        source = replicas[(replicas["rse"] == "LOCAL_A") & (replicas["name"] == row["name"])]
        assert (Path(urlparse(str(row["pfn"])).path).read_bytes()
                == Path(urlparse(str(source["pfn"][0])).path).read_bytes())
    assert set(replicas[replicas["rse"] == "LOCAL_B"]["name"]) == {
        "poss_m1.fits", "dss_14.29.56-62.41.05.fits", "m13.fits"}
