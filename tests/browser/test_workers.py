"""Two server workers behind nginx, with logins, sharing PostgreSQL: one user's two
browsers on different workers see the same cart and the same workflow runs (followed,
aborted and retried from either), and when a worker is killed its browsers carry on
through the other."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from secrets import token_hex, token_urlsafe

import pytest
import requests
from astropy.table import Table
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from esap_dash.core.cart import Cart
from esap_dash.core.config import load_profile

from ..conftest import ALICE, ARTIFACTS
from ..test_workflows import PACKAGE
from .conftest import serve
from .test_jobs import start_a_cluster
from .test_users import add_to_cart, log_in

pytestmark = pytest.mark.browser

COOKIE_SECRET = token_urlsafe(32)
#: The example package's long workflow, by its title.
PAUSE = "Wait on the cluster, task by task (a long analysis, as far as its progress goes)"


@pytest.fixture(scope="module")
def served_workers(local_stack, secrets: dict[str, str]) -> Iterator[str]:
    # The example package's workflows are installed for the workers (on their path).
    path = os.pathsep.join(p for p in (str(PACKAGE), os.environ.get("PYTHONPATH")) if p)
    with serve("local-oidc", "server-workers.log",
               {"ESAP_DASH_COOKIE_SECRET": COOKIE_SECRET, "PYTHONPATH": path},
               ("--workers", "2", "--set",
                f"deployment.database={secrets['ESAP_DASH_PG_URL']}")) as url:
        yield url


def worker_of(context, url: str) -> str:
    """The worker (``127.0.0.1:port``) nginx sends this browser to."""
    return context.request.get(url + "?page=services", max_redirects=0).headers["x-esap-worker"]


def route_to_other_worker(context, url: str, other: str) -> None:
    """Give the browser a routing cookie that nginx sends to another worker than ``other``."""
    for _ in range(50):
        answer = requests.get(url, timeout=30, allow_redirects=False)
        if answer.headers["x-esap-worker"] != other:
            value = answer.cookies["esap_worker"]
            context.add_cookies([{"name": "esap_worker", "value": value, "url": url}])
            return
    pytest.fail("nginx sent 50 new browsers to the same worker")


def two_browsers(browser, url: str):
    """Alice logged in twice, each browser routed by nginx to another worker: both
    contexts, their pages and their workers."""
    first_ctx, first = log_in(browser, url, ALICE, [])
    second_ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    a = worker_of(first_ctx, url)
    route_to_other_worker(second_ctx, url, a)
    second = second_ctx.new_page()
    second.goto(url + "?page=cart")
    second.get_by_role("button", name=ALICE).click()
    second.get_by_text("Log out").wait_for(timeout=30_000)
    b = worker_of(second_ctx, url)
    assert a != b
    return first_ctx, first, a, second_ctx, second, b


def job_state(page, job: str, state: str):
    """The state cell of job ``job`` in the job list, once it shows ``state``."""
    return page.locator(".tabulator-row", has=page.locator(
        ".tabulator-cell[tabulator-field='id']", has_text=re.compile(rf"^{job}$"))).locator(
        ".tabulator-cell[tabulator-field='state']", has_text=state)


def abort_from(page, job: str, attempts: int = 3) -> None:
    """Select job ``job`` (RUNNING) in ``page``'s job list and abort it, until the page
    says the abort is asked for: a click that lands as the list redraws is made again."""
    row = page.locator(".tabulator-row", has=page.locator(
        ".tabulator-cell[tabulator-field='id']", has_text=re.compile(rf"^{job}$")))
    asked = page.get_by_text(f"Job {job}: abort asked for.")
    for _ in range(attempts):
        if "tabulator-selected" not in (row.get_attribute("class") or ""):
            job_state(page, job, "RUNNING").click()
        page.get_by_role("button", name="Abort job").click()
        try:
            asked.wait_for(timeout=15_000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"job {job}: no abort asked for after {attempts} attempts")


def test_a_run_started_on_one_worker_is_followed_aborted_and_retried_on_the_other(
        served_workers: str, browser, secrets: dict[str, str]) -> None:
    url = served_workers
    cart = f"pause {token_hex(3)}"
    profile = load_profile("local", overrides={
        "deployment.database": secrets["ESAP_DASH_PG_URL"]})
    Cart.open_as(ALICE, cart, profile=profile).add_rows(Table({
        "archive": ["Hipparcos-2"], "item_id": ["HIP 17702"], "title": ["Alcyone"],
        "ra": [56.87115], "dec": [24.10514]}))
    first_ctx, first, _, second_ctx, second, _ = two_browsers(browser, url)
    try:
        first.goto(url + "?page=jobs")  # worker A: a cluster, and a long run on it
        start_a_cluster(first)
        first.get_by_label("Workflow").select_option(label=PAUSE)
        first.get_by_label("Cart", exact=True).select_option(cart)
        first.get_by_label("Tasks").fill("400")
        first.get_by_label("Tasks").press("Enter")
        first.get_by_role("button", name="Run workflow").click()
        started = first.get_by_text(re.compile(r"Job \d+ started: Wait on the cluster"))
        started.wait_for(timeout=30_000)
        job = re.search(r"Job (\d+) started", started.inner_text())[1]

        second.goto(url + "?page=jobs")  # worker B follows it as it moves
        second.get_by_text(re.compile(r"RUNNING, [1-9]\d* of 400 tasks done")).wait_for(
            timeout=60_000)
        abort_from(second, job)
        job_state(second, job, "ABORTED").wait_for(
            timeout=30_000)
        # Worker A, which runs it, stopped it; its page says so too.
        job_state(first, job, "ABORTED").wait_for(
            timeout=30_000)

        job_state(second, job, "ABORTED").click()
        second.get_by_role("button", name="Retry").click()
        again = second.get_by_text(re.compile(rf"Job {job} asked for again: job \d+ started"))
        again.wait_for(timeout=30_000)
        retried = re.search(r"job (\d+) started", again.inner_text())[1]
        second.get_by_text(re.compile(r"RUNNING, [1-9]\d* of 400 tasks done")).wait_for(
            timeout=60_000)
        job_state(first, retried, "RUNNING").wait_for(
            timeout=45_000)  # A's page finds the run B started
        second.screenshot(path=str(ARTIFACTS / "workers-retried.png"), full_page=True)
        abort_from(first, retried)
        job_state(second, retried, "ABORTED").wait_for(
            timeout=30_000)
        first.locator(".tabulator-cell", has_text="RUNNING").first.click()  # the cluster
        first.get_by_role("button", name="Stop cluster").click()
        first.get_by_text("Stopping.").wait_for(timeout=20_000)
    finally:
        first_ctx.close()
        second_ctx.close()


def test_a_cart_edited_on_one_worker_is_current_on_the_other_and_a_killed_worker_loses_nothing(
        served_workers: str, browser) -> None:
    url = served_workers
    first_ctx, first, a, second_ctx, second, _ = two_browsers(browser, url)
    try:
        cart = f"workers {token_hex(3)}"
        add_to_cart(first, url, cart, "NGC1952")  # through worker A
        second.goto(url + "?page=cart")  # worker B reads it from the database
        select = second.get_by_label("Cart", exact=True)
        select.wait_for()
        select.select_option(cart)
        second.locator(".tabulator-cell", has_text="NGC1952").first.wait_for(timeout=20_000)

        # Worker A dies without a word; its open page says so and loads again, through
        # worker B or through A started again by the supervisor (whichever is up first).
        port = a.rsplit(":", 1)[1]
        pids = subprocess.run(["pgrep", "-f", f"esap_dash.cli serve .*--port {port} "],
                              capture_output=True, text=True).stdout.split()
        assert len(pids) == 1
        first.evaluate("window.__beforeKill = 1")
        subprocess.run(["kill", f"-{signal.SIGKILL.value}", pids[0]], check=True)
        first.wait_for_function("window.__beforeKill === undefined", timeout=90_000,
                                polling=500)
        said = first.evaluate("window.sessionStorage.getItem('esap-connection-lost')")
        assert said and "connection to the esap-dash server was lost" in said
        first.goto(url + "?page=cart")
        select = first.get_by_label("Cart", exact=True)
        select.wait_for(timeout=30_000)
        first.get_by_text("Log out").wait_for(timeout=30_000)  # the login holds on B too
        select.select_option(cart)
        first.locator(".tabulator-cell", has_text="NGC1952").first.wait_for(timeout=20_000)
        first.screenshot(path=str(ARTIFACTS / "workers-after-kill.png"))
    finally:
        first_ctx.close()
        second_ctx.close()
    log = (ARTIFACTS / "server-workers.log").read_text()
    assert re.search(rf"worker on 127\.0\.0\.1:{port} ended \(exit -9\).*starting it again",
                     log)
