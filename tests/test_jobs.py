"""The Jobs page against the real local Dask Gateway, DaCHS (UWS) and Rucio."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest

from esap_dash.core.config import Profile
from esap_dash.ui.pages.discovery import DiscoveryPage
from esap_dash.ui.pages.jobs import JobsPage

from .conftest import FaultyProxy, run_coroutine, stack


@pytest.fixture
def private(profile: Profile, tmp_path) -> Profile:
    return replace(profile, database=f"sqlite:///{tmp_path}/jobs.db")


def wait(page: JobsPage, done, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    run_coroutine(page.refresh())
    while not done() and time.monotonic() < deadline:
        time.sleep(1)
        run_coroutine(page.refresh())
    assert done()


def test_a_cluster_from_the_gateways_options_starts_scales_and_stops(private) -> None:
    page = JobsPage(profile=private, refresh_period=0)
    clusters = page.cluster_panel
    run_coroutine(clusters.load_options())
    assert set(clusters.option_inputs) == {"worker_cores", "worker_memory"}
    assert "(1–2)" in clusters.option_inputs["worker_cores"].label
    clusters.option_inputs["worker_cores"].value = 9
    run_coroutine(clusters.start_cluster())
    assert page.notice.kind == "danger"
    assert "worker_cores must be <= 2" in page.notice.text
    clusters.option_inputs["worker_cores"].value = 1
    run_coroutine(clusters.start_cluster())
    name = clusters.compute.last_started  # this test's cluster, whatever else runs
    wait(page, lambda: any(c["name"] == name and c["status"] == "RUNNING"
                           for c in clusters.clusters))
    clusters.selection = [next(i for i, c in enumerate(clusters.clusters)
                               if c["name"] == name)]
    clusters.workers = 1
    run_coroutine(clusters.scale())
    wait(page, lambda: any(c["name"] == name and c["workers"] for c in clusters.clusters))
    assert clusters.first_worker_s is not None
    assert "PRIVATE KEY" not in str(clusters.clusters)
    ours = next(c for c in clusters.clusters if c["name"] == name)
    assert f"/clusters/{name}/status" in ours["dashboard"]
    clusters.selection = [clusters.clusters.index(ours)]
    run_coroutine(clusters.stop_cluster())
    wait(page, lambda: all(c["status"] in {"STOPPING", "STOPPED"}
                           for c in clusters.clusters if c["name"] == name))


def test_async_tap_jobs_and_rucio_rules_in_one_view(private) -> None:
    editor = DiscoveryPage(profile=private).adql
    editor.adql = "SELECT TOP 3 hip FROM hipparcos.main"
    run_coroutine(editor.submit())
    lake = private.service("rucio").connector()
    earlier = [r["id"] for r in lake.did_rules("esap", "optical_plates")
               if r["rse"] == "LOCAL_B"]
    rule = earlier[0] if earlier else lake.add_rule("esap", "optical_plates", "LOCAL_B")
    page = JobsPage(profile=private, refresh_period=0)
    page.store.add_job("local", "rucio-rule", lake.name, rule,
                       {"did": "esap:optical_plates", "rse": "LOCAL_B", "cart": "plates"})
    wait(page, lambda: {j["state"] for j in page.jobs} <= {"COMPLETED", "OK"})
    assert {j["kind"] for j in page.jobs} == {"tap", "rucio-rule"}
    assert any("optical_plates at LOCAL_B" in j["what"] for j in page.jobs)
    assert JobsPage(profile=private).store.jobs("someone-else") == []
    tap = next(j for j in page.jobs if j["kind"] == "tap")
    end = page.store.job("local", tap["id"])["detail"]["end"]  # seen ended: recorded
    assert end["state"] == tap["state"] == "COMPLETED"
    page.job_list.select(next(j["id"] for j in page.jobs if j["kind"] == "tap"))
    run_coroutine(page.job_list.forget())
    assert [j["kind"] for j in page.jobs] == ["rucio-rule"]


def test_a_stopped_gateway_shows_as_down_keeps_the_history_and_recovers(private) -> None:
    page = JobsPage(profile=private, refresh_period=0)
    page.store.add_job("local", "dask", "cluster 1234abcd on Dask Gateway", "run-x",
                       {"state": "COMPLETED", "done": 2, "total": 2, "title": "Cross-match",
                        "cart": "default", "inputs": 2, "engine": "cluster 1234abcd",
                        "ended": "2026-01-01T00:00:00+00:00"})
    stack("stop", "gateway")
    try:
        run_coroutine(page.refresh())
        assert page.cluster_panel.gateway_down
        assert "Dask Gateway is down" in page.notice.text
        assert "job history is kept" in page.notice.text
        assert [j["state"] for j in page.jobs] == ["COMPLETED"]
    finally:
        stack("start", "gateway")
    run_coroutine(page.refresh())
    assert not page.cluster_panel.gateway_down and "answers again" in page.notice.text
    assert [j["state"] for j in page.jobs] == ["COMPLETED"]


def test_a_job_whose_service_does_not_answer_is_unknown_and_still_followed(private,
                                                                           dead_url) -> None:
    page = JobsPage(profile=private, refresh_period=0)
    page.store.add_job("local", "tap", "Local DaCHS ObsCore (TAP)", dead_url + "/tap/async/x",
                       {"adql": "SELECT 1"})
    run_coroutine(page.refresh())
    assert [j["state"] for j in page.jobs] == ["UNKNOWN"]
    assert "cannot connect" in page.jobs[0]["error"]
    assert page.following


def test_a_job_whose_end_is_recorded_is_never_asked_after_again(private, dead_url) -> None:
    page = JobsPage(profile=private, refresh_period=0)
    page.store.add_job("local", "tap", "Local DaCHS ObsCore (TAP)", dead_url + "/tap/async/x",
                       {"adql": "SELECT 1", "end": {"state": "COMPLETED", "error": "",
                                                    "ended": "2026-01-01T00:00:00+00:00"}})
    run_coroutine(page.refresh())  # asking the dead address would make it UNKNOWN
    assert [(j["state"], j["error"], j["ended"]) for j in page.jobs] == [
        ("COMPLETED", "", "2026-01-01 00:00:00")]


def test_a_start_the_gateway_never_answers_is_adopted_not_started_twice(private) -> None:
    real = private.service("gateway")
    with FaultyProxy(real.url, hang_methods=("POST",)) as proxy:
        hung = replace(private, services=tuple(
            replace(s, url=proxy.url, options={**s.options, "timeout": 3})
            if s.id == "gateway" else s for s in private.services))
        page = JobsPage(profile=hung, refresh_period=0)
        run_coroutine(page.cluster_panel.load_options())
        page.cluster_panel.start_workers = 1
        page.cluster_panel.option_inputs["worker_cores"].value = 1
        before = {c["name"] for c in real.connector().clusters()}
        proxy.mode = "hang"  # the gateway lists its clusters, and hangs on the start
        page.cluster_panel.gateway.session.close()  # no connection kept from before the hang
        run_coroutine(page.cluster_panel.start_cluster())
        assert "did not confirm the new cluster (no answer within 3 s)" in page.notice.text
        run_coroutine(page.cluster_panel.start_cluster())
        assert "The last start got no answer" in page.notice.text
        proxy.mode = "pass"
        page.cluster_panel.gateway.session.close()
        run_coroutine(page.refresh())
        new = {c["name"] for c in real.connector().clusters()} - before
        assert len(new) == 1
        name = new.pop()
        assert f"cluster {name[:8]} was started after all" in page.notice.text
        try:
            wait(page, lambda: any(c["name"] == name and c["workers"]
                                   for c in page.cluster_panel.clusters))
        finally:
            real.connector().stop_cluster(name)


def test_a_job_picked_while_the_list_is_read_again_stays_picked(private) -> None:
    page = JobsPage(profile=private, refresh_period=0)
    done = {"state": "COMPLETED", "done": 1, "total": 1, "title": "Cross-match",
            "cart": "default", "inputs": 1, "engine": "local processes",
            "ended": "2026-01-01T00:00:00+00:00"}
    ids = [page.store.add_job("local", "dask", "local processes", f"run-{n}", done)
           for n in range(2)]
    run_coroutine(page.refresh())
    ids.append(page.store.add_job("local", "dask", "local processes", "run-new", done))

    async def pick_while_reading() -> None:  # the new job comes first in the list read
        reading = asyncio.ensure_future(page.job_list.refresh())
        await asyncio.sleep(0)  # the list waits for the jobs' records
        page.job_list.select(ids[0])
        await reading

    run_coroutine(pick_while_reading())
    assert page.job_list.selected["id"] == ids[0]
