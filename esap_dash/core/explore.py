"""Result columns to plot: every numeric column of the rows and of what each archive
returned for them (the ``record`` of each row), with units and UCDs.

No drawing here: :class:`esap_dash.ui.components.column_plot.ColumnPlot` draws the
table :func:`plot_columns` returns; its rows are the result rows, in order,
so a selection means the same rows on the plot, the map and the table.
"""

from __future__ import annotations

import ast
import json
import math
import re
from typing import Any

import numpy as np
from astropy.table import Table

from connectors.query import COMMON_COLUMNS, unit_text

from .errors import EsapError

__all__ = ["COMMON_NUMBERS", "ExpressionError", "default_axes", "derive", "is_magnitude",
           "plot_columns"]

#: The result rows' own numeric columns offered for plotting.
COMMON_NUMBERS = ("ra", "dec", "distance")


def plot_columns(rows: Table) -> Table:
    """Every numeric column of ``rows`` and of their records, as floats.

    The common numbers (:data:`COMMON_NUMBERS`) and any numeric column that is not
    a common one (a whole catalogue's own columns) come first.

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
    common = {name for name, _ in COMMON_COLUMNS}
    for name in rows.colnames:
        column = rows[name]
        if name in COMMON_NUMBERS or (name not in common and column.ndim == 1
                                      and column.dtype.kind in "iuf"):
            # The common numbers, and a whole catalogue's own columns.
            out[name] = np.ma.filled(np.ma.asarray(column, dtype=float), np.nan)
            if column.unit is not None:
                out_units[name] = unit_text(column.unit)
            if column.meta.get("ucd"):
                out_ucds[name] = str(column.meta["ucd"])
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


class ExpressionError(EsapError, ValueError):
    """A derived column's definition cannot be computed (the message says why)."""


#: Functions a derived column may use, as TOPCAT's expression language names them.
FUNCTIONS = {"log10": np.log10, "ln": np.log, "log": np.log, "exp": np.exp, "exp10":
             lambda x: 10.0 ** x, "sqrt": np.sqrt, "abs": np.abs, "sin": np.sin,
             "cos": np.cos, "tan": np.tan, "radians": np.radians, "degrees": np.degrees,
             "hypot": np.hypot, "min": np.fmin, "max": np.fmax}
_OPERATORS = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply,
              ast.Div: np.true_divide, ast.Pow: np.power, ast.USub: np.negative,
              ast.UAdd: np.positive}
_NAME = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)")


def derive(columns: Table, definition: str) -> Table:
    """``columns`` with one more column computed from others, as in TOPCAT.

    Parameters
    ----------
    columns : astropy.table.Table
        Float columns (see :func:`plot_columns`).
    definition : str
        ``name = expression`` (or an expression alone, which names the column):
        numbers, column names, ``+ - * / **`` (``^`` too), brackets and the
        functions of :data:`FUNCTIONS`, e.g. ``M_Hp = hpmag + 5*log10(plx/100)``.
        Nothing else is evaluated.

    Returns
    -------
    astropy.table.Table
        A copy with the new column (NaN where it cannot be computed); its unit is
        ``mag`` when it is made from a magnitude (so a plot draws it bright up).

    Raises
    ------
    ExpressionError
        The definition is not such an expression, or names an unknown column.
    """
    text = definition.strip()
    named = _NAME.match(text)
    name, expression = ((named.group(1), text[named.end():].strip()) if named
                        else (text, text))
    if not expression:
        raise ExpressionError("Give a column as name = expression, e.g. "
                              "M = hpmag + 5*log10(plx/100).")
    if len(text) > 500:
        raise ExpressionError("That expression is too long (at most 500 characters).")
    try:
        tree = ast.parse(expression.replace("^", "**"), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"{expression!r} cannot be read ({exc.msg}).") from None
    used: set[str] = set()

    def value(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return value(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float) \
                and not isinstance(node.value, bool):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id not in columns.colnames:
                raise ExpressionError(f"There is no column {node.id!r} (columns: "
                                      f"{', '.join(columns.colnames[:12])}"
                                      f"{' …' if len(columns.colnames) > 12 else ''}).")
            used.add(node.id)
            return np.asarray(columns[node.id], dtype=float)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](value(node.left), value(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](value(node.operand))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in FUNCTIONS and not node.keywords:
            return FUNCTIONS[node.func.id](*(value(a) for a in node.args))
        raise ExpressionError(f"{ast.unparse(node)!r} is not allowed in an expression "
                              f"(numbers, columns, + - * / ** and "
                              f"{', '.join(FUNCTIONS)}).")

    with np.errstate(all="ignore"):
        try:
            values = np.broadcast_to(value(tree), (len(columns),)).astype(float)
        except TypeError as exc:  # a function given the wrong number of arguments
            raise ExpressionError(f"{expression!r} cannot be computed ({exc}).") from None
    values[~np.isfinite(values)] = np.nan
    out = columns.copy(copy_data=False)
    out[name] = values
    units = dict(columns.meta.get("units", {}))
    units.pop(name, None)
    if any(units.get(c, "").strip().lower() == "mag" for c in used):
        units[name] = "mag"
    out.meta["units"] = units
    out.meta["ucds"] = {k: v for k, v in columns.meta.get("ucds", {}).items() if k != name}
    return out
