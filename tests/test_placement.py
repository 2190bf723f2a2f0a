"""“Where can this run?” against the local stack: two gateways (local processes and
Slurm) with their own storage elements, a cart of data-lake files and archive rows."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest
import requests
from astropy.table import Table

from esap_dash.core.actor import Actor
from esap_dash.core.cart import Cart
from esap_dash.core.config import Profile, load_profile
from esap_dash.ui.pages.cart import CartPage
from esap_dash.work.jobs import JobError, follow
from esap_dash.work.placement import make_available_here, rank_places, run_here
from esap_dash.work.servers import HUB_TIMEOUT, PROBE_TIMEOUT, servers_at, stop_notebook_server

from .conftest import ALICE, BOB, CAROL, FaultyProxy, run_coroutine

PLATES = "esap:optical_plates"  # three files, uploaded to LOCAL_A


@pytest.fixture
def private(profile: Profile, tmp_path) -> Profile:
    return replace(profile, database=f"sqlite:///{tmp_path}/placement.db")


def plates_cart(profile: Profile, name: str = "plates") -> Cart:
    """A cart with the plates dataset and two rows from an archive."""
    cart = Cart.open(name, profile=profile)
    cart.add_rows(Table({"archive": ["Rucio data lake"], "id": [PLATES],
                         "title": ["optical_plates"], "product_type": ["dataset"]}), kind="did")
    cart.add_rows(Table({"archive": ["Hipparcos-2 (cone search)"] * 2,
                         "id": ["HIP 17702", "HIP 17499"], "title": ["Alcyone", "Electra"],
                         "ra": [56.87, 56.22], "dec": [24.10, 24.11]}))
    return cart


def available_at(profile: Profile, rse: str) -> set[str]:
    """The plates' files with an available replica at ``rse``, as Rucio lists them."""
    replicas = profile.service("rucio").connector().list_replicas(*PLATES.split(":"))
    return {str(r["name"]) for r in replicas if r["rse"] == rse and r["state"] == "AVAILABLE"}


def test_places_are_ranked_by_the_data_they_hold_with_the_reasons(private) -> None:
    cart = plates_cart(private)
    places, data = rank_places(Actor(private), cart.to_table())
    assert {p.id for p in places} == {"gateway", "slurm", "dirac"}
    assert places == sorted(places, key=lambda p: p.rank_key)
    assert len(data.files) == 3 and data.downloads == 2 and not data.problems
    local, slurm = (next(p for p in places if p.id == i) for i in ("gateway", "slurm"))
    assert (local.engine, local.rses, local.local_files, local.moved_files) == (
        "local processes", ("LOCAL_A",), 3, 0)
    at_b = available_at(private, "LOCAL_B")
    assert (slurm.engine, slurm.local_files, slurm.moved_files) == (
        "slurm", len(at_b), 3 - len(at_b))
    if slurm.moved_files:  # files to move rank a place after one that holds them all
        assert places[0].id == "gateway"
    assert all(p.account and p.up and (p.free_cores is not None) == (p.runs == "workflows")
               for p in places)
    said = "; ".join(local.reasons)
    assert "3 of 3 data-lake files already at LOCAL_A" in said
    assert "2 archive item(s) downloaded from their archives" in said
    assert "cores free for you" in said
    assert "batch partition esap" in "; ".join(slurm.reasons)


def test_make_available_here_brings_the_files_to_the_places_storage(private) -> None:
    cart = plates_cart(private)
    actor = Actor(private)
    slurm = next(p for p in rank_places(actor, cart.to_table())[0] if p.id == "slurm")
    made, refused = make_available_here(actor, slurm, cart.to_table(), cart="plates")
    assert len(made) == 1 and not refused  # one rule: the dataset, followed as a job
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        rules = [j for j in run_coroutine(follow(actor, "rucio-rule")) if j["id"] in made]
        if rules and rules[0]["state"] == "OK":
            break
        time.sleep(1)
    assert rules[0]["state"] == "OK" and rules[0]["detail"]["rse"] == "LOCAL_B"
    again = next(p for p in rank_places(actor, cart.to_table())[0] if p.id == "slurm")
    assert (again.local_files, again.moved_files) == (3, 0)


def test_dirac_is_a_place_for_batch_jobs_not_workflows(private) -> None:
    cart = plates_cart(private, "batch")
    places, _ = rank_places(Actor(private), cart.to_table())
    dirac = next(p for p in places if p.id == "dirac")
    assert (dirac.runs, dirac.account, dirac.up, dirac.moved_files) == ("batch jobs", True,
                                                                        True, 3)
    assert "runs batch jobs built from the cart (Jobs > Batch job on DIRAC), not Dask " \
        "workflows" in dirac.reasons
    assert "its dummy executor runs nothing: jobs go to Done unexecuted" in dirac.reasons
    assert places.index(dirac) > [p.id for p in places].index("gateway")  # holds no files
    with pytest.raises(JobError, match="runs batch jobs, not Dask workflows"):
        run_here(Actor(private), "dirac", workflow="crossmatch", cart="batch")


def test_a_user_without_an_account_at_a_place_sees_it_last_and_why(secrets) -> None:
    env = {**secrets, "ESAP_DASH__GATEWAYS__SLURM__USERS": '["alice"]'}
    profile = load_profile("local-oidc", environ={**os.environ, **env})
    bob = Actor(profile, user="bob-91ad07", display="Bob")
    places, _ = rank_places(bob, Table({"kind": ["row"], "item_id": ["x"]}))
    assert [p.id for p in places] == ["gateway", "dirac", "local-hub", "local-hub-slurm",
                                      "slurm"]
    assert not places[-1].account and places[-1].reasons[0] == "you have no account here"
    with pytest.raises(Exception, match="no account at Dask Gateway on Slurm"):
        run_here(bob, "slurm", workflow="crossmatch", cart="default")


def test_the_cart_page_shows_the_ranking_when_its_card_is_opened(private) -> None:
    plates_cart(private, "shown")
    page = CartPage(profile=private)
    page.cart_name = "shown"
    assert page.where_to_run is None  # built only when its card is opened
    page.placement_card.collapsed = False
    view = page.where_to_run
    run_coroutine(view.rank())
    assert {p.id for p in view.places} == {"gateway", "slurm", "dirac"}


def test_hung_gateways_cost_their_own_rows_not_their_sum(private) -> None:
    gateways = [private.service(i) for i in ("gateway", "slurm")]
    with FaultyProxy(gateways[0].url, mode="hang") as one, \
            FaultyProxy(gateways[1].url, mode="hang") as two:
        urls = {"gateway": one.url, "slurm": two.url}
        hung = replace(private, services=tuple(
            replace(s, url=urls[s.id], options={**s.options, "timeout": 8})
            if s.id in urls else s for s in private.services))
        started = time.monotonic()
        places, _ = rank_places(Actor(hung), plates_cart(hung).to_table())
        took = time.monotonic() - started
    for place in (p for p in places if p.id in urls):
        assert not place.up and "does not answer" in place.reasons[0], place
    assert next(p for p in places if p.id == "dirac").up
    assert took < 14  # both asked at once: one timeout (8 s), not two


def test_a_jupyterhub_is_a_place_for_notebooks_and_a_faulty_one_costs_its_own_row(
        secrets, dead_url, hung_server) -> None:
    profile = load_profile("local-oidc", environ={**os.environ, **secrets})
    hub = next(f for f in profile.facilities if f.id == "local-hub")
    faulty = (replace(hub, id="dead", name="Dead hub", url=dead_url),
              replace(hub, id="hung", name="Hung hub", url=hung_server),
              replace(hub, id="wrong", name="Hub of another token", api_token="not-ours"))
    alice = Actor(replace(profile, facilities=(hub, *faulty)), user=ALICE, display="Alice")
    started = time.monotonic()
    places, _ = rank_places(alice, Table({"kind": ["row"], "item_id": ["x"]}))
    took = time.monotonic() - started
    found = {p.id: p for p in places}
    here = found["local-hub"]
    assert (here.runs, here.engine, here.account, here.up) == (
        "notebooks", "local processes", True, True)
    assert here.reasons[0] == "no server of yours runs there: opening the cart starts one"
    assert here.reasons[-1].startswith("interactive: the cart opens as a notebook")
    for place, said in zip(faulty, ("does not answer", "does not answer",
                                    "refused to list your servers"), strict=True):
        row = found[place.id]
        assert not row.up and row.reasons[0].startswith(f"{place.name} {said}"), row
    assert took < HUB_TIMEOUT + 6  # the hubs asked at once: one timeout, not the sum
    with pytest.raises(JobError, match="runs notebooks"):
        run_here(alice, "local-hub", workflow="crossmatch", cart="default")
    carol = Actor(profile, user=CAROL, display="Carol")
    hubs = [p for p in rank_places(carol, Table({"kind": ["row"], "item_id": ["x"]}))[0]
            if p.runs == "notebooks"]
    assert [(p.account, p.reasons[0]) for p in hubs] == [
        (False, f"you (Carol) have no account at {p.name}") for p in hubs]
    with pytest.raises(JobError, match="no account"):
        stop_notebook_server(carol, "local-hub")


def test_a_slurm_hub_says_why_her_server_waits_and_why_its_start_failed(secrets) -> None:
    profile = load_profile("local-oidc", environ={**os.environ, **secrets})
    hub = next(f for f in profile.facilities if f.engine == "slurm")
    alice = Actor(profile, user=ALICE, display="Alice")
    node = subprocess.run(["sinfo", "-h", "-o", "%N"], capture_output=True, text=True,
                          check=True, timeout=30).stdout.split()[0]
    server = f"{hub.url}/hub/api/users/alice/server"
    as_service = {"Authorization": f"token {hub.api_token}"}
    scontrol = ["scontrol", "update", f"nodename={node}"]
    subprocess.run([*scontrol, "state=drain", "reason=esap-dash test"], check=True, timeout=30)
    try:
        # She opens a cart there while the partition's node is drained: her server's job
        # waits, and the Jobs page and "Where can this run?" say why.
        assert requests.post(server, headers=as_service, timeout=60).status_code in (201, 202)
        deadline = time.monotonic() + 60
        while not (listed := servers_at(alice, hub)).servers or not listed.servers[0].note:
            assert time.monotonic() < deadline, listed
            time.sleep(1)
        waiting = listed.servers[0]
        assert waiting.state == "starting" and waiting.engine.startswith("slurm (job "), waiting
        assert re.fullmatch(r"Slurm job \d+ waits: .*DRAINED.* \(the hub gives up after its "
                            r"start timeout unless a node comes back\)", waiting.note), waiting
        place = next(p for p in rank_places(alice, Table({"kind": ["row"], "item_id": ["x"]}))[0]
                     if p.id == hub.id)
        assert any(waiting.note in r for r in place.reasons), place.reasons
        # An operator cancels the job: the start fails, and says why until the next one.
        subprocess.run(["scancel", "--user=alice", "--name=spawner-jupyterhub"], check=True,
                       timeout=30)
        deadline = time.monotonic() + 60
        while not (listed := servers_at(alice, hub)).failure:
            assert time.monotonic() < deadline, listed
            time.sleep(1)
        assert not listed.servers and "batch job has disappeared" in listed.failure, listed
        place = next(p for p in rank_places(alice, Table({"kind": ["row"], "item_id": ["x"]}))[0]
                     if p.id == hub.id)
        assert f"your last start there failed: {listed.failure}" in place.reasons
    finally:
        subprocess.run([*scontrol, "state=resume"], timeout=30)
        requests.delete(server, headers=as_service, timeout=60)
        subprocess.run(["scancel", "--user=alice", "--name=spawner-jupyterhub"], timeout=30)


def test_a_local_hub_says_her_server_hangs_or_died_and_why_bobs_start_failed(
        secrets, tmp_path) -> None:
    profile = load_profile("local-oidc", environ={**os.environ, **secrets})
    hub = next(f for f in profile.facilities if f.id == "local-hub")
    as_service = {"Authorization": f"token {hub.api_token}"}
    users = f"{hub.url}/hub/api/users"
    alice = Actor(profile, user=ALICE, display="Alice")
    sudoers = Path("/etc/sudoers.d/esap-hub")
    kept = sudoers.read_text()

    def rules(text: str) -> None:
        """Replace the hub's sudo rules at once (sudo ignores a name with a dot)."""
        new = sudoers.with_name("esap-hub.new")
        new.write_text(text)
        new.chmod(0o440)
        os.replace(new, sudoers)
    try:
        # Her server runs; its process hangs, then dies: the hub still counts it as
        # running, esap-dash says it does not answer.
        assert requests.post(f"{users}/alice/server", headers=as_service,
                             timeout=60).status_code in (201, 202)
        deadline = time.monotonic() + 60
        while not (server := requests.get(f"{users}/alice", headers=as_service, timeout=10)
                   .json()["servers"].get("", {})).get("ready"):
            assert time.monotonic() < deadline, server
            time.sleep(0.5)
        assert servers_at(alice, hub).servers[0].note == ""
        pid = server["state"]["pid"]
        os.kill(pid, signal.SIGSTOP)
        try:
            hung = servers_at(alice, hub).servers[0]
        finally:
            os.kill(pid, signal.SIGKILL)
        assert hung.state == "running" and hung.note.startswith(
            f"it does not answer (no answer within {PROBE_TIMEOUT:g} s)"), hung
        dead = servers_at(alice, hub).servers[0]
        assert dead.note.startswith("it does not answer (HTTP 503 through the hub's proxy): "
                                    "its process has ended or hangs"), dead
        place = next(p for p in rank_places(alice, Table({"kind": ["row"], "item_id": ["x"]}))[0]
                     if p.id == hub.id)
        assert any(r.endswith(f"; {dead.note}") for r in place.reasons), place.reasons
        stop_notebook_server(alice, hub.id)  # as the note says: stop it, then start anew
        deadline = time.monotonic() + 60
        while servers_at(alice, hub).servers:
            assert time.monotonic() < deadline
            time.sleep(0.5)
        # The hub's sudo rules no longer name bob: his start fails, and says why in words
        # (the hub's own sentence is sudospawner's "substring not found").
        narrowed = tmp_path / "sudoers"
        narrowed.write_text(kept.replace(",bob)", ")"))
        subprocess.run(["visudo", "-cqf", str(narrowed)], check=True, timeout=30)
        rules(narrowed.read_text())
        assert requests.post(f"{users}/bob/server", headers=as_service,
                             timeout=60).status_code >= 400
        bob = Actor(profile, user=BOB, display="Bob")
        failure = servers_at(bob, hub).failure
        assert failure.startswith("Spawn failed") and failure.endswith(
            "(the hub got no answer from the helper it starts as your Unix account through "
            "sudo: most often its sudo rules do not name your account; the hub's log says "
            "more)"), failure
        # The operator puts bob back: his next start works, and the failure is gone.
        rules(kept)
        assert requests.post(f"{users}/bob/server", headers=as_service,
                             timeout=60).status_code in (201, 202)
        deadline = time.monotonic() + 60
        while (listed := servers_at(bob, hub)).failure or not listed.servers \
                or listed.servers[0].state != "running":
            assert time.monotonic() < deadline, listed
            time.sleep(0.5)
    finally:
        rules(kept)
        for user in ("alice", "bob"):
            requests.delete(f"{users}/{user}/server", headers=as_service, timeout=60)
