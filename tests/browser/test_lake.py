"""The data lake's faults in a real browser: a transfer whose destination qBittorrent
dies is STUCK on the Cart page with Rucio's reason, and completes with the same bytes
after *Try stuck rules again* once the qBittorrent is back."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests
from astropy.table import Table

from esap_dash.core.cart import Cart

from ..conftest import ARTIFACTS, PROJECT_ROOT, stack

pytestmark = pytest.mark.browser

CART = f"lake faults {uuid.uuid4().hex[:6]}"


def kill_when_handed(rse_index: int, name: str, password: str) -> str:
    """Kill the qBittorrent of the ``rse_index``-th RSE (SIGKILL) within a tenth of a
    second of it being handed the torrent of ``name``; its Web API address."""
    port = int(os.environ.get("ESAP_DASH_QBITTORRENT_PORT", 8111)) + rse_index
    web = f"http://127.0.0.1:{port}/"
    qbt = requests.Session()
    qbt.post(f"{web}api/v2/auth/login", data={"username": "rucio", "password": password},
             timeout=10).raise_for_status()
    deadline = time.monotonic() + 120
    while not any(t["name"] == name
                  for t in qbt.get(f"{web}api/v2/torrents/info", timeout=10).json()):
        assert time.monotonic() < deadline, f"the transfer of {name} never reached {web}"
        time.sleep(0.1)
    rse = ("LOCAL_A", "LOCAL_B", "LOCAL_SCRATCHDISK")[rse_index]
    os.kill(int((PROJECT_ROOT / "var" / f"qbittorrent-{rse}.pid").read_text()), signal.SIGKILL)
    return web


def test_a_stuck_rule_says_why_and_completes_when_tried_again(served_app: str, page, profile,
                                                              secrets, tmp_path) -> None:
    # 150 MiB: seconds to move, and LOCAL_B's qBittorrent is gone within a tenth of one.
    lake = profile.service("rucio").connector()
    data = tmp_path / f"fault-{uuid.uuid4().hex[:8]}.bin"
    data.write_bytes(os.urandom(150 * 2**20))
    did = lake.upload(data)
    Cart.open(CART, profile=profile).add_rows(Table({
        "archive": ["Rucio data lake"], "id": [did["did"]], "title": [did["name"]],
        "product_type": ["file"]}), kind="did")
    page.goto(served_app + "?page=cart")
    page.get_by_label("Cart", exact=True).select_option(CART)
    page.get_by_role("button", name="Where are the files?").click()
    page.get_by_text("1 data-lake items: 1 file replicas on LOCAL_SCRATCHDISK.").wait_for(
        timeout=30_000)
    page.get_by_label("Storage (RSE or class)").select_option("LOCAL_B")
    page.get_by_role("button", name="Make available at the RSE").click()
    password = "".join(c for c in secrets["ESAP_DASH_QBITTORRENT_PASSWORD"] if c.isalnum())
    web = kill_when_handed(1, did["name"], password)
    rule = page.locator(".tabulator-row", has=page.locator(".tabulator-cell",
                                                           has_text=did["did"]))
    try:
        # Stuck after Rucio's retries, with the reason the transfer tool gave.
        rule.locator(".tabulator-cell", has_text=re.compile("^STUCK$")).wait_for(
            timeout=180_000)
        page.get_by_text(f"{did['did']} at LOCAL_B is stuck: qBittorrent at {web} did not "
                         "answer (connection refused).").wait_for()
        rule.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "lake-rule-stuck.png"))
    finally:
        stack("start", "rucio")  # LOCAL_B's qBittorrent is back
    page.get_by_role("button", name="Try stuck rules again").click()
    page.get_by_text(f"Asked Rucio to try again: {did['did']} at LOCAL_B.").wait_for(
        timeout=30_000)
    rule.locator(".tabulator-cell", has_text="1 of 1 files, 157.3 MB of 157.3 MB").wait_for(
        timeout=180_000)
    rule.locator(".tabulator-cell", has_text=re.compile("^OK$")).wait_for()
    page.get_by_role("button", name="Try stuck rules again").wait_for(state="hidden")
    page.screenshot(path=str(ARTIFACTS / "lake-rule-retried.png"))
    kept = {str(r["rse"]): Path(urlparse(str(r["pfn"])).path).read_bytes()
            for r in lake.list_replicas(did["scope"], did["name"])}
    assert hashlib.md5(kept["LOCAL_B"]).digest() == hashlib.md5(data.read_bytes()).digest()
    assert kept["LOCAL_B"] == kept["LOCAL_SCRATCHDISK"]
    lake.delete_rule(next(r["id"] for r in lake.did_rules(did["scope"], did["name"])))
