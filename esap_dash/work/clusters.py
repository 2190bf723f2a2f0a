"""A user's Dask clusters at one Dask Gateway facility (no UI here).

The Jobs page starts, lists, scales and stops clusters through
:class:`Clusters`: the options the gateway offers, a start that is scaled to
its first workers once the cluster runs, a start the gateway did not confirm
(the cluster it may still have made is adopted once it answers again), live
task counts, and the Slurm jobs behind the clusters where the facility's
engine is Slurm.  Every call is blocking: views run them off the event loop.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from connectors.exceptions import ConnectorError, ServiceUnavailableError
from connectors.slurm import SlurmQueue

from ..core.actor import Actor, NoAccountError
from ..core.errors import EsapError
from .jobs import FINAL

__all__ = ["ClusterError", "Clusters", "UnconfirmedStartError"]


class ClusterError(EsapError, RuntimeError):
    """A cluster cannot be started or changed now (the message says why)."""

    status = 409


class UnconfirmedStartError(ClusterError):
    """The gateway did not answer a start: it may still make the cluster."""

    status = 504


class Clusters:
    """The user's clusters at one gateway.

    Parameters
    ----------
    actor : Actor
        Whose clusters.
    facility : str, optional
        The gateway's id in the profile (the first gateway by default).

    Attributes
    ----------
    gateway : DaskGatewayConnector or None
        The gateway as the user (None without a gateway, or without an account:
        :attr:`no_account` says so).
    batch_jobs : Table, str or None
        The clusters' Slurm jobs at the last :meth:`listing` (why not, as text;
        None off Slurm).
    first_worker_s : float or None
        Seconds from the last start to the cluster's first worker.
    """

    def __init__(self, actor: Actor, facility: str | None = None) -> None:
        self.actor = actor
        gateways = actor.profile.by_role("gateway")
        svc = next((g for g in gateways if g.id == facility), None) if facility else (
            gateways[0] if gateways else None)
        self.placement: dict[str, Any] = dict(svc.placement) if svc is not None else {}
        self.no_account = ""
        self.gateway: Any = None
        try:
            self.gateway = actor.connector("gateway", svc.id) if svc is not None else None
        except NoAccountError as exc:
            self.no_account = str(exc)
        self.batch_jobs: Any = None
        self.first_worker_s: float | None = None
        #: The cluster started last here (None before any).
        self.last_started: str | None = None
        self._asked: dict[str, float] = {}
        #: New cluster -> workers to scale it to once it runs.
        self._to_scale: dict[str, int] = {}
        #: Clusters there were when a start got no answer, and the workers it asked
        #: for (None: no such start).
        self._unconfirmed: tuple[set[str], int] | None = None

    @property
    def description(self) -> str:
        """Where the clusters run, in words."""
        if self.gateway is None:
            return self.no_account or "This deployment has no Dask Gateway."
        engine = self.placement.get("engine", "")
        queue = f", partition {self.placement['queue']}" if self.placement.get("queue") else ""
        return (f"Clusters run on the Dask Gateway {self.gateway.url}"
                + (f" ({engine}{queue})" if engine else "")
                + f", as gateway user {self.gateway.username}.")

    @property
    def unconfirmed(self) -> bool:
        """A start got no answer and the gateway has not said yet whether it made it."""
        return self._unconfirmed is not None

    @property
    def settling(self) -> bool:
        """Clusters started here still wait to be scaled to their first workers."""
        return bool(self._to_scale)

    def _gateway(self) -> Any:
        if self.gateway is None:
            raise ClusterError(self.description)
        return self.gateway

    def options(self) -> list[dict[str, Any]]:
        """The options the gateway offers for a new cluster (its ``field``, ``label``,
        ``type``, ``default``, ``min``, ``max``, ``options``)."""
        return list(self._gateway().cluster_options())

    def start(self, options: Mapping[str, Any], workers: int) -> str:
        """Ask for a cluster with ``options``, scaled to ``workers`` once it runs (by
        :meth:`listing`); its name.

        Raises
        ------
        ClusterError
            A start the gateway did not confirm is not settled yet.
        UnconfirmedStartError
            This start got no answer: the gateway may still make the cluster, which
            the next listing adopts.
        connectors.exceptions.ConnectorError
            The gateway refused, or could not be reached.
        """
        gateway = self._gateway()
        if self._unconfirmed is not None:
            raise ClusterError("The last start got no answer: the list shows whether the "
                               "gateway made that cluster once it answers again. Refresh, "
                               "then start.")
        started = time.perf_counter()
        before = {c["name"] for c in gateway.clusters()}
        try:
            name = gateway.start_cluster(**options)
        except ServiceUnavailableError as exc:
            self._unconfirmed = before, workers
            raise UnconfirmedStartError(
                f"{gateway.name} did not confirm the new cluster ({exc.reason}). It may "
                "still start it: it will show in the list when the gateway answers; "
                "starting again waits until then.") from None
        self._asked[name] = started
        self._to_scale[name] = workers
        self.last_started = name
        return name

    def listing(self) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
        """The user's clusters with their workers, cores and tasks now, and what
        happened meanwhile (a start adopted, a first scaling that failed) as
        ``(sentence, level)``.

        Raises
        ------
        connectors.exceptions.ConnectorError
            The gateway did not answer.
        """
        gateway = self._gateway()
        clusters = gateway.clusters()
        if self.placement.get("engine") == "slurm":
            try:
                self.batch_jobs = SlurmQueue(timeout=gateway.timeout).jobs(
                    user=gateway.username, name="dask-gateway")
            except ConnectorError as exc:
                self.batch_jobs = exc.reason
        rows = []
        for cluster in clusters:
            counts: dict[str, Any] = {}
            if cluster["status"] == "RUNNING":
                try:
                    counts = gateway.task_counts(cluster["name"])
                except ConnectorError:
                    counts = {}
            workers = counts.get("workers", "")
            if workers and cluster["name"] in self._asked:
                self.first_worker_s = time.perf_counter() - self._asked.pop(cluster["name"])
            tasks = (f"{counts.get('processing', 0)} running, {counts.get('waiting', 0)} "
                     f"waiting, {counts.get('memory', 0)} in memory" if counts else "")
            rows.append({**cluster, "workers": workers, "cores": counts.get("cores", ""),
                         "tasks": tasks})
        return rows, [*self._adopt_unconfirmed(rows), *self._scale_new(rows)]

    def _adopt_unconfirmed(self, clusters: list[dict[str, Any]]) -> list[tuple[str, str]]:
        """After a start without answer: take the cluster the gateway made, if any."""
        if self._unconfirmed is None:
            return []
        (before, workers), self._unconfirmed = self._unconfirmed, None
        new = [c["name"] for c in clusters if c["name"] not in before]
        if not new:
            return [(f"{self.gateway.name} answers again: it made no new cluster.", "info")]
        self._to_scale[new[0]] = workers
        self.last_started = new[0]
        return [(f"{self.gateway.name} answers again: cluster {new[0][:8]} was started "
                 "after all.", "info")]

    def _scale_new(self, clusters: list[dict[str, Any]]) -> list[tuple[str, str]]:
        """Scale the clusters started here to their first workers once they run."""
        said = []
        for cluster in clusters:
            count = self._to_scale.get(cluster["name"])
            if count is None or cluster["status"] != "RUNNING":
                continue
            del self._to_scale[cluster["name"]]
            if count:
                try:
                    self.gateway.scale(cluster["name"], count)
                except ConnectorError as exc:
                    said.append((f"Scaling {cluster['name'][:8]}: {exc.reason}", "danger"))
        return said

    def changing(self, clusters: list[dict[str, Any]]) -> bool:
        """Whether ``clusters`` (a listing) may still change by themselves."""
        return (any(c["status"] not in FINAL for c in clusters) or self.settling
                or self.unconfirmed)

    def scale(self, name: str, workers: int) -> str:
        """Scale cluster ``name`` to ``workers``; the gateway's note (if it capped it)."""
        return self._gateway().scale(name, workers)

    def adapt(self, name: str, minimum: int, maximum: int) -> str:
        """Let cluster ``name`` scale itself between ``minimum`` and ``maximum``."""
        return self._gateway().adapt(name, minimum, maximum)

    def stop(self, name: str) -> None:
        """Stop cluster ``name``."""
        self._gateway().stop_cluster(name)

    @property
    def batch_description(self) -> str:
        """The clusters' Slurm jobs (scheduler and workers) as the queue lists them, per
        cluster (a job works in its cluster's staging directory); "" off Slurm."""
        if self.batch_jobs is None:
            return ""
        if isinstance(self.batch_jobs, str):
            return f"Slurm queue: {self.batch_jobs}"
        if not len(self.batch_jobs):
            return "Slurm jobs of your clusters: none in the queue."
        by_cluster: dict[str, list[str]] = {}
        for job in self.batch_jobs:
            cluster = str(job["workdir"]).rstrip("/").rsplit("/", 1)[-1][:8]
            by_cluster.setdefault(cluster, []).append(
                f"{job['job_id']} {job['state']} ({job['elapsed']}, {job['cpus']} CPU, "
                f"{job['reason']})")
        return " ".join(f"Slurm jobs of cluster {cluster}: {', '.join(jobs)}."
                        for cluster, jobs in by_cluster.items())
