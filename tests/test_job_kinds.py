"""One job protocol: a kind installed as an entry point shows in every job list, and
every action on a job goes through its kind."""

from __future__ import annotations

import textwrap
from dataclasses import replace

import pytest

from esap_dash.core.actor import Actor
from esap_dash.core.config import Profile
from esap_dash.ui.components.job_list import JobList
from esap_dash.ui.pages.jobs import JobsPage
from esap_dash.work.jobs import kinds

from .conftest import run_coroutine

KIND = '''
from astropy.table import Table

from esap_dash.work.jobs import JobError, JobKind, JobResult


class CountdownJobs(JobKind):
    """A job that counts down locally: RUNNING until aborted, then ABORTED."""

    name = "countdown"
    label = "countdown"

    def submit(self, actor, *, start):
        if start < 0:
            raise JobError("A countdown starts at 0 or more.")
        return actor.store.add_job(actor.user, self.name, "here", f"from-{start}",
                                   {"start": start, "state": "RUNNING"})

    def request(self, record):
        return {"start": record["detail"]["start"]}

    def describe(self, record):
        return f"counting down from {record['detail']['start']}"

    def state(self, actor, record):
        return {"state": record["detail"]["state"], "done": 1, "total": 4}

    def abort(self, actor, record):
        actor.store.update_job(actor.user, record["id"],
                               {**record["detail"], "state": "ABORTED"})

    def result(self, actor, record):
        start = record["detail"]["start"]
        return JobResult(Table({"n": list(range(start, -1, -1))}), note="lift-off")
'''


@pytest.fixture
def countdown(tmp_path, monkeypatch) -> None:
    """A package with one job kind, installed the way any plug-in is (its metadata)."""
    (tmp_path / "countdown_kind.py").write_text(KIND)
    meta = tmp_path / "countdown_kind-1.0.dist-info"
    meta.mkdir()
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: countdown-kind\n"
                                   "Version: 1.0\n")
    (meta / "entry_points.txt").write_text(textwrap.dedent("""\
        [esap_dash.job_kinds]
        countdown = countdown_kind:CountdownJobs
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    kinds.cache_clear()
    yield
    kinds.cache_clear()


def test_the_kinds_esap_dash_ships_are_entry_points() -> None:
    assert {"tap", "rucio-rule", "dask"} <= set(kinds())


def test_a_new_kind_is_one_module_and_shows_in_the_jobs_page(countdown, profile: Profile,
                                                              tmp_path) -> None:
    private = replace(profile, database=f"sqlite:///{tmp_path}/kinds.db")
    actor = Actor(private, "local")
    job = kinds()["countdown"].submit(actor, start=3)
    page = JobsPage(profile=private, refresh_period=0)
    run_coroutine(page.job_list.refresh())
    shown = next(j for j in page.jobs if j["id"] == job)
    assert (shown["kind"], shown["state"], shown["what"], shown["progress"]) == (
        "countdown", "RUNNING", "counting down from 3", "1/4 (25 %)")
    assert page.following  # something still runs
    page.job_list.select(job)
    run_coroutine(page.job_list.abort())
    assert next(j for j in page.jobs if j["id"] == job)["state"] == "ABORTED"
    run_coroutine(page.job_list.open_result())
    assert list(page.job_list.result.table["n"]) == [3, 2, 1, 0]
    run_coroutine(page.job_list.retry())
    assert "asked for again" in page.notice.text
    assert [j["what"] for j in page.jobs] == ["counting down from 3"] * 2
    # Another user's list does not show them; the same kind's list alone does.
    other = JobList(Actor(private, "someone-else"), refresh_period=0)
    run_coroutine(other.refresh())
    assert other.jobs == []
    only = JobList(actor, kind="tap", refresh_period=0)
    run_coroutine(only.refresh())
    assert only.jobs == []


def test_what_a_kind_cannot_do_is_said_and_an_unknown_kind_stays_listed(
        profile: Profile, tmp_path) -> None:
    private = replace(profile, database=f"sqlite:///{tmp_path}/unknown.db")
    actor = Actor(private, "local")
    actor.store.add_job("local", "rucio-rule", "Rucio", "no-such-rule",
                        {"did": "esap:x", "rse": "LOCAL_B", "cart": "c"})
    actor.store.add_job("local", "uninstalled", "somewhere", "ref-1", {})
    jobs = JobList(actor, refresh_period=0)
    run_coroutine(jobs.refresh())
    unknown = next(j for j in jobs.jobs if j["kind"] == "uninstalled")
    assert unknown["state"] == "UNKNOWN" and "not known" in unknown["error"]
    rule = next(j for j in jobs.jobs if j["kind"] == "rucio-rule")
    jobs.select(rule["id"])
    run_coroutine(jobs.abort())
    assert "cannot be aborted" in jobs.notice.text
    run_coroutine(jobs.open_result())
    assert "has no result" in jobs.notice.text
    jobs.select(unknown["id"])
    run_coroutine(jobs.forget())  # nowhere to delete it: its record goes
    assert [j["kind"] for j in jobs.jobs] == ["rucio-rule"]
