"""Batch jobs on DIRAC through the stack's DiracX (its dummy executor runs nothing): the
job description made from a cart, the connector, and the job kind in the one job list."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import pytest
from astropy.table import Table

from connectors.diracx import DiracXConnector
from connectors.exceptions import QueryError, ServiceError, ServiceUnavailableError
from esap_dash.core.actor import Actor
from esap_dash.core.cart import Cart
from esap_dash.core.config import PROJECT_ROOT, Profile, load_profile
from esap_dash.core.lineage import result_document
from esap_dash.work.dirac import SANDBOX_FILE, BatchSpec, PlanError, lfn_of, make_plan
from esap_dash.work.jobs import JobError, follow, kinds

from .conftest import run_coroutine, stack

CRAB = "esap:crab_images"  # two FITS files in the data lake


@pytest.fixture
def private(profile: Profile, tmp_path) -> Profile:
    return replace(profile, database=f"sqlite:///{tmp_path}/dirac.db")


@pytest.fixture
def users(local_stack: None, tmp_path) -> Profile:
    """The profile with logins (alice and bob are DIRAC users; carol is not)."""
    return replace(load_profile("local-oidc"), database=f"sqlite:///{tmp_path}/users.db")


def crab_cart(profile: Profile, name: str = "crab", *, user: str = "local") -> Cart:
    cart = Cart.open_as(user, name, profile=profile)
    cart.add_rows(Table({"archive": ["Rucio data lake"], "id": [CRAB], "title": ["crab_images"],
                         "product_type": ["dataset"]}), kind="did")
    cart.add_rows(Table({"archive": ["Hipparcos-2 (cone search)"], "id": ["HIP 26451"],
                         "title": ["zeta Tau"], "ra": [84.41], "dec": [21.14]}))
    return cart


def wait_for(actor: Actor, record: int, states: set[str], seconds: float = 60) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        job = run_coroutine(follow(actor, "dirac", job=record))[0]
        if job["state"] in states or time.monotonic() > deadline:
            return job
        time.sleep(1)


def crab_files(profile: Profile) -> list[str]:
    files = profile.service("rucio").connector().list_files(*CRAB.split(":"))
    return sorted(lfn_of(str(f["scope"]), str(f["name"])) for f in files)


# ------------------------------------------------------------------- the plan
def test_a_job_per_data_lake_file_has_each_file_as_its_input(private) -> None:
    cart = crab_cart(private)
    lake = private.service("rucio").connector()
    plan = make_plan(cart.to_table(), BatchSpec("fitsinfo", "%s", cpu_time=600,
                                                sites=("LCG.Local.org",), tags=("GPU",),
                                                per_item=True), lake, cart="crab")
    files = crab_files(private)
    assert len(files) == 2 and plan.jobs == 2 and sorted(plan.lfns) == files
    assert 'Parameters = {"' + '", "'.join(plan.lfns) + '"};' in plan.jdl
    for line in ('InputData = {"%s"};', 'Arguments = "%s";', "CPUTime = 600;",
                 'Site = {"LCG.Local.org"};', 'Tags = {"GPU"};', 'JobName = "crab_%n";'):
        assert line in plan.jdl
    # the whole cart travels in the sandbox, the archive row with it
    sent = Table.read(plan.sandbox[SANDBOX_FILE].decode(), format="ascii.ecsv")
    assert sorted(sent["item_id"]) == sorted([CRAB, "HIP 26451"])


def test_one_job_takes_all_the_files(private) -> None:
    plan = make_plan(crab_cart(private).to_table(), BatchSpec("fitsinfo"),
                     private.service("rucio").connector(), cart="crab")
    assert plan.jobs == 1 and "Parameters" not in plan.jdl
    assert 'InputData = {"' + '", "'.join(plan.lfns) + '"};' in plan.jdl


@pytest.mark.parametrize(("spec", "says"), [
    (BatchSpec(""), "Give the executable"),
    (BatchSpec("fits info"), "Executable 'fits info'"),
    (BatchSpec("x", 'a"; Site = "Evil'), "cannot carry '\"'"),
    (BatchSpec("x", "a [b"), "cannot carry '['"),
    (BatchSpec("x", "caf\u00e9"), "cannot carry '\u00e9'"),
    (BatchSpec("x", "a\nb"), "cannot carry U+000A"),
    (BatchSpec("x", "%s"), "in a job per data-lake file only"),
    (BatchSpec("x", cpu_time=0), "give 1 to"),
    (BatchSpec("x", cpu_time="lots"), "is not a number"),  # type: ignore[arg-type]
    (BatchSpec("x", sites=('A"}; X = {"',)), "Site"),
])
def test_user_text_never_changes_the_description(private, spec, says) -> None:
    with pytest.raises(PlanError) as caught:
        make_plan(crab_cart(private).to_table(), spec, None, cart="crab")
    assert says in str(caught.value)


def test_too_many_jobs_and_no_input_are_refused(private, monkeypatch) -> None:
    lake = private.service("rucio").connector()
    monkeypatch.setattr("esap_dash.work.dirac.MAX_JOBS", 1)
    with pytest.raises(PlanError, match="would make 2 jobs; DIRAC takes at most 1"):
        make_plan(crab_cart(private).to_table(), BatchSpec("x", per_item=True), lake,
                  cart="crab")
    rows = Cart.open("archive only", profile=private)
    rows.add_rows(Table({"archive": ["Hipparcos-2 (cone search)"], "id": ["HIP 1"],
                         "title": ["HIP 1"], "ra": [0.0], "dec": [0.0]}))
    with pytest.raises(PlanError, match="needs data-lake items"):
        make_plan(rows.to_table(), BatchSpec("x", per_item=True), lake, cart="archive only")


# -------------------------------------------------------------- the connector
def test_the_connector_never_sends_what_hangs_diracx(private) -> None:
    dirac = private.service("dirac").connector()
    for jdl in ('[Executable = "echo"; Arguments = "a [b";]',
                '[Executable = "echo"; Arguments = "caf\u00e9";]'):
        with pytest.raises(QueryError, match=r"JDL syntax error|JDL reader"):
            dirac.submit(jdl)
    assert dirac.health().up  # it was not sent: the server still answers
    with pytest.raises(QueryError, match="JDL syntax error"):
        dirac.submit('[Executable = "echo"; CPUTime = "lots";')


def test_users_see_only_their_own_jobs_and_sandboxes(profile) -> None:
    dirac = profile.service("dirac")
    alice = dirac.connector(username="alice")
    bob = dirac.connector(username="bob")
    [job] = alice.submit('[Executable = "echo"; Arguments = "mine";]')
    assert job["job_id"] in set(alice.jobs()["job_id"])
    assert job["job_id"] not in set(bob.jobs()["job_id"])
    assert not len(bob.jobs([job["job_id"]]))
    pfn = alice.upload_sandbox({"note.txt": b"alice only"})
    with pytest.raises(ServiceError, match="does not allow"):
        bob.read_sandbox(pfn)
    assert alice.read_sandbox(pfn) == {"note.txt": b"alice only"}
    carol = dirac.connector(username="carol")
    with pytest.raises(ServiceError, match="gives no token to 'carol'"):
        carol.jobs()


# ---------------------------------------------------------------- the job kind
def test_a_cart_job_runs_to_done_with_its_plan_kept(private) -> None:
    crab_cart(private)
    actor = Actor(private)
    kind = kinds()["dirac"]
    first = kind.submit(actor, cart="crab", executable="fitsinfo", arguments="%s",
                        per_item=True, cpu_time=600)
    records = actor.store.jobs(actor.user, "dirac")
    assert [r["id"] for r in records] == [first + 1, first]
    record = actor.store.job(actor.user, first)
    assert record["detail"]["lfns"] == crab_files(private)
    assert "InputSandbox = {\"SB:SandboxSE|/S3/" in record["detail"]["jdl"]
    done = wait_for(actor, first, {"DONE", "FAILED"})
    assert done["state"] == "DONE", done
    assert "DummyExecutor" in done["note"] and done["ended"]
    history = kind.history(actor, record)
    assert list(history["status"][:2]) == ["Submitting", "Received"]  # confirmed at once
    assert history["status"][-1] == "Done"
    # its input sandbox is the cart; the dummy executor made no output sandbox
    result = kind.result(actor, done)
    assert list(result.table["sandbox"]) == ["input"]
    sent = Table.read(result.files[f"input/{SANDBOX_FILE}"].decode(), format="ascii.ecsv")
    assert sorted(sent["item_id"]) == sorted([CRAB, "HIP 26451"])
    assert "no output sandbox" in result.note and "dummy executor" in result.note
    with pytest.raises(JobError, match="no output files"):
        kind.cart_rows(done, result)
    provenance = kind.provenance(done, result)
    assert provenance.services[0].asked == record["detail"]["jdl"]
    assert provenance.query["input_data"] == crab_files(private)
    provn = result_document(provenance).get_provn()  # the JDL is the job's PROV plan
    assert 'voprov:type="DIRAC job"' in provn and "prov:type='prov:Plan'" in provn
    assert 'InputData = {\\"%s\\"};' in provn
    # asked again: the member's own description, a new DIRAC job
    again = kind.request(done)["jdl"]
    assert "Parameters" not in again and f'InputData = {{"{done["detail"]["parameter"]}"}}' \
        in again
    new = kind.retry(actor, done)
    assert wait_for(actor, new, {"DONE"})["state"] == "DONE"


def test_an_output_sandbox_is_shown_and_goes_to_the_cart(private) -> None:
    crab_cart(private, "outputs")
    actor = Actor(private)
    kind = kinds()["dirac"]
    record = kind.submit(actor, cart="outputs", executable="fitsinfo")
    job = actor.store.job(actor.user, record)
    # what a pilot does when its job ends: store the output sandbox and assign it
    dirac = private.service("dirac").connector()
    pfn = dirac.upload_sandbox({"std.out": b"2 HDUs\n", "std.err": b""})
    dirac.assign_output_sandbox(int(job["ref"]), pfn)
    result = kind.result(actor, job)
    assert result.files["output/std.out"] == b"2 HDUs\n"
    assert "output sandbox of 2 files" in result.note
    rows = kind.cart_rows(job, result)
    assert sorted(rows["title"]) == [f"std.err (DIRAC job {job['ref']})",
                                     f"std.out (DIRAC job {job['ref']})"]
    assert set(rows["product_type"]) == {"DIRAC output"}


def test_a_failed_job_shows_its_status_and_reason(private) -> None:
    crab_cart(private, "failing")
    actor = Actor(private)
    record = kinds()["dirac"].submit(actor, cart="failing", executable="fitsinfo")
    ref = int(actor.store.job(actor.user, record)["ref"])
    # the job reports its own failure (as its pilot would), before the executor runs it
    private.service("dirac").connector().set_status(
        [ref], "Failed", "Application Finished With Errors", "fitsinfo exited with 2")
    failed = wait_for(actor, record, {"FAILED"})
    assert failed["state"] == "FAILED"
    assert failed["error"] == ("Failed: Application Finished With Errors; "
                               "fitsinfo exited with 2")


def test_a_refused_description_is_said_and_nothing_recorded(private) -> None:
    actor = Actor(private)
    kind = kinds()["dirac"]
    with pytest.raises(QueryError, match="JDL syntax error"):
        kind.submit(actor, jdl='[Executable = "echo"; CPUTime = "lots";')
    assert actor.store.jobs(actor.user, "dirac") == []


def test_dirac_down_costs_only_its_jobs_and_keeps_them(private, dead_url, hung_server) -> None:
    crab_cart(private, "kept")
    actor = Actor(private)
    record = kinds()["dirac"].submit(actor, cart="kept", executable="fitsinfo")
    for url in (dead_url, hung_server):
        down = load_profile("local", environ={
            **os.environ, "ESAP_DASH__DIRAC__URL": url,
            "ESAP_DASH__DIRAC__TIMEOUT": "2"})
        started = time.monotonic()
        [job] = run_coroutine(follow(Actor(replace(down, database=private.database)), "dirac"))
        assert time.monotonic() - started < 10
        assert job["id"] == record and job["state"] == "UNKNOWN"
        assert "connection refused" in job["error"] or "no answer" in job["error"]
        assert "InputData" in job["detail"]["jdl"]  # the plan is kept


def test_second_user_never_sees_the_first_users_dirac_jobs(users) -> None:
    crab_cart(users, "alice crab", user="alice-4f2c9e")
    alice, bob = Actor(users, "alice-4f2c9e"), Actor(users, "bob-91ad07")
    record = kinds()["dirac"].submit(alice, cart="alice crab", executable="fitsinfo")
    ref = int(alice.store.job("alice-4f2c9e", record)["ref"])
    assert [j["id"] for j in run_coroutine(follow(alice, "dirac"))] == [record]
    assert run_coroutine(follow(bob, "dirac")) == []
    assert ref not in set(bob.connector("dirac").jobs()["job_id"])
    with pytest.raises(JobError, match="no account at DIRAC"):
        kinds()["dirac"].submit(Actor(users, "carol-5b3e11"), cart="x", executable="x")


def test_the_sandbox_connector_reads_only_tar_archives(private) -> None:
    dirac: DiracXConnector = private.service("dirac").connector()
    pfn = dirac.upload_sandbox({"a.txt": b"x" * 10})
    assert dirac.read_sandbox(pfn) == {"a.txt": b"x" * 10}
    with pytest.raises(ServiceUnavailableError):
        DiracXConnector("http://127.0.0.1:1", username="alice", vo="esap",
                        exchange_key="k", timeout=2).jobs()


def test_the_job_list_asks_dirac_once_for_all_of_a_users_jobs(private) -> None:
    crab_cart(private, "several")
    actor = Actor(private)
    kinds()["dirac"].submit(actor, cart="several", executable="fitsinfo", arguments="%s",
                            per_item=True)
    kinds()["dirac"].submit(actor, cart="several", executable="fitsinfo")
    log = Path(os.environ.get("ESAP_DASH_VAR", PROJECT_ROOT / "var")) / "log" / "diracx.log"

    def searches() -> int:
        return log.read_text().count("POST /api/jobs/search")

    before = searches()
    jobs = run_coroutine(follow(actor, "dirac"))
    assert len(jobs) == 3 and all(j["state"] != "UNKNOWN" for j in jobs)
    assert searches() - before == 1  # DiracX's own access log


def test_a_restart_keeps_the_job_history_and_takes_sandboxes_again(private) -> None:
    dirac = private.service("dirac").connector()
    files = {"restart.txt": b"stored before and after a restart"}
    [job] = dirac.submit('[Executable = "echo"; Arguments = "before";]')
    dirac.upload_sandbox(files)
    stack("restart", "diracx")
    assert job["job_id"] in set(dirac.jobs([job["job_id"]])["job_id"])  # SQLite: kept
    # the in-memory store started empty; the same sandbox is stored again, not assumed
    assert dirac.read_sandbox(dirac.upload_sandbox(files)) == files
