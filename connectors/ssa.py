"""Simple Spectral Access (SSA) services, and the spectra they serve."""

from __future__ import annotations

import io
from typing import Any, ClassVar

import astropy.units as u
import numpy as np
from astropy.io import fits, votable
from astropy.table import Table
from astropy.time import Time
from pyvo.dal import SSAService

from .exceptions import FormatError
from .http import request
from .query import MJD_RANGE, SkyQuery, common_table, keywords_match
from .vo import DALConnector, query_table

__all__ = ["SSA_MAPPING", "SSAConnector", "read_spectrum", "spectrum_axes"]

#: SSA column (by its SSA data model name) for each common column.
SSA_MAPPING: dict[str, str | None] = {
    "id": "ssa:Curation.PublisherDID", "title": "ssa:DataID.Title",
    "access_url": "ssa:Access.Reference", "size": "ssa:Access.Size",
}
_LOCATION = "ssa:Char.SpatialAxis.Coverage.Location.Value"


def _utype_columns(table: Table) -> dict[str, str]:
    """SSA utype (lower case, without a ``ssa:`` prefix's case) -> column name."""
    found = {}
    for name in table.colnames:
        utype = str(table[name].meta.get("utype") or "").lower()
        if utype:
            found.setdefault(utype, name)
    return found


class SSAConnector(DALConnector):
    """An SSA 1.x spectrum service.

    Parameters
    ----------
    url : str
        The query endpoint (``.../ssap.xml`` for DaCHS).
    **kwargs
        ``availability``, ``maxrec``: see :class:`~connectors.vo.DALConnector`.
    """

    kind: ClassVar[str] = "ssa"
    capabilities: ClassVar[frozenset[str]] = frozenset({"cone", "spectra", "sky"})

    def __init__(self, url: str, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.service = SSAService(self.url, session=self.session)

    def _metadata_query(self) -> object:
        return self.service.search(format="metadata")

    def search(self, ra: float, dec: float, radius: float, *,
               maxrec: int | None = None, **constraints: Any) -> Table:
        """Find spectra within ``radius`` degrees of (``ra``, ``dec``), ICRS.

        Parameters
        ----------
        ra, dec, radius : float
            The cone, degrees.
        maxrec : int, optional
            Row limit; defaults to the connector's.
        **constraints
            Further SSA parameters as pyvo takes them (``band``, ``time``).

        Returns
        -------
        astropy.table.Table
            The service's SSA columns.
        """
        limit = maxrec if maxrec is not None else self.maxrec
        return query_table(
            lambda: self.service.create_query(pos=(ra, dec), diameter=2 * radius, maxrec=limit,
                                              **constraints),
            self.url, self.timeout)

    def search_sky(self, query: SkyQuery) -> Table:
        """SSA query (POS, SIZE, BAND, TIME) mapped to the common columns.

        Columns are found by their SSA data-model names (utypes), whatever a
        service calls them; the position is the SSA location.  Keywords are
        matched in the title and target name.  Only spectra are served: any
        other product type yields no rows, with a note saying why.
        """
        if query.product_type not in (None, "spectrum", "sed"):
            empty = common_table(Table(), self.name, {})
            empty.meta["note"] = "a spectrum service: no other product types"
            return empty
        constraints: dict[str, Any] = {}
        if query.band:
            constraints["band"] = np.array(query.band) * u.m
        if query.time_min is not None or query.time_max is not None:
            constraints["time"] = Time(
                [query.time_min if query.time_min is not None else MJD_RANGE[0],
                 query.time_max if query.time_max is not None else MJD_RANGE[1]],
                format="mjd", scale="tt")  # (UTC has no leap seconds for years past 2100)
        raw = self.search(query.ra, query.dec, query.radius,
                          maxrec=query.maxrec or self.maxrec, **constraints)
        by_utype = _utype_columns(raw)
        mapping = {common: by_utype.get(utype.lower())
                   for common, utype in SSA_MAPPING.items()}
        location = by_utype.get(_LOCATION.lower())
        if location is not None and len(raw):
            position = np.ma.asarray(raw[location], dtype=float).reshape(len(raw), -1)
            raw["_ra"], raw["_dec"] = position[:, 0], position[:, 1]
            mapping["ra"], mapping["dec"] = "_ra", "_dec"
        table = common_table(raw, self.name, mapping, query=query, product_type="spectrum")
        if query.keywords:
            target = by_utype.get("ssa:target.name")
            texts = [f"{row['title']} {raw[target][i] if target else ''}"
                     for i, row in enumerate(table)]
            table = table[keywords_match(texts, query.keywords)]
        return table


def spectrum_axes(table: Table) -> tuple[str, str]:
    """The spectral and flux columns of a spectrum table.

    The spectral column is the first whose unit is a wavelength, frequency,
    energy or wavenumber; the flux column the first (preferring one named
    *flux*) whose unit is a flux density, a flux, or dimensionless (normalised).

    Raises
    ------
    FormatError
        When the table has no such pair of columns.
    """
    spectral_types = {"length", "frequency", "energy", "wavenumber"}
    flux_types = {"spectral flux density", "spectral flux density wav",
                  "energy flux", "photon flux density", "photon flux density wav",
                  "photon flux", "dimensionless"}

    def kinds(name: str) -> set[str]:
        unit = table[name].unit
        return set() if unit is None else set(unit.physical_type)

    spectral = next((n for n in table.colnames if kinds(n) & spectral_types), None)
    fluxes = [n for n in table.colnames if n != spectral and kinds(n) & flux_types]
    fluxes.sort(key=lambda n: "flux" not in n.lower())
    if spectral is None or not fluxes:
        units = ", ".join(f"{n} [{table[n].unit or '-'}]" for n in table.colnames)
        raise FormatError(f"no spectral axis and flux with units among the columns: {units}",
                          table.meta.get("url", ""))
    return spectral, fluxes[0]


def read_spectrum(session: Any, url: str, *, mime: str = "") -> Table:
    """Download a spectrum (a FITS table or a VOTable) and return its samples.

    Parameters
    ----------
    session : requests.Session
        Session carrying the timeout (the connector's).
    url : str
        The spectrum's access URL.
    mime : str
        Its MIME type, when the service said it; the content decides otherwise.

    Returns
    -------
    astropy.table.Table
        Two columns with units, the spectral axis then the flux, sorted along
        the spectral axis; ``meta`` has ``url`` and the file's ``OBJECT``.

    Raises
    ------
    FormatError
        Not a table, or no spectral axis and flux with units.
    """
    content = request(session, "GET", url).content
    try:
        if content[:6] == b"SIMPLE":
            with fits.open(io.BytesIO(content)) as hdus:
                hdu = next((h for h in hdus if isinstance(h, fits.BinTableHDU)), None)
                if hdu is None:
                    raise FormatError("a FITS file without a table", url)
                table = Table.read(hdu)
                target = str(hdu.header.get("OBJECT", "") or hdus[0].header.get("OBJECT", ""))
        else:
            table = votable.parse_single_table(io.BytesIO(content)).to_table()
            target = ""
    except (OSError, ValueError, IndexError) as exc:
        raise FormatError(f"not a spectrum table ({mime or 'unknown type'}): {exc}",
                          url) from exc
    table.meta["url"] = url
    spectral, flux = spectrum_axes(table)
    out = Table([table[spectral], table[flux]])
    out.sort(spectral)
    out.meta = {"url": url, "object": target}
    return out
