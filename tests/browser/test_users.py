"""Logins in a real browser through the stack's OIDC provider: two users kept apart,
logout, no secret in pages, websocket messages or logs, and hostile metadata shown as text."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import requests

from esap_dash.core.cart import Cart
from esap_dash.core.config import PROJECT_ROOT, load_profile

from ..conftest import ALICE, ARTIFACTS, BOB
from .conftest import COOKIE_SECRET, log_in, serve, tick
from .test_cart import CRAB

pytestmark = pytest.mark.browser

HOSTILE = ['<script>window.__xss=1</script>Crab', '<img src=x onerror="window.__xss=1">M1',
           '"><svg onload="window.__xss=1">']


def add_to_cart(page, url: str, cart: str, title: str) -> None:
    page.goto(url + "?page=discovery&target=M+1&radius=0.5")
    page.get_by_text(re.compile(r"rows from \d+ archives")).wait_for(timeout=30_000)
    name = page.get_by_label("Cart", exact=True)
    name.fill(cart)
    name.press("Enter")
    row = page.locator(".tabulator-row", has=page.locator(".tabulator-cell", has_text=title))
    tick(row.first)
    page.get_by_role("button", name="Add selected rows to cart").click()
    said = page.get_by_text(re.compile(f"to cart '{re.escape(cart)}'|Tick result rows"))
    said.wait_for(timeout=30_000)
    assert "to cart" in said.inner_text(), f"after ticking {title!r}: {said.inner_text()}"


def secrets_of_the_deployment() -> list[str]:
    env = Path(os.environ.get("ESAP_DASH_VAR", PROJECT_ROOT / "var")) / "stack.env"
    values = [line.split("=", 1)[1] for line in env.read_text().splitlines() if "=" in line]
    return [v for v in [*values, COOKIE_SECRET] if len(v) >= 12]


def test_two_users_log_in_each_sees_only_their_cart_and_logout_returns_to_login(
        served_oidc: str, browser) -> None:
    frames: list[str] = []
    alice_ctx, alice = log_in(browser, served_oidc, ALICE, frames)
    bob_ctx, bob = log_in(browser, served_oidc, BOB, frames)
    try:
        assert "Alice Astronomer" in alice.locator(".esap-summary").all_inner_texts()[-1]
        assert "Bob Physicist" in bob.locator(".esap-summary").all_inner_texts()[-1]
        add_to_cart(alice, served_oidc, "alice picks", "NGC1952")
        add_to_cart(bob, served_oidc, "bob picks", "UKIDSS K-band, Crab Nebula field")
        pages = []
        for page, mine, theirs, item in ((alice, "alice picks", "bob picks", "NGC1952"),
                                         (bob, "bob picks", "alice picks", "UKIDSS K-band")):
            page.goto(served_oidc + "?page=cart")
            select = page.get_by_label("Cart", exact=True)
            select.wait_for()
            options = select.locator("option").all_inner_texts()
            assert mine in options and theirs not in options
            select.select_option(mine)
            page.locator(".tabulator-cell", has_text=item).first.wait_for(timeout=20_000)
            pages.append(page.content())
        alice.screenshot(path=str(ARTIFACTS / "users-alice-cart.png"))
        # Nothing secret in the pages, the websocket traffic or the server's log.
        log = (ARTIFACTS / "server-oidc.log").read_text()
        for secret in secrets_of_the_deployment():
            for where, text in (("page", "".join(pages)), ("websocket", "".join(frames)),
                                ("log", log)):
                assert secret not in text, f"a secret of the deployment is in the {where}"
        assert "PRIVATE KEY" not in "".join(pages + frames) + log
        assert len(frames) > 20
        # Logout ends the session at the provider too, then leads back to the login.
        provider_log = PROJECT_ROOT / "var" / "log" / "oidc.log"
        calls_before = provider_log.read_text().count("/oauth2/end_session?")
        alice.get_by_text("Log out").click()
        alice.get_by_text("You have logged out of esap-dash").wait_for(timeout=20_000)
        alice.get_by_role("button", name="End session").click(timeout=20_000)
        alice.wait_for_url(re.compile(r"127\.0\.0\.1:\d+/oauth2/authorize"), timeout=20_000)
        alice.get_by_role("button", name=ALICE).wait_for()
        assert provider_log.read_text().count("/oauth2/end_session?") == calls_before + 1
    finally:
        alice_ctx.close()
        bob_ctx.close()
    mine = Cart.open_as(ALICE, "alice picks", profile=load_profile("local-oidc"),
                        create=False)
    assert [i.title for i in mine.items()] == [CRAB]


@pytest.mark.parametrize("origin, allowed", [("http://evil.example", False),
                                              ("http://127.0.0.1:{port}", True)])
def test_websockets_only_from_the_dashboards_own_origin(served_app: str, origin: str,
                                                        allowed: bool) -> None:
    port = served_app.rsplit(":", 1)[1].strip("/")
    page = requests.get(served_app, timeout=30).text
    token = re.search(r'"token": ?"([^"]+)"', page)
    assert token is not None
    answer = requests.get(served_app + "ws", timeout=10, headers={
        "Origin": origin.format(port=port), "Connection": "Upgrade", "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Protocol": f"bokeh, {token.group(1)}"}, stream=True)
    assert (answer.status_code == 101) is allowed, answer.status_code


async def _first_message(url: str, token: str, cookies: dict[str, str]) -> object:
    """Open the dashboard's websocket with ``token`` and ``cookies``; the first message,
    or None when the server closes the connection."""
    import asyncio

    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    origin = url.rstrip("/")
    request = HTTPRequest(origin.replace("http://", "ws://") + "/ws", headers={
        "Origin": origin, "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())})
    try:
        conn = await websocket_connect(request, subprotocols=["bokeh", token])
    except Exception:
        return None
    try:
        return await asyncio.wait_for(conn.read_message(), 20)
    finally:
        conn.close()


def test_cookies_are_encrypted_and_a_session_opens_only_for_its_own_login(
        served_oidc: str, browser) -> None:
    from tornado.web import decode_signed_value

    from ..conftest import run_coroutine

    alice_ctx, _ = log_in(browser, served_oidc, ALICE, [])
    bob_ctx, _ = log_in(browser, served_oidc, BOB, [])
    try:
        jar = {c["name"]: c for c in alice_ctx.cookies()}
        assert {"user", "access_token", "id_token"} <= set(jar)
        assert all(c["sameSite"] == "Lax" and c["httpOnly"] for c in jar.values())
        profile = load_profile("local-oidc")
        for name in ("access_token", "id_token"):
            stored = decode_signed_value(COOKIE_SECRET, name, jar[name]["value"].strip('"'))
            assert stored is not None and stored.startswith(b"gAAAA"), name  # Fernet
            answer = requests.get(profile.oidc["userinfo_url"], timeout=10,
                                  headers={"Authorization": f"Bearer {stored.decode()}"})
            assert answer.status_code >= 400, name
        alice = {c["name"]: c["value"] for c in alice_ctx.cookies()}
        bob = {c["name"]: c["value"] for c in bob_ctx.cookies()}
        html = requests.get(served_oidc, cookies=alice, timeout=30).text
        token = re.search(r'"token": ?"([^"]+)"', html).group(1)
        assert run_coroutine(_first_message(served_oidc, token, bob)) is None
        html = requests.get(served_oidc, cookies=alice, timeout=30).text
        token = re.search(r'"token": ?"([^"]+)"', html).group(1)
        assert run_coroutine(_first_message(served_oidc, token, alice)) is not None
    finally:
        alice_ctx.close()
        bob_ctx.close()


@pytest.mark.parametrize("fault", ["dead", "cut"])
def test_a_login_the_provider_does_not_complete_gets_a_clear_page(browser, local_stack,
                                                                  fault) -> None:
    from ..conftest import FaultyProxy

    profile = load_profile("local-oidc")
    token_url = profile.oidc["token_url"]
    with FaultyProxy(token_url.split("/oauth2")[0], "cut", None) as proxy:
        broken = {"dead": "http://127.0.0.1:9/oauth2/token",
                  "cut": proxy.url + "/oauth2/token"}[fault]
        with serve("local-oidc", f"server-oidc-{fault}.log",
                   {"ESAP_DASH_COOKIE_SECRET": COOKIE_SECRET,
                    "ESAP_DASH__OIDC__TOKEN_URL": broken}) as url:
            context = browser.new_context()
            page = context.new_page()
            try:
                page.goto(url)
                page.get_by_role("button", name=ALICE).click()
                page.get_by_text("Logging in did not complete").wait_for(timeout=40_000)
                assert "cdn" not in page.content().lower()
                page.screenshot(path=str(ARTIFACTS / f"login-error-{fault}.png"))
                page.get_by_role("link", name="Try again").click()
                page.wait_for_url(re.compile(r"/oauth2/authorize"), timeout=20_000)
            finally:
                context.close()


def test_the_component_route_imports_no_other_module(served_oidc: str) -> None:
    log = ARTIFACTS / "server-oidc.log"
    answer = requests.get(served_oidc + "components/this/x/__css__/y", timeout=10)
    assert answer.status_code == 404
    answer = requests.get(served_oidc + "components/antigravity/x/__css__/y", timeout=10)
    assert answer.status_code == 404
    assert "Beautiful is better than ugly" not in log.read_text()
