"""One query, every archive at once: per-archive outcomes as they arrive."""

from __future__ import annotations

import io
import warnings
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from astropy.table import Column, Table, vstack
from astropy.time import Time
from erfa import ErfaWarning
from mocpy import MOC

import connectors
from connectors.base import ServiceConnector
from connectors.exceptions import ConnectorError, QueryError
from connectors.query import COMMON_COLUMNS, DEFAULT_RADIUS, SkyQuery, common_table, quote_prefix
from connectors.resolver import Position

from .config import Profile, ServiceConfig
from .fanout import fan_out, run_blocking
from .provenance import Provenance, Service, now
from .sky import coverage as coverage_of

if TYPE_CHECKING:
    from .actor import Actor

__all__ = ["ArchiveResult", "SearchRequest", "SearchResults", "Searches",
           "merge", "parse_time", "search_archives", "sky_archives"]


@dataclass(frozen=True)
class ArchiveResult:
    """What one archive answered.

    Attributes
    ----------
    archive : str
        The archive's name.
    state : str
        ``done``, ``error`` or ``timeout``.
    table : Table
        Rows in the common columns (empty on error).
    seconds : float
        Time the archive took.
    message : str
        The service's error, or a note (``truncated at 10000 rows`` ...).
    """

    archive: str
    state: str
    table: Table
    seconds: float
    message: str = ""
    finished_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def truncated(self) -> bool:
        """The archive stopped at its row limit."""
        return bool(self.table.meta.get("truncated"))


def sky_archives(profile: Profile) -> dict[str, ServiceConfig]:
    """The profile's archives that can be searched around a position, by name."""
    def searchable(kind: str) -> bool:
        try:
            return "sky" in connectors.connector_class(kind).capabilities
        except ConnectorError:
            return False

    return {s.name: s for s in profile.by_role("archive") if searchable(s.kind)}


def _empty(archive: str) -> Table:
    return common_table(Table(), archive, {})


async def search_archives(archives: Mapping[str, ServiceConnector], query: SkyQuery, *,
                          deadline: float | None = None,
                          database: str | None = None) -> AsyncIterator[ArchiveResult]:
    """Send ``query`` to every archive concurrently; yield results as they arrive.

    Parameters
    ----------
    archives : mapping
        Archive name -> connector with the ``sky`` capability.
    query : SkyQuery
        The validated query.
    deadline : float, optional
        Seconds after which archives still silent are reported as timed out;
        defaults to the largest connector timeout plus two seconds.
    database : str, optional
        The deployment's database: each archive's cap of calls at once then holds
        for all of the deployment's server processes together (see
        :func:`~esap_dash.core.fanout.fan_out`).

    Yields
    ------
    ArchiveResult
    """
    if not archives:
        return
    limit = deadline or max(c.timeout for c in archives.values()) + 2
    calls = {name: (lambda c=conn: c.search_sky(query)) for name, conn in archives.items()}
    async for outcome in fan_out(calls, deadline=limit, database=database, services={
            name: conn.url for name, conn in archives.items()}):
        name = outcome.key
        if outcome.timed_out:
            yield ArchiveResult(name, "timeout", _empty(name), limit,
                                f"no answer within {limit:.0f} s")
        elif isinstance(outcome.error, ConnectorError):
            yield ArchiveResult(name, "error", _empty(name), outcome.seconds,
                                outcome.error.reason)
        elif outcome.error is not None:
            yield ArchiveResult(name, "error", _empty(name), outcome.seconds,
                                f"internal error: {type(outcome.error).__name__}: "
                                f"{outcome.error}")
        else:
            table: Table = outcome.value
            table.replace_column("service_url", Column([archives[name].url] * len(table),
                                                       dtype=str))
            notes = [table.meta["note"]] if table.meta.get("note") else []
            if table.meta.get("truncated"):
                notes.append(f"truncated at {len(table)} rows (the archive's MAXREC)")
            yield ArchiveResult(name, "done", table, outcome.seconds, "; ".join(notes))


def merge(results: list[ArchiveResult]) -> Table:
    """All archives' rows in one table, nearest to the search centre first.

    A product several archives return (the same access URL, or the same
    publisher DID ``ivo://...``: an image from ObsCore and from SIA v2 of one
    service) is one row, from the archive listed first; ``also_in`` names the
    others.
    """
    tables = [r.table for r in results if len(r.table)]
    if not tables:
        empty = _empty("")
        empty["also_in"] = np.array([], dtype=str)
        return empty
    merged = vstack(tables, metadata_conflicts="silent")
    merged.sort(["distance", "archive"])
    merged = merged[[name for name, _ in COMMON_COLUMNS]]
    keys = [url or (ident if ident.startswith("ivo://") else f"#{i}")
            for i, (url, ident) in enumerate(zip(merged["access_url"].astype(str),
                                                 merged["id"].astype(str), strict=True))]
    first: dict[str, int] = {}
    others: dict[int, list[str]] = {}
    keep = np.ones(len(merged), bool)
    for i, key in enumerate(keys):
        if key in first:
            keep[i] = False
            archive = str(merged["archive"][i])
            also = others.setdefault(first[key], [])
            if archive != str(merged["archive"][first[key]]) and archive not in also:
                also.append(archive)
        else:
            first[key] = i
    merged["also_in"] = [", ".join(others.get(i, [])) for i in range(len(merged))]
    return merged[keep]


@dataclass
class SearchResults:
    """A session's current search of several archives: what the Discovery page
    lists and the Sky page draws, and the provenance of every row.

    Parameters
    ----------
    services : mapping
        The profile's archives by name (their configuration: kind, URL, options).
    user : str
        Who searches.
    """

    services: Mapping[str, Any] = field(default_factory=dict)
    user: str = ""
    #: The query of the search (None before the first).
    query: SkyQuery | None = None
    #: When it was sent (ISO 8601, UTC).
    at: str = ""
    #: What each archive answered, as they arrived.
    results: dict[str, ArchiveResult] = field(default_factory=dict)
    #: Every archive's rows in one table (see :func:`merge`).
    merged: Table = field(default_factory=lambda: merge([]))
    #: Where the merged rows are on the sky (None without rows).
    coverage: MOC | None = None

    def start(self, query: SkyQuery) -> None:
        """Begin a new search: its answers replace the last one's rows when the first
        arrives (until then the rows shown are still the last search's)."""
        self.query, self.at, self.results = query, now(), {}

    async def run(self, archives: Mapping[str, ServiceConnector], query: SkyQuery, *,
                  deadline: float | None = None,
                  database: str | None = None) -> AsyncIterator[ArchiveResult]:
        """Search ``archives`` (see :func:`search_archives`); take in each answer as it
        arrives (merging in a worker thread) and yield it."""
        self.start(query)
        async for result in search_archives(archives, query, deadline=deadline,
                                            database=database):
            await run_blocking(self.add, result)
            yield result

    def outcomes(self) -> list[dict[str, Any]]:
        """What each archive answered: ``archive``, ``state``, ``rows``, ``truncated``,
        ``seconds``, ``message``."""
        return [{"archive": r.archive, "state": r.state, "rows": len(r.table),
                 "truncated": r.truncated, "seconds": round(r.seconds, 3),
                 "message": r.message} for r in self.results.values()]

    def add(self, result: ArchiveResult) -> Table:
        """One more archive's answer; the merged rows (blocking: merging takes time)."""
        self.results[result.archive] = result
        self.merged = merge(list(self.results.values()))
        self.coverage = coverage_of(self.merged)
        return self.merged

    def provenance(self, archives: Iterable[str]) -> Provenance:
        """Where the rows of ``archives`` came from: the query, each service with
        exactly what it was asked, the row limit and which answers it cut."""
        services, cut = [], []
        for name in dict.fromkeys(str(a) for a in archives):
            svc = self.services.get(name)
            answer = self.results.get(name)
            meta = answer.table.meta if answer is not None else {}
            if meta.get("truncated"):
                cut.append(name)
            services.append(Service(
                name, kind=getattr(svc, "kind", ""), url=getattr(svc, "url", ""),
                ivoid=str(getattr(svc, "options", {}).get("ivoid", "")),
                table=getattr(svc, "options", {}).get("table"),
                asked=str(meta.get("adql") or meta.get("asked") or meta.get("url") or ""),
                ended=answer.finished_at.isoformat(timespec="seconds") if answer else ""))
        query = self.query.to_dict() if self.query is not None else {}
        return Provenance("search", at=self.at, user=self.user, services=tuple(services),
                          query=query, maxrec=query.get("maxrec"), truncated=tuple(cut))

    def with_provenance(self, rows: Table) -> Table:
        """A copy of ``rows`` (of :attr:`merged`) with their provenance (``query``)."""
        rows = rows.copy()
        record = self.provenance(rows["archive"] if len(rows) else ()).to_json()
        rows["query"] = [record] * len(rows)
        return rows


@dataclass(frozen=True)
class SearchRequest:
    """What a search asks, whichever way it came (the Discovery form, a link, the API).

    Attributes
    ----------
    target : str
        An object name or coordinates.
    radius : float
        Degrees.
    frame : str
        Frame of typed coordinates.
    keywords : tuple of str
        Words matched in titles.
    waveband, product_type : str, optional
        Only data of this waveband, of this ObsCore product type.
    time_min, time_max : float, optional
        Observed after, before (MJD).
    maxrec : int, optional
        Most rows an archive returns (each archive's own limit otherwise).
    archives : tuple of str
        Archives to ask, by name.
    """

    target: str
    radius: float = DEFAULT_RADIUS
    frame: str = "icrs"
    keywords: tuple[str, ...] = ()
    waveband: str | None = None
    product_type: str | None = None
    time_min: float | None = None
    time_max: float | None = None
    maxrec: int | None = None
    archives: tuple[str, ...] = ()

    def query(self, position: Position) -> SkyQuery:
        """The query every archive is asked, at the target's ``position``.

        Raises
        ------
        connectors.exceptions.QueryError
            A value no archive can be asked (the message says which).
        """
        return SkyQuery(ra=position.ra, dec=position.dec, radius=float(self.radius),
                        keywords=tuple(self.keywords), waveband=self.waveband,
                        product_type=self.product_type, time_min=self.time_min,
                        time_max=self.time_max, maxrec=self.maxrec, target=self.target,
                        extra={"frame": self.frame})


def parse_time(text: str) -> float | None:
    """An ISO date/time or an MJD as MJD; None for an empty field.

    Raises
    ------
    connectors.exceptions.QueryError
        For text that is neither.
    """
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        with warnings.catch_warnings():  # future dates: leap seconds not known yet
            warnings.simplefilter("ignore", ErfaWarning)
            return float(Time(text, format="isot" if "T" in text else "iso", scale="utc").mjd)
    except ValueError as exc:
        raise QueryError(f"cannot read {quote_prefix(text)} as a date (2001-04-24, "
                         "2001-04-24T12:00:00) or an MJD") from exc


class Searches:
    """A user's searches: where the target is, every archive asked at once, and what
    is remembered of it — the same for the Discovery page and the HTTP API.

    Parameters
    ----------
    actor : Actor
        Who searches.
    services : mapping, optional
        The archives that can be asked, by name (the profile's; a session may add
        some).
    """

    def __init__(self, actor: Actor, services: Mapping[str, ServiceConfig] | None = None
                 ) -> None:
        self.actor = actor
        self.services = dict(services or sky_archives(actor.profile))

    def add_archive(self, name: str, kind: str, url: str) -> str:
        """Add a service (e.g. one found in the registry) to the archives these
        searches can ask (``kind`` ``tap`` asks its ObsCore table).

        Returns
        -------
        str
            What happened, for the user.
        """
        url = url.rstrip("?")
        if name in self.services or any(s.url.rstrip("?") == url
                                        for s in self.services.values()):
            return f"{name} is already in your archives."
        options: dict[str, Any] = {"timeout": 30}
        if kind == "tap":
            options["table"] = "ivoa.obscore"
        self.services[name] = ServiceConfig(f"session-{len(self.services) + 1}", kind, name,
                                            url, "archive", options)
        return f"{name} added to your archives for this session."

    async def locate(self, request: SearchRequest) -> Position:
        """Where the request's target is (off the event loop).

        Raises
        ------
        connectors.exceptions.ConnectorError
            The target is neither coordinates nor a name the resolver knows.
        """
        return await run_blocking(self.actor.resolver().resolve, request.target,
                                  request.frame)

    async def ask(self, request: SearchRequest, query: SkyQuery, results: SearchResults, *,
                  connectors: Mapping[str, ServiceConnector] | None = None,
                  deadline: float | None = None) -> AsyncIterator[ArchiveResult]:
        """Ask the request's archives ``query`` at once; each answer as it arrives (and
        in ``results``).  ``connectors`` are the session's own, if it keeps them;
        the search lasts the slowest archive's timeout plus 2 s, at most ``deadline``
        seconds."""
        asked = {name: (connectors or {}).get(name) or self.services[name].connector()
                 for name in request.archives}
        longest = max((c.timeout for c in asked.values()), default=0.0) + 2
        async for result in results.run(asked, query, deadline=min(
                longest, deadline or longest), database=self.actor.profile.database):
            yield result

    def remember(self, results: SearchResults, archives: Iterable[str], *,
                 keep_rows: bool = False) -> int:
        """Put the search in the user's history (with its rows and their provenance
        when ``keep_rows``: the API's searches are read again by number); its number.
        Blocking."""
        store, user = self.actor.store, self.actor.user
        search_id = store.add_history(user, results.query.to_dict(), list(archives),
                                      {n: len(r.table) for n, r in results.results.items()})
        if keep_rows:
            text = io.StringIO()
            results.with_provenance(results.merged).write(text, format="ascii.ecsv")
            store.keep_search_rows(user, search_id, text.getvalue().encode(),
                                   results.outcomes())
        return search_id
