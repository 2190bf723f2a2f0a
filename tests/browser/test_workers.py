"""Two server workers behind nginx, with logins, sharing PostgreSQL: one user's two
browsers on different workers see the same cart, and when a worker is killed its
browsers carry on through the other."""

from __future__ import annotations

import re
import signal
import subprocess
from collections.abc import Iterator
from secrets import token_hex, token_urlsafe

import pytest
import requests

from ..conftest import ALICE, ARTIFACTS
from .conftest import serve
from .test_users import add_to_cart, log_in

pytestmark = pytest.mark.browser

COOKIE_SECRET = token_urlsafe(32)


@pytest.fixture(scope="module")
def served_workers(local_stack, secrets: dict[str, str]) -> Iterator[str]:
    with serve("local-oidc", "server-workers.log", {"ESAP_DASH_COOKIE_SECRET": COOKIE_SECRET},
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


def test_a_cart_edited_on_one_worker_is_current_on_the_other_and_a_killed_worker_loses_nothing(
        served_workers: str, browser) -> None:
    url = served_workers
    first_ctx, first = log_in(browser, url, ALICE, [])
    second_ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        a = worker_of(first_ctx, url)
        route_to_other_worker(second_ctx, url, a)
        second = second_ctx.new_page()
        second.goto(url + "?page=cart")
        second.get_by_role("button", name=ALICE).click()
        second.get_by_text("Log out").wait_for(timeout=30_000)
        b = worker_of(second_ctx, url)
        assert a != b
        cart = f"workers {token_hex(3)}"
        add_to_cart(first, url, cart, "NGC1952")  # through worker A
        second.goto(url + "?page=cart")  # worker B reads it from the database
        select = second.get_by_label("Cart", exact=True)
        select.wait_for()
        select.select_option(cart)
        second.locator(".tabulator-cell", has_text="NGC1952").first.wait_for(timeout=20_000)

        # Worker A dies without a word; its browser goes on through worker B.
        port = a.rsplit(":", 1)[1]
        pids = subprocess.run(["pgrep", "-f", f"esap_dash.cli serve .*--port {port} "],
                              capture_output=True, text=True).stdout.split()
        assert len(pids) == 1
        subprocess.run(["kill", f"-{signal.SIGKILL.value}", pids[0]], check=True)
        first.goto(url + "?page=cart")
        assert worker_of(first_ctx, url) == b
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
