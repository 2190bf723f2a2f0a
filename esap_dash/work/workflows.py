"""Workflows: plain Python functions with typed parameters, run next to the data on Dask.

A workflow is a function ``func(items, run, **parameters)``: ``items`` is an
astropy Table of cart items (``archive``, ``id``, ``title``, ``ra``, ``dec``,
``kind``, ``access_url``, ``record`` ...), ``run`` a :class:`Run` through which
it sends tasks to the Dask cluster (and which counts them for the progress
bar), and the keyword parameters are typed.  It returns a Table, or an
:class:`Outcome` with a table and a preview image.

Workflows are found through the ``esap_dash.workflows`` entry-point group, so
an installed package adds its own like this::

    [project.entry-points."esap_dash.workflows"]
    my-photometry = "mypackage.flows:photometry"

Parameters come from the function's signature (``int``, ``float``, ``str``,
``bool`` with defaults) or, with bounds and documentation, from the
:func:`workflow` decorator.  No Panel here: the Jobs page draws the form.
"""

from __future__ import annotations

import functools
import inspect
import io
import logging
import os
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.metadata import entry_points
from typing import Any

import numpy as np
import param
from astropy.table import Table

from ..core.errors import EsapError
from ..core.runtime import current_runtime
from ..core.store import Store

__all__ = ["ENTRY_POINT_GROUP", "Engine", "LocalEngine", "Outcome", "Run", "RunAbortedError",
           "Runner", "Workflow", "WorkflowError", "failure_summary", "load_workflows",
           "reference_service", "workflow"]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "esap_dash.workflows"
_TYPES = {int: param.Integer, float: param.Number, str: param.String, bool: param.Boolean}


#: Key of a result table's metadata listing the cart items the run worked on.
INPUTS = "esap_dash_inputs"


class WorkflowError(EsapError, ValueError):
    """A workflow cannot be defined, loaded or started as asked (the message says why)."""

    status = 422


class RunAbortedError(EsapError, RuntimeError):
    """The user aborted the run."""

    status = 409


@dataclass
class Outcome:
    """What a workflow returns: a table and, optionally, a preview image.

    Attributes
    ----------
    table : astropy.table.Table
        The result rows.
    image : tuple of (numpy.ndarray, astropy.io.fits.Header), optional
        A 2-D image with its WCS header, e.g. the first cutout.
    note : str
        One line for the user.
    """

    table: Table
    image: tuple[np.ndarray, Any] | None = None
    note: str = ""


@dataclass(frozen=True)
class Workflow:
    """One workflow of the registry.

    Attributes
    ----------
    name : str
        Its entry-point name.
    func : callable
        ``func(items, run, **parameters)``.
    title, description : str
        For the form.
    inputs : str
        Which cart items it works on: ``positions`` (rows with RA/Dec),
        ``images`` (FITS images from SIA v2 or the data lake) or ``items``.
    parameters : type
        A ``param.Parameterized`` class: the typed parameters.
    """

    name: str
    func: Callable[..., Any]
    title: str
    description: str
    inputs: str
    parameters: type[param.Parameterized]

    @classmethod
    def from_function(cls, name: str, func: Callable[..., Any]) -> Workflow:
        """The workflow of a plain function (decorated with :func:`workflow` or not).

        Raises
        ------
        WorkflowError
            A parameter has no default or a type a form cannot show.
        """
        meta = getattr(func, "__esap_workflow__", {})
        doc = inspect.getdoc(func) or ""
        declared: dict[str, param.Parameter] = dict(meta.get("parameters", {}))
        signature = inspect.signature(func)
        names = list(signature.parameters)
        if len(names) < 2:
            raise WorkflowError(f"workflow {name!r}: the function must take (items, run, ...)")
        hints = _hints(func)
        for pname in names[2:]:
            if pname in declared:
                continue
            default = signature.parameters[pname].default
            kind = _TYPES.get(hints.get(pname, type(default)))
            if default is inspect.Parameter.empty or kind is None:
                raise WorkflowError(f"workflow {name!r}: parameter {pname!r} needs a default "
                                    "and a type of int, float, str or bool")
            declared[pname] = kind(default=default)
        parameters = type(f"{name.title().replace('-', '').replace('_', '')}Parameters",
                          (param.Parameterized,), {k: declared[k] for k in names[2:]})
        return cls(name, func, meta.get("title") or doc.split("\n")[0].rstrip(".") or name,
                   doc, meta.get("inputs", "items"), parameters)

    def check(self, values: dict[str, Any]) -> dict[str, Any]:
        """The parameter values, validated by their declarations.

        Raises
        ------
        WorkflowError
            A value is unknown, of the wrong type or out of bounds.
        """
        unknown = set(values) - set(self.defaults())
        if unknown:
            raise WorkflowError(f"{self.title}: unknown parameters {sorted(unknown)}")
        try:
            instance = self.parameters(**values)
        except (ValueError, TypeError) as exc:
            reason = str(exc).replace(f"{self.parameters.__name__}.", "")
            raise WorkflowError(f"{self.title.rstrip('.')}: {reason}") from exc
        return {k: getattr(instance, k) for k in self.defaults()}

    def defaults(self) -> dict[str, Any]:
        """Each parameter's default."""
        return {k: p.default for k, p in self.parameters.param.objects("existing").items()
                if k != "name"}


def _hints(func: Callable[..., Any]) -> dict[str, Any]:
    try:
        return inspect.get_annotations(func, eval_str=True)
    except Exception:  # unresolvable annotations: fall back to the defaults
        return {}


def workflow(*, title: str | None = None, inputs: str = "items",
             **parameters: param.Parameter) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a function a workflow, with its title, inputs and typed parameters.

    Parameters
    ----------
    title : str, optional
        Shown in the list (default: the docstring's first line).
    inputs : str
        ``positions``, ``images`` or ``items`` (see :class:`Workflow`).
    **parameters : param.Parameter
        Declarations with bounds and documentation; the others come from the
        signature.
    """
    if inputs not in {"positions", "images", "items"}:
        raise WorkflowError(f"inputs must be positions, images or items, not {inputs!r}")

    def mark(func: Callable[..., Any]) -> Callable[..., Any]:
        func.__esap_workflow__ = {"title": title, "inputs": inputs,  # type: ignore[attr-defined]
                                  "parameters": parameters}
        return func
    return mark


def load_workflows() -> tuple[dict[str, Workflow], dict[str, str]]:
    """Every installed workflow, and why the broken ones could not be loaded.

    Returns
    -------
    workflows : dict
        Entry-point name to :class:`Workflow`, sorted by title.
    problems : dict
        Entry-point name to a one-line reason (import error, bad signature).
    """
    return _workflows_on(tuple(sys.path))


@functools.cache
def _workflows_on(path: tuple[str, ...]) -> tuple[dict[str, Workflow], dict[str, str]]:
    """The installed workflows for one ``sys.path`` (read once: sessions share them)."""
    found, problems = {}, {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            found[ep.name] = Workflow.from_function(ep.name, ep.load())
        except Exception as exc:  # one broken plugin must not hide the others
            problems[ep.name] = f"{type(exc).__name__}: {exc}"
            log.warning("workflow %s not loaded: %s", ep.name, problems[ep.name])
    return dict(sorted(found.items(), key=lambda kv: kv[1].title)), problems


def reference_service(profile: Any) -> Any:
    """The deployment's TAP service that workflows read reference catalogues from: its
    name resolver's, else its first archive (a ``ServiceConfig``)."""
    if profile.resolver.get("tap"):
        return profile.service(profile.resolver["tap"])
    return profile.by_role("archive")[0]


# --------------------------------------------------------------------- running
class Run:
    """What a running workflow uses to send work to the cluster, and its progress.

    Parameters
    ----------
    client : distributed.Client
        Connected to the engine's scheduler.
    profile : esap_dash.core.config.Profile
        The deployment (services a workflow may read, e.g. a reference catalogue).
    resolve : callable, optional
        Name or coordinates to a position (the deployment's resolver).
    lake : connectors.rucio.RucioConnector, optional
        The data lake, as the user who runs the workflow.
    tap : connectors.tap.TAPConnector, optional
        The TAP service reference catalogues are read from (default: the
        profile's, see :func:`reference_service`); a run outside the dashboard
        (a notebook) has no profile, only this.
    """

    def __init__(self, client: Any, profile: Any, resolve: Callable[[str], Any] | None = None,
                 lake: Any = None, *, tap: Any = None) -> None:
        self.client = client
        self.profile = profile
        self.resolve = resolve
        self.lake = lake
        self.tap = tap
        self.total = 0
        self.done = 0
        self.cancelled = threading.Event()
        self._futures: list[Any] = []

    def reference_tap(self) -> Any:
        """The TAP service (a ``TAPConnector``) reference catalogues are read from."""
        if self.tap is None:
            self.tap = reference_service(self.profile).connector()
        return self.tap

    def map(self, func: Callable[..., Any], *iterables: Iterable[Any],
            **kwargs: Any) -> list[Any]:
        """Run ``func`` on the cluster once per element, counting each for the progress.

        Returns the results in order; the first task that fails raises its
        exception here (with the worker's traceback).
        """
        from distributed import as_completed

        futures = self.client.map(func, *iterables, pure=False, **kwargs)
        self._futures.extend(futures)
        self.total += len(futures)
        with self.client.as_current():
            finished = as_completed(futures)
            while not finished.is_empty():
                # A stop is seen within a tenth of a second even when no task ends (a hung
                # gateway): whoever stopped the run cancelled its tasks or closed its client.
                if self.cancelled.wait(0 if finished.has_ready() else 0.1):
                    raise RunAbortedError("aborted by the user")
                for future in finished.next_batch(block=False):
                    if future.status != "finished":
                        future.result()  # raises the task's error, with its traceback
                    self.done += 1
        # The results come back once, together (each result() would fetch its own).
        return self.client.gather(futures)

    def submit(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Start one task and return its future (counted in the progress when it ends).

        Pass the future to :meth:`map` to share one result (a reference
        catalogue) between many tasks without bringing it back here.
        """
        future = self.client.submit(func, *args, pure=False, **kwargs)
        self._futures.append(future)
        self.total += 1
        future.add_done_callback(self._count)
        return future

    def _count(self, _future: Any) -> None:
        self.done += 1

    def cancel(self) -> None:
        """Stop the run: its tasks are cancelled on the cluster."""
        self.cancelled.set()
        if self._futures:
            self.client.cancel(self._futures)


class Engine:
    """Where workflows run: something that hands out Dask clients."""

    #: Said on the page ("Workflows run on ...").
    description: str = ""

    def client(self) -> Any:
        """A new ``distributed.Client`` (closed by the caller)."""
        raise NotImplementedError


class LocalEngine(Engine):
    """A ``distributed.LocalCluster`` inside the dashboard server, shared by its sessions
    (a part of the process's runtime, closed with it).

    Used when the deployment has no Dask Gateway.
    """

    description = "a local Dask cluster inside the dashboard server (2 worker processes)"

    def client(self) -> Any:
        """A client of the process's local cluster (started on first use)."""
        from distributed import Client

        return Client(current_runtime().part("local-dask", LocalDask).cluster(),
                      set_as_default=False)

    @staticmethod
    def restart() -> None:
        """Stop the process's local cluster: the next run starts a new one, whose
        workers see the Python packages installed meanwhile."""
        current_runtime().part("local-dask", LocalDask).close()


class LocalDask:
    """The local cluster of a runtime, started on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cluster: Any = None

    def cluster(self) -> Any:
        """The running cluster (started now if there is none)."""
        from distributed import LocalCluster

        with self._lock:
            if self._cluster is None:
                # no dashboard; its scheduler's HTTP server on a free port (not 8787,
                # which another cluster of the machine may hold)
                self._cluster = LocalCluster(n_workers=2, threads_per_worker=1,
                                             processes=True, dashboard_address=None,
                                             scheduler_kwargs={"dashboard_address": ":0"})
            return self._cluster

    def close(self) -> None:
        """Stop the cluster and its worker processes (if it runs)."""
        with self._lock:
            cluster, self._cluster = self._cluster, None
        if cluster is not None:
            cluster.close()


class GatewayEngine(Engine):
    """A running cluster of the user's on the Dask Gateway.

    Parameters
    ----------
    gateway : connectors.gateway.GatewayConnector
        The gateway, as the user.
    cluster : str
        The cluster's name.
    """

    def __init__(self, gateway: Any, cluster: str) -> None:
        self.gateway = gateway
        self.cluster = cluster
        self.description = f"cluster {cluster[:8]} on {gateway.name}"

    def client(self) -> Any:
        """A client of the cluster, through the gateway's proxy (TLS)."""
        return self.gateway.dask_client(self.cluster)


def failure_summary(exc: BaseException, frames: int = 4) -> str:
    """One readable paragraph for a failed run: the last frames and the exception."""
    from distributed.client import FutureCancelledError

    if isinstance(exc, FutureCancelledError):
        return ("the cluster's scheduler went away before the tasks finished "
                f"({getattr(exc, 'reason', None) or 'connection lost'}); the cluster may "
                "have stopped")
    if type(exc).__name__ == "KilledWorker":
        return f"workers died while running a task ({exc}); the run was stopped"
    stack = traceback.extract_tb(exc.__traceback__)[-frames:]
    where = "; ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} in {f.name}" for f in stack)
    message = str(exc) or "(no message)"
    return f"{type(exc).__name__}: {message}" + (f" — at {where}" if where else "")


@dataclass
class LiveRun:
    """A run of this server process, while it lasts."""

    job_id: int
    run: Run | None = None
    state: str = "QUEUED"
    #: Why the run was stopped from outside its thread (stalled, server stopping).
    stopped: str = ""


#: This server process, as written into the records of the runs it executes.
PROCESS = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
#: Seconds between two signs of life of a running run (a record and a scheduler ping).
BEAT_SECONDS = 10.0
#: Seconds between two looks at the database for an abort request; progress is
#: recorded at most this often, as it moves.
TICK_SECONDS = 1.0
#: Seconds a stopping server waits for its workflow runs to record their end.
STOP_GRACE = 15.0
#: A run whose scheduler has not answered for this long is stopped as stalled.
STALL_SECONDS = 30.0


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Sweeper:
    """While the server runs, records FAILED the workflow runs that server processes
    which stopped left QUEUED or RUNNING (see :meth:`Runner.sweep`): at once, then
    every ``period`` seconds, in a thread of its own.

    Parameters
    ----------
    runner : Runner
        This process's runner (its own runs are never swept).
    store : Store
        The deployment's database.
    period : float
        Seconds between sweeps.
    """

    def __init__(self, runner: Runner, store: Store, period: float = 3 * BEAT_SECONDS) -> None:
        self.runner, self.store, self.period = runner, store, period
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="esap-dash-sweeper",
                                        daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            try:
                self.runner.sweep(self.store)
            except Exception:  # the database may be away for a while: next time
                log.exception("sweeping stopped runs failed")
            if self._stopped.wait(self.period):
                return

    def stop(self) -> None:
        """Sweep no more (waits for a sweep under way)."""
        self._stopped.set()
        self._thread.join(10)


class Runner:
    """Starts workflow runs in the background and records them as jobs of kind ``dask``.

    One per server process; runs outlive the page (and the browser) that
    started them.  Everything about a run is in the database, so that any
    server process can show, follow and abort it: while it lasts its record
    names the process running it, its progress is recorded as it moves (at
    most every :data:`TICK_SECONDS`) and it gets a sign of life (``beat``)
    every :data:`BEAT_SECONDS`; an abort asked through any process is
    recorded and honoured within :data:`TICK_SECONDS`.  A run whose
    scheduler stops answering for :data:`STALL_SECONDS` is stopped.  A
    record left RUNNING with no recent sign of life is FAILED, saying so.
    """

    def __init__(self) -> None:
        self.live: dict[int, LiveRun] = {}
        self._lock = threading.Lock()

    @classmethod
    def shared(cls) -> Runner:
        """The process's runner (a part of its runtime): it holds the threads of the runs
        this process executes; what any other process needs of them (state, progress,
        abort requests) is in the database."""
        return current_runtime().part("runner", cls)

    def stop(self, reason: str = "the dashboard server was stopped during the run; "
                                  "retry it", grace: float = STOP_GRACE) -> None:
        """Stop every run of this process, recording ``reason``, and wait up to ``grace``
        seconds for them to record their end (the runtime does this first when it
        closes)."""
        count = self.shutdown(reason)
        if count:
            log.warning("stopping: %d workflow run(s) stopped", count)
        deadline = time.monotonic() + grace
        while self.live and time.monotonic() < deadline:
            time.sleep(0.2)
        if self.live:
            log.warning("%d workflow run(s) did not record their end in %g s",
                        len(self.live), grace)

    def start(self, store: Store, user: str, flow: Workflow, items: Table,
              values: dict[str, Any], engine: Engine, profile: Any, *,
              resolve: Callable[[str], Any] | None = None, lake: Any = None,
              cart: str = "") -> int:
        """Check the parameters, record the job and start it in a thread; its job id.

        Raises
        ------
        WorkflowError
            Wrong parameters or no usable inputs (nothing is recorded).
        """
        values = flow.check(values)
        items = select_inputs(items, flow.inputs)
        if not len(items):
            raise WorkflowError(f"{flow.title} needs {flow.inputs} in the cart; "
                                f"cart {cart!r} has none")
        detail = {"workflow": flow.name, "title": flow.title, "parameters": values,
                  "cart": cart, "engine": engine.description, "inputs": len(items),
                  "state": "QUEUED", "done": 0, "total": 0, "error": "", "ended": "",
                  "process": PROCESS, "beat": _now()}
        job_id = store.add_job(user, "dask", engine.description, f"run-{uuid.uuid4().hex}",
                               detail)
        live = LiveRun(job_id)
        with self._lock:
            self.live[job_id] = live
        current_runtime().run_in_thread(
            self._execute, store, user, job_id, flow, items, values, engine,
            Run(None, profile, resolve, lake), detail, live, name=f"workflow-{job_id}")
        return job_id

    def _execute(self, store: Store, user: str, job_id: int, flow: Workflow, items: Table,
                 values: dict[str, Any], engine: Engine, run: Run, detail: dict[str, Any],
                 live: LiveRun) -> None:
        client = None
        outcome: Outcome | None = None
        state, error = "COMPLETED", ""
        watchdog = threading.Event()
        watcher = threading.Thread(target=self._watch, args=(store, user, job_id, detail, live,
                                                             watchdog),
                                   name=f"workflow-{job_id}-watch", daemon=True)
        try:
            client = run.client = engine.client()
            live.run = run
            live.state = "RUNNING"
            store.update_job(user, job_id, {**detail, "state": "RUNNING", "beat": _now()})
            watcher.start()
            result = flow.func(items, live.run, **values)
            outcome = result if isinstance(result, Outcome) else Outcome(Table(result))
        except RunAbortedError:
            state, error = ("FAILED", live.stopped) if live.stopped else (
                "ABORTED", "aborted by the user")
        except BaseException as exc:  # whatever the workflow raised is shown
            state, error = "FAILED", live.stopped or failure_summary(exc)
            log.info("workflow run %s failed: %s", job_id, error)
        finally:
            watchdog.set()
            if watcher.is_alive():  # its last beat must not land after the outcome
                watcher.join(BEAT_SECONDS + 5)
            try:
                final = {**detail, "state": state, "error": error,
                         "done": run.done, "total": run.total, "ended": _now(),
                         "rows": len(outcome.table) if outcome else 0,
                         "note": outcome.note if outcome else ""}
                if outcome is not None:
                    # The result says which cart items it was made from.
                    if "key" in items.colnames:
                        outcome.table.meta[INPUTS] = [str(k) for k in items["key"]]
                    store.put_result(user, job_id, _ecsv(outcome.table),
                                     _fits_image(outcome.image))
                store.update_job(user, job_id, final)
            except Exception:  # the database itself failed: the log keeps the reason
                log.exception("workflow run %s: its outcome could not be recorded", job_id)
            finally:
                with self._lock:
                    self.live.pop(job_id, None)
                if client is not None:
                    _close_quietly(client)

    def _watch(self, store: Store, user: str, job_id: int, detail: dict[str, Any],
               live: LiveRun, done: threading.Event) -> None:
        """Record progress and signs of life, honour an abort asked through any server
        process, and stop the run when its scheduler is silent."""
        silent_since: float | None = None
        written: tuple[int, int] | None = None
        last_beat = time.monotonic()
        while not done.wait(TICK_SECONDS):
            run = live.run
            if run is None:
                continue
            try:
                if store.abort_requested(job_id):
                    run.cancel()
                    return
            except Exception:  # the database hiccupped: look again at the next tick
                log.warning("workflow run %s: could not look for an abort request", job_id)
            beat = time.monotonic() - last_beat >= BEAT_SECONDS
            progress = (run.done, run.total)
            if progress != written or beat:
                try:
                    store.update_job(user, job_id, {**detail, "state": live.state,
                                                    "done": run.done, "total": run.total,
                                                    "beat": _now()})
                    written = progress
                except Exception:  # a missed beat is not a failed run
                    log.warning("workflow run %s: could not record its progress", job_id)
            if not beat:
                continue
            last_beat = time.monotonic()
            if _scheduler_answers(run.client, BEAT_SECONDS):
                silent_since = None
                continue
            silent_since = silent_since or (datetime.now(UTC).timestamp() - BEAT_SECONDS)
            silent = datetime.now(UTC).timestamp() - silent_since
            if silent >= STALL_SECONDS:
                live.stopped = (f"the cluster's scheduler has not answered for {silent:.0f} s "
                                "(the gateway or the cluster hangs); the run was stopped")
                log.warning("workflow run %s: %s", job_id, live.stopped)
                run.cancelled.set()
                threading.Thread(target=_close_quietly, args=(run.client,),
                                 daemon=True).start()
                return

    def shutdown(self, reason: str) -> int:
        """Stop every run of this process, recording ``reason``; how many there were."""
        with self._lock:
            runs = list(self.live.values())
        for live in runs:
            live.stopped = reason
            if live.run is not None:
                live.run.cancelled.set()
                threading.Thread(target=_close_quietly, args=(live.run.client,),
                                 daemon=True).start()
        return len(runs)

    def status(self, record: dict[str, Any]) -> dict[str, Any]:
        """State, progress and error of a ``dask`` job record (live while it runs here).

        A record left QUEUED or RUNNING by a process that stopped giving signs
        of life reads as FAILED (it is recorded so by :meth:`sweep`).
        """
        live = self.live.get(record["id"])
        if live is not None:
            run = live.run
            return {"state": live.state, "done": run.done if run else 0,
                    "total": run.total if run else 0, "error": "", "ended": ""}
        detail = record["detail"]
        return self._orphaned(record) or {k: detail.get(k, "") for k in (
            "state", "done", "total", "error", "ended")}

    def _orphaned(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """How a run left QUEUED or RUNNING by a process that gave no sign of life
        for three beats ended (None for any other record, and for runs of this
        process)."""
        detail = record["detail"]
        if detail.get("state") not in {"QUEUED", "RUNNING"} or record["id"] in self.live:
            return None
        beat = _parse_time(detail.get("beat"))
        recent = beat is not None and datetime.now(UTC) - beat < timedelta(
            seconds=3 * BEAT_SECONDS)
        if recent and detail.get("process") != PROCESS:  # another server process runs it
            return None
        since = f" (last sign of life {detail['beat']})" if detail.get("beat") else ""
        return {"state": "FAILED", "done": detail.get("done", 0),
                "total": detail.get("total", 0), "ended": _now(),
                "error": "the dashboard server process running it stopped before the "
                         f"run ended{since}; retry it"}

    def sweep(self, store: Store) -> int:
        """Record FAILED every run of ``store`` left QUEUED or RUNNING by a process that
        stopped (see :meth:`status`); how many."""
        swept = 0
        for record in store.unfinished_jobs("dask"):
            failed = self._orphaned(record)
            if failed is not None:
                swept += store.update_job(record["user"], record["id"],
                                          {**record["detail"], **failed})
        if swept:
            log.warning("%d workflow run(s) of stopped server processes recorded FAILED",
                        swept)
        return swept

    def abort(self, store: Store, user: str, job_id: int) -> bool:
        """Ask to abort one of ``user``'s runs, whichever server process runs it; False
        when it is not running (or not theirs)."""
        record = store.job(user, job_id)
        if record is None or record["kind"] != "dask" or self.status(record)[
                "state"] not in {"QUEUED", "RUNNING"}:
            return False
        store.request_abort(user, job_id)
        self.cancel(job_id)  # at once when it runs here
        return True

    def cancel(self, job_id: int) -> bool:
        """Abort a run of this process; False when it is not running here."""
        live = self.live.get(job_id)
        if live is None or live.run is None:
            return False
        live.run.cancel()
        return True


def _close_quietly(client: Any) -> None:
    try:
        client.close(timeout=5)
    except Exception as exc:  # a client whose connection is gone cannot close cleanly
        log.debug("closing a Dask client: %s", exc)


def _scheduler_answers(client: Any, timeout: float) -> bool:
    """Whether the scheduler answers an identity request within ``timeout`` seconds."""
    try:
        client.sync(client.scheduler.identity, callback_timeout=timeout)
    except Exception:  # timeouts, closed comms: all mean no answer
        return False
    return True


def _parse_time(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        return None


def select_inputs(items: Table, inputs: str) -> Table:
    """The cart items a workflow of this ``inputs`` kind works on."""
    if inputs == "positions":
        keep = ~(np.ma.getmaskarray(items["ra"]) | np.ma.getmaskarray(items["dec"]))
        keep &= np.isfinite(np.ma.filled(items["ra"], np.nan).astype(float))
        keep &= np.array([k not in {"did", "software"} for k in items["kind"]], dtype=bool)
        return items[keep]
    if inputs == "images":
        return items[[_is_image(row) for row in items]]
    return items


def _is_image(row: Any) -> bool:
    if str(row["kind"]) == "did":
        return True
    kind = str(row["product_type"]).lower()
    url = str(row["access_url"]).lower()
    return bool(url) and ("image" in kind or url.endswith((".fits", ".fit", ".fits.gz")))


def _ecsv(table: Table) -> bytes:
    buffer = io.StringIO()
    table.write(buffer, format="ascii.ecsv")
    return buffer.getvalue().encode()


def _fits_image(image: tuple[np.ndarray, Any] | None) -> bytes | None:
    if image is None:
        return None
    from astropy.io import fits

    buffer = io.BytesIO()
    fits.PrimaryHDU(np.asarray(image[0]), header=image[1]).writeto(buffer)
    return buffer.getvalue()

