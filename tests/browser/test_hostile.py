"""Hostile strings through every way into esap-dash, shown on every page: text, never
markup, and no script of theirs runs.

The ways in: the HTTP API (a VOTable of rows, a job's query, which the archive echoes in
its error), SAMP (a client's name and table), archive answers (the
Zenodo stand-in's record), the deployment profile (title and description), and a
user's notes and tags, and the login provider's claims (carol's name)."""

from __future__ import annotations

import re

import pytest
import requests
from astropy.table import Table

from esap_dash.core.cart import Cart
from esap_dash.core.config import load_profile

from ..conftest import ARTIFACTS, CAROL, oidc_token
from .conftest import COOKIE_SECRET, log_in, serve

pytestmark = pytest.mark.browser

#: Each sets window.__xss or opens a dialog if it ever runs.
IMG = '<img src=x onerror="window.__xss=1">'
HOSTILE = [f"{IMG}M1", "<script>window.__xss=2</script>Crab",
           '"><svg onload="window.__xss=3">', "javascript:alert(4)"]
TITLE = "<img src=x onerror=alert(5)> Lab"


@pytest.fixture(scope="module")
def hostile_deployment(local_stack) -> tuple[str, object]:
    """A deployment whose profile text is hostile, and carol's records filled through
    every way in."""
    profile = load_profile("local-oidc")
    with serve("local-oidc", "server-hostile.log", {"ESAP_DASH_COOKIE_SECRET": COOKIE_SECRET},
               ("--set", f"deployment.title={TITLE}",
                "--set", f"deployment.description={HOSTILE[1]} [x](javascript:alert(6))")
               ) as url:
        api = url + "api/v1"
        token = oidc_token(profile, CAROL)
        auth = {"Authorization": f"Bearer {token}"}
        # The API: rows of a VOTable whose every text is hostile.
        rows = Table({"archive": HOSTILE, "id": ["h1", "h2", "h3", "h4"], "title": HOSTILE,
                      "ra": [83.63, 83.64, 83.65, 83.66], "dec": [22.01, 22.02, 22.03, 22.04],
                      "product_type": HOSTILE, "access_url": HOSTILE})
        path = ARTIFACTS / "hostile.xml"
        rows.write(path, format="votable", overwrite=True)
        answer = requests.post(f"{api}/carts/hostile/items", data=path.read_bytes(),
                               headers={**auth, "Content-Type": "application/x-votable+xml"},
                               timeout=60)
        assert answer.status_code == 200, answer.text
        # A TAP job whose query the archive echoes in its error (a search's target and
        # keywords never hold markup: they are refused with a message).
        answer = requests.post(f"{api}/jobs", headers=auth, timeout=60, json={
            "kind": "tap", "service": "Local DaCHS ObsCore (TAP)",
            "adql": f"SELECT {IMG} FROM ivoa.obscore"})
        assert answer.status_code in (201, 400, 502), answer.text
        # Notes and tags, and a SAMP client's table under a hostile name.
        cart = Cart.open_as(CAROL, "hostile", profile=profile)
        key = cart.items()[0].key
        cart.annotate(key, note=HOSTILE[2], tags=HOSTILE[0])
        samp = Table({"name": HOSTILE[:2], "ra": [83.7, 83.8], "dec": [22.1, 22.2]})
        samp.meta["sender"] = HOSTILE[2]
        yield url, samp


def pages_of(url: str) -> list[tuple[str, str]]:
    return [(f"{url}?page={name}", name) for name in
            ("discovery", "sky", "cart", "jobs", "services")]


def no_script_ran(page) -> None:
    assert page.evaluate("window.__xss") is None, page.url
    assert page.dialogs == [], page.dialogs


def test_hostile_strings_from_every_way_in_are_text_on_every_page(hostile_deployment, browser,
                                                                  monkeypatch) -> None:
    url, samp = hostile_deployment
    # SAMP: the cart page takes a client's table as any session would.
    import panel as pn

    from esap_dash.ui.pages.cart import CartPage

    profile = load_profile("local-oidc")
    monkeypatch.setattr(type(pn.state), "user", property(lambda _self: CAROL))
    monkeypatch.setattr(type(pn.state), "user_info", property(lambda _self: {"sub": CAROL}))
    receiving = CartPage(profile=profile)
    receiving.cart_name = "hostile"
    assert receiving.samp.receive_table(samp, HOSTILE[3], samp.meta["sender"]) == 2
    monkeypatch.undo()

    context, page = log_in(browser, url, CAROL, [])
    try:
        no_script_ran(page)
        assert TITLE in page.title()  # the browser's title, and the header's
        assert page.locator("a.title").first.inner_text().strip() == TITLE
        # the login provider's claims: carol's name is hostile
        header = page.locator(".esap-summary").all_inner_texts()[-1]
        assert '<img src=x onerror="window.__xss=1">Carol' in header
        page.get_by_text(HOSTILE[1], exact=False).first.wait_for(timeout=20_000)  # sidebar
        for address, name in pages_of(url):
            page.goto(address)
            page.locator(".esap-summary").first.wait_for(timeout=30_000)
            if name == "cart":
                page.get_by_label("Cart", exact=True).select_option("hostile")
                # the group header shows the archive as written
                page.locator(".tabulator-group", has_text="onerror=").first.wait_for(
                    timeout=20_000)
                page.locator(".tabulator-cell", has_text=HOSTILE[2]).first.wait_for()
                page.locator(".tabulator-group", has_text="SAMP: ").first.wait_for()
                page.screenshot(path=str(ARTIFACTS / "hostile-cart.png"))
            elif name == "discovery":
                page.locator(".bk-tab", has_text="Software").click()
                search = page.get_by_role("button", name="Search software and workflows")
                search.wait_for(timeout=20_000)
                # only the hostile record: a table of one row shows it whatever its height
                keywords = page.get_by_placeholder("gamma-ray, pipeline")
                keywords.fill("hostile")
                keywords.press("Enter")
                search.click()
                page.get_by_text("1 records in Software and workflows").wait_for(
                    timeout=30_000)
                page.locator(".tabulator-cell", has_text="hostile title").first.wait_for(
                    timeout=20_000)
            elif name == "jobs":
                page.get_by_text(re.compile(r"SELECT <img")).first.wait_for(timeout=30_000)
            elif name == "sky":
                page.get_by_text("Sky", exact=True).first.wait_for()
            page.wait_for_timeout(1500)  # any onerror or onload has had its chance
            no_script_ran(page)
        assert not page.locator("img[src=x]").count()
    finally:
        context.close()


def test_the_session_token_carries_no_cookie_and_pages_forbid_framing(
        hostile_deployment, browser) -> None:
    from bokeh.util.token import get_token_payload

    url, _ = hostile_deployment
    context, _page = log_in(browser, url, CAROL, [])
    try:
        cookies = {c["name"]: c["value"] for c in context.cookies()}
        answer = requests.get(url, cookies=cookies, timeout=30)
        token = re.search(r'"token": ?"([^"]+)"', answer.text).group(1)
        payload = get_token_payload(token)
        assert payload.get("cookies") in ({}, None), sorted(payload["cookies"])
        headers = {k.lower() for k in payload.get("headers", {})}
        assert not headers & {"cookie", "authorization"}, headers
        policy = answer.headers["Content-Security-Policy"]
        assert "frame-ancestors 'self'" in policy and "object-src 'none'" in policy
        assert answer.headers["X-Frame-Options"] == "SAMEORIGIN"
    finally:
        context.close()
