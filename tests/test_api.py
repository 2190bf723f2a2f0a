"""The HTTP API of a served deployment, called with real tokens of two users."""

from __future__ import annotations

import io
from collections.abc import Iterator
from secrets import token_urlsafe

import pytest
import requests
from astropy.io.votable import parse_single_table
from astropy.table import Table

from esap_dash.cart import Cart
from esap_dash.config import load_profile
from esap_dash.store import store_for

from .browser.conftest import serve
from .conftest import ALICE, BOB, oidc_token

STARS = Table({"archive": ["Hipparcos-2"] * 3, "id": ["HIP 17702", "HIP 17499", "HIP 17847"],
               "title": ["Alcyone", "Electra", "Atlas"], "ra": [56.871, 56.219, 57.291],
               "dec": [24.105, 24.113, 24.053]})


@pytest.fixture(scope="module")
def api(local_stack, tmp_path_factory) -> Iterator[tuple[str, object]]:
    """A served deployment with logins (its own database): its API root and profile."""
    database = f"sqlite:///{tmp_path_factory.mktemp('api')}/api.db"
    profile = load_profile("local-oidc", overrides={"deployment.database": database})
    Cart.open_as(ALICE, "Pleiades", profile=profile).add_rows(STARS)
    Cart.open_as(BOB, "Bob own", profile=profile).add_rows(STARS[:1])
    with serve("local-oidc", "server-api.log", {"ESAP_DASH_COOKIE_SECRET": token_urlsafe(32)},
               ("--set", f"deployment.database={database}")) as url:
        yield url + "api/v1", profile


def call(url: str, token: str | None = None, **params) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(url, headers=headers, params=params, timeout=60)


def test_every_route_acts_as_the_tokens_user_and_no_one_else(api) -> None:
    root, profile = api
    alice, bob = oidc_token(profile, ALICE), oidc_token(profile, BOB)
    assert call(f"{root}/carts", alice).json() == {"carts": [{"name": "Pleiades", "items": 3}]}
    assert call(f"{root}/carts", bob).json() == {"carts": [{"name": "Bob own", "items": 1}]}
    summary = call(f"{root}/carts/Pleiades", alice).json()
    assert summary["name"] == "Pleiades" and summary["count"] == 3
    page = call(f"{root}/carts/Pleiades/items", alice, offset=1, limit=1).json()
    assert (page["total"], page["offset"], page["limit"]) == (3, 1, 1)
    assert [(i["item_id"], i["title"]) for i in page["items"]] == [("HIP 17499", "Electra")]
    exported = call(f"{root}/carts/Pleiades/export", alice)
    assert exported.headers["Content-Type"] == "application/x-votable+xml"
    table = parse_single_table(io.BytesIO(exported.content)).to_table()
    assert sorted(table["title"]) == ["Alcyone", "Atlas", "Electra"]
    assert "Electra" in call(f"{root}/carts/Pleiades/export", alice, format="prov-n").text
    # Another user's cart is not there for the caller, whatever the route.
    for route in ("", "/items", "/export"):
        answer = call(f"{root}/carts/Pleiades{route}", bob)
        assert answer.status_code == 404, route
        assert answer.headers["Content-Type"] == "application/problem+json"
        assert answer.json()["status"] == 404 and "Pleiades" in answer.json()["detail"]
    assert call(f"{root}/carts/Bob own/items", alice).status_code == 404


@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_a_call_without_a_valid_token_is_refused_with_a_problem(api, token) -> None:
    root, _ = api
    for route in ("/carts", "/carts/Pleiades", "/carts/Pleiades/items",
                  "/carts/Pleiades/export"):
        answer = call(root + route, token)
        assert answer.status_code == 401, route
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        problem = answer.json()
        assert problem["status"] == 401 and problem["title"] == "Unauthorized"
        assert "token" in problem["detail"]


@pytest.mark.parametrize(("params", "said"), [
    ({"limit": 5000}, "limit 1 to 1000"), ({"offset": -1}, "offset is 0 or more"),
    ({"offset": "x"}, "whole numbers")])
def test_bad_paging_is_a_400_problem(api, params, said) -> None:
    root, profile = api
    answer = call(f"{root}/carts/Pleiades/items", oidc_token(profile, ALICE), **params)
    assert answer.status_code == 400 and said in answer.json()["detail"]


def test_an_unknown_export_format_names_the_known_ones(api) -> None:
    root, profile = api
    answer = call(f"{root}/carts/Pleiades/export", oidc_token(profile, ALICE),
                  format="fits; rm -rf")
    assert answer.status_code == 400
    assert "'fits; rm -rf'" in answer.json()["detail"] and "votable" in answer.json()["detail"]


def test_the_api_describes_itself_in_openapi(api) -> None:
    root, _ = api
    document = call(f"{root}/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == {"/carts", "/carts/{name}", "/carts/{name}/items",
                                      "/carts/{name}/export", "/jobs", "/jobs/{id}",
                                      "/jobs/{id}/abort"}
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_without_logins_it_answers_its_own_machine_with_no_token(local_stack,
                                                                 tmp_path) -> None:
    database = f"sqlite:///{tmp_path}/single.db"
    profile = load_profile("local", overrides={"deployment.database": database})
    Cart.open("Pleiades", profile=profile).add_rows(STARS)
    with serve("local", "server-api-single.log", None,
               ("--set", f"deployment.database={database}")) as url:
        answer = call(url + "api/v1/carts")
        # A call nginx passed on from another machine (--workers) is refused.
        relayed = requests.get(url + "api/v1/carts", headers={"X-Real-IP": "192.0.2.7"},
                               timeout=60)
    assert answer.json() == {"carts": [{"name": "Pleiades", "items": 3}]}
    assert relayed.status_code == 403 and "its own machine" in relayed.json()["detail"]


def test_jobs_are_listed_followed_and_aborted_only_by_their_owner(api) -> None:
    root, profile = api
    job = store_for(profile.database).add_job(
        ALICE, "tap", "Local DaCHS ObsCore (TAP)", "http://127.0.0.1:8091/tap/async/gone",
        {"adql": "SELECT TOP 1 hip FROM hipparcos.main"})
    alice, bob = oidc_token(profile, ALICE), oidc_token(profile, BOB)
    listed = call(f"{root}/jobs", alice, kind="tap").json()["jobs"]
    assert [(j["id"], j["kind"], j["owner"]) for j in listed] == [(job, "tap", ALICE)]
    assert call(f"{root}/jobs/{job}", alice).json()["what"].startswith("SELECT TOP 1 hip")
    assert call(f"{root}/jobs", bob).json() == {"jobs": []}
    assert call(f"{root}/jobs/{job}", bob).status_code == 404
    abort = requests.post(f"{root}/jobs/{job}/abort", timeout=60,
                          headers={"Authorization": f"Bearer {bob}"})
    assert abort.status_code == 404 and abort.json()["detail"] == f"You have no job {job}."
    # Alice's job is gone at its service: aborting it says what the service said.
    abort = requests.post(f"{root}/jobs/{job}/abort", timeout=60,
                          headers={"Authorization": f"Bearer {alice}"})
    assert abort.status_code == 502
    assert abort.json()["detail"].startswith("Local DaCHS ObsCore (TAP): ")
    assert call(f"{root}/jobs", alice, kind="nonsense").status_code == 400
