"""The stack's JupyterHub in a browser: a dashboard user logs in through the same
OpenID Connect provider, her JupyterLab runs as her Unix account, another user
cannot reach it, and her carts open there under their own names."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from secrets import token_hex
from urllib.parse import urlparse

import pytest
import requests
from astropy.table import Table
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from esap_dash.core.actor import Actor
from esap_dash.core.cart import Cart
from esap_dash.core.config import load_profile
from esap_dash.core.launch import file_stem
from esap_dash.core.provenance import Provenance

from ..conftest import ALICE, ARTIFACTS, BOB
from .conftest import log_in

pytestmark = pytest.mark.browser

HUB = f"http://127.0.0.1:{os.environ.get('ESAP_DASH_HUB_PORT', '8121')}"
#: The hub whose servers are Slurm jobs.
SLURM_HUB = f"http://127.0.0.1:{os.environ.get('ESAP_DASH_HUB_SLURM_PORT', '8124')}/slurm"
#: The local profiles' facilities: name -> the hub's address.
FACILITIES = {"Local JupyterHub": HUB, "Local JupyterHub on Slurm": SLURM_HUB}
#: A Crab image and three Pleiades stars of Hipparcos-2 (their catalogue positions).
CRAB_AND_PLEIADES = Table({
    "archive": ["Local DaCHS images (SIA v2)", *["Hipparcos-2"] * 3],
    "id": ["ukidss_crab_k", "HIP 17702", "HIP 17499", "HIP 17847"],
    "title": ["UKIDSS K-band, Crab Nebula field", "Alcyone", "Electra", "Atlas"],
    "ra": [83.63308, 56.87110080609735, 56.2188481788643, 57.29054699320703],
    "dec": [22.0145, 24.105241794306835, 24.113448400586787, 24.053524125622342],
    "product_type": ["image", "", "", ""]})


def hub_login(browser, sub: str, after: str = ""):
    """A new browser context logged in to the hub as ``sub`` through the stack's
    provider, sent on to ``after`` (the hub's default: the user's own server)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(HUB + "/hub/login" + (f"?next={after}" if after else ""))
    page.get_by_text(re.compile("Sign in with")).click()
    page.get_by_role("button", name=sub).click()
    return context, page


def server_owners() -> set[str]:
    """The Unix accounts the users' JupyterLab servers run as."""
    out = subprocess.run(["ps", "-ww", "-eo", "user:32,args"], capture_output=True, text=True,
                         check=True).stdout
    return {line.split()[0] for line in out.splitlines() if "jupyterhub-singleuser" in line}


def slurm_jobs(user: str) -> list[str]:
    """The names of ``user``'s Slurm jobs."""
    return subprocess.run(["squeue", "-h", "-u", user, "-o", "%j"], capture_output=True,
                          text=True, check=True, timeout=30).stdout.split()


def server_environment(user: str) -> dict[str, str]:
    """The environment ``user``'s JupyterLab server was started with."""
    out = subprocess.run(["pgrep", "-u", user, "-f", "jupyterhub-singleuser"],
                         capture_output=True, text=True, timeout=30).stdout.split()
    raw = Path(f"/proc/{out[0]}/environ").read_bytes()
    return dict(v.split("=", 1) for v in raw.decode().split("\0") if "=" in v)


def lake_file(sub: str, folder: Path) -> str:
    """A file of ``sub``'s own, uploaded to her scope of the data lake: its DID."""
    path = folder / f"notes-{token_hex(4)}.txt"
    path.write_text(f"notes of {sub}\n")
    done = Actor(load_profile("local-oidc"), sub).connector("rucio").upload(path)
    return f"{done['scope']}:{done['name']}"


def made_available(page, lab: str, did: str) -> dict:
    """Ask ``page``'s data-lake panel (rucio-jupyterlab, in download mode) for ``did``
    and wait for the answer: its status (``OK``, ``FAILED``), path and error."""
    xsrf = next(c["value"] for c in page.context.cookies() if c["name"] == "_xsrf")
    answer = page.request.post(f"{lab}/did/make-available?namespace=esap", data={"did": did},
                               headers={"X-XSRFToken": xsrf})
    assert answer.ok, answer.text()
    deadline = time.monotonic() + 90
    while True:
        state = page.request.get(f"{lab}/did?namespace=esap&did={did}").json()[0]
        if state["status"] in ("OK", "FAILED") or time.monotonic() > deadline:
            return state
        time.sleep(0.5)


def stop_server(context, hub: str = HUB) -> None:
    """Stop the logged-in user's server from the hub's home page (in a page of its own:
    JupyterLab's may ask before it is left)."""
    page = context.new_page()
    page.goto(hub + "/hub/home")
    stop = page.get_by_role("button", name="Stop My Server")
    if stop.is_visible():
        stop.click()
        page.get_by_role("button", name="Start My Server").wait_for(timeout=60_000)


def test_a_dashboard_user_s_jupyterlab_runs_as_her_unix_account_and_is_hers_alone(
        local_stack: None, browser, tmp_path) -> None:
    hers, bobs = lake_file(ALICE, tmp_path), lake_file(BOB, tmp_path)
    alice_ctx, alice = hub_login(browser, ALICE)
    bob_ctx, bob = None, None
    try:
        alice.wait_for_url(re.compile(r"/user/alice/lab"), timeout=90_000)
        files = alice.locator('li.lm-TabBar-tab[data-id="filebrowser"]')
        files.wait_for(timeout=90_000)
        # Offline: JupyterLab neither fetches news nor checks for updates, nor asks to.
        notices = alice.request.get(
            HUB + "/user/alice/lab/api/settings/@jupyterlab/apputils-extension:notification"
        ).json()["schema"]["properties"]
        assert notices["fetchNews"]["default"] == "false"
        assert notices["checkForUpdates"]["default"] is False
        alice.screenshot(path=str(ARTIFACTS / "hub-lab.png"))
        assert server_owners() == {"alice"}
        # Her server reads her current access token from the hub (which renews it), and
        # reaches her Dask Gateway with it: no password in its environment.
        env = server_environment("alice")
        state = requests.get(env["JUPYTERHUB_API_URL"] + "/users/alice", timeout=30, headers={
            "Authorization": f"token {env['JUPYTERHUB_API_TOKEN']}"}).json()["auth_state"]
        assert state["access_token"] and state["expires_at"] > time.time() + 600
        assert env["DASK_GATEWAY__AUTH__TYPE"] == "esap_dash.client.TokenAuth"
        assert not [k for k in env if "PASSWORD" in k]
        # Rucio's clients find it too (WLCG bearer token discovery), in a file of hers.
        kept = Path(env["BEARER_TOKEN_FILE"])
        assert (kept.owner(), kept.stat().st_mode & 0o777) == ("alice", 0o600)
        assert kept.read_text() == state["access_token"]

        # Her data-lake panel (rucio-jupyterlab) acts as her Rucio account with that
        # token, and downloads what she may read: a public image, her own file; not bob's.
        lab = HUB + "/user/alice/rucio-jupyterlab"
        assert alice.request.get(f"{lab}/files?namespace=esap&did=esap:crab_images").json() == [
            {"did": "esap:poss_m1.fits", "size": 72000},
            {"did": "esap:ukidss_crab_k.fits", "size": 743040}]
        lake = Actor(load_profile("local-oidc"), ALICE).connector("rucio")
        for did in ("esap:ukidss_crab_k.fits", hers):
            got = made_available(alice, lab, did)
            assert got["status"] == "OK", got
            pfn = lake.list_replicas(*did.split(":"))["pfn"][0]
            assert Path(got["path"]).read_bytes() == Path(urlparse(str(pfn)).path).read_bytes()
            assert Path(got["path"]).owner() == "alice"
        got = made_available(alice, lab, bobs)
        assert got["status"] == "FAILED" and not got["path"], got
        # The panel itself, with its icons drawn offline (their font served from the hub's
        # environment, not Google's CDN).
        alice.locator('li.lm-TabBar-tab[data-id="rucio-jupyterlab:panel"]').click()
        search = alice.get_by_placeholder("Enter a Data Identifier (DID)")
        search.fill("esap:crab_images")
        search.press("Enter")
        alice.get_by_text("esap:crab_images", exact=True).click()
        alice.get_by_text(re.compile("available", re.I)).first.wait_for(timeout=30_000)
        alice.wait_for_function("[...document.fonts].some(f => f.family.includes("
                                "'Material Icons') && f.status === 'loaded')", timeout=30_000)
        alice.screenshot(path=str(ARTIFACTS / "hub-lake-panel.png"))
        files.click()  # her workspace as it was
        # A terminal of hers (her server's environment, as her) is her Rucio account too.
        said = subprocess.run(["sudo", "-u", "alice", "env", "-i", *[f"{k}={v}" for k, v in (
            env.items())], "rucio", "whoami"], capture_output=True, text=True, timeout=60)
        assert re.search(r"^account\s*:\s*alice$", said.stdout, re.M), said

        bob_ctx, bob = hub_login(browser, BOB, after="/hub/home")
        bob.get_by_role("button", name="Start My Server").wait_for(timeout=30_000)
        for path in ("/user/alice/lab", "/user/alice/api/contents"):
            answer = bob.goto(HUB + path)
            assert answer.status in (403, 404), (path, answer.status)
        bob.screenshot(path=str(ARTIFACTS / "hub-refused.png"))
        assert server_owners() == {"alice"}  # bob's refusal started nothing
    finally:
        stop_server(alice_ctx)
        alice_ctx.close()
        shutil.rmtree("/home/alice/rucio", ignore_errors=True)  # the panel's downloads
        if bob_ctx is not None:
            bob_ctx.close()
    assert server_owners() == set()


@pytest.mark.parametrize("facility", FACILITIES)
def test_her_carts_open_in_her_jupyterlab_under_their_names_side_by_side(
        served_oidc: str, browser, facility: str) -> None:
    hub, began = FACILITIES[facility], time.time()
    profile = load_profile("local-oidc")  # the served dashboard's database
    # A cart of a Crab image and three Pleiades stars, and a second one of the Crab.
    carts = {f"Crab and Pleiades {token_hex(2)}": CRAB_AND_PLEIADES,
             f"Crab {token_hex(2)}": CRAB_AND_PLEIADES[:1]}
    for name, rows in carts.items():
        Cart.open_as(ALICE, name, profile=profile).add_rows(rows)
    context, page = log_in(browser, served_oidc, ALICE, [])
    shot = "hub-slurm" if hub == SLURM_HUB else "hub"
    try:
        uploads: list[str] = []
        context.on("request", lambda r: uploads.append(r.url.split("?")[0]) if (
            r.method == "PUT" and "/api/contents/" in r.url) else None)
        for turn, name in enumerate(carts):
            if turn:  # a tab of its own, as the link opens; the first one stays open
                page = context.new_page()
            page.goto(served_oidc + "?page=cart")
            page.get_by_label("Cart", exact=True).select_option(name)
            page.get_by_label("Open in").select_option(facility)
            page.get_by_role("button", name="Make a link to this cart").click()
            launch = page.locator("a", has_text=f"{hub}/hub/user-redirect/")
            launch.wait_for(timeout=60_000)
            page.goto(launch.get_attribute("href"))
            if turn == 0:  # the hub asks the same provider who she is, once
                page.get_by_text(re.compile("Sign in with")).click()
                page.get_by_role("button", name=ALICE).click()
            notebook = f"{file_stem(name)}.ipynb"
            page.locator(".lm-TabBar-tabLabel", has_text=notebook).wait_for(timeout=120_000)
            # In the cart's own workspace, once JupyterLab has taken the link in.
            page.wait_for_url(re.compile(rf"/user/alice/lab/workspaces/{file_stem(name)}$"),
                              timeout=30_000)
            if turn == 0:  # its cells run as alice: they read her live cart, cross-match
                # it on a Dask Gateway cluster of hers and add the matches to it
                page.get_by_text("Python 3 (esap-dash) | Idle").wait_for(timeout=60_000)
                page.get_by_role("menuitem", name="Run", exact=True).click()
                page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
                page.get_by_text(f"The live cart {name!r} has 4 items now.").wait_for(
                    timeout=90_000)
                page.get_by_text(re.compile(r"Cross-match on your cluster: 3 of 4 rows "
                                            r"matched\. 3 new items")).wait_for(timeout=240_000)
            page.screenshot(path=str(ARTIFACTS / f"{shot}-cart-{turn + 1}.png"))
            # Fetched and saved once: no second copy asks to overwrite the first.
            assert len([u for u in uploads if u.endswith("/" + notebook)]) == 1, uploads
        # The dashboard's Cart shows the matches, made by her notebook session.
        page = context.new_page()
        page.goto(served_oidc + "?page=cart")
        first = next(iter(carts))
        page.get_by_label("Cart", exact=True).select_option(first)
        page.get_by_text(f"notebook {file_stem(first)}.ipynb").first.wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / f"{shot}-cart-result.png"))
        page.get_by_text("Provenance", exact=True).click()  # opens the card
        page.get_by_role("button", name="Draw the provenance").click()
        page.get_by_text(f"Provenance of all 7 items of cart {first!r}").wait_for(
            timeout=60_000)
        drawing = page.get_by_alt_text("Provenance graph")
        drawing.wait_for(timeout=30_000)
        drawing.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / f"{shot}-cart-provenance.png"), full_page=True)
        # "Where can this run?" lists the hub with her running server; Run here opens the
        # cart there.
        page.locator("button.card-header", has_text="Where can this run?").click()
        page.locator(".bk-btn", has_text="Where can this run?").click()
        named = re.compile(rf"^{re.escape(facility)}$")
        place = page.locator(".tabulator-row", has=page.locator(
            ".tabulator-cell", has_text=named)).first
        place.locator(".tabulator-cell", has_text="your JupyterLab is running there").wait_for(
            timeout=60_000)
        place.locator(".tabulator-cell", has_text=named).first.click()
        page.get_by_role("button", name="Run here").click()
        page.get_by_text(re.compile(rf"opens in your JupyterLab at {re.escape(facility)} "
                                    rf"\(started if it does not run\): {re.escape(hub)}/hub/"
                                    "user-redirect/")).wait_for(timeout=60_000)
        place.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / f"{shot}-where-can-this-run.png"))
        items = Cart.open_as(ALICE, first, profile=profile).items()
        made = [i for i in items if i.archive.startswith("notebook")]
        record = Provenance.from_json(made[0].query)
        assert (len(made), record.activity, record.user) == (3, "notebook", ALICE)
        assert set(record.inputs) == {i.key for i in items if i not in made}
        # Both notebooks are hers, side by side in her home; neither replaced the other.
        for name in carts:
            saved = Path("/home/alice") / f"{file_stem(name)}.ipynb"
            assert saved.owner() == "alice", saved
            assert name in saved.read_text()
        assert server_owners() == {"alice"}
        if hub == SLURM_HUB:  # her JupyterLab is her Slurm job, its log in a folder of hers
            assert slurm_jobs("alice").count("spawner-jupyterhub") == 1
            assert list(Path("/home/alice/.jupyterhub").glob("slurm-*.log"))
            assert not [p for p in Path("/home/alice").glob("jupyterhub_slurmspawner_*")
                        if p.stat().st_mtime >= began]
        # The Jobs page shows her server, what runs it, and stops it.
        page.goto(served_oidc + "?page=jobs")
        page.get_by_text("Notebook servers", exact=True).click()
        said = page.get_by_text(re.compile(r"servers? of yours at \d+ hubs?\."))
        said.wait_for(timeout=60_000)
        row = page.locator(".tabulator-row", has=page.locator(
            ".tabulator-cell", has_text=re.compile(rf"^{re.escape(facility)}$")))
        try:
            row.get_by_text("running", exact=True).wait_for(timeout=60_000)
        except PlaywrightTimeoutError:
            page.screenshot(path=str(ARTIFACTS / f"{shot}-servers-missing.png"), full_page=True)
            pytest.fail(f"her server is not listed as running; the list says: "
                        f"{said.inner_text()}; its table: "
                        f"{page.locator('.tabulator').all_inner_texts()!r}")
        shown = row.inner_text()
        assert re.search(r"slurm \(job \d+\)" if hub == SLURM_HUB else "local processes",
                         shown), shown
        page.screenshot(path=str(ARTIFACTS / f"{shot}-servers.png"), full_page=True)
        row.click()
        page.get_by_role("button", name="Stop server").click()
        page.get_by_text(f"{facility} is stopping your server").wait_for(timeout=60_000)
        deadline = time.monotonic() + 90
        while "alice" in server_owners() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert server_owners() == set()
    finally:
        stop_server(context, hub)
        context.close()
        for name in carts:
            (Path("/home/alice") / f"{file_stem(name)}.ipynb").unlink(missing_ok=True)
    assert "spawner-jupyterhub" not in slurm_jobs("alice")
