"""SAMP from the user's browser (the Web Profile), with a real Web-Profile hub (JSAMP)
and a real SAMP client on "the user's desktop"."""

from __future__ import annotations

import io
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from astropy.table import Table

from esap_dash import Cart
from esap_dash.core.config import load_profile

from ..conftest import ARTIFACTS
from .conftest import serve

pytestmark = pytest.mark.browser

WEB_PROFILE_PORT = 21012
STARS = Table({"archive": ["Hipparcos-2"] * 3, "id": ["HIP 17702", "HIP 17499", "HIP 17847"],
               "title": ["Alcyone", "Electra", "Atlas"], "ra": [56.871, 56.219, 57.291],
               "dec": [24.105, 24.113, 24.053]})


def _answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def web_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """JSAMP's hub with the standard and Web profiles, accepting every registration (a
    user would click *Accept* in its dialog); its lockfile named by SAMP_HUB."""
    if shutil.which("jsamp") is None:
        pytest.fail("jsamp is missing: ./run install installs Debian's jsamp")
    if _answers(WEB_PROFILE_PORT):
        pytest.fail(f"something already listens on {WEB_PROFILE_PORT} (another SAMP hub?)")
    lock = tmp_path / "samp.lock"
    monkeypatch.setenv("SAMP_HUB", f"std-lockurl:{lock.as_uri()}")
    log = (ARTIFACTS / "jsamp-hub.log").open("w")
    hub = subprocess.Popen(["jsamp", "hub", "-mode", "no-gui", "-profiles", "std,web",
                            "-web:auth", "true"], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not (lock.exists() and _answers(WEB_PROFILE_PORT)):
        if time.monotonic() > deadline or hub.poll() is not None:
            hub.kill()
            pytest.fail(f"the JSAMP hub did not start; see {log.name}")
        time.sleep(0.2)
    yield
    hub.terminate()
    hub.wait(timeout=20)
    log.close()


@pytest.fixture
def desktop_client(web_hub: None) -> Iterator[tuple[Any, list[Table]]]:
    """A SAMP client on the standard profile that takes tables, as TOPCAT does."""
    from pyvo.samp import SAMPIntegratedClient

    client = SAMPIntegratedClient(name="topcat-like")
    client.connect()
    received: list[Table] = []

    def take(_key, _sender, mtype, params, _extra) -> None:
        answer = requests.get(params["url"], timeout=30)
        received.append(Table.read(io.BytesIO(answer.content), format="votable"))

    client.bind_receive_notification("table.load.votable", take)
    yield client, received
    client.disconnect()


def test_the_cart_goes_to_and_comes_back_from_the_users_desktop_through_the_browser(
        local_stack, page, tmp_path, desktop_client) -> None:
    client, received = desktop_client
    database = f"sqlite:///{tmp_path}/samp.db"
    profile = load_profile("local", overrides={"deployment.database": database})
    Cart.open("Pleiades", profile=profile).add_rows(STARS)
    votable = tmp_path / "from-topcat.xml"
    Table({"name": ["NGC1952", "NGC0224"], "ra": [83.633, 10.685],
           "dec": [22.015, 41.269]}).write(votable, format="votable")
    with serve("local", "server-samp-web.log", None,
               ("--set", "samp.enabled=false", "--set", f"deployment.database={database}")
               ) as url:
        page.goto(url + "?page=cart")
        page.get_by_label("Cart", exact=True).select_option("Pleiades")
        page.locator(".tabulator-cell", has_text="Alcyone").first.wait_for(timeout=20_000)
        page.get_by_text("SAMP through your browser (Web Profile)").wait_for()
        page.get_by_role("button", name="Send to TOPCAT (SAMP)").click()
        page.get_by_text("Sent cart 'Pleiades' to topcat-like.").wait_for(timeout=30_000)
        deadline = time.monotonic() + 30
        while not received and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sorted(received[0]["title"]) == ["Alcyone", "Atlas", "Electra"]
        # A table sent from the desktop goes to the cart, through the browser.
        page.locator(".bk-Checkbox", has_text="Receive tables from TOPCAT/Aladin (SAMP)"
                     ).locator("input").check()
        page.get_by_text("Tables your SAMP clients send now go to this cart.").wait_for()
        deadline = time.monotonic() + 30
        while not (ours := [c for c in client.get_subscribed_clients("table.load.votable")
                            if client.get_metadata(c).get("samp.name") == "esap-dash"]):
            assert time.monotonic() < deadline, "esap-dash never subscribed to tables"
            time.sleep(0.2)
        client.notify(ours[0], {"samp.mtype": "table.load.votable",
                                "samp.params": {"url": votable.as_uri(),
                                                "name": "two nebulae"}})
        page.get_by_text("topcat-like sent 'two nebulae': 2 new items.").wait_for(
            timeout=30_000)
        page.locator(".tabulator-group", has_text="SAMP: topcat-like").first.wait_for(
            timeout=20_000)
        page.screenshot(path=str(ARTIFACTS / "cart-samp-web.png"), full_page=True)
    taken = [i for i in Cart.open("Pleiades", profile=profile).items() if i.kind == "samp"]
    assert {(i.title, i.ra) for i in taken} == {("NGC1952", 83.633), ("NGC0224", 10.685)}
    assert {i.archive for i in taken} == {"SAMP: topcat-like"}
