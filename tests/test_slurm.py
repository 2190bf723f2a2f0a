"""Dask Gateway on the stack's Slurm cluster: clusters are the user's batch jobs, the
workflows run there unchanged, and faults of the batch system are said."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pytest
from astropy.table import Table

from connectors.exceptions import ConnectorError, ServiceUnavailableError
from connectors.slurm import SlurmQueue
from esap_dash.core.config import Profile
from esap_dash.core.store import store_for
from esap_dash.ui.pages.jobs import JobsPage
from esap_dash.work.workflows import GatewayEngine, Run, Runner, Workflow, load_workflows

from .conftest import run_coroutine, stack
from .test_workflows import astropy_pairs, positions_cart, sleepy, start_running, wait_state

USER = "esapdash"


def dask_jobs(cluster: str | None = None) -> Table:
    """The queue's Dask Gateway jobs of the stack's gateway user (of one cluster: those
    working in its staging directory)."""
    jobs = SlurmQueue().jobs(user=USER, name="dask-gateway")
    if cluster is None:
        return jobs
    return jobs[[str(w).rstrip("/").endswith(cluster) for w in jobs["workdir"]]]


def wait_jobs(count: int, cluster: str, seconds: float = 60) -> Table:
    """Wait until ``cluster`` has ``count`` jobs running (none left at all for 0)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        jobs = dask_jobs(cluster)
        running = [j for j in jobs if j["state"] == "RUNNING"]
        if (count and len(running) == count) or (not count and not len(jobs)):
            return jobs
        time.sleep(0.5)
    raise AssertionError(f"expected {count} running jobs of {cluster[:8]}, the queue has "
                         f"{list(dask_jobs())}")


@pytest.fixture(scope="module")
def slurm(profile: Profile) -> Iterator[tuple[object, str]]:
    """A cluster of two one-core workers on the Slurm-backed gateway, for the module."""
    gateway = profile.service("slurm").connector()
    name = start_running(gateway, 2)
    yield gateway, name
    with contextlib.suppress(ConnectorError):  # gone already if the gateway was restarted
        gateway.stop_cluster(name)
    wait_jobs(0, name)


def test_the_clusters_scheduler_and_workers_are_slurm_jobs_of_the_user(slurm) -> None:
    gateway, name = slurm
    jobs = wait_jobs(3, name)  # the scheduler and two workers
    assert set(jobs["user"]) == {USER} and set(jobs["partition"]) == {"esap"}
    assert gateway.cluster(name)["status"] == "RUNNING"
    client = gateway.dask_client(name)
    try:  # the workers run in the cluster environment, as the user
        where = client.run(lambda: (__import__("getpass").getuser(),
                                    __import__("esap_dash").__file__))
    finally:
        client.close()
    assert {user for user, _ in where.values()} == {USER}
    assert all(path.startswith("/opt/esap-dash/cluster-env/") for _, path in where.values())


def test_the_crossmatch_runs_unchanged_on_slurm_with_astropys_pairs(slurm, profile) -> None:
    gateway, name = slurm
    hipparcos = profile.service("dachs-tap").connector().positions(
        "hipparcos.main", "ra_icrs", "de_icrs", "hip")
    items = positions_cart(profile, hipparcos)
    client = GatewayEngine(gateway, name).client()
    try:
        run = Run(client, profile)
        result = load_workflows()[0]["crossmatch"].func(items, run, radius_arcsec=1.5,
                                                        chunk_size=1000).table
    finally:
        client.close()
    expected, separations = astropy_pairs(items, hipparcos, 1.5)
    assert set(zip(result["item_id"], result["ref_id"], strict=True)) == expected
    assert np.allclose(result["separation_arcsec"],
                       [separations[i] for i in result["item_id"]], atol=1e-6)


def test_a_worker_job_cancelled_mid_run_ends_the_run_completed_or_failed(
        slurm, profile, tmp_path) -> None:
    gateway, name = slurm
    private = replace(profile, database=f"sqlite:///{tmp_path}/slurm.db")
    store = store_for(private.database)
    job = Runner.shared().start(store, "local", Workflow.from_function("sleepy", sleepy),
                                Table({"kind": ["row"]}), {"tasks": 8, "seconds": 1.5},
                                GatewayEngine(gateway, name), private)
    deadline = time.monotonic() + 30
    while Runner.shared().status(
            next(r for r in store.jobs("local") if r["id"] == job))["state"] == "QUEUED":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    worker = max(wait_jobs(3, name)["job_id"], key=int)  # the last submitted: a worker
    subprocess.run(["scancel", worker], check=True, timeout=30)
    status = wait_state(store, "local", job, seconds=90)
    assert status["state"] in {"COMPLETED", "FAILED"}
    if status["state"] == "FAILED":
        assert "workers died" in status["error"]
    else:
        assert status["done"] == status["total"] == 8
    # The gateway replaces the cancelled worker: the cluster keeps two.
    wait_jobs(3, name, seconds=90)


def test_the_jobs_page_shows_the_facility_its_engine_and_the_batch_jobs(
        slurm, profile, tmp_path) -> None:
    page = JobsPage(profile=replace(profile, database=f"sqlite:///{tmp_path}/page.db"))
    clusters = page.cluster_panel
    assert clusters.facility == "gateway" and "(local processes)" in clusters.engine_description
    clusters.facility = "slurm"
    run_coroutine(clusters.show_facility())
    assert "(slurm, partition esap)" in clusters.engine_description
    assert slurm[1] in [c["name"] for c in clusters.clusters]
    mine = clusters.batch_jobs[[str(w).endswith(slurm[1])
                                for w in clusters.batch_jobs["workdir"]]]
    assert len(mine) == 3 and set(mine["state"]) == {"RUNNING"}
    assert f"Slurm jobs of cluster {slurm[1][:8]}: " in clusters.batch_description
    assert clusters.run_on == slurm[1]  # workflows started here run on the Slurm cluster


def test_a_drained_node_leaves_a_new_cluster_pending_and_the_page_says_why(profile) -> None:
    gateway = profile.service("slurm").connector()
    subprocess.run(["scontrol", "update", "nodename=esap-node", "state=drain",
                    "reason=maintenance test"], check=True, timeout=30)
    try:
        name = gateway.start_cluster(worker_cores=1, worker_memory=1.0)
        deadline = time.monotonic() + 30
        pending: list = []
        while not pending and time.monotonic() < deadline:
            pending = [j for j in dask_jobs(name) if j["state"] == "PENDING"]
            time.sleep(0.5)
        assert pending, "the new cluster's scheduler job never showed as pending"
        assert "ReqNodeNotAvail" in pending[0]["reason"] or "Nodes" in pending[0]["reason"]
        assert gateway.cluster(name)["status"] in {"PENDING", "STARTING"}
        gateway.stop_cluster(name)
    finally:
        subprocess.run(["scontrol", "update", "nodename=esap-node", "state=resume"],
                       check=True, timeout=30)


def test_a_stopped_controller_is_said_not_waited_for(profile) -> None:
    stack("stop", "slurm")
    try:
        with pytest.raises(ServiceUnavailableError, match="Slurm controller"):
            SlurmQueue(timeout=20).jobs(user=USER)
    finally:
        stack("start", "slurm")
    assert dask_jobs() is not None
