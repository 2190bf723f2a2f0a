"""Browser fixtures: the served dashboard and Debian's chromium via playwright."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from esap_dash.serving import free_ports

from ..conftest import ARTIFACTS

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextmanager
def serve(profile: str, log_name: str, env: dict[str, str] | None = None,
          args: tuple[str, ...] = ()) -> Iterator[str]:
    """Run ``esap-dash serve --profile PROFILE [ARGS]`` on a free port; yield its URL."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    workers = int(args[args.index("--workers") + 1]) if "--workers" in args else 1
    port = free_ports(1 + workers)  # nginx's and its workers' with --workers
    log = (ARTIFACTS / log_name).open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "esap_dash.cli", "serve", "--profile", profile, "--port",
         str(port), *args],
        stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if requests.get(url, timeout=10).status_code == 200:
                break
        except requests.RequestException:  # not listening yet, or busy starting
            time.sleep(0.3)
    else:
        proc.terminate()
        pytest.fail(f"the dashboard did not come up; see {log.name}")
    try:
        yield url
    except BaseException:  # what the server said last, and where its threads are
        proc.send_signal(signal.SIGUSR1)
        time.sleep(1)
        print(server_said(Path(log.name)))
        raise
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def server_said(log: Path, lines: int = 150) -> str:
    """The last ``lines`` lines of a server log, without its answers for static files."""
    kept = [line for line in log.read_text(errors="replace").splitlines()
            if "GET /static/" not in line]
    return f"--- the last lines of {log.name} ---\n" + "\n".join(kept[-lines:])


def page_said(page: Any) -> list[str]:
    """What a page says to its user now: its alerts, its notifications and the note
    of a lost connection."""
    return page.locator(".alert:visible, .notyf__message, .esap-connection-lost").evaluate_all(
        SAID)


#: The text of elements, inside their shadow roots (Bokeh's), without their styles.
SAID = """els => els.map(e => e.shadowRoot ? Array.from(e.shadowRoot.children)
  .filter(c => !["STYLE", "LINK"].includes(c.tagName)).map(c => c.innerText).join(" ").trim()
  : e.innerText.trim())"""


@pytest.fixture(scope="session")
def served_app(local_stack: None) -> Iterator[str]:
    """The dashboard on the ``local`` profile; the server log is kept in ARTIFACTS."""
    with serve("local", "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's chromium, headless (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: ./run install installs Debian's chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    """A fresh page; records requests that failed, for the test to check."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.failed_requests = []
    page.on("requestfailed", lambda req: page.failed_requests.append(req.url))
    page.dialogs = []

    def dismiss(dialog: object) -> None:
        page.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    yield page
    context.close()


def tick(row: object, attempts: int = 5) -> None:
    """Tick ``row``'s checkbox and wait until it is ticked: a table still laying out
    its rows (results keep arriving) can swallow a click, so try again."""
    box = row.locator("input[type=checkbox]")
    for attempt in range(attempts):
        try:
            box.check(timeout=5_000)
            return
        except Exception:
            if attempt == attempts - 1:
                raise
            row.page.wait_for_timeout(500)


def tick_all(rows: list[object], attempts: int = 5) -> None:
    """Tick every row of ``rows`` and wait until they all stay ticked: a table that
    redraws its rows once a search is over can clear ticks made just before."""
    for _ in range(attempts):
        for row in rows:
            tick(row)
        rows[0].page.wait_for_timeout(500)
        if all(row.locator("input[type=checkbox]").is_checked() for row in rows):
            return
    raise AssertionError(f"the rows did not stay ticked after {attempts} attempts")


#: The cookie secret of the dashboards served with logins.
COOKIE_SECRET = secrets.token_urlsafe(32)


@pytest.fixture(scope="module")
def served_oidc(local_stack: None) -> Iterator[str]:
    """The dashboard on the ``local-oidc`` profile (logins through the stack's provider)."""
    with serve("local-oidc", "server-oidc.log", {"ESAP_DASH_COOKIE_SECRET": COOKIE_SECRET}) as url:
        yield url


def log_in(browser: Any, url: str, sub: str, frames: list[str]) -> tuple[Any, Any]:
    """A new browser context logged in as ``sub``; websocket frames go to ``frames``."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.on("websocket", lambda ws: (
        ws.on("framereceived", lambda payload: frames.append(str(payload))),
        ws.on("framesent", lambda payload: frames.append(str(payload)))))
    page.goto(url + "?page=cart")
    page.get_by_role("button", name=sub).click()
    page.get_by_text("Log out").wait_for(timeout=30_000)
    return context, page
