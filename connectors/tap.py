"""Table Access Protocol (TAP) services."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import ClassVar

import pandas as pd
from astropy.table import Table
from pyvo.dal import AsyncTAPJob, TAPService

from .base import ServiceConnector
from .exceptions import ConfigurationError, QueryError, ServiceUnavailableError
from .http import request
from .query import OBSCORE_MAPPING, SkyQuery, adql_string, columns_by_ucd, common_table
from .vo import dal_errors, results_table, vosi_availability

__all__ = ["TAPConnector", "is_column_name"]

_COLUMN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


def is_column_name(name: str) -> bool:
    """Whether ``name`` is a plain column name, which may go into ADQL as it is."""
    return bool(_COLUMN.match(name))


class TAPConnector(ServiceConnector):
    """A TAP service: ADQL queries and its table metadata.

    Parameters
    ----------
    url : str
        The TAP base URL (``.../tap``).
    maxrec : int, optional
        Row limit asked of the service for every query.
    designations : dict, optional
        How astronomers name the objects of the service's tables: table name ->
        the designation written before a row's identifier
        (``{"hipparcos.main": "HIP"}``: ``HIP 26159``).
    **kwargs
        See :class:`~connectors.base.ServiceConnector`.
    """

    kind: ClassVar[str] = "tap"
    capabilities: ClassVar[frozenset[str]] = frozenset({"adql", "async", "tables", "sky"})

    def __init__(self, url: str, *, maxrec: int | None = None, table: str | None = None,
                 columns: dict[str, str] | None = None,
                 designations: dict[str, str] | None = None, **kwargs) -> None:
        super().__init__(url, **kwargs)
        self.maxrec = maxrec
        self.table = table
        self.columns = dict(columns or {})
        self.designations = {str(k): " ".join(str(v).split())
                             for k, v in (designations or {}).items()}
        for name in [table or "", *self.columns.values()]:
            if name and not _IDENTIFIER.match(name):
                raise ConfigurationError(f"{name!r} is not a table or column name", self.url)
        self._service: TAPService | None = None
        self._mapping: dict[str, str] | None = None

    @property
    def service(self) -> TAPService:
        """The pyvo service, sharing this connector's session."""
        if self._service is None:
            self._service = TAPService(self.url, session=self.session)
        return self._service

    @property
    def health_url(self) -> str:
        """The VOSI availability endpoint."""
        return self.url + "/availability"

    def _probe(self) -> str:
        return vosi_availability(self.session, self.health_url)

    def run_sync(self, adql: str, *, maxrec: int | None = None) -> Table:
        """Run an ADQL query synchronously.

        Parameters
        ----------
        adql : str
            The query; build it with bound values, never by pasting user text.
        maxrec : int, optional
            Row limit; defaults to the connector's.

        Returns
        -------
        astropy.table.Table
            At most ``maxrec`` rows; ``meta["truncated"]`` is set when rows
            were left out (one row more than the limit is asked for, so an
            answer of exactly ``maxrec`` rows is not flagged).

        Raises
        ------
        connectors.exceptions.QueryError
            The service rejected the query (its message is kept).
        connectors.exceptions.ServiceUnavailableError, ServiceError, FormatError
        """
        limit = maxrec if maxrec is not None else self.maxrec
        ask = limit + 1 if limit is not None else None
        table = results_table(lambda: self.service.run_sync(adql, maxrec=ask), self.url,
                              self.timeout)
        if limit is not None and len(table) > limit:
            table = table[:limit]
            table.meta["truncated"] = True
        return table

    def tables(self) -> Table:
        """List the service's tables (name and description) from VOSI tables.

        Returns
        -------
        astropy.table.Table
            Columns ``table_name`` and ``description``.
        """
        with dal_errors(self.url + "/tables", self.timeout):
            tables = list(self.service.tables)
        return Table(rows=[(t.name, (t.description or "").strip()) for t in tables],
                     names=("table_name", "description"), dtype=(str, str))

    # ------------------------------------------------------------ async (UWS)
    def submit_async(self, adql: str, *, maxrec: int | None = None) -> str:
        """Create and start an async (UWS) job; return its URL.

        The job keeps running on the server whatever happens to the page.
        """
        limit = maxrec if maxrec is not None else self.maxrec
        with dal_errors(self.url, self.timeout):
            job = AsyncTAPJob.create(self.url, adql, maxrec=limit, session=self.session)
            if job.url.rstrip("/") == self.url + "/async":
                raise ServiceUnavailableError(
                    "the service closed the connection before its answer ended: it named "
                    "no job (no Location)", self.url)
            job.run()
        return job.url

    def _job(self, job_url: str) -> AsyncTAPJob:
        with dal_errors(job_url, self.timeout):
            return AsyncTAPJob(job_url, session=self.session, delete=False)

    def job_status(self, job_url: str) -> dict[str, object]:
        """Phase, times and error of a job.

        Returns
        -------
        dict
            ``phase``, ``created``, ``started``, ``ended`` (ISO UTC or "")
            and ``error`` (the service's message for ERROR jobs).
        """
        job = self._job(job_url)
        summary = job.job
        error = ""
        if summary.phase == "ERROR" and summary.errorsummary is not None:
            message = summary.errorsummary.message
            error = " ".join(str(getattr(message, "content", message) or "").split())
        return {"phase": summary.phase, "created": _iso(summary.creationtime),
                "started": _iso(summary.starttime), "ended": _iso(summary.endtime),
                "error": error}

    def job_result(self, job_url: str) -> Table:
        """The rows of a COMPLETED job.

        Raises
        ------
        connectors.exceptions.QueryError
            The job failed; its error message is kept.
        """
        job = self._job(job_url)
        with dal_errors(job_url, self.timeout):
            job.raise_if_error()
            return results_table(job.fetch_result, job_url, self.timeout)

    def abort_job(self, job_url: str) -> None:
        """Ask the service to abort a job."""
        job = self._job(job_url)
        with dal_errors(job_url, self.timeout):
            job.abort()

    def delete_job(self, job_url: str) -> None:
        """Delete a job and its results on the service."""
        job = self._job(job_url)
        with dal_errors(job_url, self.timeout):
            job.delete()

    def table_columns(self, table_name: str) -> Table:
        """Columns of one table from TAP_SCHEMA, with units, UCDs and descriptions."""
        return self.run_sync(
            "SELECT column_name, datatype, unit, ucd, description FROM TAP_SCHEMA.columns "
            f"WHERE table_name = {adql_string(table_name)}", maxrec=5000)

    def positional_tables(self) -> Table:
        """Tables whose main position and identifier columns TAP_SCHEMA marks by UCD.

        Returns
        -------
        astropy.table.Table
            ``table_name``, ``id``, ``ra``, ``dec`` (column names; ``id`` may
            be empty).
        """
        wanted = {"pos.eq.ra;meta.main": "ra", "pos.eq.dec;meta.main": "dec",
                  "meta.id;meta.main": "id"}
        rows = self.run_sync(
            "SELECT table_name, column_name, ucd FROM TAP_SCHEMA.columns WHERE ucd IN ("
            + ", ".join(adql_string(u) for u in wanted) + ")", maxrec=10000)
        found: dict[str, dict[str, str]] = {}
        for row in rows:
            roles = found.setdefault(str(row["table_name"]), {})
            roles.setdefault(wanted[str(row["ucd"]).strip()], str(row["column_name"]))
        names = sorted(t for t, r in found.items() if "ra" in r and "dec" in r)
        return Table(rows=[(t, found[t].get("id", ""), found[t]["ra"], found[t]["dec"])
                           for t in names] or None,
                     names=("table_name", "id", "ra", "dec"), dtype=(str,) * 4)

    def positions(self, table: str, ra: str, dec: str, id: str = "", *,
                  columns: Sequence[str] = (), maxrec: int = 2_000_000) -> Table:
        """Every row's position (and identifier) of a table: a whole catalogue on a map.

        Parameters
        ----------
        table, ra, dec, id : str
            Names as :meth:`positional_tables` lists them (they come from the
            service's own TAP_SCHEMA and are checked to be identifiers).
        columns : sequence of str
            More of the table's columns to bring (names as :meth:`table_columns`
            lists them), for plots of the whole catalogue.
        maxrec : int
            Row limit.

        Returns
        -------
        astropy.table.Table
            ``id``, ``ra``, ``dec``, then ``columns`` under their own names
            (numbers as floats, missing ones NaN; other values as text).
        """
        extra = [c for c in dict.fromkeys(columns) if c not in {id, ra, dec, "id", "ra", "dec"}]
        self._check_names(table, ra, dec, id, *extra)
        select = f"{id} AS id, " if id else ""
        adql = (f"SELECT {select}{ra} AS ra, {dec} AS dec"
                + "".join(f", {c}" for c in extra) + f" FROM {table}")
        # CSV parses ten times faster than a VOTable of the same rows; a service
        # without CSV output (or with an error) answers with a VOTable instead.
        resp = request(self.session, "POST", self.url + "/sync", data={
            "REQUEST": "doQuery", "LANG": "ADQL", "QUERY": adql, "MAXREC": maxrec + 1,
            "RESPONSEFORMAT": "csv"})
        if not resp.headers.get("content-type", "").startswith("text/csv"):
            rows = self.run_sync(adql, maxrec=maxrec)
            rows.meta["adql"] = adql
            return rows
        frame = pd.read_csv(io.BytesIO(resp.content), dtype={"id": str} if id else None)
        # One row more than the limit was asked for: only then were rows left out.
        truncated = len(frame) > maxrec
        frame = frame.iloc[:maxrec]
        rows = Table({"id": frame["id"].fillna("").to_numpy(str)} if id else {})
        rows["ra"] = frame["ra"].to_numpy(float)
        rows["dec"] = frame["dec"].to_numpy(float)
        for name in extra:
            values = frame[name] if name in frame else frame[name.lower()]
            rows[name] = (values.to_numpy(float) if pd.api.types.is_numeric_dtype(values)
                          else values.fillna("").to_numpy(str))
        rows.meta.update(url=self.url, adql=adql, truncated=truncated)
        return rows

    def match_uploaded(self, positions: Table, table: str, ra: str, dec: str, id: str, *,
                       maxrec: int = 1_000_000) -> Table:
        """Every row of ``table`` within each uploaded position's radius, found by the
        service itself (the positions go with an async query as a TAP upload).

        Parameters
        ----------
        positions : astropy.table.Table
            ``idx``, ``ra``, ``dec`` and ``radius`` (ICRS degrees).
        table, ra, dec, id : str
            As :meth:`positional_tables` lists them.
        maxrec : int
            Most pairs.

        Returns
        -------
        astropy.table.Table
            ``idx``, ``ref_id``, ``ref_ra``, ``ref_dec``, ``separation`` (degrees);
            ``meta["truncated"]`` when pairs were left out.
        """
        self._check_names(table, ra, dec, id)
        ref_id = f"r.{id}" if id else "''"
        adql = (f"SELECT u.idx AS idx, {ref_id} AS ref_id, r.{ra} AS ref_ra, "
                f"r.{dec} AS ref_dec, DISTANCE(POINT('ICRS', u.ra, u.dec), "
                f"POINT('ICRS', r.{ra}, r.{dec})) AS separation "
                f"FROM TAP_UPLOAD.positions AS u JOIN {table} AS r "
                f"ON 1 = CONTAINS(POINT('ICRS', r.{ra}, r.{dec}), "
                "CIRCLE('ICRS', u.ra, u.dec, u.radius))")
        # An async job: services take bigger uploads there than in a sync query.
        pairs = results_table(lambda: self.service.run_async(
            adql, maxrec=maxrec + 1, uploads={"positions": positions}, timeout=self.timeout),
            self.url, self.timeout)
        if len(pairs) > maxrec:
            pairs = pairs[:maxrec]
            pairs.meta["truncated"] = True
        pairs.meta["adql"] = adql
        return pairs

    def _check_names(self, table: str, *columns: str) -> None:
        """Refuse a table or column name that is not a plain identifier (they go into
        ADQL as they are)."""
        for name in filter(None, columns):
            if not is_column_name(name):
                raise QueryError(f"{name!r} is not a column name", self.url)
        if not _IDENTIFIER.match(table):
            raise QueryError(f"{table!r} is not a table name", self.url)

    def column_mapping(self) -> dict[str, str]:
        """Common column -> column of the profile's ``table``.

        ObsCore's standard names; for any other table the columns its
        TAP_SCHEMA marks by UCD (``pos.eq.ra;meta.main``, ``meta.id;meta.main``
        ...), asked once; the profile's ``columns`` override either.
        """
        if self._mapping is None:
            if (self.table or "").lower() == "ivoa.obscore":
                found = dict(OBSCORE_MAPPING)
            elif self.table:
                rows = self.table_columns(self.table)
                found = columns_by_ucd(
                    (str(r["column_name"]), str(r["ucd"] or "")) for r in rows)
                found = {k: v for k, v in found.items() if _COLUMN.match(v)}
            else:
                found = {}
            self._mapping = {k: v for k, v in {**found, **self.columns}.items() if v}
        return self._mapping

    def sky_adql(self, query: SkyQuery) -> str:
        """The ADQL that :meth:`search_sky` sends, for display and provenance.

        The table and column names come from the profile; the user's values
        enter only as numbers or quoted literals.

        Raises
        ------
        connectors.exceptions.ConfigurationError
            The profile gives no ``table`` (or no position columns) for it.
        """
        if not self.table:
            raise ConfigurationError("this TAP service has no 'table' in the profile, so it "
                                     "answers ADQL only, not the common search", self.url)
        obscore = self.table.lower() == "ivoa.obscore"
        mapping = self.column_mapping()
        ra, dec = mapping.get("ra"), mapping.get("dec")
        if not ra or not dec:
            raise ConfigurationError(
                f"{self.table} has no columns marked pos.eq.ra;meta.main and "
                "pos.eq.dec;meta.main in TAP_SCHEMA: give columns.ra and columns.dec in the "
                "profile", self.url)
        where = [f"1=CONTAINS(POINT('ICRS', {ra}, {dec}), "
                 f"CIRCLE('ICRS', {query.ra!r}, {query.dec!r}, {query.radius!r}))"]
        if obscore:
            if query.band:
                where.append(f"em_min <= {query.band[1]!r} AND em_max >= {query.band[0]!r}")
            if query.time_min is not None:
                where.append(f"t_max >= {float(query.time_min)!r}")
            if query.time_max is not None:
                where.append(f"t_min <= {float(query.time_max)!r}")
            if query.product_type:
                where.append(f"dataproduct_type = {adql_string(query.product_type)}")
        title = mapping.get("title") or mapping.get("id")
        if title:
            where += [f"LOWER({title}) LIKE {adql_string('%' + word.lower() + '%')}"
                      for word in query.keywords]
        return f"SELECT * FROM {self.table} WHERE " + " AND ".join(where)

    def search_sky(self, query: SkyQuery) -> Table:
        """Cone query on the profile's table, mapped to the common columns.

        ``ivoa.obscore`` is understood (band, time and product type become
        constraints); other tables need ``columns`` (``ra``, ``dec``, ``id``,
        ``title`` ...) in the profile and are treated as catalogues.
        """
        obscore = (self.table or "").lower() == "ivoa.obscore"
        if not obscore and (query.product_type or query.time_min is not None
                            or query.time_max is not None):
            empty = common_table(Table(), self.name, {})
            empty.meta["note"] = "a catalogue: no data products or time range to match"
            return empty
        adql = self.sky_adql(query)
        raw = self.run_sync(adql, maxrec=query.maxrec)
        mapping = self.column_mapping()
        table = common_table(raw, self.name, mapping, query=query,
                             product_type="" if obscore else "source",
                             size_factor=1024 if obscore else 1)
        table.meta["adql"] = adql
        return table


def _iso(time: object) -> str:
    return time.utc.iso[:19] if time is not None else ""  # type: ignore[attr-defined]
