"""Spectra among result rows: which rows are spectra, their samples, and their
spectral axis as wavelength or frequency.

A spectrum is read from its access URL with the session of the archive that
found it (so with that archive's timeout); see :func:`connectors.ssa.read_spectrum`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import astropy.units as u
import numpy as np
from astropy.table import Row, Table

from connectors.exceptions import ConnectorError
from connectors.http import make_session
from connectors.ssa import read_spectrum

__all__ = ["AXES", "Spectrum", "archive_session", "load_spectra", "on_axis", "spectrum_rows"]

#: How the spectral axis can be drawn.
AXES = ("as served", "wavelength", "frequency")
#: At most this many spectra are drawn together.
MAX_SPECTRA = 12


@dataclass(frozen=True)
class Spectrum:
    """One result row's spectrum.

    Attributes
    ----------
    title : str
        The row's title.
    url : str
        Where it was read from.
    samples : astropy.table.Table
        Spectral axis then flux, with units (empty when it could not be read).
    error : str
        Why it could not be read ("" when it was).
    """

    title: str
    url: str
    samples: Table
    error: str = ""


def spectrum_rows(rows: Table) -> list[Row]:
    """The rows that are spectra (product type ``spectrum`` or ``sed``) with an
    HTTP access URL."""
    if not {"product_type", "access_url"} <= set(rows.colnames):
        return []
    return [r for r in rows if str(r["product_type"]) in ("spectrum", "sed")
            and str(r["access_url"]).startswith(("http://", "https://"))]


def archive_session(profile: Any, archive: str) -> Any:
    """The HTTP session of the archive named ``archive`` in ``profile`` (its
    timeout); a session with the default timeout when the profile has no such archive."""
    svc = next((s for s in profile.by_role("archive") if s.name == archive), None)
    return svc.connector().session if svc is not None else make_session()


def load_spectra(rows: list[Row], profile: Any) -> list[Spectrum]:
    """Read the spectra of ``rows`` (at most :data:`MAX_SPECTRA`), each with its
    archive's session; one that cannot be read carries its error, the others are read."""
    found = []
    for row in rows[:MAX_SPECTRA]:
        url, title = str(row["access_url"]), str(row["title"])
        try:
            samples = read_spectrum(archive_session(profile, str(row["archive"])), url)
        except ConnectorError as exc:
            found.append(Spectrum(title, url, Table(), exc.reason))
            continue
        found.append(Spectrum(title, url, samples))
    return found


def _readable_unit(values: u.Quantity, kind: str) -> u.UnitBase:
    """A unit that keeps the numbers of ``values`` (a wavelength or frequency) readable."""
    middle = float(np.nanmedian(np.abs(values.value))) * values.unit
    if kind == "wavelength":
        metres = middle.to_value(u.m)
        return u.AA if metres < 1e-5 else (u.um if metres < 1e-3 else u.cm)
    hertz = middle.to_value(u.Hz)
    return u.THz if hertz >= 1e12 else (u.GHz if hertz >= 1e9 else u.MHz)


def on_axis(samples: Table, axis: str) -> Table:
    """``samples`` with the spectral axis as served, as wavelength or as frequency.

    Parameters
    ----------
    samples : astropy.table.Table
        Spectral axis then flux (see :func:`connectors.ssa.read_spectrum`).
    axis : str
        One of :data:`AXES`.

    Returns
    -------
    astropy.table.Table
        The two columns, the first named ``Wavelength`` or ``Frequency`` (or its
        own name, as served) in a unit that keeps its values readable, sorted
        along it.
    """
    if axis not in AXES:
        raise ValueError(f"unknown spectral axis {axis!r}; use one of {', '.join(AXES)}")
    spectral, flux = samples.columns[0], samples.columns[1]
    if axis == "as served":
        return samples
    values = np.asarray(spectral, dtype=float) * spectral.unit
    name = "Wavelength" if axis == "wavelength" else "Frequency"
    kind = "wavelength" if axis == "wavelength" else "frequency"
    converted = values.to(u.m if kind == "wavelength" else u.Hz, equivalencies=u.spectral())
    converted = converted.to(_readable_unit(converted, kind))
    out = Table([converted, flux], names=(name, flux.name))
    out.sort(name)
    out.meta = dict(samples.meta)
    return out
