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
    selected_only = param.Boolean(default=False, label="Selected rows only",
                                  doc="List only the selected rows.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._table = pn.widgets.Tabulator(
            pd.DataFrame(columns=COLUMNS), show_index=False, disabled=True,
            selectable="checkbox", pagination="remote", page_size=20,
            sizing_mode="stretch_width",
            formatters={c: {"type": "plaintext"} for c in
                        ("archive", "id", "title", "product_type", "access_url")})
        self._table.link(self, selection="selection", bidirectional=True)
        self._table.add_filter(pn.bind(_only, self.param.selected_only, self.param.selection))
        self._layout = pn.Column(pn.widgets.Checkbox.from_param(self.param.selected_only),
                                 self._table, sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    def show(self, rows: Table) -> None:
        """List ``rows`` (none selected)."""
        self.selected_only = False
        with param.discard_events(self):
            self.selection = []
        with param.discard_events(self._table):
            self._table.selection = []
        self._table.value = pd.DataFrame({c: _values(rows, c) for c in COLUMNS})

    def reveal(self, rows: list[int]) -> None:
        """Tick ``rows`` and list only them (all rows again when there are none)."""
        self.param.update(selection=list(rows), selected_only=bool(rows))
        self._table.page = 1

    @property
    def listed(self) -> pd.DataFrame:
        """The rows the table lists now."""
        return self._table.current_view


def _only(selected_only: bool, selection: list[int], frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``frame`` (Tabulator passes it last) that are in ``selection``, if
    only those are to be listed."""
    return frame[frame.index.isin(selection)] if selected_only else frame


def _values(rows: Table, name: str) -> Any:
    """A column for the table: its values (masked ones empty), or empty."""
    if name not in rows.colnames:
        return pd.Categorical.from_codes(np.zeros(len(rows), np.int8), [""])
    column = rows[name]
    return column.tolist() if np.ma.getmaskarray(column).any() else np.asarray(column)
