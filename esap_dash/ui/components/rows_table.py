"""The rows drawn on a sky map, as a table whose ticks are the map's selection."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import panel as pn
import param
from astropy.table import Table

__all__ = ["RowsTable"]

COLUMNS = ["archive", "id", "title", "ra", "dec", "product_type", "access_url"]


class RowsTable(pn.viewable.Viewer):
    """Some rows' archive, identifier, title, position, product type and address;
    ticking rows selects them."""

    selection = param.List(default=[], item_type=int,
                           doc="Rows chosen in the table (their indices), as ticked there.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._table = pn.widgets.Tabulator(
            pd.DataFrame(columns=COLUMNS), show_index=False, disabled=True,
            selectable="checkbox", pagination="remote", page_size=20, height=420,
            sizing_mode="stretch_width",
            formatters={c: {"type": "plaintext"} for c in
                        ("archive", "id", "title", "product_type", "access_url")})
        self._table.link(self, selection="selection", bidirectional=True)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._table

    def show(self, rows: Table) -> None:
        """List ``rows`` (none selected)."""
        with param.discard_events(self):
            self.selection = []
        with param.discard_events(self._table):
            self._table.selection = []
        self._table.value = pd.DataFrame({c: _values(rows, c) for c in COLUMNS})

    def reveal(self, rows: list[int]) -> None:
        """Tick ``rows`` and turn to the page of the first."""
        self.selection = list(rows)
        if rows:
            self._table.page = min(rows) // self._table.page_size + 1


def _values(rows: Table, name: str) -> Any:
    """A column for the table: its values (masked ones empty), or empty."""
    if name not in rows.colnames:
        return pd.Categorical.from_codes(np.zeros(len(rows), np.int8), [""])
    column = rows[name]
    return column.tolist() if np.ma.getmaskarray(column).any() else np.asarray(column)
