"""The Rucio connector against the local Rucio server."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import time
import uuid
import zlib
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests

from connectors.exceptions import (
    ConfigurationError,
    QueryError,
    ServiceError,
    ServiceUnavailableError,
)
from connectors.rucio import RucioConnector
from esap_dash.core.config import load_profile

from ..conftest import ALICE, BOB, CAROL, oidc_token, stack


@pytest.fixture
def rucio(service) -> RucioConnector:
    return service("rucio").connector()


def test_ping(rucio: RucioConnector) -> None:
    health = rucio.health()
    assert health.up and health.detail.startswith("Rucio 41.")


def test_scopes_and_datasets(rucio: RucioConnector) -> None:
    assert "esap" in rucio.list_scopes()
    datasets = rucio.list_dids("esap", "*", did_type="dataset")
    assert {"crab_images", "radio_20cm", "optical_plates"} <= set(datasets["name"])
    crab = datasets[list(datasets["name"]).index("crab_images")]
    files = rucio.list_files("esap", "crab_images")
    assert (crab["length"], crab["bytes"]) == (2, int(files["bytes"].sum())) and crab["bytes"] > 0


def test_wildcard_and_metadata_filters(rucio: RucioConnector) -> None:
    files = rucio.list_dids("esap", "*crab*", did_type="file")
    assert list(files["name"]) == ["ukidss_crab_k.fits"]
    big = rucio.list_dids("esap", "*", did_type="file", filters={"bytes.gt": 100_000})
    assert set(big["name"]) == {"ukidss_crab_k.fits", "magpis_g10.5_20cm.fits", "m13.fits"}
    assert all(b > 100_000 for b in big["bytes"])
    crab = rucio.list_dids("esap", "*", did_type="dataset", filters={"campaign": "crab"})
    assert list(crab["name"]) == ["crab_images"]


def test_files_and_replicas_of_a_dataset(rucio: RucioConnector) -> None:
    files = rucio.list_files("esap", "crab_images")
    assert set(files["name"]) == {"ukidss_crab_k.fits", "poss_m1.fits"}
    replicas = rucio.list_replicas("esap", "crab_images")
    assert "LOCAL_A" in set(replicas["rse"])
    assert all(pfn.startswith("file://") for pfn in replicas["pfn"])


def test_wrong_password_is_refused(service) -> None:
    svc = service("rucio")
    bad = svc.connector(password="not-the-password")
    with pytest.raises(ServiceError, match="credentials"):
        bad.list_scopes()


def test_no_account_is_a_configuration_error(service) -> None:
    anonymous = RucioConnector(service("rucio").url)
    with pytest.raises(ConfigurationError):
        anonymous.list_scopes()


def test_a_users_access_token_of_the_provider_is_her_rucio_account(service) -> None:
    """The provider's access tokens are JWTs Rucio takes in place of its own (a
    notebook's Rucio clients send them): each maps to its subject's account; a token
    of someone without an account, or one altered, maps to none."""
    whoami = service("rucio").url + "/accounts/whoami"
    profile = load_profile("local-oidc")

    def account(token: str) -> str | int:
        answer = requests.get(whoami, headers={"X-Rucio-Auth-Token": token}, timeout=30)
        return answer.json()["account"] if answer.ok else answer.status_code

    tokens = {sub: oidc_token(profile, sub) for sub in (ALICE, BOB, CAROL)}
    assert [account(t) for t in tokens.values()] == ["alice", "bob", 401]
    head, claims, signature = tokens[ALICE].split(".")
    forged = json.loads(base64.urlsafe_b64decode(claims + "=="))
    forged["sub"] = BOB  # alice's token made out to bob, her signature kept
    altered = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
    assert account(f"{head}.{altered}.{signature}") == 401


def test_dead_server(dead_url: str) -> None:
    dead = RucioConnector(dead_url, account="root", username="u", password="p", timeout=2)
    assert not dead.health().up
    with pytest.raises(ServiceUnavailableError):
        dead.list_scopes()


def _file_sums(pfn: str) -> tuple[str, str]:
    """adler32 (as Rucio writes it) and md5 of the bytes behind a file:// replica."""
    data = Path(urlparse(pfn).path).read_bytes()
    return f"{zlib.adler32(data) & 0xFFFFFFFF:08x}", hashlib.md5(data).hexdigest()


def test_a_replication_rule_copies_the_bytes_and_is_deleted(rucio: RucioConnector) -> None:
    assert rucio.list_rses() == ["LOCAL_A", "LOCAL_B", "LOCAL_SCRATCHDISK"]
    # Rucio deletes rules softly (they expire an hour later): a run within the
    # hour finds the previous run's rule and follows that one.
    earlier = [r["id"] for r in rucio.did_rules("esap", "crab_images") if r["rse"] == "LOCAL_B"]
    rule_id = earlier[0] if earlier else rucio.add_rule("esap", "crab_images", "LOCAL_B",
                                                        comment="cart test")
    deadline = time.monotonic() + 120
    info = rucio.rule(rule_id)
    assert info["did"] == "esap:crab_images" and info["rse"] == "LOCAL_B"
    assert info["bytes"] == 743040 + 72000  # the two FITS images of the dataset
    while info["state"] == "REPLICATING" and time.monotonic() < deadline:
        time.sleep(1)
        info = rucio.rule(rule_id)
    assert info["state"] == "OK" and info["locks_ok"] == 2
    assert info["bytes_ok"] == info["bytes"]
    # The copies are the same bytes as the originals, and as Rucio's catalogue says.
    files = {str(f["name"]): str(f["adler32"]) for f in rucio.list_files("esap", "crab_images")}
    replicas = rucio.list_replicas("esap", "crab_images")
    for name, adler32 in files.items():
        at = {str(r["rse"]): _file_sums(str(r["pfn"])) for r in replicas if r["name"] == name}
        assert at["LOCAL_B"] == at["LOCAL_A"] and at["LOCAL_B"][0] == adler32
    with pytest.raises(QueryError, match="duplicate rule"):
        rucio.add_rule("esap", "crab_images", "LOCAL_B")
    rucio.delete_rule(rule_id)
    assert rucio.rule(rule_id)["expires"] is not None


def _restart_postgresql() -> None:
    """Restart the machine's PostgreSQL (Rucio's database), as its operator would, and
    DaCHS after it: DaCHS's pooled connections do not survive it (a query on each fails
    once with "server closed the connection unexpectedly")."""
    online = [line.split() for line in subprocess.run(
        ["pg_lsclusters", "-h"], capture_output=True, text=True, check=True).stdout.splitlines()
        if line.split()[2] == "5432"]
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    subprocess.run([*sudo, "pg_ctlcluster", online[0][0], online[0][1], "restart"],
                   check=True, timeout=120)
    stack("restart", "dachs")


def test_a_rule_survives_its_database_restarting(rucio: RucioConnector, tmp_path: Path) -> None:
    data = tmp_path / f"restart-{uuid.uuid4().hex[:8]}.bin"
    data.write_bytes(os.urandom(100 * 2**20))
    did = rucio.upload(data)
    rule_id = rucio.add_rule(did["scope"], did["name"], "LOCAL_B", comment="restart test")
    assert rucio.rule(rule_id)["state"] == "REPLICATING"
    _restart_postgresql()  # under the server, the conveyor and the judge
    deadline = time.monotonic() + 180
    info = rucio.rule(rule_id)
    while info["state"] == "REPLICATING" and time.monotonic() < deadline:
        time.sleep(1)
        info = rucio.rule(rule_id)
    assert (info["state"], info["bytes_ok"]) == ("OK", 100 * 2**20)
    sums = {str(r["rse"]): _file_sums(str(r["pfn"]))
            for r in rucio.list_replicas(did["scope"], did["name"])}
    assert sums["LOCAL_B"] == sums["LOCAL_SCRATCHDISK"] == (
        did["adler32"], hashlib.md5(data.read_bytes()).hexdigest())
    rucio.delete_rule(rule_id)


def test_a_rule_for_a_storage_class_lands_on_an_rse_of_that_class(
        rucio: RucioConnector) -> None:
    assert rucio.qos_classes() == {"CHEAP-ANALYSIS": ["LOCAL_SCRATCHDISK"], "FAST": ["LOCAL_B"],
                                   "SAFE": ["LOCAL_A"]}
    earlier = [r["id"] for r in rucio.did_rules("esap", "optical_plates")
               if r["rse"] == "QOS=FAST" and r["account"] == rucio.account]
    rule_id = earlier[0] if earlier else rucio.add_rule(
        "esap", "optical_plates", "QOS=FAST", lifetime=7 * 86400, comment="qos test")
    info = rucio.rule(rule_id)
    assert info["rse"] == "QOS=FAST" and info["rses"] == ["LOCAL_B"]
    assert info["expires"] is not None  # a lifetime, or the soft deletion of a run before
    rucio.delete_rule(rule_id)


def test_bad_rules_are_refused(rucio: RucioConnector) -> None:
    with pytest.raises(QueryError, match="RSE expression"):
        rucio.add_rule("esap", "crab_images", "NOWHERE")
    with pytest.raises(QueryError, match="at least one copy"):
        rucio.add_rule("esap", "crab_images", "LOCAL_B", copies=0)
    with pytest.raises(QueryError):
        rucio.add_rule("esap", "no_such_dataset", "LOCAL_B")


def test_quotas_are_listed_and_a_rule_beyond_one_is_refused_before_it_is_sent(
        rucio: RucioConnector) -> None:
    from esap_dash.core.actor import Actor
    from esap_dash.core.config import load_profile

    from ..conftest import ALICE

    alice = Actor(load_profile("local-oidc"), user=ALICE).connector("rucio")
    quotas = {str(r["rse"]): r for r in alice.quotas()}
    assert set(quotas) == {"LOCAL_A", "LOCAL_B", "LOCAL_SCRATCHDISK"}
    assert int(quotas["LOCAL_B"]["limit"]) == 10 * 10**9  # the stack's quota per user
    assert rucio.quotas()["limit"].mask.all()  # root: no limit
    needed = alice.did_bytes("esap", "crab_images")
    assert needed == int(rucio.list_files("esap", "crab_images")["bytes"].sum()) > 0
    rules = len(rucio.did_rules("esap", "crab_images"))
    rucio.client.set_local_account_limit("alice", "LOCAL_B", needed - 1)
    try:
        with pytest.raises(QueryError, match=r"esap:crab_images needs 815\.0 kB at LOCAL_B; "
                                             r"the quota of account alice there has "):
            alice.add_rule("esap", "crab_images", "LOCAL_B")
        assert len(rucio.did_rules("esap", "crab_images")) == rules  # nothing was asked
    finally:
        rucio.client.set_local_account_limit("alice", "LOCAL_B", 10 * 10**9)
