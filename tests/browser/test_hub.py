"""The stack's JupyterHub in a browser: a dashboard user logs in through the same
OpenID Connect provider, her JupyterLab runs as her Unix account, and another user
cannot reach it."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from ..conftest import ALICE, ARTIFACTS, BOB

pytestmark = pytest.mark.browser

HUB = f"http://127.0.0.1:{os.environ.get('ESAP_DASH_HUB_PORT', '8121')}"


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


def stop_server(page) -> None:
    """Stop the logged-in user's server from the hub's home page."""
    page.goto(HUB + "/hub/home")
    stop = page.get_by_role("button", name="Stop My Server")
    if stop.is_visible():
        stop.click()
        page.get_by_role("button", name="Start My Server").wait_for(timeout=60_000)


def test_a_dashboard_user_s_jupyterlab_runs_as_her_unix_account_and_is_hers_alone(
        local_stack: None, browser) -> None:
    alice_ctx, alice = hub_login(browser, ALICE)
    bob_ctx, bob = None, None
    try:
        alice.wait_for_url(re.compile(r"/user/alice/lab"), timeout=90_000)
        alice.locator(".jp-LauncherCard").first.wait_for(timeout=90_000)
        # Offline: no news feed asks to be read.
        assert not alice.get_by_text("official Jupyter news").is_visible()
        alice.screenshot(path=str(ARTIFACTS / "hub-lab.png"))
        assert server_owners() == {"alice"}

        bob_ctx, bob = hub_login(browser, BOB, after="/hub/home")
        bob.get_by_role("button", name="Start My Server").wait_for(timeout=30_000)
        for path in ("/user/alice/lab", "/user/alice/api/contents"):
            answer = bob.goto(HUB + path)
            assert answer.status in (403, 404), (path, answer.status)
        bob.screenshot(path=str(ARTIFACTS / "hub-refused.png"))
        assert server_owners() == {"alice"}  # bob's refusal started nothing
    finally:
        stop_server(alice)
        alice_ctx.close()
        if bob_ctx is not None:
            bob_ctx.close()
    assert server_owners() == set()
