"""Results back to the data lake: alice's workflow result uploaded to her own Rucio
scope with its provenance, put in her cart, replicated by BitTorrent to another RSE;
bob can neither read nor replicate it."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest
from astropy.table import Table

from connectors.exceptions import ServiceError
from esap_dash.core.actor import Actor
from esap_dash.core.config import Profile, load_profile
from esap_dash.core.provenance import Provenance
from esap_dash.ui.components.job_list import JobList
from esap_dash.work.jobs import kinds
from esap_dash.work.lake import result_to_lake
from esap_dash.work.workflows import Runner

from .conftest import ALICE, BOB, run_coroutine


@pytest.fixture
def oidc(local_stack: None, tmp_path) -> Profile:
    """The local-oidc profile with a database of its own and workflows run inside the
    dashboard (no gateway: a local Dask cluster)."""
    profile = load_profile("local-oidc")
    return replace(profile, database=f"sqlite:///{tmp_path}/lake.db",
                   services=tuple(s for s in profile.services if s.role != "gateway"))


def _crossmatch_result(alice: Actor) -> dict:
    """A finished cross-match of twenty Pleiades stars, as alice."""
    stars = alice.profile.service("hipparcos").connector().search(56.75, 24.12, 1.0,
                                                                  maxrec=20)
    alice.open_cart("pleiades").add_rows(Table({
        "archive": ["Hipparcos-2 (cone search)"] * len(stars),
        "id": [f"HIP {h}" for h in stars["hip"]], "title": [f"HIP {h}" for h in stars["hip"]],
        "ra": stars["ra_icrs"], "dec": stars["de_icrs"]}))
    job_id = kinds()["dask"].submit(alice, workflow="crossmatch", cart="pleiades",
                                    values={"radius_arcsec": 2.0})
    deadline = time.monotonic() + 120
    while True:
        record = next(r for r in alice.store.jobs(ALICE) if r["id"] == job_id)
        if Runner.shared().status(record)["state"] not in {"QUEUED", "RUNNING"}:
            return record
        assert time.monotonic() < deadline, "the cross-match did not finish"
        time.sleep(0.3)


def test_a_workflow_result_goes_to_alices_scope_and_cart_and_replicates_for_her_only(
        oidc: Profile) -> None:
    alice, bob = Actor(oidc, user=ALICE), Actor(oidc, user=BOB)
    record = _crossmatch_result(alice)
    done = result_to_lake(alice, record, cart="pleiades")
    scope, _, name = done.did.partition(":")
    assert scope == "user.alice" and name.startswith(f"job-{record['id']}-")
    assert done.rse == "LOCAL_SCRATCHDISK" and done.bytes > 0 and done.added
    lake = alice.connector("rucio")
    # Rucio keeps the job and the result's W3C provenance with the file.
    meta = lake.metadata(scope, name)
    assert (meta["esap_dash_job"], meta["esap_dash_kind"]) == (record["id"], "dask")
    assert f"esap:job/{record['id']}" in json.loads(meta["prov_json"])["activity"]
    # In her cart, as a data-lake item made by that run.
    item = next(i for i in alice.open_cart("pleiades").items() if i.kind == "did")
    assert item.item_id == done.did
    assert Provenance.from_json(item.query).job == record["id"]
    # Asked again: the same file, not a second one.
    again = result_to_lake(alice, record, cart="pleiades")
    assert (again.did, again.added) == (done.did, False)
    # Replicable like any data-lake file: the bytes reach LOCAL_B.
    rule = lake.add_rule(scope, name, "LOCAL_B")
    deadline = time.monotonic() + 120
    while (info := lake.rule(rule))["state"] == "REPLICATING":
        assert time.monotonic() < deadline, info
        time.sleep(1)
    assert info["state"] == "OK" and info["bytes_ok"] == done.bytes
    replicas = lake.list_replicas(scope, name)
    assert set(replicas["rse"]) == {"LOCAL_SCRATCHDISK", "LOCAL_B"}
    # bob neither lists, reads nor replicates alice's scope (Rucio itself refuses his rule).
    theirs = bob.connector("rucio")
    assert scope not in theirs.list_scopes()
    for call in (lambda: theirs.list_files(scope, name),
                 lambda: theirs.add_rule(scope, name, "LOCAL_A")):
        with pytest.raises(ServiceError, match="private scope") as refused:
            call()
        assert refused.value.status == 403
    with pytest.raises(Exception, match="can not add replication rule"):
        theirs.client.add_replication_rule([{"scope": scope, "name": name}], 1, "LOCAL_A")


def test_the_jobs_list_uploads_an_open_result_to_the_data_lake(oidc: Profile) -> None:
    alice = Actor(oidc, user=ALICE)
    record = _crossmatch_result(alice)
    jobs = JobList(alice)
    run_coroutine(jobs.refresh())
    jobs.select(record["id"])
    run_coroutine(jobs.open_result())
    jobs.cart_name = "pleiades"
    run_coroutine(jobs.result_to_lake())
    text = jobs.notice.text
    assert f"Uploaded user.alice:job-{record['id']}-" in text, text
    assert "to LOCAL_SCRATCHDISK; added to cart 'pleiades'." in text
    lake = [i.item_id for i in alice.open_cart("pleiades").items() if i.kind == "did"]
    assert lake == [text.split()[1]]
