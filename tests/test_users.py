"""Users: login settings, identities from real OIDC tokens, per-user records and accounts."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import panel as pn
import pytest
from astropy.table import Table

from connectors.exceptions import QueryError
from esap_dash.app import login_settings
from esap_dash.core.actor import NoAccountError
from esap_dash.core.cart import Cart
from esap_dash.core.config import ProfileError, load_profile
from esap_dash.core.store import store_for
from esap_dash.ui.pages.cart import CartPage
from esap_dash.ui.pages.jobs import JobsPage

from .conftest import ALICE, BOB, CAROL, oidc_token, run_coroutine


@pytest.fixture
def oidc(local_stack, tmp_path):
    """The local-oidc profile with a database of the test's own."""
    return replace(load_profile("local-oidc"), database=f"sqlite:///{tmp_path}/users.db")


@pytest.fixture
def as_user(monkeypatch):
    """Make the current Panel session belong to a given identity (as after a login)."""
    def login(sub: str, name: str = "") -> None:
        monkeypatch.setattr(type(pn.state), "user", property(lambda _self: sub))
        monkeypatch.setattr(type(pn.state), "user_info",
                            property(lambda _self: {"sub": sub, "name": name}))
    return login


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "site.toml"
    path.write_text(text)
    return str(path)


def test_a_profile_can_extend_another_and_logins_need_the_provider(tmp_path) -> None:
    base = load_profile("local")
    profile = load_profile("local-oidc")
    assert profile.users == "oidc" and base.users == "single"
    assert [s.id for s in profile.services] == [s.id for s in base.services]
    assert profile.accounts[ALICE].rucio_account == "alice" and CAROL not in profile.accounts
    assert profile.oidc["client_secret"] not in repr(profile)
    assert profile.accounts[ALICE].rucio_password not in repr(profile)
    with pytest.raises(ProfileError, match=r"needs \[oidc\] authorize_url, token_url"):
        load_profile(write(tmp_path, 'extends = "local"\n[deployment]\nusers = "oidc"\n'))
    with pytest.raises(ProfileError, match="rucio_account needs rucio_username"):
        load_profile(write(tmp_path, 'extends = "local"\n[[accounts]]\nsub = "x"\n'
                                     'rucio_account = "alice"\n'))


def test_serving_with_logins_needs_a_cookie_secret_from_the_environment() -> None:
    profile = load_profile("local-oidc")
    with pytest.raises(ProfileError, match="ESAP_DASH_COOKIE_SECRET"):
        login_settings(profile, "http://127.0.0.1:5006", environ={})
    with pytest.raises(ProfileError, match="32 characters"):
        login_settings(profile, "http://127.0.0.1:5006",
                       environ={"ESAP_DASH_COOKIE_SECRET": "short"})
    secret = "s" * 40
    settings = login_settings(profile, "http://127.0.0.1:5006",
                              environ={"ESAP_DASH_COOKIE_SECRET": secret})
    assert settings["oauth_provider"] == "generic" and settings["oauth_jwt_user"] == "sub"
    assert settings["cookie_secret"] == secret
    assert settings["oauth_encryption_key"] != secret
    assert settings["oauth_redirect_uri"] == "http://127.0.0.1:5006/login"
    assert login_settings(load_profile("local"), "http://127.0.0.1:5006") == {}


def test_the_notebook_api_needs_credentials_and_keeps_users_apart(oidc) -> None:
    with pytest.raises(PermissionError, match="pass token="):
        Cart.open("notes", profile=oidc)
    with pytest.raises(PermissionError, match="refused the token"):
        Cart.open("notes", profile=oidc, token="not-a-token")
    alice, bob = oidc_token(oidc, ALICE), oidc_token(oidc, BOB)
    mine = Cart.open("M1 study", profile=oidc, token=alice)
    assert mine.user == ALICE
    mine.add_rows(Table({"archive": ["a"], "id": ["1"], "title": ["Crab"]}))
    assert Cart.names(profile=oidc, token=alice) == ["M1 study"]
    assert Cart.names(profile=oidc, token=bob) == []
    with pytest.raises(Exception, match="no cart named 'M1 study'"):
        Cart.open("M1 study", profile=oidc, token=bob, create=False)
    assert len(Cart.open("M1 study", profile=oidc, token=bob)) == 0


def test_with_logins_the_token_decides_who_you_are_never_user(oidc) -> None:
    bob = oidc_token(oidc, BOB)
    Cart.open_as(ALICE, "private", profile=oidc).add_rows(
        Table({"archive": ["a"], "id": ["1"], "title": ["Crab"]}))
    for kwargs in ({"user": ALICE}, {"user": "local"}):
        with pytest.raises(PermissionError, match="comes from your token"):
            Cart.open("private", profile=oidc, **kwargs)
        with pytest.raises(PermissionError, match="comes from your token"):
            Cart.names(profile=oidc, **kwargs)
    with pytest.raises(PermissionError, match="names someone else"):
        Cart.open("private", profile=oidc, user=ALICE, token=bob)
    assert len(Cart.open("private", profile=oidc, token=bob)) == 0
    # An operator's scripts may name anyone where the deployment says so; a token
    # still decides.
    operators = replace(oidc, api={**oidc.api, "operator_user": True})
    assert len(Cart.open("private", profile=operators, user=ALICE)) == 1
    with pytest.raises(PermissionError, match="names someone else"):
        Cart.open("private", profile=operators, user=ALICE, token=bob)


def test_pages_show_only_the_logged_in_users_carts_and_jobs(oidc, as_user) -> None:
    Cart.open_as(ALICE, "alice only", profile=oidc)
    with pytest.raises(PermissionError, match="not logged in"):
        CartPage(profile=oidc)
    store_for(oidc.database).add_job(ALICE, "tap", "Local DaCHS ObsCore (TAP)",
                                     "http://127.0.0.1:8091/tap/async/x", {"adql": "SELECT 1"})
    as_user(BOB, "Bob")
    page = CartPage(profile=oidc)
    assert "alice only" not in page.param.cart_name.objects
    jobs = JobsPage(profile=oidc, refresh_period=0)
    run_coroutine(jobs.refresh())
    assert jobs.jobs == []
    as_user(ALICE, "Alice")
    jobs = JobsPage(profile=oidc, refresh_period=0)
    run_coroutine(jobs.refresh())
    assert [j["owner"] for j in jobs.jobs] == [ALICE]
    assert "alice only" in CartPage(profile=oidc).param.cart_name.objects


def test_downstream_calls_act_as_the_users_own_accounts(oidc, as_user) -> None:
    as_user(ALICE, "Alice")
    page = JobsPage(profile=oidc, refresh_period=0)
    assert page.lake.client.whoami()["account"] == "alice"
    assert page.cluster_panel.gateway.username == "alice"
    as_user(CAROL, "Carol")
    page = JobsPage(profile=oidc, refresh_period=0)
    assert page.lake is None and page.cluster_panel.gateway is None
    assert "no account at Rucio data lake" in page.no_account["rucio"]
    assert "no account at Dask Gateway" in page.no_account["gateway"]
    assert "you have no gateway account" in page.runs_where
    with pytest.raises(NoAccountError, match="ask its operators"):
        page.user_connector("rucio")
    cart = CartPage(profile=oidc)
    assert cart.lake.rucio is None
    assert "no account at Rucio" in cart.lake.__panel__().objects[0].object


def test_clusters_are_created_and_listed_per_user(oidc, as_user) -> None:
    as_user(ALICE, "Alice")
    alice = JobsPage(profile=oidc, refresh_period=0).cluster_panel.gateway
    name = alice.start_cluster(worker_cores=1, worker_memory=1.0)
    try:
        as_user(BOB, "Bob")
        bob = JobsPage(profile=oidc, refresh_period=0).cluster_panel.gateway
        assert name in {c["name"] for c in alice.clusters()}
        assert name not in {c["name"] for c in bob.clusters()}
        with pytest.raises(QueryError, match="User bob lacks permissions to stop cluster"):
            bob.stop_cluster(name)
    finally:
        alice.stop_cluster(name)
