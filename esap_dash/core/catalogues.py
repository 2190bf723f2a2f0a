"""Whole catalogues: the tables with positions of every TAP service, and every row
of one of them with what the cart keeps of its origin."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from astropy import units as u
from astropy.table import Table
from mocpy import MOC

from connectors.exceptions import ConnectorError, QueryError
from connectors.tap import is_column_name

from .config import ServiceConfig
from .provenance import Provenance, Service
from .sky import coverage

__all__ = ["Catalogue", "LoadedCatalogue", "catalogue_provenance", "catalogue_rows",
           "find_catalogues", "science_columns"]

#: UCD words of the columns a whole catalogue brings unless others are asked for.
SCIENCE_UCDS = ("phot.mag", "phot.color", "pos.parallax")


@dataclass(frozen=True)
class Catalogue:
    """A table with positions of a TAP service.

    Attributes
    ----------
    archive : str
        The (first) archive the service is configured as.
    table_name : str
        The table's name in the service.
    id, ra, dec : str
        Its identifier (may be empty) and main position columns (TAP_SCHEMA UCDs).
    connector : Any
        The service's TAP connector.
    """

    archive: str
    table_name: str
    id: str
    ra: str
    dec: str
    connector: Any

    @property
    def name(self) -> str:
        """How the catalogue is offered: ``table (archive)``."""
        return f"{self.table_name} ({self.archive})"

    def columns(self) -> Table:
        """The table's columns as its TAP_SCHEMA describes them: ``column_name``,
        ``datatype``, ``unit``, ``ucd``, ``description`` (blocking); those whose
        names are plain column names.

        Raises
        ------
        connectors.exceptions.ConnectorError
            The service failed or refused.
        """
        described = self.connector.table_columns(self.table_name)
        # Only plain names can be asked for (and none is markup where it is shown).
        return described[[is_column_name(str(n)) for n in described["column_name"]]]

    def load(self, user: str, row_limit: int, columns: Sequence[str] = (),
             described: Table | None = None) -> LoadedCatalogue:
        """Every row's position and identifier, and ``columns`` (names of
        :meth:`columns`; ``described`` is what it returned, if it was asked
        already), at most ``row_limit`` rows (blocking).

        Raises
        ------
        connectors.exceptions.ConnectorError
            The service failed or refused, or a column is not the table's.
        """
        url = self.connector.url
        if columns and described is None:
            described = self.columns()
        if described is not None:
            unknown = set(columns) - {str(n) for n in described["column_name"]}
            if unknown:
                raise QueryError(f"{self.table_name} has no column "
                                 f"{', '.join(sorted(unknown))}", url)
        answer = self.connector.positions(self.table_name, self.ra, self.dec, self.id,
                                          columns=columns, maxrec=row_limit)
        truncated = bool(answer.meta.get("truncated"))
        record = Provenance(
            "catalogue", user=user, services=(Service(
                self.archive, "tap", url, table=self.table_name if self.id else None,
                asked=answer.meta.get("adql", "")),),
            query={"catalogue": self.table_name}, maxrec=row_limit,
            truncated=(self.archive,) if truncated else ())
        rows = catalogue_rows(answer, self.archive, self.table_name, url, described,
                              designation=self.connector.designations.get(self.table_name))
        return LoadedCatalogue(self, rows, coverage(rows), truncated, functools.partial(
            catalogue_provenance, catalogue=self, record=record))


@dataclass(frozen=True)
class LoadedCatalogue:
    """A whole catalogue's rows as a map draws them.

    Attributes
    ----------
    catalogue : Catalogue
        Which.
    rows : astropy.table.Table
        See :func:`catalogue_rows`.
    coverage : MOC or None
        Where they are.
    truncated : bool
        The row limit cut the catalogue.
    provenance : callable
        Some of :attr:`rows` with what the cart keeps of their origin (see
        :func:`catalogue_provenance`).
    """

    catalogue: Catalogue
    rows: Table
    coverage: MOC | None
    truncated: bool
    provenance: Callable[[Table], Table]


def find_catalogues(services: Iterable[ServiceConfig]) -> tuple[dict[str, Catalogue], list[str]]:
    """The tables with positions (TAP_SCHEMA UCDs) of every TAP service among
    ``services``, by :attr:`Catalogue.name`; a service several archives share is
    asked once and named after the first (blocking).

    Returns
    -------
    tuple
        The catalogues, and one sentence per service that could not be asked.
    """
    found: dict[str, Catalogue] = {}
    failed: list[str] = []
    asked: set[str] = set()
    for svc in services:
        if svc.kind != "tap" or svc.url in asked:
            continue
        asked.add(svc.url)
        connector = svc.connector()
        try:
            tables = connector.positional_tables()
        except ConnectorError as exc:
            failed.append(f"{svc.name}: {exc.reason}")
            continue
        for row in tables:
            catalogue = Catalogue(svc.name, *(str(row[c]) for c in ("table_name", "id", "ra",
                                                                   "dec")), connector)
            found[catalogue.name] = catalogue
    return found, failed


def catalogue_rows(rows: Table, archive: str, table_name: str, url: str,
                   described: Table | None = None, *, designation: str | None = None
                   ) -> Table:
    """A catalogue's positions as rows of a map and its table: each with its
    archive, identifier, a title and the service's URL (the title is the object's
    ``designation`` and identifier, ``HIP 26159``; without a designation the
    table's name and identifier; a row without an identifier is named as such),
    then the other columns of ``rows`` with the unit, UCD and description
    ``described`` (see :meth:`Catalogue.columns`) gives them.  ``meta["catalogue"]``
    names the table."""
    if "id" in rows.colnames:
        ids = np.asarray(rows["id"], dtype=str)
        missing = np.ma.getmaskarray(rows["id"]) | (np.char.strip(ids) == "")
        ids[missing] = ""
    else:
        ids, missing = np.arange(len(rows)).astype(str), np.zeros(len(rows), bool)
    titles = np.char.add(f"{designation or table_name} ", ids).astype(object)
    titles[missing] = f"{table_name} row without an identifier"
    out = Table({"archive": np.full(len(rows), archive), "id": ids,
                 "title": titles.astype(str),
                 "ra": np.ma.filled(np.ma.asarray(rows["ra"], float), np.nan),
                 "dec": np.ma.filled(np.ma.asarray(rows["dec"], float), np.nan),
                 "service_url": np.full(len(rows), url)}, copy=False)
    out.meta["catalogue"] = table_name
    meta = ({str(r["column_name"]): r for r in described} if described is not None else {})
    for name in rows.colnames:
        if name in ("id", "ra", "dec"):
            continue
        out[name] = rows[name]
        if name in meta:
            column, info = out[name], meta[name]
            column.unit = u.Unit(str(info["unit"]), format="vounit", parse_strict="silent") \
                if str(info["unit"] or "").strip() else None
            column.description = str(info["description"] or "")
            column.meta["ucd"] = str(info["ucd"] or "")
    return out


def science_columns(described: Table, limit: int = 10) -> list[str]:
    """The columns of a catalogue a plot of it first wants: magnitudes, colours
    and parallaxes by UCD (not their errors), at most ``limit``."""
    return [str(row["column_name"]) for row in described
            if str(row["ucd"] or "").strip().lower().startswith(SCIENCE_UCDS)][:limit]


def catalogue_provenance(rows: Table, *, catalogue: Catalogue, record: Provenance) -> Table:
    """``rows`` of a whole catalogue with what the cart keeps of their origin: the
    record of the query that loaded them, and each row's identifier and position
    under the table's own column names (so an exported notebook can ask the
    service again for exactly these rows)."""
    rows = rows.copy()
    id_col = catalogue.id or "id"
    rows["record"] = [json.dumps({id_col: str(i), catalogue.ra: float(ra),
                                  catalogue.dec: float(dec)})
                      for i, ra, dec in zip(rows["id"], rows["ra"], rows["dec"], strict=True)]
    rows["query"] = [record.to_json()] * len(rows)
    return rows
