"""Result columns to plot: every numeric column of the rows and of what each archive
returned for them (the ``record`` of each row), with units and UCDs.

No drawing here: :class:`esap_dash.ui.components.column_plot.ColumnPlot` draws the
table :func:`plot_columns` returns; its rows are the result rows, in order,
so a selection means the same rows on the plot, the map and the table.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
from astropy.table import Table

__all__ = ["COMMON_NUMBERS", "default_axes", "is_magnitude", "plot_columns"]

#: The result rows' own numeric columns offered for plotting.
COMMON_NUMBERS = ("ra", "dec", "distance")


def plot_columns(rows: Table) -> Table:
    """Every numeric column of ``rows`` and of their records, as floats.

    Parameters
    ----------
    rows : astropy.table.Table
        Result rows (``ra``, ``dec``, ``distance``, ``record`` as the search
        returns them; ``meta["columns"]`` holds each archive's column units
        and UCDs).

    Returns
    -------
    astropy.table.Table
        One float column per numeric field, one row per result row (NaN where
        a row has no such value); ``meta["units"]`` and ``meta["ucds"]`` map
        column names to their unit and UCD (text, as the archive gave them).
        A record field named like a common column is called ``record <name>``.
    """
    n = len(rows)
    out = Table()
    units: dict[str, str] = {}
    ucds: dict[str, str] = {}
    for columns in rows.meta.get("columns", {}).values():
        for name, described in columns.items():
            if described.get("unit"):
                units.setdefault(name, described["unit"])
            if described.get("ucd"):
                ucds.setdefault(name, described["ucd"])
    out_units: dict[str, str] = {}
    out_ucds: dict[str, str] = {}
    for name in COMMON_NUMBERS:
        if name in rows.colnames:
            out[name] = np.ma.filled(np.ma.asarray(rows[name], dtype=float), np.nan)
            if rows[name].unit is not None:
                out_units[name] = str(rows[name].unit)
    fields: dict[str, np.ndarray] = {}
    if "record" in rows.colnames:
        for i, text in enumerate(rows["record"]):
            for key, value in _numbers(text):
                column = fields.get(key)
                if column is None:
                    column = fields[key] = np.full(n, np.nan)
                column[i] = value
    for key, values in fields.items():
        name = f"record {key}" if key in out.colnames else key
        out[name] = values
        if key in units:
            out_units[name] = units[key]
        if key in ucds:
            out_ucds[name] = ucds[key]
    out.meta["units"] = out_units
    out.meta["ucds"] = out_ucds
    return out


def _numbers(text: Any) -> list[tuple[str, float]]:
    """The numeric fields of one JSON record (none if it is not one)."""
    if not text:
        return []
    try:
        record = json.loads(str(text))
    except ValueError:
        return []
    if not isinstance(record, dict):
        return []
    return [(str(k), float(v)) for k, v in record.items()
            if isinstance(v, int | float) and not isinstance(v, bool)
            and not (isinstance(v, float) and math.isnan(v))]


def default_axes(columns: Table) -> tuple[str | None, str | None]:
    """The axes a first plot of ``columns`` uses: a colour against a magnitude (a
    colour–magnitude diagram) where the UCDs name both, else RA against Dec."""
    names = columns.colnames
    ucds = columns.meta.get("ucds", {})

    def having(prefix: str) -> list[str]:
        return [n for n in names if ucds.get(n, "").lower().startswith(prefix)]

    colours, magnitudes = having("phot.color"), having("phot.mag")
    if colours and magnitudes:
        # The magnitude measured for most of the rows that have the colour.
        colour = np.isfinite(np.asarray(columns[colours[0]], float))
        return colours[0], max(magnitudes, key=lambda m: int(np.count_nonzero(
            colour & np.isfinite(np.asarray(columns[m], float)))))
    rest = [n for n in names if n not in COMMON_NUMBERS]
    if len(rest) >= 2:
        return rest[0], rest[1]
    if "ra" in names and "dec" in names:
        return "ra", "dec"
    return (names[0] if names else None), (names[1] if len(names) > 1 else None)


def is_magnitude(columns: Table, name: str | None) -> bool:
    """Whether ``name`` is a magnitude (by UCD or unit): bright is drawn up."""
    if name is None:
        return False
    ucd = columns.meta.get("ucds", {}).get(name, "").lower()
    unit = columns.meta.get("units", {}).get(name, "").strip().lower()
    return ucd.startswith("phot.mag") or unit == "mag"
