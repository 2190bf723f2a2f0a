"""A DIRAC job built from a cart of data-lake items in a real browser: its description
shown before submission, followed to Done in the one job list, its sandboxes shown, and
invisible to another user (the stack's DiracX runs a dummy executor: nothing executes);
and a DiracX that does not answer."""

from __future__ import annotations

import re
import time

import pytest
from astropy.table import Table
from playwright.sync_api import expect

from esap_dash.core.actor import Actor
from esap_dash.core.cart import Cart
from esap_dash.core.config import load_profile
from esap_dash.core.store import store_for
from esap_dash.work.jobs import follow, kinds

from ..conftest import ALICE, ARTIFACTS, BOB, run_coroutine
from .conftest import COOKIE_SECRET, log_in, serve

pytestmark = pytest.mark.browser

CART = "crab lake"


def test_a_cart_becomes_dirac_jobs_followed_to_done_and_kept_from_others(
        served_oidc: str, browser) -> None:
    profile = load_profile("local-oidc")
    cart = Cart.open_as(ALICE, CART, profile=profile)
    cart.add_rows(Table({"archive": ["Rucio data lake"], "id": ["esap:crab_images"],
                         "title": ["crab_images"], "product_type": ["dataset"]}), kind="did")
    alice_ctx, page = log_in(browser, served_oidc, ALICE, [])
    try:
        page.goto(served_oidc + "?page=jobs")
        page.locator("button.card-header", has_text="Batch job on DIRAC").click()
        page.get_by_text("as DIRAC user alice of VO esap").wait_for(timeout=30_000)
        page.get_by_text("Nothing really executes here").wait_for()
        page.get_by_label("Cart for the job").select_option(CART)
        page.get_by_label("Executable").fill("fitsinfo")
        page.get_by_label("Arguments").fill("%s")
        page.locator(".bk-Checkbox", has_text="One job per data-lake file").locator("input").check()
        page.locator(".bk-btn", has_text="Show the job description").click()
        jdl = page.locator("pre.jdl")
        expect(jdl).to_contain_text('InputData = {"%s"};', timeout=30_000)
        expect(jdl).to_contain_text('Parameters = {"/esap/')
        page.get_by_text("2 jobs, 2 input files").wait_for()
        # a bad argument is refused with a message, and nothing is submitted
        page.get_by_label("Arguments").fill('%s"; Site = "Evil')
        page.locator(".bk-btn", has_text="Submit to DIRAC").click()
        page.get_by_text("DIRAC's job description cannot carry").wait_for(timeout=30_000)
        page.get_by_label("Arguments").fill("%s")
        page.locator(".bk-btn", has_text="Submit to DIRAC").click()
        page.get_by_text("Submitted to DIRAC: 2 jobs").wait_for(timeout=60_000)
        expect(jdl).to_contain_text("InputSandbox = {\"SB:SandboxSE|/S3/sandboxes/esap/")
        # both jobs reach Done in the one job list, which says nothing executes
        done = page.locator(".tabulator-row", has_text="DIRAC job").filter(
            has=page.locator(".tabulator-cell[tabulator-field='state']",
                             has_text=re.compile(r"^DONE$")))
        expect(done).to_have_count(2, timeout=90_000)
        page.get_by_text("DIRAC jobs: the local DiracX runs a dummy executor").wait_for()
        done.first.locator(".tabulator-cell[tabulator-field='state']").click()
        page.locator(".bk-btn", has_text="Open result").click()
        page.get_by_text(re.compile(r"\(Done\) has no output sandbox: the local DiracX runs "
                                    r"a dummy executor")).wait_for(timeout=30_000)
        expect(page.locator(".tabulator-row", has_text="cart.ecsv")).to_have_count(1)
        page.screenshot(path=str(ARTIFACTS / "dirac-jobs.png"), full_page=True)
        # a job that fails (reported as its pilot would) shows its status and why
        failing = kinds()["dirac"].submit(Actor(profile, ALICE), cart=CART,
                                          executable="fitsinfo")
        ref = int(store_for(profile.database).job(ALICE, failing)["ref"])
        profile.service("dirac").connector(username="alice").set_status(
            [ref], "Failed", "Application Finished With Errors", "fitsinfo exited with 2")
        page.locator(".bk-btn", has_text="Refresh jobs").click()
        failed = page.locator(".tabulator-row", has_text=f"DIRAC job {ref}:")
        expect(failed.locator(".tabulator-cell[tabulator-field='state']")).to_have_text(
            "FAILED", timeout=30_000)
        expect(failed.locator(".tabulator-cell[tabulator-field='error']")).to_have_text(
            "Failed: Application Finished With Errors; fitsinfo exited with 2")
        refs = [str(r["ref"]) for r in store_for(profile.database).jobs(ALICE, "dirac")
                if r["detail"].get("cart") == CART]
    finally:
        alice_ctx.close()
    assert len(refs) == 3
    bob_ctx, page = log_in(browser, served_oidc, BOB, [])
    try:
        page.goto(served_oidc + "?page=jobs")
        page.locator("button.card-header", has_text="Batch job on DIRAC").click()
        page.get_by_text("as DIRAC user bob of VO esap").wait_for(timeout=30_000)
        page.locator(".bk-btn", has_text="Refresh jobs").click()
        expect(page.locator(".bk-btn", has_text="Refresh jobs")).to_be_enabled()
        for ref in refs:
            expect(page.locator(".tabulator-row", has_text=f"DIRAC job {ref}:")).to_have_count(0)
    finally:
        bob_ctx.close()


def test_with_dirac_down_the_page_says_so_and_keeps_the_jobs(local_stack, browser,
                                                             dead_url) -> None:
    profile = load_profile("local-oidc")
    Cart.open_as(ALICE, "kept", profile=profile).add_rows(
        Table({"archive": ["Rucio data lake"], "id": ["esap:crab_images"],
               "title": ["crab_images"], "product_type": ["dataset"]}), kind="did")
    alice = Actor(profile, ALICE)
    record = kinds()["dirac"].submit(alice, cart="kept", executable="fitsinfo")
    # The stack's executor walks every job to Done within seconds; once seen, that
    # end is recorded (any open Jobs page of alice's may see it first).
    deadline = time.monotonic() + 60
    while run_coroutine(follow(alice, job=record))[0]["state"] != "DONE":
        assert time.monotonic() < deadline, "the job did not reach Done"
        time.sleep(1)
    env = {"ESAP_DASH_COOKIE_SECRET": COOKIE_SECRET, "ESAP_DASH__DIRAC__URL": dead_url}
    with serve("local-oidc", "server-dirac-down.log", env) as url:
        context, page = log_in(browser, url, ALICE, [])
        try:
            page.goto(url + "?page=jobs")
            row = page.locator(".tabulator-row", has=page.locator(
                ".tabulator-cell[tabulator-field='id']", has_text=re.compile(f"^{record}$")))
            # A finished job is not asked after again: its end shows without DIRAC.
            # (An unfinished one shows UNKNOWN with the reason: tests/test_dirac.py.)
            expect(row.locator(".tabulator-cell[tabulator-field='state']")).to_have_text(
                "DONE", timeout=60_000)
            expect(row).to_contain_text("fitsinfo (cart 'kept'")  # the job is kept
            page.locator("button.card-header", has_text="Batch job on DIRAC").click()
            page.get_by_label("Cart for the job").select_option("kept")
            page.get_by_label("Executable").fill("fitsinfo")
            page.locator(".bk-btn", has_text="Submit to DIRAC").click()
            page.get_by_text(re.compile(r"DIRAC did not take the job: cannot connect"))\
                .wait_for(timeout=30_000)
            expect(page.get_by_label("Cart for the job")).to_have_value("kept")
            page.screenshot(path=str(ARTIFACTS / "dirac-down.png"))
        finally:
            context.close()
