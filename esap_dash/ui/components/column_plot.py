"""Plots of any numeric result columns (scatter and histogram) with box and lasso
selection, for linking with the sky map and the table.

Usable alone in a notebook cell::

    from esap_dash.ui.components.column_plot import ColumnPlot
    from esap_dash.core.explore import plot_columns
    ColumnPlot(columns=plot_columns(rows))
"""

from __future__ import annotations

import contextlib
import functools
import operator
from typing import Any

import datashader as ds
import datashader.transfer_functions as tf
import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param
import shapely
from astropy.table import Table

from ...core.explore import ExpressionError, default_axes, derive, is_magnitude
from .shading import Deferred, Window, put_image, rgba, window_of
from .style import notice, say

__all__ = ["ColumnPlot"]

hv.renderer("bokeh")

#: From this many plotted rows on, a scatter plot is aggregated by Datashader.
SHADE_FROM = 50_000
#: At most this many selected rows are marked one by one on the plot.
MARK_LIMIT = 20_000
#: The colours of aggregated points, from one row to the most in a pixel.
SHADES = ["#9ecae1", "#08306b"]
KINDS = ("Scatter", "Histogram")

Chosen = hv.streams.Stream.define("Chosen", rows=[])


class ColumnPlot(pn.viewable.Viewer):
    """A scatter plot or histogram of numeric columns; a box or lasso selects rows.

    Parameters
    ----------
    columns : astropy.table.Table, optional
        Float columns, one row per result row (see
        :func:`esap_dash.core.explore.plot_columns`); ``meta["units"]`` labels the axes.
    """

    kind = param.Selector(objects=KINDS, default="Scatter", doc="Scatter plot or histogram.")
    x = param.Selector(objects=[], label="x", doc="Column along x (the histogram's column).")
    y = param.Selector(objects=[], label="y", doc="Column along y (scatter plot).")
    bins = param.Integer(default=40, bounds=(2, 500), doc="Histogram bins.")
    bright_up = param.Boolean(default=False, label="Magnitudes: bright up",
                              doc="Draw a magnitude along y decreasing upwards.")
    selection = param.List(default=[], doc="Indices of the selected rows.")
    definition = param.String(default="", label="New column (name = expression)",
                              doc="A column computed from others, e.g. "
                                  "M = hpmag + 5*log10(plx/100) (see explore.derive).")
    derived = param.List(default=[], item_type=str,
                         doc="The definitions of the columns added, kept for new rows.")

    def __init__(self, columns: Table | None = None, **params: Any) -> None:
        super().__init__(**params)
        self.columns = Table()
        self._chosen = Chosen()
        #: The window and size (pixels) the aggregated points are shaded for, and the
        #: drawn image's data source.
        self._window: Window = ((0.0, 1.0), (0.0, 1.0))
        self._size = (600, 400)
        self._image_source: Any = None
        self._shaded_frame = pd.DataFrame({"x": [], "y": []})
        self._draw_window = Deferred(self._draw_window_now)
        self._pane = pn.pane.HoloViews(None, sizing_mode="stretch_width", height=420,
                                       linked_axes=False)
        self._widgets = pn.Row(
            pn.widgets.RadioButtonGroup.from_param(self.param.kind, width=180),
            pn.widgets.Select.from_param(self.param.x, width=180),
            pn.widgets.Select.from_param(self.param.y, width=180),
            pn.widgets.IntInput.from_param(self.param.bins, width=90),
            pn.widgets.Checkbox.from_param(self.param.bright_up, align="end"))
        add = pn.widgets.Button(label="Add column", align="end", width=110)
        add.on_click(lambda _: self.add_column(self.definition))
        self.notice = notice()
        self._layout = pn.Column(
            self._widgets,
            pn.Row(pn.widgets.TextInput.from_param(
                self.param.definition, placeholder="M = hpmag + 5*log10(plx/100)", width=420),
                add),
            self.notice, self._pane, sizing_mode="stretch_width")
        self.set_columns(columns if columns is not None else Table())

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    def set_columns(self, columns: Table) -> None:
        """Plot new rows; the axes keep their columns where the new rows have them,
        and the columns added (:attr:`derived`) are computed again where they can be."""
        for definition in self.derived:
            with contextlib.suppress(ExpressionError):
                columns = derive(columns, definition)
        self.columns = columns
        names = columns.colnames
        x, y = default_axes(columns)
        if self.x in names and self.y in names:
            x, y = self.x, self.y
        self.param.x.objects = names
        self.param.y.objects = names
        axes = (x, y, is_magnitude(columns, y))
        unchanged = axes == (self.x, self.y, self.bright_up)
        self.param.update(x=x, y=y, bright_up=axes[2], selection=[])  # drawn once
        if unchanged:
            self._redraw()

    def add_column(self, definition: str) -> str | None:
        """Add a column computed from others (see :func:`explore.derive`) and draw it
        along y; a definition that cannot be computed is said, nothing changes.

        Returns
        -------
        str or None
            The new column's name.
        """
        try:
            columns = derive(self.columns, definition)
        except ExpressionError as exc:
            say(self.notice, str(exc), "warning")
            return None
        name = columns.colnames[-1]
        finite = int(np.isfinite(np.asarray(columns[name], float)).sum())
        say(self.notice, f"{name}: {finite:,} of {len(columns):,} rows have a value.")
        self.derived = [*(d for d in self.derived if d != definition), definition]
        self.columns = columns
        self.param.x.objects = self.param.y.objects = columns.colnames
        self.param.update(y=name, bright_up=is_magnitude(columns, name))
        return name

    def label(self, name: str | None) -> str:
        """An axis label: the column and its unit."""
        unit = self.columns.meta.get("units", {}).get(name or "", "")
        return f"{name} [{unit}]" if unit else str(name or "")

    # ------------------------------------------------------------- selection
    def select_polygon(self, xs: np.ndarray, ys: np.ndarray) -> list[int]:
        """Select the rows whose (x, y) lie inside a polygon drawn on the scatter plot."""
        x, y = self._values(self.x), self._values(self.y)
        ok = np.isfinite(x) & np.isfinite(y)
        inside = np.zeros(len(x), bool)
        if len(xs) >= 3 and ok.any():
            polygon = shapely.Polygon(np.column_stack([xs, ys]))
            inside[ok] = shapely.contains_xy(polygon, x[ok], y[ok])
        self.selection = np.flatnonzero(inside).tolist()
        return self.selection

    def select_range(self, low: float, high: float) -> list[int]:
        """Select the rows whose x lies in [``low``, ``high``] (a histogram's bins)."""
        x = self._values(self.x)
        low, high = sorted((low, high))
        self.selection = np.flatnonzero((x >= low) & (x <= high)).tolist()
        return self.selection

    def _on_box(self, bounds: tuple[float, float, float, float] | None = None,
                **_: Any) -> None:
        if bounds is None:
            return
        x0, y0, x1, y1 = bounds
        if self.kind == "Histogram":
            self.select_range(x0, x1)
        else:
            self.select_polygon(np.array([x0, x1, x1, x0]), np.array([y0, y0, y1, y1]))

    def _on_lasso(self, geometry: Any = None, **_: Any) -> None:
        if geometry is not None and len(geometry) >= 3:
            xy = np.asarray(geometry, float)
            self.select_polygon(xy[:, 0], xy[:, 1])

    @param.depends("selection", watch=True)
    def _show_selection(self) -> None:
        self._chosen.event(rows=list(self.selection))

    # --------------------------------------------------------------- drawing
    def _values(self, name: str | None) -> np.ndarray:
        if name is None or name not in self.columns.colnames:
            return np.full(len(self.columns), np.nan)
        return np.asarray(self.columns[name], dtype=float)

    @param.depends("kind", "x", "y", "bins", "bright_up", watch=True)
    def _redraw(self) -> None:
        self._widgets[2].visible = self.kind == "Scatter"
        self._widgets[3].visible = self.kind == "Histogram"
        self._widgets[4].visible = self.kind == "Scatter"
        self._image_source = None  # until a new aggregated plot is drawn
        self._pane.object = self.plot() if self.x is not None else None

    def plot(self) -> hv.Overlay:
        """The plot as a HoloViews overlay (the data, and the selected rows marked)."""
        histogram = self.kind == "Histogram"
        layers = self._histogram() if histogram else self._scatter()
        return functools.reduce(operator.mul, layers).opts(
            responsive=True, height=400, show_legend=False, toolbar="above",
            active_tools=["xbox_select" if histogram else "box_select"])

    def _frame(self) -> pd.DataFrame:
        x, y = self._values(self.x), self._values(self.y)
        ok = np.isfinite(x) & np.isfinite(y)
        return pd.DataFrame({"x": x[ok], "y": y[ok], "row": np.flatnonzero(ok)})

    def _scatter(self) -> list[hv.Element]:
        frame = self._frame()
        axes = {"xlabel": self.label(self.x), "ylabel": self.label(self.y),
                "invert_yaxis": self.bright_up}
        if len(frame) > SHADE_FROM:
            drawn = self._shaded(frame)
        else:
            drawn = hv.Points(frame, ["x", "y"], ["row"]).opts(
                size=4, color="#3182bd", alpha=0.7, nonselection_alpha=0.7,
                selection_alpha=0.7)
        drawn = drawn.opts(tools=["box_select", "lasso_select"], **axes)
        hv.streams.BoundsXY(source=drawn).add_subscriber(self._on_box)
        hv.streams.Lasso(source=drawn).add_subscriber(self._on_lasso)

        def marked(rows: list[int]) -> hv.Points:
            chosen = frame[frame["row"].isin(rows[:MARK_LIMIT])]
            return hv.Points(chosen, ["x", "y"]).opts(color="#d62728", size=6, **axes)

        return [drawn, hv.DynamicMap(marked, streams=[self._chosen])]

    def _shaded(self, frame: pd.DataFrame) -> hv.RGB:
        """The points aggregated by Datashader over the data's extent; a zoom or pan
        shades the new window straight into the drawn image."""
        x0, x1, y0, y1 = (*_extent(frame["x"]), *_extent(frame["y"]))
        self._window, self._shaded_frame = ((x0, x1), (y0, y1)), frame
        image = hv.RGB(rgba(self._shade(frame), self._size), bounds=(x0, y0, x1, y1),
                       vdims=list("RGBA")).opts(hooks=[self._hold_image])
        hv.streams.RangeXY(source=image).add_subscriber(self._on_range)
        hv.streams.PlotSize(source=image).add_subscriber(self._on_size)
        return image

    def _shade(self, frame: pd.DataFrame) -> Any:
        (x0, x1), (y0, y1) = self._window
        canvas = ds.Canvas(plot_width=self._size[0], plot_height=self._size[1],
                           x_range=(x0, x1), y_range=(y0, y1))
        return tf.dynspread(tf.shade(canvas.points(frame, "x", "y", ds.count()),
                                     cmap=SHADES, min_alpha=120), threshold=0.5, max_px=2)

    def _hold_image(self, plot: Any, element: Any) -> None:
        self._image_source = plot.handles["source"]

    def _on_range(self, x_range: Any = None, y_range: Any = None, **_: Any) -> None:
        if x_range is not None and y_range is not None:
            self._window = window_of(x_range, y_range)
            self._draw_window()

    def _on_size(self, width: int | None = None, height: int | None = None,
                 **_: Any) -> None:
        if width and height and (width, height) != self._size:
            self._size = (int(width), int(height))
            self._draw_window()

    def _draw_window_now(self) -> None:
        if self._image_source is not None:
            put_image(self._image_source, self._shade(self._shaded_frame).data, self._window)

    def _histogram(self) -> list[hv.Element]:
        x = self._values(self.x)
        finite = x[np.isfinite(x)]
        edges = np.histogram_bin_edges(finite, bins=self.bins) if len(finite) else [0, 1]
        axes = {"xlabel": self.label(self.x), "ylabel": "rows"}
        bars = hv.Histogram(np.histogram(finite, edges)).opts(
            fill_color="#9ecae1", line_color="#3182bd", tools=["xbox_select"],
            nonselection_alpha=1.0, **axes)
        hv.streams.BoundsXY(source=bars).add_subscriber(self._on_box)

        def marked(rows: list[int]) -> hv.Histogram:
            chosen = x[rows] if rows else x[:0]
            counts, _ = np.histogram(chosen[np.isfinite(chosen)], edges)
            return hv.Histogram((counts, edges)).opts(fill_color="#d62728", line_alpha=0,
                                                      alpha=0.8, **axes)

        return [bars, hv.DynamicMap(marked, streams=[self._chosen])]


def _extent(values: pd.Series) -> tuple[float, float]:
    """A column's range, widened by 2 % (a point on the edge is drawn whole)."""
    low, high = float(values.min()), float(values.max())
    pad = 0.02 * (high - low) or 0.5
    return low - pad, high + pad
