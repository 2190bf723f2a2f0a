"""A card plotting some rows' numeric columns, made when first opened."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import panel as pn
import param
from astropy.table import Table

from ...core.explore import plot_columns
from ...core.fanout import run_blocking
from .column_plot import ColumnPlot

__all__ = ["ColumnPlotCard"]


class ColumnPlotCard(pn.viewable.Viewer):
    """A :class:`ColumnPlot` of the rows shown elsewhere (a map, a table) in a card;
    the plot is made when the card is first opened, and a box or lasso on it
    becomes :attr:`selection`.

    Parameters
    ----------
    rows : callable
        The rows shown now.
    selected : callable
        Which of them are selected now (indices).
    """

    selection = param.List(default=[], item_type=int, doc="Rows selected on the plot.")

    def __init__(self, rows: Callable[[], Table], selected: Callable[[], list[int]],
                 **params: Any) -> None:
        super().__init__(**params)
        self._rows, self._selected = rows, selected
        #: The plot (None until the card is first opened).
        self.plot: ColumnPlot | None = None
        self._quiet = False
        self._card = pn.Card(
            pn.pane.Markdown("Any numeric column of the rows, with what each archive "
                             "returned for them; a box or lasso here selects the same rows "
                             "on the map and in the table."),
            title="Plot columns (scatter, histogram)", collapsed=True,
            sizing_mode="stretch_width")
        self._card.param.watch(self._on_card, "collapsed")

    def __panel__(self) -> pn.viewable.Viewable:
        return self._card

    def _on_card(self, event: param.parameterized.Event) -> None:
        if not event.new and self.plot is None:
            self._make()
            self.rows_changed()

    def _make(self) -> ColumnPlot:
        if self.plot is None:
            self.plot = ColumnPlot()
            self.plot.param.watch(self._on_plot_selection, "selection")
            self._card.append(self.plot)
        return self.plot

    def _on_plot_selection(self, event: param.parameterized.Event) -> None:
        if not self._quiet:
            self.selection = list(event.new)

    def select(self, rows: list[int]) -> None:
        """Show ``rows`` selected on the plot (when it is made)."""
        if self.plot is not None:
            self._quiet = True
            try:
                self.plot.selection = list(rows)
            finally:
                self._quiet = False

    def rows_changed(self) -> None:
        """Plot the rows again once the session's loop is free (when the plot is made)."""
        if self.plot is not None and pn.state.curdoc is not None:
            pn.state.execute(self.show)

    async def show(self) -> None:
        """Plot the rows' numeric columns (their records are read off the event loop),
        opening the card."""
        plot = self._make()
        self._card.collapsed = False
        rows = self._rows()
        columns = await run_blocking(plot_columns, rows)
        if rows is not self._rows():  # other rows were shown meanwhile
            return
        self._quiet = True
        try:
            plot.set_columns(columns)
            plot.selection = list(self._selected())
        finally:
            self._quiet = False
