"""Where can this run?  The places work runs, ranked for a cart's items.

Each place (a Dask Gateway of the profile, whatever engine runs its clusters, its
DIRAC, which runs batch jobs rather than workflows, or a JupyterHub that shows its
users' servers, where the cart opens as a notebook) declares the Rucio RSEs it
reads without moving data and its limits (see
:data:`esap_dash.core.config.PLACEMENT_KEYS`).  For the items of a cart this ranks
the places the user may use by

1. whether the user has an account there,
2. the bytes that would have to move first: data-lake files without a replica
   at one of its RSEs (a Rucio rule makes them available), plus archive items,
   which are downloaded from their archives wherever the work runs,
3. its free cores for the user (its limit less the cores of the user's
   clusters running there),

and says why, per place.  The model asks the services; pages only show it.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from astropy.table import Table

from connectors.exceptions import ConnectorError
from connectors.rucio import size_text

from ..core.actor import Actor, NoAccountError
from ..core.config import Facility
from .jobs import JobError, kinds
from .servers import hub_user, server_facilities, servers_at
from .workflows import GatewayEngine

__all__ = ["DataAt", "Place", "data_locations", "make_available_at", "make_available_here",
           "rank_places", "run_here"]


@dataclass(frozen=True)
class DataAt:
    """Where a cart's data are: per data-lake file its replicas, and the rest.

    Attributes
    ----------
    files : dict
        ``scope:name`` of each data-lake file -> (bytes, set of RSEs holding an
        available replica).
    downloads : int
        Archive items (no data-lake replica): fetched from their archives.
    download_bytes : int
        Their sizes, where the archives said them.
    problems : list of str
        Data-lake items whose replicas could not be listed, and why.
    """

    files: dict[str, tuple[int, frozenset[str]]] = field(default_factory=dict)
    downloads: int = 0
    download_bytes: int = 0
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Place:
    """One place work can run, for one cart.

    Attributes
    ----------
    id, name : str
        The gateway's id in the profile, and its name.
    engine : str
        What runs the work there (``local processes``, ``slurm`` ...).
    rses : tuple of str
        The RSEs it reads without moving data.
    account : bool
        Whether the user may run work there.
    local_files, moved_files : int
        Data-lake files already at one of its RSEs, and those to move there.
    local_bytes, moved_bytes : int
        Their sizes.
    free_cores : int or None
        Its limit less the user's running clusters' cores (None: not known).
    up : bool
        Whether its gateway answered.
    reasons : tuple of str
        Why it ranks where it does, in words.
    runs : str
        What it runs: ``workflows`` (a Dask Gateway), ``batch jobs`` (DIRAC) or
        ``notebooks`` (a JupyterHub: the cart opens there, in the user's server).
    """

    id: str
    name: str
    engine: str
    rses: tuple[str, ...]
    account: bool
    local_files: int
    moved_files: int
    local_bytes: int
    moved_bytes: int
    free_cores: int | None
    up: bool
    reasons: tuple[str, ...]
    runs: str = "workflows"

    @property
    def rank_key(self) -> tuple[Any, ...]:
        """Sorts the best place first."""
        return (not self.account, not self.up, self.moved_bytes, self.moved_files,
                -(self.free_cores or 0))


def data_locations(items: Table, lake: Any) -> DataAt:
    """Where the data of a cart's ``items`` are.

    Parameters
    ----------
    items : astropy.table.Table
        Cart items (``kind``, ``item_id``, ``size``); data-lake items have kind ``did``.
    lake : RucioConnector or None
        The data lake, acting as the user (None: data-lake items count as downloads).
    """
    files: dict[str, tuple[int, frozenset[str]]] = {}
    downloads = download_bytes = 0
    problems = []
    for item in items:
        if str(item["kind"]) != "did" or lake is None:
            downloads += 1
            size = item["size"] if "size" in items.colnames else None
            known = size is not None and not np.ma.is_masked(size) and int(size) > 0
            download_bytes += int(size) if known else 0
            continue
        scope, _, name = str(item["item_id"]).partition(":")
        try:
            replicas = lake.list_replicas(scope, name)
        except ConnectorError as exc:
            problems.append(f"{item['item_id']}: {exc.reason}")
            continue
        for rep in replicas:
            did = f"{rep['scope']}:{rep['name']}"
            size, at = files.get(did, (int(rep["bytes"]), frozenset()))
            if str(rep["state"]) in ("AVAILABLE", ""):
                at = at | {str(rep["rse"])}
            files[did] = (max(size, int(rep["bytes"])), at)
    return DataAt(files, downloads, download_bytes, tuple(problems))


def _used_cores(gateway: Any) -> int:
    """Cores of the user's running clusters on ``gateway``."""
    used = 0
    for cluster in gateway.clusters():
        if cluster["status"] != "RUNNING":
            continue
        counts = gateway.task_counts(cluster["name"])
        used += int(counts.get("cores") or 0)
    return used


def rank_places(actor: Actor, items: Table) -> tuple[list[Place], DataAt]:
    """The places the user's work on ``items`` could run, best first, with the reasons.

    Blocking (asks the data lake and each gateway): call it off the event loop.
    """
    try:
        lake = actor.connector("rucio")
    except NoAccountError:
        lake = None
    data = data_locations(items, lake)
    services = [*actor.profile.by_role("gateway"), *actor.profile.by_role("dirac"),
                *server_facilities(actor)]
    # Each place asked at once: a service that is slow or hung costs its own row
    # (its timeout), not the sum of every service's.
    with ThreadPoolExecutor(max(len(services), 1), thread_name_prefix="place") as pool:
        places = list(pool.map(functools.partial(_place, actor, data), services))
    places.sort(key=lambda p: p.rank_key)
    return places, data


def _hub_place(actor: Actor, data: DataAt, facility: Facility) -> Place:
    """A JupyterHub as a place: the user's server there, where the cart opens."""
    answer = servers_at(actor, facility)
    reasons = []
    if answer.problem:
        reasons.append(answer.problem)
    for server in answer.servers:
        reasons.append(f"your JupyterLab{' ' + server.name if server.name else ''} is "
                       f"{server.state} there"
                       + (f" since {server.started[:16].replace('T', ' ')} UTC"
                          if server.started else "") + f", on {server.engine}"
                       + (f"; {server.note}" if server.note else ""))
    if not answer.problem and not answer.servers:
        reasons.append("no server of yours runs there: opening the cart starts one")
    if answer.failure:
        reasons.append(f"your last start there failed: {answer.failure}")
    reasons.append("interactive: the cart opens as a notebook in your own JupyterLab"
                   + (f"; {len(data.files)} data-lake file(s) fetched by the notebook through "
                      "esap-dash, as you"
                      if data.files else "")
                   + (f"; {data.downloads} archive item(s) asked again by the notebook"
                      if data.downloads else ""))
    sizes = sum(max(size, 0) for size, _ in data.files.values())
    has_account = bool(hub_user(actor, facility))
    return Place(facility.id, facility.name, facility.engine, (), has_account, 0,
                 len(data.files), 0, sizes, None,
                 not answer.problem or not has_account, tuple(reasons), "notebooks")


def _place(actor: Actor, data: DataAt, svc: Any) -> Place:
    """``svc`` as a place for the items whose locations are ``data`` (blocking)."""
    if isinstance(svc, Facility):
        return _hub_place(actor, data, svc)
    placement = svc.placement
    rses = tuple(placement.get("rses", ()))
    local = [(did, size) for did, (size, at) in data.files.items() if at & set(rses)]
    moved = [(did, size) for did, (size, at) in data.files.items() if not at & set(rses)]
    local_bytes = sum(max(s, 0) for _, s in local)
    moved_bytes = sum(max(s, 0) for _, s in moved)
    reasons = []
    if data.files:
        reasons.append(
            f"{len(local)} of {len(data.files)} data-lake files already at "
            f"{', '.join(rses) or 'none of its storage'} ({size_text(local_bytes)})"
            + (f"; {len(moved)} to move there ({size_text(moved_bytes)}, a Rucio rule)"
               if moved else ""))
    if data.downloads:
        reasons.append(f"{data.downloads} archive item(s) downloaded from their archives"
                       + (f" ({size_text(data.download_bytes)} known)"
                          if data.download_bytes else ""))
    if svc.role == "dirac":
        return _dirac_place(actor, svc, rses, (local, moved), reasons)
    up, free = True, None
    gateway, account = _as_user(actor, svc, reasons)
    if gateway is not None:
        cores = placement.get("cores")
        try:
            used = _used_cores(gateway)
        except ConnectorError as exc:
            up = False
            reasons.insert(0, f"does not answer: {exc.reason}")
        else:
            if cores:
                free = max(int(cores) - used, 0)
                reasons.append(f"{free} of {cores} cores free for you"
                               + (f" (your clusters use {used})" if used else ""))
    if placement.get("queue"):
        reasons.append(f"batch partition {placement['queue']}")
    return Place(svc.id, svc.name, str(placement.get("engine", "")), rses, account,
                 len(local), len(moved), local_bytes, moved_bytes, free, up,
                 tuple(reasons))


def _as_user(actor: Actor, svc: Any, reasons: list[str]) -> tuple[Any, bool]:
    """The place's service acting as the user, and whether they have an account there
    (when not, the first reason says so)."""
    try:
        return actor.connector(svc.role, svc.id), True
    except NoAccountError:
        reasons.insert(0, "you have no account here")
        return None, False


def _dirac_place(actor: Actor, svc: Any, rses: tuple[str, ...],
                 files: tuple[list[tuple[str, int]], list[tuple[str, int]]],
                 reasons: list[str]) -> Place:
    """A DIRAC service as a place: it runs batch jobs, not Dask workflows."""
    local, moved = files
    up = True
    dirac, account = _as_user(actor, svc, reasons)
    if dirac is not None:
        health = dirac.health()
        if not health.up:
            up = False
            reasons.insert(0, f"does not answer: {health.detail}")
        reasons.append("runs batch jobs built from the cart (Jobs > Batch job on DIRAC), "
                       "not Dask workflows")
        if getattr(dirac, "dummy_executor", False):
            reasons.append("its dummy executor runs nothing: jobs go to Done unexecuted")
    return Place(svc.id, svc.name, str(svc.placement.get("engine", "dirac")), rses, account,
                 len(local), len(moved), sum(max(s, 0) for _, s in local),
                 sum(max(s, 0) for _, s in moved), None, up, tuple(reasons), "batch jobs")


def make_available_here(actor: Actor, place: Place, items: Table, *,
                        cart: str = "") -> tuple[list[int], list[str]]:
    """Ask Rucio for the data-lake items of ``items`` at ``place``'s first RSE (one
    replication rule each, followed in the jobs list as Rucio rule jobs).

    Returns
    -------
    tuple
        The rule jobs' ids, and the items refused with why.
    """
    if not place.rses:
        raise JobError(f"{place.name} declares no storage element it reads from.")
    dids = [str(item["item_id"]) for item in items if str(item["kind"]) == "did"]
    made, refused = make_available_at(actor, dids, place.rses[0], cart=cart)
    return [job for _, job in made], refused


def make_available_at(actor: Actor, dids: Iterable[str], rse: str, *, cart: str = "",
                      lifetime_days: int = 0) -> tuple[list[tuple[str, int]], list[str]]:
    """Ask Rucio for each data identifier (``scope:name``) at ``rse`` (or a storage
    class, ``QOS=FAST``), for ``lifetime_days`` (0: until removed): one replication
    rule each, followed in the jobs list as Rucio rule jobs (blocking).

    Returns
    -------
    tuple
        The identifiers asked for with their rule jobs' ids, and those refused with
        why.
    """
    rules = kinds()["rucio-rule"]
    made, refused = [], []
    for did in dids:
        try:
            made.append((did, rules.submit(actor, did=did, rse=rse, cart=cart,
                                           lifetime_days=lifetime_days)))
        except (ConnectorError, JobError) as exc:
            refused.append(f"{did}: {getattr(exc, 'reason', str(exc))}")
    return made, refused


def run_here(actor: Actor, place_id: str, *, workflow: str, cart: str,
             values: dict[str, Any] | None = None, workers: int = 2,
             wait: float = 120.0) -> int:
    """Run ``workflow`` on cart ``cart`` at the place ``place_id``; the job's id.

    It runs on the user's first running cluster there; without one, a cluster
    with the gateway's default options is started (and scaled to ``workers``)
    first.  Blocking: call it off the event loop.

    Raises
    ------
    JobError
        No account there, the gateway refuses or does not answer, or the new
        cluster is not running after ``wait`` seconds.
    """
    if any(f.id == place_id for f in server_facilities(actor)):
        raise JobError("A JupyterHub runs notebooks: the cart opens there as one (Open in "
                       "Binder / JupyterHub).")
    dirac = next((s for s in actor.profile.by_role("dirac") if s.id == place_id), None)
    if dirac is not None:
        raise JobError(f"{dirac.name} runs batch jobs, not Dask workflows: build one from "
                       "the cart in Jobs > Batch job on DIRAC.")
    try:
        gateway = actor.connector("gateway", place_id)
    except (NoAccountError, KeyError) as exc:
        raise JobError(str(exc).strip("'\"")) from None
    if gateway is None:
        raise JobError("This deployment has no Dask Gateway.")
    try:
        running = [c["name"] for c in gateway.clusters() if c["status"] == "RUNNING"]
        if running:
            name = running[0]
        else:
            name = gateway.start_cluster()
            deadline = time.monotonic() + wait
            while (status := gateway.cluster(name)["status"]) != "RUNNING":
                if status in ("FAILED", "STOPPED") or time.monotonic() > deadline:
                    raise JobError(f"The new cluster {name[:8]} on {gateway.name} is {status}"
                                   f" after {wait:g} s; see its Slurm jobs or the gateway.")
                time.sleep(0.5)
            gateway.scale(name, workers)
    except ConnectorError as exc:
        raise JobError(f"{gateway.name}: {exc.reason}") from None
    engine = GatewayEngine(gateway, name)
    here = replace(actor, engine=lambda: engine)
    return kinds()["dask"].submit(here, workflow=workflow, cart=cart, values=values)
