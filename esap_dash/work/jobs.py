"""One protocol for every kind of job (no UI here).

A job is work that outlives the page that asked for it: an async TAP query,
a Rucio replication rule, a workflow run, a DIRAC batch job, and whatever kinds a
deployment installs.  Every job is a record of the deployment's database (its kind, the
service, the service's own reference and the request as it was asked);
everything else (its state, its result) comes from the service that runs it,
through the job's :class:`JobKind`.

Kinds are registered as entry points of the group ``esap_dash.job_kinds``
(``name = "package.module:Class"``), so a new kind is one module and one
line of its package's metadata: the job list of every page shows it.

    >>> from esap_dash.core.actor import Actor
    >>> from esap_dash.work.jobs import follow
    >>> jobs = asyncio.run(follow(Actor(profile, "local")))  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import inspect
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import entry_points
from typing import Any, ClassVar

from astropy.table import Table
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from ..core.actor import Actor, NoAccountError
from ..core.errors import EsapError
from ..core.fanout import fan_out, run_blocking
from ..core.provenance import Provenance
from .flows import result_rows

__all__ = [
    "ENTRY_POINTS",
    "FINAL",
    "JobError",
    "JobKind",
    "JobResult",
    "check_request",
    "follow",
    "kind_of",
    "kinds",
    "request_schema",
    "service_of",
]

#: The entry-point group job kinds are registered in.
ENTRY_POINTS = "esap_dash.job_kinds"
#: States after which a job, rule or cluster no longer changes by itself (UNKNOWN,
#: a service that did not answer, is not one: the list asks again).
FINAL = frozenset({"COMPLETED", "ERROR", "ABORTED", "OK", "STUCK", "SUSPENDED", "STOPPED",
                   "FAILED", "DONE", "KILLED", "DELETED", "EXPIRED"})
#: Seconds the services have to report their jobs' states.
DEADLINE = 15.0


class JobError(EsapError):
    """What cannot be done with a job (the message says why, for the user)."""

    status = 422


@dataclass
class JobResult:
    """What a job produced: a table, maybe an image (FITS bytes), a note, and files
    (name -> content) to download."""

    table: Table
    image: bytes | None = None
    note: str = ""
    files: dict[str, bytes] | None = None


class JobKind:
    """A kind of job: how to ask for it, follow it, stop it and read what it made.

    Subclasses set :attr:`name` (the kind recorded in the database) and
    :attr:`label`, and implement :meth:`submit`, :meth:`state`,
    :meth:`describe` and :meth:`request`; the others have defaults for kinds
    that cannot be aborted or have no result.
    """

    #: The kind as the database records it.
    name: ClassVar[str] = ""
    #: What the user calls one job of this kind.
    label: ClassVar[str] = ""
    #: Whether :meth:`states` asks the service once for several jobs (the job list
    #: then asks once per service, not once per job).
    batched: ClassVar[bool] = False
    #: States after which the service's job never changes: the first time a job is
    #: seen in one, :func:`follow` records it and never asks the service again.
    ends: ClassVar[frozenset[str]] = frozenset()

    def ended(self, end: dict[str, Any]) -> dict[str, Any]:
        """What a job whose ``end`` is recorded is now, without asking its service: the
        end itself, unless the kind knows how it lapses (a rule's lifetime)."""
        return end

    def submit(self, actor: Actor, **request: Any) -> int:
        """Ask for a new job; return the id of its record.

        Raises
        ------
        JobError, ConnectorError
            The request is wrong, or the service refused it (nothing is recorded).
        """
        raise NotImplementedError

    def request(self, record: dict[str, Any]) -> dict[str, Any]:
        """The request :meth:`submit` was given for ``record`` (to ask again)."""
        raise NotImplementedError

    def describe(self, record: dict[str, Any]) -> str:
        """One line saying what the job does."""
        raise NotImplementedError

    def state(self, actor: Actor, record: dict[str, Any]) -> dict[str, Any]:
        """The job's live state: ``state``, and any of ``ended``, ``error``, ``done``,
        ``total`` (blocking; asks the service)."""
        raise NotImplementedError

    def states(self, actor: Actor, records: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
        """The live states of several jobs of this kind at one service, by record id
        (one call to the service in kinds that set :attr:`batched`)."""
        return {r["id"]: self.state(actor, r) for r in records}

    def abort(self, actor: Actor, record: dict[str, Any]) -> None:
        """Stop the job where it runs."""
        raise JobError(f"A {self.label} cannot be aborted; forget it to delete it.", status=409)

    def delete(self, actor: Actor, record: dict[str, Any]) -> None:
        """Delete the job where it runs (before its record is forgotten)."""

    def result(self, actor: Actor, record: dict[str, Any]) -> JobResult:
        """What the job produced."""
        raise JobError(f"A {self.label} has no result to show.", status=409)

    def provenance(self, record: dict[str, Any], result: JobResult) -> Provenance:
        """Where the job's result comes from: the job, what it asked and used."""
        raise JobError(f"A {self.label} has no result with a provenance.", status=409)

    def cart_rows(self, record: dict[str, Any], result: JobResult) -> Table:
        """Rows for the cart from the job's result, with its :meth:`provenance`."""
        return result_rows(result.table, self.provenance(record, result))

    def caveat(self, actor: Actor) -> str:
        """What the user should know of every job of this kind here (a service that runs
        nothing, say); empty when nothing."""
        return ""

    def retry(self, actor: Actor, record: dict[str, Any]) -> int:
        """Ask for the job again as it was asked; the new job's id."""
        return self.submit(actor, **self.request(record))


def service_of(actor: Actor, role: str, missing: str) -> Any:
    """The deployment's ``role`` service acting as the user, for a job kind.

    Raises
    ------
    JobError
        The user has no account there (the message says so), or the deployment
        has no such service (the message is ``missing``).
    """
    try:
        service = actor.connector(role)
    except NoAccountError as exc:
        raise JobError(str(exc)) from None
    if service is None:
        raise JobError(missing)
    return service


@functools.cache
def kinds() -> dict[str, JobKind]:
    """Every installed job kind, by name (loaded once per process)."""
    found = {}
    for point in entry_points(group=ENTRY_POINTS):
        kind = point.load()()
        found[kind.name] = kind
    return found


#: What a value of a JSON type is, for a sentence.
_WHAT = {"string": "text", "integer": "a whole number", "boolean": "true or false",
         "number": "a number", "['integer', 'null']": "a whole number or null",
         "['object', 'null']": "an object or null"}
#: JSON Schemas of the annotations a kind's ``submit`` may use for its request.
_JSON_TYPES: dict[str, dict[str, Any]] = {
    "str": {"type": "string"},
    "int": {"type": "integer"},
    "bool": {"type": "boolean"},
    "float": {"type": "number"},
    "int | None": {"type": ["integer", "null"]},
    "dict[str, Any] | None": {"type": ["object", "null"]},
    "tuple[str, ...] | str": {"anyOf": [{"type": "array", "items": {"type": "string"}},
                                        {"type": "string"}]},
}


def _request_parameters(kind: JobKind) -> dict[str, inspect.Parameter]:
    return {name: p for name, p in inspect.signature(kind.submit).parameters.items()
            if name != "actor" and p.kind is inspect.Parameter.KEYWORD_ONLY}


def request_schema(kind: JobKind) -> dict[str, Any]:
    """The JSON Schema of a request for a job of ``kind``, read from the keyword
    parameters of its :meth:`~JobKind.submit`: their names, types and defaults, the
    required ones, ``kind`` itself, and nothing else."""
    params = _request_parameters(kind)
    properties: dict[str, Any] = {"kind": {"type": "string", "enum": [kind.name]}}
    for name, p in params.items():
        schema = dict(_JSON_TYPES.get(str(p.annotation), {}))
        if p.default is not inspect.Parameter.empty:
            schema["default"] = list(p.default) if isinstance(p.default, tuple) else p.default
        properties[name] = schema
    summary = (inspect.getdoc(kind.submit) or "").split("\n\n")[0]
    summary = re.sub(r":\w+:`~?(?:[\w]+\.)*([^`]+)`", r"\1", summary).replace("``", "")
    return {"type": "object", "description": f"A {kind.label}: {' '.join(summary.split())}",
            "properties": properties,
            "required": ["kind", *(n for n, p in params.items()
                                   if p.default is inspect.Parameter.empty)],
            "additionalProperties": False}


def check_request(kind: JobKind, request: dict[str, Any]) -> None:
    """Refuse a request (without ``kind``) that :func:`request_schema` does not
    allow.

    Raises
    ------
    JobError
        Which field is wrong, or which fields the kind takes (status 400).
    """
    schema = request_schema(kind)
    error = best_match(Draft202012Validator(schema).iter_errors({**request,
                                                                 "kind": kind.name}))
    if error is None:
        return
    takes = [n for n in schema["properties"] if n != "kind"]
    # A subschema's error (one of anyOf) has a path relative to it: the field is the
    # first step of the absolute one.
    field = str(error.absolute_path[0]) if error.absolute_path else ""
    if error.validator in ("required", "additionalProperties") or field not in request:
        required = [n for n in schema["required"] if n != "kind"]
        raise JobError(f"Jobs of kind {kind.name} take {', '.join(takes)} "
                       f"({', '.join(required) or 'none'} required).", status=400)
    raise JobError(f"{field}: {json.dumps(request[field])[:40]} is not "
                   f"{_WHAT.get(str(schema['properties'][field].get('type')), 'a valid value')}"
                   ".", status=400)


def kind_of(record: dict[str, Any]) -> JobKind:
    """The kind of a job record.

    Raises
    ------
    JobError
        No installed kind has that name.
    """
    kind = kinds().get(record["kind"])
    if kind is None:
        raise JobError(f"Jobs of kind {record['kind']!r} are not known to this deployment.")
    return kind


def _duration(start: datetime, end: str) -> str:
    """``1 min 05 s`` from a start time to an ISO end time (or to now while running)."""
    try:
        stop = datetime.fromisoformat(end) if end else datetime.now(UTC)
    except ValueError:
        return ""
    if stop.tzinfo is None:
        stop = stop.replace(tzinfo=UTC)
    seconds = max(0, int((stop - (start if start.tzinfo else start.replace(tzinfo=UTC)))
                         .total_seconds()))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def _shown(when: str) -> str:
    """An ISO time as the list shows times (UTC, ``2026-11-28 17:40:15``); as it is when
    it is not ISO."""
    try:
        moment = datetime.fromisoformat(when)
    except ValueError:
        return when
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _live(actor: Actor, records: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """The live states of ``records`` (one job, or a batched kind's jobs at one service)."""
    try:
        kind = kind_of(records[0])
        if len(records) == 1 and not kind.batched:
            return {records[0]["id"]: kind.state(actor, records[0])}
        return kind.states(actor, records)
    except JobError as exc:
        return {r["id"]: {"state": "UNKNOWN", "error": str(exc)} for r in records}


def _record_ends(actor: Actor, ended: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """Record how jobs ended (an end never changes: the service is not asked again)."""
    for record, state in ended:
        actor.store.update_job(record["user"], record["id"], {**record["detail"], "end": state})


async def follow(actor: Actor, kind: str | None = None, *, job: int | None = None,
                 offset: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
    """The actor's jobs (of one kind, or the one job numbered ``job``, if given), newest
    first, with their live states; ``offset`` and ``limit`` choose a page of them (only
    its jobs are asked after).

    The services are asked at once (once per job, or once per service for the
    jobs of a batched kind); one that does not answer within :data:`DEADLINE`
    (or errs) leaves its jobs ``UNKNOWN`` with the reason, the others' jobs are
    not held up.  A job seen in one of its kind's :attr:`~JobKind.ends` has that
    end recorded, and is never asked after again.

    Returns
    -------
    list of dict
        ``id``, ``kind``, ``state``, ``note`` (what the service adds to the state: a
        DIRAC job's minor status and site ...), ``progress`` (``done``/``total``),
        ``what``, ``owner``, ``created``, ``ended``, ``duration``, ``error``,
        ``service``, ``ref`` and the recorded ``detail``.
    """
    records = await run_blocking(actor.store.jobs, actor.user, kind)
    if job is not None:
        records = [r for r in records if r["id"] == job]
    records = records[offset:None if limit is None else offset + limit]
    # A job whose end is recorded is not asked after again.
    states: dict[int, dict[str, Any]] = {
        r["id"]: kinds()[r["kind"]].ended(r["detail"]["end"]) if r["kind"] in kinds()
        else r["detail"]["end"] for r in records if "end" in r["detail"]}
    asked = [r for r in records if r["id"] not in states]
    # One call per job; one per service for the jobs of a batched kind.
    groups: dict[Any, list[dict[str, Any]]] = {}
    for r in asked:
        kind = kinds().get(r["kind"])
        key = (r["kind"], r["service"]) if kind is not None and kind.batched else r["id"]
        groups.setdefault(key, []).append(r)
    calls = {key: functools.partial(_live, actor, group) for key, group in groups.items()}
    async for outcome in fan_out(calls, deadline=DEADLINE):
        group = groups[outcome.key]
        if outcome.error is None and not outcome.timed_out:
            states.update(outcome.value)
        else:
            states.update({r["id"]: {"state": "UNKNOWN", "error": outcome.reason}
                           for r in group})
    ended = [(r, states[r["id"]]) for r in asked if r["kind"] in kinds()
             and states[r["id"]].get("state") in kinds()[r["kind"]].ends]
    if ended:
        await run_blocking(_record_ends, actor, ended)
    jobs = []
    for r in records:
        try:
            what = kind_of(r).describe(r)
        except JobError as exc:
            what = str(exc)
        job = {"kind": r["kind"], "service": r["service"], "what": what, "owner": r["user"],
               "user": r["user"],
               "created": r["created"].strftime("%Y-%m-%d %H:%M:%S"), "ended": "",
               "error": "", "note": "", "ref": r["ref"], "id": r["id"],
               "detail": r["detail"],
               **states[r["id"]]}
        total, done = job.get("total") or 0, job.get("done") or 0
        job["progress"] = f"{done}/{total} ({100 * done // total} %)" if total else ""
        job["duration"] = (_duration(r["created"], str(job["ended"] or ""))
                           if job["state"] not in FINAL or job["ended"] else "")
        job["ended"] = _shown(str(job["ended"] or ""))
        if job.get("expires"):
            job["expires"] = _shown(str(job["expires"]))
        jobs.append(job)
    return jobs
