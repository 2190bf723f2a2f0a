"""An all-sky map of result rows, footprints and coverage layers (HoloViews + Datashader).

Usable alone in a notebook cell::

    from esap_dash.ui.components.sky_map import SkyMap
    SkyMap(results=table)          # any table with ra/dec columns (degrees, ICRS)
"""

from __future__ import annotations

import functools
import html
import math
import operator
from typing import Any

import astropy.units as u
import datashader as ds
import datashader.transfer_functions as tf
import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param
import shapely
from astropy.coordinates import SkyCoord
from astropy.table import Table
from mocpy import MOC

from connectors.exceptions import ConnectorError

from ...core import sky
from ...core.fanout import run_blocking
from ...core.survey import Survey, render
from .pointer import pointer_readout
from .shading import Deferred, put_image, rgba, window_of
from .style import MUTED, html_pane

__all__ = ["SkyMap"]

hv.renderer("bokeh")  # loads the Bokeh plotting backend, without notebook output

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
           "#e377c2", "#bcbd22", "#7f7f7f"]
LAYER_COLOURS = ["#ff7f0e", "#2ca02c", "#9467bd", "#17becf", "#e377c2", "#8c564b"]
#: What a point's tooltip says: its title, position (and magnitude), archive.
TOOLTIPS = [("", "@title"), ("", "@where"), ("archive", "@archive")]
#: Points drawn one by one (with hover) once the view holds at most this many.
HOVER_LIMIT = 3000
#: From this many rows on, points are aggregated by Datashader on the server.
SHADE_FROM = 20_000
SIN = "Orthographic (SIN)"
#: Fields up to this many degrees wide are drawn in SIN centred on them.
CENTRED_FROM = 90.0
#: A centred map is centred again once its view's centre is this far from the
#: projection's (a fraction of the view's width), or its width changed this much.
RECENTRE_SHIFT, RECENTRE_ZOOM = 0.35, 2.5
FRAMES = {"Equatorial (ICRS)": "icrs", "Galactic": "galactic"}
NO_SURVEY = "None"


class SkyMap(pn.viewable.Viewer):
    """Results as points (datashaded), footprints, coverage layers; box/lasso selection.

    Parameters
    ----------
    results : astropy.table.Table, optional
        Rows with ``ra``/``dec`` in degrees (ICRS); ``archive``, ``title`` and
        ``s_region`` are used when present.
    """

    projection = param.Selector(objects=list(sky.PROJECTIONS), default="Aitoff",
                                doc="Projection: all-sky, or centred on the field.")
    centre = param.Tuple(default=(0.0, 0.0), length=2,
                         doc="Where a centred projection (SIN) touches the sky: "
                             "longitude and latitude in the map's frame, degrees.")
    frame = param.Selector(objects=FRAMES, default="icrs", doc="Coordinate frame of the map.")
    show_points = param.Boolean(default=True, label="Points", doc="Draw the rows.")
    show_footprints = param.Boolean(default=True, label="Footprints",
                                    doc="Draw each row's s_region.")
    layers_shown = param.ListSelector(default=[], objects=[], label="Coverage layers",
                                      doc="MOC layers drawn on the map.")
    selection = param.List(default=[], doc="Indices of the selected rows.")
    view = param.Tuple(default=None, length=4, allow_None=True,
                       doc="Map window (x0, x1, y0, y1) in projected degrees.")
    survey = param.Selector(objects=[NO_SURVEY], default=NO_SURVEY, label="Survey (HiPS)",
                            doc="An image survey drawn behind the map.")
    survey_opacity = param.Number(default=0.85, bounds=(0.0, 1.0), step=0.05,
                                  label="Survey opacity", doc="0: hidden, 1: opaque.")

    def __init__(self, results: Table | None = None, **params: Any) -> None:
        super().__init__(**params)
        self.results = Table()
        self.layers: dict[str, MOC] = {}
        self.highlight: list[np.ndarray] = []
        self.cone: tuple[float, float, float] | None = None
        self.warnings: list[str] = []
        #: Archive -> the colour its points have on the map and in the legend.
        self.colours: dict[str, str] = {}
        self._projected: dict[tuple[str, str], sky.Projected] = {}
        self._footprints = sky.Footprints()
        # A drawn map takes new rows and a new selection through streams: a result
        # set that changes nothing else on the map is sent to it, not redrawn.
        self._many = hv.streams.Pipe(data=_points_frame())
        self._few = hv.streams.Pipe(data=_points_frame())
        self._shown = _points_frame()
        self._chosen = Chosen()
        self._drawn: tuple | None = None
        #: The projection (name, frame, centre) the map was last drawn in.
        self._drawn_frame: tuple | None = None
        #: The all-sky projection to go back to from a centred one.
        self._all_sky = "Aitoff"
        #: Changes that leave drawing to the next one (see :meth:`zoom_to`).
        self._held = False
        self._window = ((-185.0, 185.0), (-95.0, 95.0))
        #: Width and height of the canvas the points are shaded on (the plot's, once drawn).
        self._size = (800, 440)
        self._drawn_sources: dict[str, Any] = {}
        self._draw_window = Deferred(self._draw_window_now)
        self._pane = pn.pane.HoloViews(None, sizing_mode="stretch_width", min_height=460,
                                       linked_axes=False)
        self._legend = html_pane("")
        #: Surveys by name (see :meth:`set_surveys`).
        self.surveys: dict[str, Survey] = {}
        #: What the survey layer shows, or why it shows nothing.
        self.survey_note = ""
        self._survey_note = html_pane("")
        self._survey_wanted = 0
        self._survey_busy = False
        self._layout = pn.Column(self._pane, self._legend, self._survey_note,
                                 sizing_mode="stretch_width")
        self.set_results(results if results is not None else Table())

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    # ----------------------------------------------------------------- data
    def controls(self, width: int) -> pn.Column:
        """Widgets of the map's settings: projection, frame, survey, what is drawn,
        coverage layers."""
        return pn.Column(
            pn.widgets.RadioButtonGroup.from_param(self.param.projection, width=width),
            pn.widgets.Select.from_param(self.param.frame, width=width),
            pn.widgets.Select.from_param(self.param.survey, width=width),
            pn.widgets.FloatSlider.from_param(self.param.survey_opacity, width=width - 20),
            pn.Row(pn.widgets.Checkbox.from_param(self.param.show_points),
                   pn.widgets.Checkbox.from_param(self.param.show_footprints)),
            pn.pane.Markdown("**Coverage (MOC)**"),
            pn.widgets.CheckBoxGroup.from_param(self.param.layers_shown), margin=0)

    def set_results(self, table: Table, *, cone: tuple[float, float, float] | None = None
                    ) -> None:
        """Show new rows (projected once per projection and frame, then cached)."""
        self.results = table
        self.cone = cone
        self._projected = {}
        self._archive_codes: tuple[np.ndarray, np.ndarray] | None = None
        n = len(table)
        ra = _floats(table, "ra", n)
        dec = _floats(table, "dec", n)
        missing = int((~(np.isfinite(ra) & np.isfinite(dec))).sum())
        self._footprints = sky.footprints(table["s_region"] if "s_region" in table.colnames
                                          else [])
        self.warnings = []
        if missing:
            titles = _texts(table, "title", n)
            first = [titles[i] for i in np.flatnonzero(~(np.isfinite(ra) & np.isfinite(dec)))[:5]]
            self.warnings.append(f"{missing} rows have no position (e.g. "
                                 f"{', '.join(repr(t) for t in first)})")
        for row, message in self._footprints.bad[:20]:
            self.warnings.append(f"row {row}: {message}")
        with param.discard_events(self):
            self.selection = []
        ringed = bool(self._chosen.rows)
        self._chosen.update(rows=[])
        if self._drawn is not None and self._drawn == self._shape():
            self._send(self._frame_of_points())
            if ringed:
                self._chosen.event(rows=[])
            self._legend.object = self._legend_html()
        else:
            self._redraw()

    def positions(self) -> sky.Projected:
        """The rows projected on the current map (cached)."""
        key = self._key()
        if key not in self._projected:
            n = len(self.results)
            self._projected[key] = sky.Projected.of(
                _floats(self.results, "ra", n), _floats(self.results, "dec", n),
                projection=self.projection, frame=self.frame, centre=key[2])
        return self._projected[key]

    def _key(self) -> tuple[str, str, tuple[float, float]]:
        """The projection the map is drawn in: its name, frame and centre."""
        centred = self.projection in sky.CENTRED
        return (self.projection, self.frame,
                tuple(self.centre) if centred else (0.0, 0.0))

    def wcs(self) -> Any:
        """The map's projection as an astropy WCS (pixels are projected degrees)."""
        return sky.sky_wcs(*self._key())

    def set_layer(self, name: str, moc: MOC | None, *, show: bool = True,
                  redraw: bool = True) -> None:
        """Add, replace or (with ``None``) drop a coverage layer.

        ``redraw=False`` leaves drawing to the next change (one redraw for a
        new result set and its coverage, not two).  A layer not shown before
        or after changes only the list of layers: the map is not drawn again.
        """
        was_shown = name in self.layers_shown
        if moc is None:
            self.layers.pop(name, None)
        else:
            self.layers[name] = moc
        shown = [n for n in self.layers_shown if n in self.layers]
        if show and moc is not None and name not in shown:
            shown.append(name)
        self.param.layers_shown.objects = list(self.layers)
        if not redraw:
            with param.discard_events(self):
                self.layers_shown = shown
        elif shown != self.layers_shown:
            self.layers_shown = shown  # redraws
        elif was_shown:
            self._redraw()

    def offer_surveys(self, names: list[str]) -> None:
        """Name the surveys that :meth:`set_surveys` will bring, before they are
        opened: the first is chosen, and the map is drawn with a place for it
        (their arrival then draws only the survey)."""
        self.param.survey.objects = [NO_SURVEY, *names]
        self.survey = next(iter(names), NO_SURVEY)

    def set_surveys(self, surveys: dict[str, Survey]) -> None:
        """Offer these surveys as the map's background; the first one is drawn unless
        another (or none) was chosen."""
        first = not self.surveys
        self.surveys = dict(surveys)
        self.param.survey.objects = [NO_SURVEY, *surveys]
        if self.survey not in self.param.survey.objects or (first and self.survey == NO_SURVEY):
            self.survey = next(iter(surveys), NO_SURVEY)  # redraws
        else:
            self._draw_survey()

    def whole_sky(self) -> None:
        """The whole sky, in the all-sky projection last used."""
        if self.view is None and self.projection not in sky.CENTRED:
            self.param.trigger("view")  # zoomed with the mouse: draw the whole sky again
            return
        self._drawn_frame = None
        self.param.update(projection=self._all_sky, view=None)

    def zoom_to(self, ra: float, dec: float, fov: float, *, redraw: bool = True) -> None:
        """Centre the map on (``ra``, ``dec``) with a window ``fov`` degrees of sky
        wide.  A field of up to :data:`CENTRED_FROM` degrees is drawn in the
        orthographic projection centred on it (shapes and sizes true, as in
        Aladin); a wider one in the all-sky projection, at its scale there.
        ``redraw=False`` leaves drawing to the next change (new rows)."""
        lon, lat = sky.to_frame(np.array([ra]), np.array([dec]), self.frame)
        if fov <= CENTRED_FROM:
            half = math.degrees(math.sin(math.radians(min(fov / 2, 90.0))))
            change = {"projection": SIN, "centre": (float(lon[0]), float(lat[0])),
                      "view": (-half, half, -half / 2, half / 2)}
        else:
            wcs = sky.sky_wcs(self._all_sky, self.frame)
            x, y = sky.project(wcs, lon, lat)
            half = fov / 2
            across = half / max(float(np.cos(np.radians(lat[0]))), 1e-3)
            xs, _ = sky.project(wcs, lon[0] + np.array([-across, across]), np.repeat(lat, 2))
            _, ys = sky.project(wcs, np.repeat(lon, 2),
                                np.clip(lat[0] + np.array([-half, half]), -90, 90))
            half_x, half_y = abs(xs[1] - xs[0]) / 2, abs(ys[1] - ys[0]) / 2
            if not (np.isfinite([half_x, half_y]).all() and 0 < half_x < 180):  # an edge
                half_x = half_y = half
            change = {"projection": self._all_sky,
                      "view": (float(x[0] - half_x), float(x[0] + half_x),
                               float(y[0] - half_y / 2), float(y[0] + half_y / 2))}
        self._drawn_frame = None  # a new field, not the old one followed
        self._held = not redraw  # the widgets follow; the map waits for new rows
        try:
            self.param.update(**change)
        finally:
            self._held = False

    def select_polygon(self, xs: np.ndarray, ys: np.ndarray) -> list[int]:
        """Select the rows inside a polygon drawn on the map (projected degrees)."""
        pos = self.positions()
        if len(xs) < 3 or not len(self.results):
            self.selection = []
            return []
        polygon = shapely.Polygon(np.column_stack([xs, ys]))
        inside = np.zeros(len(self.results), bool)
        ok = pos.valid
        inside[ok] = shapely.contains_xy(polygon, pos.x[ok], pos.y[ok])
        self.selection = np.flatnonzero(inside).tolist()
        return self.selection

    def select_box(self, x0: float, y0: float, x1: float, y1: float) -> list[int]:
        """Select the rows inside a box drawn on the map."""
        return self.select_polygon(np.array([x0, x1, x1, x0]), np.array([y0, y0, y1, y1]))

    # ----------------------------------------------------------------- drawing
    @param.depends("projection", "frame", "centre", "show_points", "show_footprints",
                   "layers_shown", "view", "survey", watch=True)
    def _redraw(self) -> None:
        if self._held:
            self._drawn = None  # drawn by the next change
            return
        self._follow_frame()
        self._drawn = None
        self._pane.object = self.overlay()
        self._legend.object = self._legend_html()
        self._draw_survey()

    def _follow_frame(self) -> None:
        """After a change of projection or frame, keep a zoomed window on the same
        place of the sky (its centre, and its size)."""
        drawn, now = self._drawn_frame, self._key()
        self._drawn_frame = now
        if self.projection not in sky.CENTRED:
            self._all_sky = self.projection
        if drawn is None or drawn == now or self.view is None:
            return
        x0, x1, y0, y1 = self.view
        with np.errstate(invalid="ignore"):
            lon, lat = sky.sky_wcs(*drawn).wcs_pix2world([(x0 + x1) / 2], [(y0 + y1) / 2], 1)
        if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
            return
        at = SkyCoord(lon * u.deg, lat * u.deg, frame=drawn[1]).transform_to(now[1])
        lon, lat = float(at.spherical.lon.deg[0]), float(at.spherical.lat.deg[0])
        half_x, half_y = (x1 - x0) / 2, (y1 - y0) / 2
        with param.discard_events(self):
            if self.projection in sky.CENTRED:  # the view's centre is the projection's
                self.centre = (lon, lat)
                now = self._drawn_frame = self._key()
            x, y = sky.project(sky.sky_wcs(*now), np.atleast_1d(lon), np.atleast_1d(lat))
            self.view = (float(x[0] - half_x), float(x[0] + half_x), float(y[0] - half_y),
                         float(y[0] + half_y))

    @param.depends("selection", watch=True)
    def _show_selection(self) -> None:
        self._chosen.event(rows=list(self.selection))

    def _shape(self) -> tuple:
        """What a drawn map depends on besides its points and selection."""
        return (self._key(), self.show_points, self.view, self.survey,
                tuple(self.layers_shown), tuple(id(self.layers.get(n)) for n in self.layers_shown),
                bool(self._footprints.polygons and self.show_footprints),
                len(self.highlight), self.cone)

    def overlay(self) -> hv.Overlay:
        """The map as a HoloViews overlay (survey, graticule, layers, footprints, points)."""
        self._drawn_sources = {}
        self._window = self._initial_window()
        wcs = self.wcs()
        lines, labels = sky.graticule(self.projection, self.frame)
        edge = lines[-2:]
        if self.projection in sky.CENTRED:  # the grid of the field in view
            lines, labels = sky.field_graticule(wcs, self.frame, self._window)
        sky_disc = hv.Polygons([{"x": np.concatenate([edge[0][:, 0], edge[1][::-1, 0]]),
                                 "y": np.concatenate([edge[0][:, 1], edge[1][::-1, 1]])}]
                               ).opts(fill_color="#f3f5fa", line_alpha=0, tools=[])
        # Over a survey the grid is light; labels keep a pale box to be read on
        # the sky and off it.
        dark = self.survey != NO_SURVEY
        # The grid's lines go straight into the drawn source (HoloViews would make a
        # dataset of each of them).
        grid = hv.Path([]).opts(color="#c9d3e6" if dark else "#9aa3b5", line_width=0.6,
                                alpha=0.55 if dark else 0.8,
                                hooks=[functools.partial(self._hold_source, "grid"),
                                       functools.partial(_put_lines, lines)])
        text = hv.Labels(labels or [(np.nan, np.nan, "")], ["x", "y"], "text").opts(
            text_font_size="9pt", text_color="#2f3850", background_fill_color="#f3f5fa",
            background_fill_alpha=0.75 if dark else 0.0, border_radius=3,
            hooks=[functools.partial(self._hold_source, "labels")])
        layers = [sky_disc]
        if dark:
            (x0, x1), (y0, y1) = self._initial_window()
            layers.append(hv.RGB(np.zeros((1, 1, 4), np.uint8), bounds=(x0, y0, x1, y1),
                                 vdims=list("RGBA")).opts(
                hooks=[functools.partial(self._hold_source, "survey")]))
        if self.show_points:
            layers.extend(self._points())
        for i, name in enumerate(self.layers):
            if name in self.layers_shown:
                cells = sky.moc_outlines(self.layers[name], wcs, self.frame)
                # The cells go straight into the drawn source: HoloViews would make a
                # dataset of each of them (seconds for a few thousand).
                layers.append(hv.Polygons([], vdims=["layer"], label=name).opts(
                    # color, not fill_color: HoloViews maps that by the vdim.
                    color=LAYER_COLOURS[i % len(LAYER_COLOURS)], fill_alpha=0.35,
                    line_alpha=0, tools=["hover"],
                    hooks=[functools.partial(_put_cells, cells, name)]))
        layers.extend([grid, text])
        if self.show_footprints and self._footprints.polygons:
            paths = [part for _, poly in self._footprints.polygons[:5000]
                     for part in sky.outline(poly, wcs, self.frame)]
            layers.append(hv.Path(paths).opts(color="#e6550d", line_width=1.2))
        if self.highlight:
            layers.append(hv.Path([part for poly in self.highlight
                                   for part in sky.outline(poly, wcs, self.frame)]).opts(
                color="#000000", line_width=2.5))
        if self.cone is not None:
            ring = sky.circle(*self.cone)
            layers.append(hv.Path(sky.outline(ring[:-1], wcs, self.frame)).opts(
                color="#d62728", line_dash="dashed", line_width=1.5))
        self._drawn = self._shape()
        overlay = functools.reduce(operator.mul, layers).opts(
            xaxis=None, yaxis=None, data_aspect=1, responsive=True, min_height=440,
            show_grid=False, toolbar="above", active_tools=["wheel_zoom"],
            show_legend=False, backend_opts={"plot.output_backend": "canvas"},
            hooks=[functools.partial(pointer_readout, projection=self.projection,
                                     frame=self.frame, centre=self._key()[2])])
        if self.view is not None:
            x0, x1, y0, y1 = self.view
            overlay = overlay.opts(xlim=(x0, x1), ylim=(y0, y1))
        else:
            overlay = overlay.opts(xlim=(-185, 185), ylim=(-95, 95))
        return overlay

    def _frame_of_points(self) -> pd.DataFrame:
        """The rows' points; sets the colour of each archive (in the order of their names)."""
        pos = self.positions()
        codes, names = self._archives()
        self.colours = {str(a): PALETTE[i % len(PALETTE)] for i, a in enumerate(names)}
        codes = codes[pos.valid]
        return _points_frame(pos.x[pos.valid], pos.y[pos.valid], np.flatnonzero(pos.valid),
                             pd.Categorical.from_codes(codes, names), codes % len(PALETTE))

    def _archives(self) -> tuple[np.ndarray, np.ndarray]:
        """Each row's archive as a code into the archives' names (sorted); cached."""
        if self._archive_codes is None:
            self._archive_codes = pd.factorize(
                _texts(self.results, "archive", len(self.results), default="results"),
                sort=True)
        return self._archive_codes

    def _titled(self, data: pd.DataFrame) -> pd.DataFrame:
        """Points with their rows' titles, tooltip-safe (only for points drawn one by one)."""
        rows = data["row"].to_numpy()
        titles = _texts(self.results[rows], "title", len(data))
        return data.assign(title=_described(titles), where=sky.where(self.results, rows))

    def _points(self) -> list[hv.Element]:
        """The rows' layers, fed by the data stream: aggregated by Datashader above
        ``SHADE_FROM`` rows (with hover once few enough are in view), else one by one.

        A zoom or pan aggregates and shades the points in the new window and
        hands the image (and the points in view, for hover) straight to the
        drawn plot: the rest of the map is not evaluated again.
        Each point's colour is a category of its own (the palette), so the layers
        never depend on which archives the rows come from.
        """
        self._many, self._few = hv.streams.Pipe(), hv.streams.Pipe()
        self._send(self._frame_of_points())
        # The canvas covers the window the map shows (zooms move it), whatever
        # rows are sent later.
        self._window = self._initial_window()
        shaded = hv.DynamicMap(self._shaded, streams=[self._many]).opts(
            tools=["box_select", "lasso_select"], show_legend=False,
            hooks=[functools.partial(self._hold_source, "image")])
        hv.streams.RangeXY(source=shaded).add_subscriber(self._on_range)
        hv.streams.PlotSize(source=shaded).add_subscriber(self._on_size)
        box = hv.streams.BoundsXY(source=shaded)
        box.add_subscriber(lambda bounds: bounds and self.select_box(*bounds))
        lasso = hv.streams.Lasso(source=shaded)
        lasso.add_subscriber(self._on_lasso)
        few = hv.DynamicMap(lambda data: hv.Points(self._titled(data), ["x", "y"],
                                                   ["archive", "title", "where", "row",
                                                    "colour"]),
                            streams=[self._few])
        one_by_one = few.opts(color="colour", cmap=dict(zip(PALETTE, PALETTE, strict=True)),
                              size=4, tools=["box_select", "lasso_select", "hover"],
                              hover_tooltips=TOOLTIPS, nonselection_alpha=1.0)
        hover = hv.DynamicMap(self._near, streams=[self._many]).opts(
            size=5, alpha=0.0, hover_alpha=1.0, hover_color="#000000",
            tools=["hover"], hover_tooltips=TOOLTIPS,
            hooks=[functools.partial(self._hold_source, "hover")])
        ring = hv.DynamicMap(self._ring, streams=[self._chosen])
        return [shaded, one_by_one, hover, ring]

    def _initial_window(self) -> tuple[tuple[float, float], tuple[float, float]]:
        x0, x1, y0, y1 = self.view if self.view is not None else (-185, 185, -95, 95)
        return ((x0, x1), (y0, y1))

    def _send(self, points: pd.DataFrame) -> None:
        """Hand new points to the drawn layers: Datashader's above ``SHADE_FROM``
        points, else the one-by-one layer's; a layer that stays empty is left alone."""
        self._shown = points
        many = len(points) > SHADE_FROM
        for pipe, data in ((self._many, points if many else points.iloc[:0]),
                           (self._few, points.iloc[:0] if many else points)):
            if len(data) or pipe.data is None or len(pipe.data):
                pipe.send(data)

    def _shade(self, data: pd.DataFrame) -> tuple[Any, int]:
        """The points aggregated per colour and shaded over the current window
        (a Datashader image, its rows from the bottom up), and how many are in it."""
        (x0, x1), (y0, y1) = self._window
        width, height = self._size
        canvas = ds.Canvas(plot_width=width, plot_height=height, x_range=(x0, x1),
                           y_range=(y0, y1))
        counts = canvas.points(data, "x", "y", ds.count_cat("colour"))
        image = tf.dynspread(tf.shade(counts, color_key=PALETTE, min_alpha=120),
                             threshold=0.5, max_px=2)
        return image, int(counts.data.sum())

    def _shaded(self, data: pd.DataFrame) -> hv.RGB:
        (x0, x1), (y0, y1) = self._window
        if not len(data):
            return hv.RGB(np.zeros((1, 1, 4), np.uint8), bounds=(x0, y0, x1, y1),
                          vdims=list("RGBA"))
        return hv.RGB(rgba(self._shade(data)[0], self._size), bounds=(x0, y0, x1, y1),
                      vdims=list("RGBA"))

    def _hold_source(self, name: str, plot: Any, element: Any) -> None:
        """Keep the Bokeh data source a layer is drawn from (a plot hook)."""
        self._drawn_sources[name] = plot.handles["source"]

    def _on_size(self, width: int | None = None, height: int | None = None,
                 **_: Any) -> None:
        if width and height and (width, height) != self._size:
            self._size = (int(width), int(height))
            self._draw_window()
            self._draw_survey()

    def _on_range(self, x_range: Any = None, y_range: Any = None, **_: Any) -> None:
        if x_range is not None and y_range is not None:
            self._window = window_of(x_range, y_range)
            if self._recentre():
                return
            self._draw_window()
            self._draw_survey()

    def _recentre(self) -> bool:
        """On a centred map, centre the projection again on a view that has moved or
        zoomed far from the one it was drawn for (a redraw; True), else draw its
        grid for the window."""
        if self.projection not in sky.CENTRED:
            return False
        (x0, x1), (y0, y1) = self._window
        width = x1 - x0
        drawn = self.view[1] - self.view[0] if self.view is not None else width
        if (math.hypot((x0 + x1) / 2, (y0 + y1) / 2) > RECENTRE_SHIFT * width
                or not 1 / RECENTRE_ZOOM < width / max(drawn, 1e-12) < RECENTRE_ZOOM):
            with np.errstate(invalid="ignore"):
                lon, lat = self.wcs().wcs_pix2world([(x0 + x1) / 2], [(y0 + y1) / 2], 1)
            if np.isfinite(lon).all() and np.isfinite(lat).all():
                half_x, half_y = width / 2, (y1 - y0) / 2
                self.param.update(centre=(float(lon[0]), float(lat[0])),
                                  view=(-half_x, half_x, -half_y, half_y))
                self._drawn_frame = self._key()
                return True
        self._draw_grid()
        return False

    def _draw_grid(self) -> None:
        """The field's grid and labels for the current window, into the drawn plot."""
        grid, labels = self._drawn_sources.get("grid"), self._drawn_sources.get("labels")
        if grid is None or labels is None:
            return
        lines, texts = sky.field_graticule(self.wcs(), self.frame, self._window)
        _put_lines(lines, source=grid)
        labels.data = {"x": [t[0] for t in texts], "y": [t[1] for t in texts],
                       "text": [t[2] for t in texts]}

    # ---------------------------------------------------------------- survey
    @param.depends("survey_opacity", watch=True)
    def _draw_survey(self) -> None:
        """Draw the survey over the current window: in a server session in a worker
        thread (its tiles come over the network), one drawing at a time, the
        last window winning; elsewhere at once."""
        if self.survey not in self.surveys:
            self._note_survey("")
            return
        document = pn.state.curdoc
        if document is None or document.session_context is None:
            window = self._window
            try:
                self._put_survey(window, *self._render_survey(window))
            except ConnectorError as exc:
                self._note_survey(f"{self.survey}: {exc.reason}", problem=True)
            return
        self._survey_wanted += 1
        if not self._survey_busy:
            self._survey_busy = True
            self._note_survey(f"{self.survey}: drawing …")
            pn.state.execute(functools.partial(self._survey_loop, document))

    async def _survey_loop(self, document: Any) -> None:
        try:
            while True:
                wanted, window = self._survey_wanted, self._window
                try:
                    image, order = await run_blocking(self._render_survey, window)
                    document.add_next_tick_callback(
                        functools.partial(self._put_survey, window, image, order))
                except ConnectorError as exc:
                    document.add_next_tick_callback(functools.partial(
                        self._note_survey, f"{self.survey}: {exc.reason}", problem=True))
                if wanted == self._survey_wanted:
                    break
        finally:
            self._survey_busy = False

    def _render_survey(self, window: tuple) -> tuple[np.ndarray, int]:
        return render(self.surveys[self.survey], self.projection, self.frame, window,
                      self._size, self.survey_opacity, centre=self._key()[2])

    def _put_survey(self, window: tuple, image: np.ndarray, order: int) -> None:
        source = self._drawn_sources.get("survey")
        if source is None or self.survey not in self.surveys:
            return
        put_image(source, image, window)
        survey = self.surveys[self.survey]
        self._note_survey(f"{self.survey}: {survey.title}, tiles of order {order} "
                          f"(deepest {survey.order})")

    def _note_survey(self, text: str, problem: bool = False) -> None:
        self.survey_note = text
        colour = "#b00020" if problem else MUTED
        self._survey_note.object = (f'<div class="esap-survey-note" style="font-size:12px;'
                                    f'color:{colour}">{html.escape(text)}</div>'
                                    if text else "")

    def _draw_window_now(self) -> None:
        """Shade the points in the current window, and list them for hover once few
        enough are in view, straight into the drawn plot (run by ``_draw_window``)."""
        data = self._many.data
        if data is None or not len(data):
            return
        image, inside = self._shade(data)
        source = self._drawn_sources.get("image")
        if source is not None:
            put_image(source, image.data, self._window)
        hover = self._drawn_sources.get("hover")
        if hover is not None and (inside <= HOVER_LIMIT or len(hover.data["x"])):
            near = self._near(data)
            hover.data = {c: near.dimension_values(c)
                          for c in ("x", "y", "archive", "title", "where")}

    def _ring(self, rows: list[int]) -> hv.Points:
        """The selected rows, circled."""
        data = self._shown
        return hv.Points(data[data["row"].isin(rows)], ["x", "y"], ["archive"]).opts(
            color=None, line_color="#000000", size=9, line_width=1.5, marker="circle")

    def _on_lasso(self, geometry: Any = None, **_: Any) -> None:
        if geometry is not None and len(geometry) >= 3:
            xy = np.asarray(geometry, float)
            self.select_polygon(xy[:, 0], xy[:, 1])

    def _near(self, data: pd.DataFrame) -> hv.Points:
        """Aggregated points in the window, one by one with hover, once there are
        few enough."""
        visible = data.iloc[:0].assign(title=[], where=[])
        if len(data):
            x, y = data["x"].to_numpy(), data["y"].to_numpy()
            (x0, x1), (y0, y1) = self._window
            inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
            if np.count_nonzero(inside) <= HOVER_LIMIT:
                visible = self._titled(data[inside])
        return hv.Points(visible, ["x", "y"], ["archive", "title", "where"])

    def _legend_html(self) -> str:
        parts = []
        if len(self.results):
            pos = self.positions()
            codes, names = self._archives()
            counts = pd.Series(np.bincount(codes[pos.valid], minlength=len(names)), names)
            counts = counts[counts > 0].sort_values(ascending=False, kind="stable")
            colours = self.colours
            # A whole catalogue is named by its table, then the archive serving it.
            table = self.results.meta.get("catalogue")
            parts.extend(f'<span style="color:{colours.get(a, "#333")}">●</span> '
                         + html.escape(f"{table} of {a}" if table else str(a))
                         + f" ({n:,})" for a, n in counts.items())
        for i, name in enumerate(self.layers):
            if name in self.layers_shown:
                parts.append(f'<span style="color:{LAYER_COLOURS[i % len(LAYER_COLOURS)]}">■'
                             f"</span> {html.escape(name)} "
                             f"({sky.area_deg2(self.layers[name]):,.2f} deg²)")
        legend = " &nbsp; ".join(parts)
        warn = "".join(f"<li>{html.escape(w)}</li>" for w in self.warnings)
        orientation = ("RA increases to the left" if self.frame == "icrs"
                       else "galactic longitude increases to the left")
        return (f'<div class="esap-sky-legend">{legend}</div><div style="font-size:12px;'
                f'color:{MUTED}">{self.projection}, {orientation}. Box or lasso to select; '
                f"points get tooltips once few enough are in view.</div>"
                + (f'<ul class="esap-sky-warnings">{warn}</ul>' if warn else ""))


Chosen = hv.streams.Stream.define("Chosen", rows=[])


def _put_lines(lines: list[np.ndarray], plot: Any = None, element: Any = None, *,
               source: Any = None) -> None:
    """Draw ``lines`` ((N, 2) arrays) from a drawn path's data ``source`` (or the
    one of ``plot``, as a plot hook)."""
    source = source if source is not None else plot.handles["source"]
    source.data = {"xs": [line[:, 0] for line in lines], "ys": [line[:, 1] for line in lines]}


def _put_cells(cells: list[np.ndarray], layer: str, plot: Any, element: Any) -> None:
    """Fill the cells of a coverage ``layer`` ((N, 2) outlines) from a drawn polygon
    set's data source (a plot hook)."""
    plot.handles["source"].data = {"xs": [[[cell[:, 0]]] for cell in cells],
                                   "ys": [[[cell[:, 1]]] for cell in cells],
                                   "layer": [layer] * len(cells)}


def _points_frame(x: Any = (), y: Any = (), rows: Any = (), archives: Any = (),
                  slots: Any = ()) -> pd.DataFrame:
    """The points the map draws: position, row, archive and its colour, ``PALETTE[slot]``.

    The colours are categories in the palette's order, as many as are in use
    (the slots of sorted archives always start at 0): Datashader then takes
    the palette's first colours for them, and aggregates no empty category.
    """
    slots = np.asarray(slots, int)
    used = int(slots.max()) + 1 if len(slots) else 1
    return pd.DataFrame({"x": np.asarray(x, float), "y": np.asarray(y, float),
                         "row": np.asarray(rows, int), "archive": archives,
                         "colour": pd.Categorical.from_codes(slots, PALETTE[:used])})


def _floats(table: Table, name: str, n: int) -> np.ndarray:
    if name not in table.colnames:
        return np.full(n, np.nan)
    return np.ma.filled(np.ma.asarray(table[name], dtype=float), np.nan)


def _texts(table: Table, name: str, n: int, default: str = "") -> np.ndarray:
    """A column as an array of text (masked values empty), column-wise."""
    if name not in table.colnames:
        return np.full(n, default, dtype=object)
    column = table[name]
    data = np.asarray(np.ma.getdata(column)).astype(str).astype(object)
    mask = np.ma.getmaskarray(column)
    if mask.any():
        data[mask] = ""
    return data


def _described(titles: Any) -> list[str]:
    return [sky.describe(t) for t in titles]
