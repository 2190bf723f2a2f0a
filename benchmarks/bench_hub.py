"""Opening a cart in the stack's JupyterHub, against a bare spawn of the same hub.

    .venv/bin/python benchmarks/bench_hub.py [--repeat 3] [--facility both]

In Debian's chromium (headless), alice is logged in to the dashboard (the
``local-oidc`` profile, served here on a database of its own) and to the hub.
Timed for each facility (the hub of local processes, the hub on Slurm):

- esap-dash: from the click on *Make a link to this cart* on the Cart page
  (the launch address then opened, as its link does) to the cart's notebook
  open in her JupyterLab;
- the baseline, in the same run, the same hub and spawner: the hub's own way
  in, ``/hub/spawn`` to JupyterLab's file browser shown;

each cold (no server of hers runs: the hub starts one) and warm (hers runs).
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, urlsplit

from astropy.table import Table
from bench_soak import served
from playwright.sync_api import sync_playwright

from esap_dash.core.cart import Cart
from esap_dash.core.config import load_profile
from esap_dash.core.launch import file_stem

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ALICE = "alice-4f2c9e"
#: Facility name (as the local profiles list it) -> the hub's address.
HUBS = {"local": ("Local JupyterHub",
                  f"http://127.0.0.1:{os.environ.get('ESAP_DASH_HUB_PORT', '8121')}"),
        "slurm": ("Local JupyterHub on Slurm",
                  f"http://127.0.0.1:{os.environ.get('ESAP_DASH_HUB_SLURM_PORT', '8124')}/slurm")}


def stop_server(context, hub: str) -> None:
    """Stop alice's server from the hub's home page, and wait until it is stopped."""
    page = context.new_page()
    page.goto(hub + "/hub/home")
    stop = page.get_by_role("button", name="Stop My Server")
    if stop.is_visible():
        stop.click()
    page.get_by_role("button", name="Start My Server").wait_for(timeout=120_000)
    page.close()


def in_new_tab(context, action: Callable[[object], float]) -> float:
    """What ``action(page)`` measures in a new tab (closed afterwards)."""
    page = context.new_page()
    try:
        return action(page)
    finally:
        page.close()


def bare(hub: str) -> Callable[[object], float]:
    """The hub's own way in: spawn (or go to) the server, until JupyterLab shows her files."""
    def run(page) -> float:
        start = time.perf_counter()
        page.goto(hub + "/hub/spawn")
        page.locator(".jp-DirListing-content").wait_for(timeout=180_000)
        return time.perf_counter() - start
    return run


def through_esap(url: str, facility: str, cart: str) -> Callable[[object], float]:
    """From the click on the Cart page's link to ``facility`` until the cart's notebook
    is open in her JupyterLab."""
    def run(page) -> float:
        page.goto(url + "?page=cart")
        page.get_by_label("Cart", exact=True).select_option(cart)
        page.get_by_label("Open in").select_option(facility)
        start = time.perf_counter()
        page.get_by_role("button", name="Make a link to this cart").click()
        launch = page.locator("a", has_text="/hub/user-redirect/")
        launch.wait_for(timeout=60_000)
        page.goto(launch.get_attribute("href"))
        page.locator(".lm-TabBar-tabLabel", has_text=f"{file_stem(cart)}.ipynb").wait_for(
            timeout=180_000)
        return time.perf_counter() - start
    return run


def log_in_everywhere(context, url: str) -> None:
    """alice logs in to the dashboard and to both hubs (the same provider)."""
    page = context.new_page()
    page.goto(url + "?page=cart")
    page.get_by_role("button", name=ALICE).click()
    page.get_by_text("Log out").wait_for(timeout=60_000)
    for _, hub in HUBS.values():
        page.goto(f"{hub}/hub/login?next={quote(urlsplit(hub).path + '/hub/home')}")
        page.get_by_text(re.compile("Sign in with")).click()
        page.get_by_role("button", name=ALICE).click()
        page.get_by_role("button", name=re.compile("(Start|Stop) My Server")).first.wait_for(
            timeout=60_000)
    page.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--facility", choices=["local", "slurm", "both"], default="both")
    args = parser.parse_args()
    facilities = list(HUBS) if args.facility == "both" else [args.facility]
    with tempfile.TemporaryDirectory(prefix="bench-hub-") as tmp:
        database = f"sqlite:///{tmp}/hub.db"
        profile = load_profile("local-oidc", overrides={"deployment.database": database})
        carts = [f"bench {secrets.token_hex(3)}" for _ in range(2 * args.repeat * len(facilities))]
        for name in carts:
            Cart.open_as(ALICE, name, profile=profile).add_rows(Table({
                "archive": ["OpenNGC"], "item_id": ["NGC1952"], "title": ["Crab Nebula"],
                "ra": [83.63308], "dec": [22.0145]}))
        env = {"ESAP_DASH_COOKIE_SECRET": secrets.token_urlsafe(32)}
        with served("local-oidc", database, Path(tmp), env=env) as (url, _), \
                sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            log_in_everywhere(context, url)
            print(f"opening a cart in JupyterHub, {args.repeat} time(s) each, median seconds")
            try:
                for key in facilities:
                    name, hub = HUBS[key]
                    times: dict[str, list[float]] = {}
                    for _ in range(args.repeat):
                        for warm in (False, True):
                            if not warm:
                                stop_server(context, hub)
                            state = "warm" if warm else "cold"
                            times.setdefault(f"bare {state}", []).append(
                                in_new_tab(context, bare(hub)))
                            if not warm:
                                stop_server(context, hub)
                            times.setdefault(f"esap {state}", []).append(
                                in_new_tab(context, through_esap(url, name, carts.pop())))
                    stop_server(context, hub)
                    med = {k: statistics.median(v) for k, v in times.items()}
                    print(f"  {name}:")
                    for state in ("cold", "warm"):
                        print(f"    {state}: esap-dash {med[f'esap {state}']:.2f} s, bare hub "
                              f"spawn {med[f'bare {state}']:.2f} s, ratio "
                              f"{med[f'esap {state}'] / med[f'bare {state}']:.2f} (goal 1.3)")
            finally:
                browser.close()
        for name in os.listdir("/home/alice") if os.path.isdir("/home/alice") else ():
            if name.startswith("bench_") and name.endswith(".ipynb"):
                Path("/home/alice", name).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
