"""The HTTP API of a served deployment, called with real tokens of two users."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from secrets import token_urlsafe
from urllib.parse import quote, urlparse

import nbformat
import pytest
import requests
from astropy.io.votable import parse_single_table
from astropy.table import Table
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from esap_dash.client import ApiError, Client, UnreachableError
from esap_dash.core.actor import Actor
from esap_dash.core.cart import Cart, record_rows
from esap_dash.core.config import load_profile
from esap_dash.core.provenance import Provenance
from esap_dash.core.store import store_for
from esap_dash.http.openapi import VOTABLE

from .browser.conftest import serve
from .conftest import ALICE, BOB, CAROL, hung_tcp_server, oidc_token, readme_python
from .test_cart import votlint_errors
from .test_jdl import HANGS
from .test_notebook import execute

#: Calls a minute each user may make to the served deployment of these tests.
RATE = 200
HIPPARCOS = "Hipparcos-2 (cone search)"
TAP = "Local DaCHS ObsCore (TAP)"
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
               ("--set", f"deployment.database={database}", "--set",
                f"api.rate_per_minute={RATE}", "--set", "api.max_body_mb=1")) as url:
        yield url + "api/v1", profile


def call(url: str, token: str | None = None, method: str = "GET", body=None,
         **params) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(method, url, headers=headers, params=params, json=body, timeout=120)


def problem(answer: requests.Response, status: int, said: str) -> None:
    """``answer`` is an RFC 9457 problem with ``status`` whose detail says ``said``."""
    assert answer.status_code == status, (answer.status_code, answer.text)
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert answer.json()["status"] == status and said in answer.json()["detail"], answer.json()


def test_every_route_acts_as_the_tokens_user_and_no_one_else(api) -> None:
    root, profile = api
    alice, bob = oidc_token(profile, ALICE), oidc_token(profile, BOB)
    assert call(f"{root}/carts", alice).json()["carts"] == [{"name": "Pleiades", "items": 3}]
    assert call(f"{root}/carts", bob).json()["carts"] == [{"name": "Bob own", "items": 1}]
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
    ({"limit": 5000}, "limit is a whole number from 1 to 1000"),
    ({"offset": -1}, "offset is a whole number, 0 or more"),
    ({"offset": "x"}, "offset is a whole number")])
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


def test_the_api_describes_itself_in_a_valid_openapi_document(api) -> None:
    root, _ = api
    document = call(f"{root}/openapi.json").json()
    validate(document)  # raises on an invalid document
    assert {"/carts/{name}/items", "/searches", "/searches/{id}/rows", "/jobs",
            "/jobs/{id}/result", "/clusters", "/services", "/facilities"} <= set(
        document["paths"])
    assert set(document["paths"]["/carts/{name}/items"]) == {"get", "post", "delete"}
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
    assert answer.json()["carts"] == [{"name": "Pleiades", "items": 3}]
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
    assert call(f"{root}/jobs", bob).json()["jobs"] == []
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


def test_fifty_finished_jobs_are_listed_without_asking_any_service(api, dead_url) -> None:
    """Ends once seen are recorded: the refs below name nothing any service knows (a
    TAP job at a dead address, a rule and DIRAC jobs that never existed), so a single
    call to a service would list its job UNKNOWN or with an error."""
    root, profile = api
    store = store_for(profile.database)
    later = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    ended = "2026-12-01T10:00:00+00:00"
    made = [
        ("tap", f"{dead_url}/tap/async/{i}", {"adql": "SELECT 1", "end": {
            "state": "COMPLETED", "error": "", "ended": ended}}) for i in range(20)] + [
        ("dirac", str(10**9 + i), {"jdl": "", "end": {
            "state": "DONE", "error": "", "ended": ended, "note": "Execution Complete"}})
        for i in range(15)] + [
        ("rucio-rule", f"{i:032x}", {"did": "esap:optical_plates", "rse": "LOCAL_B",
                                     "cart": "plates", "end": {
            "state": "OK", "error": "", "ended": ended, "expires": later if i else past}})
        for i in range(10)] + [
        ("dask", f"run-{i}", {"state": "COMPLETED", "done": 2, "total": 2, "ended": ended,
                              "title": "Cross-match", "cart": "default", "inputs": 2,
                              "engine": "cluster x"}) for i in range(5)]
    ids = [store.add_job(CAROL, kind, "a service", ref, detail) for kind, ref, detail in made]
    try:
        started = time.perf_counter()
        listed = call(f"{root}/jobs", oidc_token(profile, CAROL), limit=50).json()["jobs"]
        seconds = time.perf_counter() - started
        assert len(listed) == 50 and all(j["final"] and not j["error"] for j in listed)
        states = {}
        for job in listed:
            states.setdefault(job["kind"], []).append(job["state"])
        assert states == {"tap": ["COMPLETED"] * 20, "dirac": ["DONE"] * 15,
                          "rucio-rule": ["OK"] * 9 + ["EXPIRED"], "dask": ["COMPLETED"] * 5}
        assert all(j["ended"] == "2026-12-01 10:00:00" for j in listed
                   if j["state"] != "EXPIRED")
        print(f"GET /jobs of 50 finished jobs: {seconds:.3f} s")
    finally:
        for job_id in ids:
            store.forget_job(CAROL, job_id)


def test_carts_are_made_filled_with_a_votable_and_emptied_through_the_api(api) -> None:
    root, profile = api
    alice, bob = oidc_token(profile, ALICE), oidc_token(profile, BOB)
    made = call(f"{root}/carts", alice, "POST", {"name": "Notes"})
    assert made.status_code == 201 and made.headers["Location"] == "/api/v1/carts/Notes"
    assert call(f"{root}/carts", alice, "POST", {"name": "Notes"}).status_code == 200
    problem(call(f"{root}/carts", alice, "POST", {"name": "x'; DROP TABLE carts"}), 400,
            "cart name")
    votable = io.BytesIO()
    STARS.write(votable, format="votable")
    added = requests.post(f"{root}/carts/Notes/items", data=votable.getvalue(), timeout=60,
                          headers={"Authorization": f"Bearer {alice}",
                                   "Content-Type": "application/x-votable+xml"}).json()
    assert (added["added"], added["already"], added["total"]) == (3, 0, 3)
    items = parse_single_table(io.BytesIO(call(f"{root}/carts/Notes/items", alice,
                                               format="votable").content)).to_table()
    assert list(items["title"]) == ["Alcyone", "Electra", "Atlas"]
    # Bob's calls reach his own cart of that name, never Alice's.
    problem(call(f"{root}/carts/Notes/items", bob, "DELETE", key=items["key"][0]), 404,
            "no cart named 'Notes'")
    bobs = requests.post(f"{root}/carts/Notes/items", data=votable.getvalue(),
                         timeout=60, headers={"Authorization": f"Bearer {bob}",
                                              "Content-Type": "application/x-votable+xml"})
    assert bobs.json()["total"] == 3 and len(Cart.open_as(ALICE, "Notes", profile=profile)) == 3
    assert len(Cart.open_as(BOB, "Notes", profile=profile)) == 3
    removed = call(f"{root}/carts/Notes/items", alice, "DELETE", key=items["key"][:2]).json()
    assert (removed["removed"], removed["total"]) == (2, 1)
    problem(requests.post(f"{root}/carts/Notes/items", data=b"<VOTABLE>broken", timeout=60,
                          headers={"Authorization": f"Bearer {alice}",
                                   "Content-Type": "application/x-votable+xml"}),
            400, "not a readable VOTable")
    for body in ({"rows": [1]}, {"job": True}, {"search": True}, {"search": "1"}):
        problem(call(f"{root}/carts/Notes/items", alice, "POST", body), 400, "Say which rows")


def test_a_search_asks_every_archive_and_its_rows_go_to_a_cart_with_provenance(api) -> None:
    root, profile = api
    alice, bob = oidc_token(profile, ALICE), oidc_token(profile, BOB)
    answer = call(f"{root}/searches", alice, "POST",
                  {"target": "M45", "radius": 1.0, "archives": [HIPPARCOS, TAP]})
    assert answer.status_code == 201, answer.text
    found = answer.json()
    assert answer.headers["Location"] == f"/api/v1/searches/{found['id']}"
    states = {a["archive"]: a for a in found["archives"]}
    assert set(states) == {HIPPARCOS, TAP}
    assert {a["state"] for a in states.values()} == {"done"}
    assert states[HIPPARCOS]["rows"] > 10 and not states[HIPPARCOS]["truncated"]
    rows = parse_single_table(io.BytesIO(
        call(f"{root}/searches/{found['id']}/rows", alice).content)).to_table()
    assert len(rows) == found["rows"] == sum(a["rows"] for a in found["archives"])
    added = call(f"{root}/carts/From search/items", alice, "POST",
                 {"search": found["id"], "rows": [0, 1]}).json()
    assert (added["added"], added["total"]) == (2, 2)
    items = Cart.open_as(ALICE, "From search", profile=profile).to_table()
    assert list(items["item_id"]) == [str(v) for v in rows["id"][:2]]
    record = Provenance.from_json(str(items["query"][0]))
    assert record.query["target"] == "M45" and record.user == ALICE
    assert call(f"{root}/searches", alice).json()["searches"][0]["id"] == found["id"]
    # A row limit the archive reached is said.
    cut = call(f"{root}/searches", alice, "POST", {"target": "M45", "radius": 1.0,
                                                   "archives": [HIPPARCOS], "maxrec": 5})
    (hipparcos,) = cut.json()["archives"]
    assert hipparcos["truncated"] and "truncated at 5 rows" in hipparcos["message"]
    # Nothing of Alice's search reaches Bob.
    for route in ("", "/rows"):
        problem(call(f"{root}/searches/{found['id']}{route}", bob), 404, "no search")
    problem(call(f"{root}/carts/Mine/items", bob, "POST", {"search": found["id"]}), 404,
            "no search")
    assert all(s["id"] != found["id"] for s in call(f"{root}/searches", bob).json()["searches"])


@pytest.mark.parametrize(("body", "said"), [
    ({"target": ""}, "Say where"),
    ({"target": "M45", "nope": 1}, "Unknown field(s) nope"),
    ({"target": "M45", "radius": "1; DROP TABLE x"}, "radius"),
    ({"target": "M45", "radius": 50}, "at most 10 degrees"),
    ({"target": "M45", "archives": ["Evil' OR 1=1"]}, "Unknown archive(s) Evil' OR 1=1"),
    ({"target": "M45'; DROP TABLE hipparcos.main --"}, "neither coordinates nor a name"),
    ({"target": "M45", "keywords": ["50%"]}, "keyword"),
    ({"target": "M45", "time_min": 1e9}, "is not an MJD"),
    ({"target": "400 10"}, "RA 400 is outside 0 to 360 deg")])
def test_a_bad_search_is_a_400_problem_saying_why(api, body, said) -> None:
    root, profile = api
    answer = call(f"{root}/searches", oidc_token(profile, ALICE), "POST", body)
    problem(answer, 400, said)
    # a value the user gave is named as such, not blamed on the name resolver
    assert "name resolver" not in answer.json()["detail"]


def test_jobs_are_submitted_followed_and_their_results_reach_a_cart(api) -> None:
    root, profile = api
    alice, bob = oidc_token(profile, ALICE), oidc_token(profile, BOB)
    answer = call(f"{root}/jobs", alice, "POST", {
        "kind": "tap", "service": TAP, "adql": "SELECT TOP 5 * FROM hipparcos.main"})
    assert answer.status_code == 201, answer.text
    job = answer.json()
    assert answer.headers["Location"] == f"/api/v1/jobs/{job['id']}"
    assert (job["kind"], job["owner"], job["final"]) == ("tap", ALICE, False)
    deadline = time.monotonic() + 60
    while not job["final"] and time.monotonic() < deadline:
        time.sleep(0.5)
        job = call(f"{root}/jobs/{job['id']}", alice).json()
    assert job["state"] == "COMPLETED"
    # The answers are what the contract says a job is.
    schemas = call(f"{root}/openapi.json").json()["components"]["schemas"]
    listed = call(f"{root}/jobs", alice, kind="tap").json()["jobs"]
    for said in (answer.json(), job, *listed):
        Draft202012Validator(schemas["Job"]).validate(said)
    result = parse_single_table(io.BytesIO(
        call(f"{root}/jobs/{job['id']}/result", alice).content)).to_table()
    assert len(result) == 5
    added = call(f"{root}/carts/Results/items", alice, "POST", {"job": job["id"]}).json()
    assert added["added"] == 5
    # Each row is its star: the table's identifier and main position, not a row number.
    items = call(f"{root}/carts/Results/items", alice).json()["items"]
    assert {i["item_id"] for i in items} == {str(h) for h in result["hip"]}
    assert all(i["ra"] is not None and i["dec"] is not None for i in items)
    for route, method in (("", "GET"), ("/result", "GET"), ("/abort", "POST"),
                          ("/retry", "POST")):
        problem(call(f"{root}/jobs/{job['id']}{route}", bob, method), 404, "no job")
    problem(call(f"{root}/carts/Mine/items", bob, "POST", {"job": job["id"]}), 404, "no job")
    assert all(j["id"] != job["id"] for j in call(f"{root}/jobs", bob).json()["jobs"])
    # A finished job has nothing to abort; asked for again, it is a new job.
    problem(call(f"{root}/jobs/{job['id']}/abort", alice, "POST"), 409, "has ended (COMPLETED)")
    again = call(f"{root}/jobs/{job['id']}/retry", alice, "POST")
    assert again.status_code == 201
    assert again.headers["Location"] == f"/api/v1/jobs/{again.json()['id']}"
    assert again.json()["id"] != job["id"] and again.json()["what"] == job["what"]
    Draft202012Validator(schemas["Job"]).validate(again.json())


@pytest.mark.parametrize(("body", "status", "said"), [
    ({"kind": "nope"}, 400, "Say the job's kind"),
    ({"kind": "tap", "service": TAP}, 400, "service, adql required"),
    ({"kind": "tap", "service": TAP, "adql": "SELECT 1", "user": BOB}, 400, "take service"),
    ({"kind": "tap", "service": TAP, "adql": "SELECT 1", "maxrec": "all"}, 400,
     'maxrec: "all" is not a whole number'),
    ({"kind": "dirac", "cart": "Pleiades", "executable": "echo", "cpu_time": "1h"}, 400,
     'cpu_time: "1h" is not a whole number'),
    ({"kind": "dirac", "jdl": "x", "tags": [-2469, 204]}, 400,
     "tags: [-2469, 204] is not a valid value"),
    ({"kind": "rucio-rule", "did": "esap:crab_images", "rse": "LOCAL_B", "lifetime_days": -1},
     400, "lifetime_days is a whole number of days"),
    ({"kind": "tap", "service": "Nope", "adql": "SELECT 1"}, 422, "not a TAP service"),
    ({"kind": "dask", "workflow": "nope", "cart": "Pleiades"}, 422, "No workflow 'nope'"),
    ({"kind": "dirac", "jdl": '[Executable = "echo"; CPUTime = "lots";'}, 400,
     "DIRAC job: JDL syntax error"),
    *(({"kind": "dirac", "jdl": jdl}, 400, "DIRAC job: JDL syntax error") for jdl in HANGS),
    ({"kind": "dirac", "cart": "Pleiades", "executable": "echo", "arguments": 'a"; b'}, 422,
     "cannot carry '\"'"),
    ({"kind": "dirac", "cart": "Pleiades", "executable": "echo", "per_item": True}, 422,
     "needs data-lake items")])
def test_a_job_that_cannot_be_asked_for_is_a_problem_saying_why(api, body, status,
                                                                 said) -> None:
    root, profile = api
    problem(call(f"{root}/jobs", oidc_token(profile, ALICE), "POST", body), status, said)


def test_a_dirac_job_from_a_cart_is_followed_to_done_by_its_owner_only(api) -> None:
    root, profile = api
    alice, bob = oidc_token(profile, ALICE), oidc_token(profile, BOB)
    answer = call(f"{root}/jobs", alice, "POST", {
        "kind": "dirac", "cart": "Pleiades", "executable": "echo", "arguments": "stars",
        "sites": "LCG.Local.org", "cpu_time": 60})
    assert answer.status_code == 201, answer.text
    job = answer.json()
    deadline = time.monotonic() + 60
    while not job["final"] and time.monotonic() < deadline:
        time.sleep(1)
        job = call(f"{root}/jobs/{job['id']}", alice).json()
    assert (job["kind"], job["state"]) == ("dirac", "DONE")
    assert "site LCG.Local.org" in job["note"]
    problem(call(f"{root}/jobs/{job['id']}", bob), 404, "no job")


def test_a_user_without_a_gateway_or_hub_account_is_told_so(api) -> None:
    root, profile = api
    carol = oidc_token(profile, CAROL)
    problem(call(f"{root}/clusters", carol), 403, "no account")
    call(f"{root}/carts", carol, "POST", {"name": "Mine"})
    problem(call(f"{root}/jobs", carol, "POST", {"kind": "dask", "workflow": "crossmatch",
                                                 "cart": "Mine"}), 422, "no account")
    hubs = call(f"{root}/servers", carol).json()["hubs"]
    assert {h["problem"] for h in hubs} == {
        f"you ({CAROL}) have no account at {h['name']}" for h in hubs}


def test_services_and_facilities_are_listed(api) -> None:
    root, profile = api
    alice = oidc_token(profile, ALICE)
    services = {s["name"]: s for s in call(f"{root}/services", alice).json()["services"]}
    assert services[HIPPARCOS]["up"] and services["Dask Gateway"]["up"]
    facilities = call(f"{root}/facilities", alice).json()["facilities"]
    assert {"name": "Dask Gateway", "kind": "dask-gateway"}.items() <= facilities[0].items()
    quotas = call(f"{root}/quotas", alice).json()
    assert quotas["account"] == "alice"
    assert {q["rse"]: q["limit"] for q in quotas["quotas"]} == dict.fromkeys(
        ("LOCAL_A", "LOCAL_B", "LOCAL_SCRATCHDISK"), 10**10)
    assert all(q["left"] == q["limit"] - q["used"] for q in quotas["quotas"])
    problem(call(f"{root}/quotas", oidc_token(profile, CAROL)), 403, "no account")


def test_the_limits_hold_oversized_bodies_and_too_many_calls(api) -> None:
    root, profile = api
    carol = oidc_token(profile, CAROL)
    problem(requests.post(f"{root}/carts/Big/items", data=b"x" * (2 * 2**20), timeout=60,
                          headers={"Authorization": f"Bearer {carol}",
                                   "Content-Type": "application/x-votable+xml"}),
            413, "at most 1 MB")
    # carol stays over her rate until the minute ends: later tests do not call as her.
    for _ in range(2 * RATE + 1):  # the count starts again each minute
        answer = call(f"{root}/me", carol)
        if answer.status_code != 200:
            break
    problem(answer, 429, f"At most {RATE} calls a minute")
    assert 1 <= int(answer.headers["Retry-After"]) <= 60
    # Others are not held back by Carol's calls.
    assert call(f"{root}/me", oidc_token(profile, ALICE)).json()["user"] == ALICE


def test_a_script_elsewhere_works_through_the_api_alone_and_only_as_its_user(
        api, tmp_path) -> None:
    root, profile = api
    alice, bob = oidc_token(profile, ALICE), oidc_token(profile, BOB)
    script = Path(__file__).with_name("client_session.py")
    done = subprocess.run(  # a process of its own, refusing to load any database code
        [sys.executable, str(script), root.removesuffix("/api/v1"), alice, bob,
         str(tmp_path)], capture_output=True, text=True, timeout=600,
        env={k: v for k, v in os.environ.items() if not k.startswith("ESAP_DASH")})
    assert done.returncode == 0, done.stderr
    said = json.loads(done.stdout.splitlines()[-1])
    assert said["user"] == ALICE and said["modules"] == []
    assert set(said["search"].values()) == {"done"}
    assert said["added"] == said["cart_rows"] == 10
    assert votlint_errors(Path(said["exported"])) == []
    assert (said["tap"], said["tap_rows"]) == ("COMPLETED", 3)
    assert said["run"] == "COMPLETED" and said["run_rows"] > 0
    assert said["bob"] == {"cart": 404, "search": 404, "tap job": 404, "tap result": 404,
                           "run": 404, "run result": 404, "abort": 404, "cluster": 404}
    assert said["cluster"] == ["RUNNING"] and said["bob_sees_jobs"] == []
    # the client calls only what the document describes
    document = call(f"{root}/openapi.json").json()
    templates = {(method.upper(), re.compile("/api/v1" + re.sub(r"\{\w+\}", "[^/]+", path)
                                             + "$"))
                 for path, methods in document["paths"].items() for method in methods}
    for method, path in said["calls"]:
        assert any(m == method and t.match(path) for m, t in templates), (method, path)
    assert len({tuple(c) for c in said["calls"]}) > 15


def test_a_notebook_without_database_access_opens_a_cart_by_url_and_token(
        api, tmp_path, monkeypatch) -> None:
    root, profile = api
    url, alice = root.removesuffix("/api/v1"), oidc_token(profile, ALICE)
    Cart.open_as(ALICE, "For the notebook", profile=profile).add_rows(STARS)
    # The kernel finds the deployment and the token in its environment, and no database
    # driver loads in it.
    for name in [k for k in os.environ if k.startswith("ESAP_DASH")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("ESAP_DASH_URL", url)
    monkeypatch.setenv("ESAP_DASH_TOKEN", alice)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in (
        "import sys\n"
        "class NoDatabase:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in {'sqlite3', '_sqlite3', 'psycopg', 'psycopg2'}:\n"
        "            raise ImportError(f'{name}: no database here')\n"
        "sys.meta_path.insert(0, NoDatabase())",
        "from astropy.table import Table\n"
        "from esap_dash import Cart\n"
        f"cart = Cart.open('For the notebook', url={url!r}, token={alice!r}, create=False)\n"
        "print(len(cart), sorted(cart.to_table()['title']))",
        "added = Cart.open('For the notebook').add_rows(Table({'archive': ['notebook'], "
        "'id': ['n1'], 'title': ['Maia'], 'ra': [56.457], 'dec': [24.368]}))\n"
        "print(added, len(cart), type(cart).__name__)")])
    execute(notebook, tmp_path)
    outputs = [cell.outputs[0]["text"].strip() for cell in notebook.cells[1:]]
    assert outputs == ["3 ['Alcyone', 'Atlas', 'Electra']", "1 4 RemoteCart"]
    assert [i.title for i in Cart.open_as(ALICE, "For the notebook", profile=profile,
                                          create=False).items()][-1] == "Maia"
    # The cart's exported notebook opens the live cart where it has the link, and
    # fetches its data-lake files through it.
    Cart.open_as(ALICE, "For the notebook", profile=profile).add_rows(record_rows(
        "Rucio data lake", profile.service("rucio").url,
        [{"did": "esap:crab_images", "name": "crab_images"}], id="did", title="name"),
        kind="did")
    exported = nbformat.reads(call(f"{root}/carts/For the notebook/export", alice,
                                   format="notebook").text, as_version=4)
    execute(exported, tmp_path)
    said = [o.get("text", "") for cell in exported.cells if cell.cell_type == "code"
            for o in cell.outputs]
    assert "The live cart 'For the notebook' has 5 items now.\n" in said
    assert "esap:crab_images: 2 file(s) in data-lake/esap/\n" in said, said
    assert len(list((tmp_path / "data-lake" / "esap").glob("*.fits"))) == 2


def test_a_hung_archive_costs_a_search_its_deadline_and_no_one_else_waits(
        local_stack, tmp_path, hung_server) -> None:
    database = f"sqlite:///{tmp_path}/hung.db"
    with serve("local", "server-api-hung.log", None,
               ("--set", f"deployment.database={database}", "--set", "api.deadline=3",
                "--set", f"archives.ongc.url={hung_server}/cone")) as url:
        root = url + "api/v1"
        answer: list[requests.Response] = []
        searching = threading.Thread(target=lambda: answer.append(call(
            f"{root}/searches", method="POST", body={
                "target": "56.87 24.11", "radius": 0.5,
                "archives": ["OpenNGC (cone search)", HIPPARCOS]})))
        started = time.monotonic()
        searching.start()
        time.sleep(0.5)
        meanwhile = call(f"{root}/carts")  # another call while the archive hangs
        answered_meanwhile = time.monotonic() - started
        searching.join(timeout=60)
        took = time.monotonic() - started
    assert meanwhile.status_code == 200 and answered_meanwhile < 2.5
    states = {a["archive"]: a for a in answer[0].json()["archives"]}
    assert states["OpenNGC (cone search)"]["state"] == "timeout"
    assert "no answer within 3 s" in states["OpenNGC (cone search)"]["message"]
    assert states[HIPPARCOS]["state"] == "done" and states[HIPPARCOS]["rows"] > 0
    assert took < 10


def _votable(fields: int, rows: int = 1, nrows: int | None = None) -> bytes:
    head = "".join(f'<FIELD name="c{i}" datatype="char" arraysize="*"/>' for i in range(fields))
    cells = "".join(f"<TD>{i}</TD>" for i in range(fields))
    count = f' nrows="{nrows}"' if nrows is not None else ""
    return ('<?xml version="1.0"?><VOTABLE version="1.4" '
            'xmlns="http://www.ivoa.net/xml/VOTable/v1.3"><RESOURCE><TABLE' + count + ">"
            + head + "<DATA><TABLEDATA>" + f"<TR>{cells}</TR>" * rows
            + "</TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>").encode()


def test_a_body_is_read_only_after_the_token_and_only_within_bounds(api) -> None:
    root, profile = api
    # bob's calls: carol's of this minute went to the rate limit's test
    bob = oidc_token(profile, BOB)
    wide = _votable(20_000)  # about 900 kB: 25 s of a parser's time before
    for token in (None, "not-a-token"):
        headers = {"Content-Type": "application/x-votable+xml"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        problem(requests.post(f"{root}/carts/X/items", data=wide, headers=headers, timeout=60),
                401, "token")
        # a body that is not even JSON: who calls is asked first
        answer = requests.post(f"{root}/carts", data=b"{not json", headers=headers, timeout=60)
        assert answer.status_code == 401
    votable = {"Authorization": f"Bearer {bob}",
               "Content-Type": "application/x-votable+xml"}
    problem(requests.post(f"{root}/carts/X/items", data=_votable(5_000), headers=votable,
                          timeout=60), 400, "5,000 columns; at most 1,000")
    problem(requests.post(f"{root}/carts/X/items", data=_votable(2, rows=100_001),
                          headers=votable, timeout=120), 413, "at most 1 MB")
    # A table that claims twenty million rows and holds one: read as the one it holds.
    lying = _votable(2, nrows=20_000_000).replace(b'name="c0"', b'name="archive"').replace(
        b'name="c1"', b'name="id"')
    answer = requests.post(f"{root}/carts/Liar/items", data=lying, headers=votable, timeout=60)
    assert answer.status_code == 200 and answer.json()["added"] == 1, answer.text
    # A chunked body (no announced length) is not kept beyond the limit either.
    answer = requests.post(f"{root}/carts/X/items", headers=votable, timeout=60,
                           data=(b"x" * 2**16 for _ in range(40)))
    problem(answer, 413, "at most 1 MB")


def test_odd_requests_get_problems_not_server_errors(api) -> None:
    root, profile = api
    alice = oidc_token(profile, ALICE)
    auth = {"Authorization": f"Bearer {alice}"}
    for path in (f"/jobs/{2**63}", f"/jobs/{10**30}/result", f"/searches/{2**64}",
                 f"/searches/{2**63}/rows"):
        problem(call(root + path, alice), 404, "You have no")
    problem(call(f"{root}/carts/Pleiades/items", alice, offset=2**63), 400, "offset")
    problem(call(f"{root}/carts/Mine/items", alice, "POST", {"search": 2**63}), 400,
            "Say which rows")
    deep = b'{"name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    problem(requests.post(f"{root}/carts", data=deep, headers=auth, timeout=60), 400,
            "nested deeper than 32 levels")
    lone = b'{"kind": "dirac", "jdl": "Executable = \\"\\ud800\\";"}'  # no character
    problem(requests.post(f"{root}/jobs", data=lone, headers=auth, timeout=60), 400,
            "unpaired surrogate")
    paired = {"name": "\U0001f52d telescope"}  # sent as the pair \ud83d\udd2d: one character
    assert "surrogate" not in call(f"{root}/carts", alice, "POST", paired).text
    unknown = call(f"{root}/nowhere/at/all", alice)
    problem(unknown, 404, "No such route")
    refused = requests.put(f"{root}/carts", headers=auth, timeout=60)
    problem(refused, 405, "")
    assert refused.headers["Allow"] == "GET, POST, HEAD"
    head = requests.head(f"{root}/carts", headers=auth, timeout=60)
    assert head.status_code == 200 and head.content == b""
    # A name outside Latin-1: the Location is percent-encoded, the cart works after.
    name = "Крабовидная туманность"
    made = call(f"{root}/carts", alice, "POST", {"name": name})
    assert made.status_code == 201, made.text
    assert made.headers["Location"] == "/api/v1/carts/" + quote(name, safe="")
    again = requests.get(root + made.headers["Location"].removeprefix("/api/v1"),
                         headers=auth, timeout=60)
    assert again.status_code == 200 and again.json()["name"] == name


class _Provider:
    """A userinfo endpoint whose behaviour a test sets: it answers for one token,
    refuses others, hangs or cuts its answer; it counts the checks it was asked."""

    def __init__(self) -> None:
        self.mode, self.asked = "answer", 0
        self.release = threading.Event()

    def handle(self, handler) -> None:
        self.asked += 1
        if self.mode == "hang":
            self.release.wait(30)
            return
        token = handler.headers.get("Authorization", "").removeprefix("Bearer ")
        body = json.dumps({"sub": ALICE}).encode() if token == "good" else b'{"error": "no"}'
        status = 200 if token == "good" else 401
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body[:5] if self.mode == "cut" else body)


def test_a_token_is_checked_once_a_while_and_a_failing_provider_is_a_503(local_stack) -> None:
    from .connectors.test_http import served

    provider = _Provider()
    with served("127.0.0.1", provider.handle) as port, serve(
            "local-oidc", "server-provider.log",
            {"ESAP_DASH_COOKIE_SECRET": token_urlsafe(32)},
            ("--set", f"oidc.userinfo_url=http://127.0.0.1:{port}/userinfo")) as url:
        me = url + "api/v1/me"
        for _ in range(5):
            assert call(me, "good").json()["user"] == ALICE
        problem(call(me, "bad"), 401, "not accepted")
        problem(call(me, "bad"), 401, "not accepted")
        assert provider.asked == 2  # once for each token, not once a call
        provider.mode = "hang"
        started = time.monotonic()
        hung = [threading.Thread(target=call, args=(me, f"new-{i}")) for i in range(6)]
        for thread in hung:
            thread.start()
        answer = call(me, "another")
        assert answer.status_code == 503 and "could not be checked now" in answer.json()[
            "detail"] and answer.headers["Retry-After"] == "30", answer.text
        # a token checked a moment ago still works while the provider hangs
        assert call(me, "good").json()["user"] == ALICE
        provider.release.set()
        for thread in hung:
            thread.join()
        assert time.monotonic() - started < 60
        provider.mode = "cut"
        problem(call(me, "cut-short"), 503, "could not check the token")


def test_listings_come_in_pages(api) -> None:
    root, profile = api
    bob = oidc_token(profile, BOB)  # carol's calls of this minute went to the rate limit
    for name in ("Page one", "Page two", "Page three"):
        call(f"{root}/carts", bob, "POST", {"name": name})
    everything = call(f"{root}/carts", bob).json()
    second = call(f"{root}/carts", bob, offset=1, limit=1).json()
    assert second["total"] == everything["total"] >= 3
    assert second["carts"] == everything["carts"][1:2]
    store = store_for(profile.database)
    made = [store.add_job(BOB, "tap", TAP, f"http://127.0.0.1:9/gone/{i}",
                          {"adql": f"SELECT {i}"}) for i in range(3)]
    jobs = call(f"{root}/jobs", bob, kind="tap", offset=1, limit=2).json()["jobs"]
    assert [j["id"] for j in jobs] == sorted(made, reverse=True)[1:3]
    for i in range(3):
        store.add_history(BOB, {"target": f"M{i + 1}"}, [HIPPARCOS], {HIPPARCOS: i})
    newest = call(f"{root}/searches", bob, limit=2).json()["searches"]
    older = call(f"{root}/searches", bob, limit=2, offset=2).json()["searches"]
    assert len(newest) == 2 and older and older[0]["id"] < newest[-1]["id"]
    problem(call(f"{root}/searches", bob, limit=201), 400, "limit is a whole number")


def test_a_retried_post_with_an_idempotency_key_acts_once(api) -> None:
    root, profile = api
    bob, alice = oidc_token(profile, BOB), oidc_token(profile, ALICE)
    job = {"kind": "tap", "service": TAP, "adql": "SELECT TOP 3 * FROM hipparcos.main"}

    def post(token: str, key: str, body: dict, route: str = "/jobs") -> requests.Response:
        return requests.post(f"{root}{route}", json=body, timeout=120, headers={
            "Authorization": f"Bearer {token}", "Idempotency-Key": key})

    def job_ids(token: str) -> set[int]:
        return {j["id"] for j in call(f"{root}/jobs", token, kind="tap").json()["jobs"]}

    before = job_ids(bob)
    key = token_urlsafe(16)
    first, again = post(bob, key, job), post(bob, key, job)
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert job_ids(bob) - before == {first.json()["id"]}
    # The same key with another request, or malformed: a problem, nothing done.
    problem(post(bob, key, {**job, "adql": "SELECT TOP 4 * FROM hipparcos.main"}), 422,
            "came with another request")
    problem(post(bob, key, job, "/carts"), 422, "came with another request")
    problem(post(bob, "two words", job), 400, "Idempotency-Key is 1 to 255")
    # Keys are each user's own.
    mine = post(alice, key, job)
    assert mine.status_code == 201 and mine.json()["id"] != first.json()["id"]
    assert "Idempotent-Replayed" not in mine.headers
    # A request refused keeps no answer: the key serves the corrected request.
    fresh = token_urlsafe(16)
    problem(post(bob, fresh, {"kind": "tap", "service": TAP}), 400, "adql required")
    assert post(bob, fresh, job).status_code == 201
    # Two at once with one key: one job; the other waits for it (409) or replays it.
    twice, answers = token_urlsafe(16), []
    before = job_ids(bob)
    threads = [threading.Thread(target=lambda: answers.append(post(bob, twice, job)))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) in ([201, 201], [201, 409]), \
        [a.text for a in answers]
    assert len(job_ids(bob) - before) == 1
    # The document says so.
    document = call(f"{root}/openapi.json").json()
    op = document["paths"]["/jobs"]["post"]
    assert "Idempotency-Key" in [p["name"] for p in op["parameters"]]
    assert {"409", "422"} <= set(op["responses"])


def test_the_readmes_script_from_anywhere_runs_as_written(api, tmp_path) -> None:
    root, profile = api
    script = tmp_path / "anywhere.py"
    script.write_text(readme_python("**From a notebook or script anywhere**"))
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=600,
        cwd=tmp_path, env={**{k: v for k, v in os.environ.items()
                              if not k.startswith("ESAP_DASH")},
                           "ESAP_DASH_URL": root.removesuffix("/api/v1"),
                           "ESAP_DASH_TOKEN": oidc_token(profile, ALICE)})
    assert done.returncode == 0, done.stderr
    cart = Table.read(tmp_path / "pleiades.xml")
    assert len(cart) >= 5 and votlint_errors(tmp_path / "pleiades.xml") == []


def _routes_of_the_server() -> dict[str, set[str]]:
    """What the served API answers: path template -> methods, read from its routes."""
    from esap_dash.http.api import ApiHandler, NotFoundHandler, api_routes
    from esap_dash.http.openapi import API_ROOT

    served: dict[str, set[str]] = {}
    for pattern, handler, _ in api_routes(load_profile("local")):
        if handler is NotFoundHandler:
            continue
        path = pattern.removeprefix(API_ROOT).replace(r"\.", ".")
        path = re.sub(r"\(\?P<(\w+)>\[\^/\]\+\)", r"{\1}", path)  # a named part
        path = re.sub(r"\(\\d\+\)", "{id}", path).replace("([^/]+)", "{name}")
        served[path] = {m for m in ("get", "post", "delete", "put", "patch")
                        if getattr(handler, m) is not getattr(ApiHandler, m)}
    return served


def test_the_served_routes_are_exactly_the_documents() -> None:
    from esap_dash.http.openapi import openapi

    document = openapi()
    assert _routes_of_the_server() == {path: set(methods)
                                       for path, methods in document["paths"].items()}
    # every JSON answer has a named shape, not just "an object"
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            for status, answer in op["responses"].items():
                for media, content in answer.get("content", {}).items():
                    if media.endswith("json") and status < "300":
                        assert "$ref" in content["schema"], (method, path, status, media)


def test_each_job_kind_s_request_is_documented_from_what_it_takes(api) -> None:
    root, _profile = api
    document = call(f"{root}/openapi.json").json()
    body = document["paths"]["/jobs"]["post"]["requestBody"]["content"]["application/json"]
    mapping = body["schema"]["discriminator"]["mapping"]
    assert set(mapping) == {"tap", "rucio-rule", "dask", "dirac"}
    schemas = document["components"]["schemas"]
    tap = schemas[mapping["tap"].rsplit("/", 1)[1]]
    assert tap["required"] == ["kind", "service", "adql"]
    assert tap["properties"]["maxrec"] == {"type": ["integer", "null"], "default": None}
    dirac = schemas[mapping["dirac"].rsplit("/", 1)[1]]
    assert dirac["properties"]["cpu_time"] == {"type": "integer", "default": 3600}
    assert not dirac["additionalProperties"] and dirac["required"] == ["kind"]


def test_her_notebook_servers_are_listed_and_stopped_by_her_alone(api) -> None:
    root, profile = api
    url = root.removesuffix("/api/v1")
    alice, bob = (Client(url, oidc_token(profile, who)) for who in (ALICE, BOB))
    hub = next(f for f in profile.facilities if f.id == "local-hub")
    server = f"{hub.url}/hub/api/users/alice/server"
    as_service = {"Authorization": f"token {hub.api_token}"}
    assert requests.post(server, headers=as_service, timeout=60).status_code in (201, 202)
    try:
        deadline = time.monotonic() + 60
        while not [s for h in alice.servers() if h["id"] == hub.id
                   for s in h["servers"] if s["state"] == "running"]:
            assert time.monotonic() < deadline
            time.sleep(0.5)
        mine = next(h for h in alice.servers() if h["id"] == hub.id)
        assert (mine["problem"], mine["failure"]) == ("", "")
        [running] = mine["servers"]
        assert (running["name"], running["engine"], running["note"]) == (
            "", "local processes", "")
        assert running["url"] == f"{hub.url}/user/alice/"
        # bob sees his own (none) and cannot stop hers: he can only name his own.
        assert next(h for h in bob.servers() if h["id"] == hub.id)["servers"] == []
        with pytest.raises(ApiError) as refused:
            bob.stop_server(hub.id)
        assert refused.value.status == 409 and "No server of yours runs" in str(refused.value)
        with pytest.raises(ApiError, match="no servers at 'nowhere'") as unknown:
            alice.stop_server("nowhere")
        assert unknown.value.status == 404
        alice.stop_server(hub.id)
        deadline = time.monotonic() + 60
        while next(h for h in alice.servers() if h["id"] == hub.id)["servers"]:
            assert time.monotonic() < deadline
            time.sleep(0.5)
    finally:
        requests.delete(server, headers=as_service, timeout=60)


def test_a_client_says_in_words_that_the_deployment_does_not_answer(dead_url) -> None:
    dead = dead_url
    with pytest.raises(UnreachableError, match=re.escape(
            f"{dead} does not answer (cannot connect: connection refused); what it keeps "
            "for you is not lost: call again when it is back")):
        Client(dead, "a-token").cart("default").to_table()
    with hung_tcp_server() as hung, pytest.raises(
            ConnectionError, match=re.escape(f"{hung} does not answer (no answer within 1 s)")):
        Client(hung, "a-token", timeout=1).me()


def test_a_notebooks_table_goes_to_its_owners_data_lake_scope_and_cart(api) -> None:
    root, profile = api
    alice = Client(root.removesuffix("/api/v1"), oidc_token(profile, ALICE))
    colours = Table({"hip": [17702, 17847], "bp_rp": [0.56, 0.61]})
    name = f"pleiades-colours-{time.time_ns()}.vot"
    done = alice.upload_to_lake(colours, name, cart="Pleiades", note="Gaia colours, notebook")
    assert done == {"did": f"user.alice:{name}", "rse": "LOCAL_SCRATCHDISK",
                    "bytes": done["bytes"], "cart": "Pleiades", "added": True}
    kept = alice.cart("Pleiades").to_table()
    item = kept[list(kept["item_id"]).index(done["did"])]
    assert (item["archive"], item["product_type"]) == ("Rucio data lake", "FILE")
    # The provenance is the upload, by alice, with what she said made it: in the cart,
    # and kept by Rucio with the file.
    said = Provenance.from_json(str(item["query"]))
    assert (said.activity, said.user, said.query["note"]) == (
        "upload", ALICE, "Gaia colours, notebook")
    meta = Actor(profile, ALICE).connector("rucio").metadata("user.alice", name)
    assert meta["esap_dash_kind"] == "upload" and "Gaia colours, notebook" in meta["prov_json"]
    # The file is hers and the lake's: never replaced, and nobody else's.
    with pytest.raises(ApiError, match="never replaced") as taken:
        alice.upload_to_lake(colours[:1], name, cart="Pleiades")
    assert taken.value.status == 409
    bob = oidc_token(profile, BOB)
    problem(call(f"{root}/carts/Pleiades/items", bob), 404, "no cart")
    # A file (a FITS image) is kept as it is, byte for byte.
    image = Path("/var/gavo/inputs/images/data/m13.fits")
    done = alice.upload_to_lake(image, f"m13-{time.time_ns()}.fits", cart="Pleiades",
                                note="the image the notebook measured")
    replicas = Actor(profile, ALICE).connector("rucio").list_replicas(
        "user.alice", done["did"].partition(":")[2])
    assert Path(urlparse(str(replicas["pfn"][0])).path).read_bytes() == image.read_bytes()
    for params, body, said_ in (
            ({"name": "two words.vot", "cart": "Pleiades"}, b"", "Send the table"),
            ({"name": "t.vot", "cart": "Pleiades"}, b"<nope/>", "readable VOTable"),
            ({"name": "two words.vot", "cart": "Pleiades"}, None, "cannot name a file"),
            ({"cart": "Pleiades"}, None, "Say the file's name and the cart")):
        answer = requests.post(f"{root}/lake/files", params=params, timeout=120,
                               data=body if body is not None else _votable_bytes(colours),
                               headers={"Authorization": f"Bearer {oidc_token(profile, ALICE)}",
                                        "Content-Type": VOTABLE})
        problem(answer, 400, said_)


def test_a_notebook_fetches_its_carts_data_lake_files_as_its_user_checked(
        api, tmp_path) -> None:
    root, profile = api
    alice = Client(root.removesuffix("/api/v1"), oidc_token(profile, ALICE))
    cart = f"Lake {time.time_ns()}"
    Cart.open_as(ALICE, cart, profile=profile).add_rows(record_rows(
        "Rucio data lake", profile.service("rucio").url,
        [{"did": "esap:crab_images", "name": "crab_images"}], id="did", title="name"),
        kind="did")
    image = Path("/var/gavo/inputs/images/data/m13.fits")
    own = alice.upload_to_lake(image, f"m13-{time.time_ns()}.fits", cart=cart)["did"]
    # A dataset's files and her own file, as rucio download lays them out, byte for byte.
    lake = Actor(profile, ALICE).connector("rucio")
    fetched = alice.cart(cart).download(tmp_path)
    assert list(fetched) == ["esap:crab_images", own]
    for did, paths in fetched.items():
        files = lake.list_files(*did.split(":", 1))
        assert paths == [tmp_path / f["scope"] / f["name"] for f in files]
        for path, pfn in zip(paths, (lake.list_replicas(f["scope"], f["name"])["pfn"][0]
                                     for f in files), strict=True):
            assert path.read_bytes() == Path(urlparse(str(pfn)).path).read_bytes(), path
    assert fetched[own][0].read_bytes() == image.read_bytes()
    # A copy that differs from the lake's checksum is fetched again; no partial file stays.
    damaged = fetched["esap:crab_images"][0]
    damaged.write_bytes(b"not the image")
    assert alice.download("esap:crab_images", tmp_path) == fetched["esap:crab_images"]
    assert damaged.read_bytes()[:6] == b"SIMPLE" and not list(tmp_path.rglob("*.part"))
    content = call(f"{root}/lake/content", oidc_token(profile, ALICE), did=own)
    assert content.headers["Digest"] == f"adler32={alice.lake_files(own)[0]['adler32']}"
    assert content.headers["Content-Disposition"].endswith(quote(own.split(":")[1]))
    # Hers alone; a dataset is read file by file; what is not there is a 404.
    bob = oidc_token(profile, BOB)
    problem(call(f"{root}/lake/content", bob, did=own), 403, "private scope")
    problem(call(f"{root}/lake/files", bob, did=own), 403, "private scope")
    problem(call(f"{root}/lake/content", bob, did="esap:crab_images"), 409, "not a file")
    problem(call(f"{root}/lake/files", bob, did="esap:no-such-thing"), 404, "Data lake")
    problem(call(f"{root}/lake/content", bob, did="no scope"), 400, "did=scope:name")


def test_a_notebook_cross_matches_on_its_users_own_cluster_and_the_cart_keeps_the_session(
        api) -> None:
    from dask_gateway import Gateway

    from esap_dash.client import TokenAuth, run_workflow

    root, profile = api
    token = oidc_token(profile, ALICE)
    cart = Client(root.removesuffix("/api/v1"), token).cart(f"Notebook {time.time_ns()}")
    cart.add_rows(STARS)
    gateway = profile.by_role("gateway")[0].url
    # The gateway knows her by her token alone (no password); bob sees nothing of hers.
    with Gateway(gateway, auth=TokenAuth(token)) as mine, mine.new_cluster() as cluster:
        cluster.scale(1)
        outcome = run_workflow(cart, "crossmatch", cluster, radius_arcsec=10.0)
        assert [c.name for c in mine.list_clusters()] == [cluster.name]
        with Gateway(gateway, auth=TokenAuth(oidc_token(profile, BOB))) as bobs:
            assert bobs.list_clusters() == []
    assert [str(i) for i in outcome.table["ref_id"]] == ["17702", "17499", "17847"]
    assert outcome.table.meta["added"] == 3 and len(cart) == 6
    kept = cart.to_table()
    made = kept[[a.startswith("notebook") for a in kept["archive"]]]
    assert set(made["product_type"]) == {"notebook result"}
    record = Provenance.from_json(str(made["query"][0]))
    inputs = [k for k, a in zip(kept["key"], kept["archive"], strict=True)
              if a == "Hipparcos-2"]
    assert (record.activity, record.user, record.query["workflow"]) == (
        "notebook", ALICE, "crossmatch")
    assert sorted(record.inputs) == sorted(inputs)
    # The cart's provenance: the session is an activity that used the three stars and
    # generated the result the new items derive from.
    doc = json.loads(cart.client.call("GET", f"/carts/{quote(cart.name)}/export",
                                      params={"format": "prov-json"}).text)
    session = [a for a, attrs in doc["activity"].items()
               if attrs.get("voprov:type") == "notebook session"]
    assert len(session) == 1 and session[0].startswith("esap:session/")
    used = {u["prov:entity"] for u in doc["used"].values() if u["prov:activity"] == session[0]}
    assert used == {f"esap:item/{k}" for k in inputs}
    # A refused token is said in words: not accepted, or no account there.
    with Gateway(gateway, auth=TokenAuth("not a token")) as stranger, \
            pytest.raises(PermissionError, match="does not accept your token"):
        stranger.list_clusters()
    with Gateway(gateway, auth=TokenAuth(oidc_token(profile, CAROL))) as carol, \
            pytest.raises(PermissionError, match="you have no account at the Dask Gateway"):
        carol.list_clusters()


def _votable_bytes(table: Table) -> bytes:
    out = io.BytesIO()
    table.write(out, format="votable")
    return out.getvalue()


def test_every_operation_answers_as_the_document_says(api) -> None:
    root, profile = api
    alice = oidc_token(profile, ALICE)
    document = call(f"{root}/openapi.json").json()
    seen: set[tuple[str, str]] = set()

    def check(method: str, path: str, answer: requests.Response) -> requests.Response:
        op = document["paths"][path][method.lower()]
        said = op["responses"].get(str(answer.status_code))
        assert said is not None, (method, path, answer.status_code, answer.text[:300])
        media = answer.headers["Content-Type"].split(";")[0]
        content = {m.split(";")[0]: c for m, c in said["content"].items()}
        assert media in content, (method, path, media, list(content))
        if media.endswith("json") and "$ref" in content[media]["schema"]:
            Draft202012Validator({**content[media]["schema"],
                                  "components": document["components"]}).validate(
                answer.json())
        seen.add((method.lower(), path))
        return answer

    def go(method: str, path: str, body=None, **params) -> requests.Response:
        concrete = path.format(**params.pop("at", {}))
        return check(method, path, call(f"{root}{concrete}", alice, method, body, **params))

    go("GET", "/openapi.json")
    go("GET", "/me")
    go("POST", "/carts", {"name": "Contract"})
    go("GET", "/carts")
    cart = {"name": "Contract"}
    search = go("POST", "/searches", {"target": "M45", "radius": 0.5,
                                      "archives": [HIPPARCOS]}).json()
    go("GET", "/searches")
    go("GET", "/searches/{id}", at={"id": search["id"]})
    go("GET", "/searches/{id}/rows", at={"id": search["id"]})
    go("POST", "/carts/{name}/items", {"search": search["id"], "rows": [0, 1]}, at=cart)
    items = go("GET", "/carts/{name}/items", at=cart).json()["items"]
    go("GET", "/carts/{name}", at=cart)
    for fmt in ("votable", "prov-json"):
        go("GET", "/carts/{name}/export", at=cart, format=fmt)
    go("DELETE", "/carts/{name}/items", at=cart, key=items[0]["key"])
    job = go("POST", "/jobs", {"kind": "tap", "service": TAP,
                               "adql": "SELECT TOP 3 hip FROM hipparcos.main"}).json()
    go("GET", "/jobs")
    wait_for_job = time.monotonic() + 120
    while not go("GET", "/jobs/{id}", at={"id": job["id"]}).json()["final"]:
        assert time.monotonic() < wait_for_job
        time.sleep(1)
    go("GET", "/jobs/{id}/result", at={"id": job["id"]})
    go("POST", "/jobs/{id}/abort", at={"id": job["id"]})  # 409: it has ended
    go("POST", "/jobs/{id}/retry", at={"id": job["id"]})  # 201: a new job
    check("POST", "/lake/files", requests.post(
        f"{root}/lake/files", params={"name": f"contract-{time.time_ns()}.vot",
                                      "cart": "Contract"}, data=_votable_bytes(
                                          Table({"hip": [13296]})),
        headers={"Authorization": f"Bearer {alice}", "Content-Type": VOTABLE}, timeout=120))
    go("GET", "/lake/files", did="esap:crab_images")
    go("GET", "/lake/content", did="esap:poss_m1.fits")
    go("GET", "/workflows")
    go("GET", "/facilities")
    go("GET", "/servers")
    go("DELETE", "/servers/{facility}", at={"facility": "local-hub"})  # 409 unless one runs
    go("GET", "/quotas")
    go("GET", "/services")
    name = go("POST", "/clusters", {"options": {}}).json()["name"]
    try:
        go("GET", "/clusters")
        go("GET", "/clusters/{name}", at={"name": name})
        go("POST", "/clusters/{name}/scale", {"workers": 1}, at={"name": name})
    finally:
        go("DELETE", "/clusters/{name}", at={"name": name})
    assert seen == {(m, p) for p, methods in document["paths"].items() for m in methods}
