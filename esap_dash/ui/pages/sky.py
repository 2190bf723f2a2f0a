"""The Sky page: results and catalogues on an all-sky map, coverage, selection, FITS previews."""

from __future__ import annotations

import functools
import html
import io
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import panel as pn
import param
from astropy.table import Table
from mocpy import MOC

from connectors.datalink import LINK_COLUMNS, DataLink, fetch_links
from connectors.exceptions import ConnectorError

from ...core import sky
from ...core.cart import CartError
from ...core.explore import plot_columns
from ...core.fanout import run_blocking
from ...core.links import cutout_rows, links_url
from ...core.provenance import Provenance, Service
from ...core.search import SearchResults
from ...core.spectra import archive_session, load_spectra, spectrum_rows
from ...core.survey import Survey
from ..components.actions import action_buttons
from ..components.column_plot import ColumnPlot
from ..components.fits_preview import FitsPreview
from ..components.sky_map import SkyMap, field_view
from ..components.spectrum_plot import SpectrumPlot
from ..components.style import html_pane, notice, say
from .base import Page

__all__ = ["SkyPage"]

TABLE_COLUMNS = ["archive", "id", "title", "ra", "dec", "product_type", "access_url"]
SEARCH = "Search results"
CATALOGUE = "Whole catalogue (TAP)"


class SkyPage(Page):
    """The current search results (or a whole catalogue) on an all-sky map.

    Parameters
    ----------
    discovery : DiscoveryPage, optional
        The session's discovery page; its results are drawn after each search.
    """

    title = "Sky"
    uses = ("discovery",)

    source = param.Selector(objects=[SEARCH, CATALOGUE], default=SEARCH, doc="What to draw.")
    catalogue = param.Selector(objects=[], doc="A table with positions, from a TAP service.")
    row_limit = param.Integer(default=2_000_000, bounds=(1, 20_000_000),
                              doc="At most this many catalogue rows.")
    target = param.String(default="", doc="Name or coordinates to zoom to.")
    fov = param.Number(default=2.0, bounds=(0.001, 180), label="Field of view (deg)",
                       doc="Width of the zoomed window and of the TAN inset.")
    overlap_a = param.Selector(objects=[], label="Layer A", doc="First coverage layer.")
    overlap_b = param.Selector(objects=[], label="Layer B", doc="Second coverage layer.")
    cart_name = param.String(default="default", label="Cart", doc="Where selected rows go.")
    cutout_radius = param.Number(default=2.0, bounds=(0.05, 600), label="Cutout radius (arcmin)",
                                 doc="Radius of a SODA cutout around the target.")
    selection = param.List(default=[], item_type=int,
                           doc="Rows chosen in the table (their indices), as ticked there.")

    def __init__(self, discovery: Any = None, **params: Any) -> None:
        super().__init__(**params)
        self.discovery = discovery
        self.map = SkyMap()
        self.preview = FitsPreview(trusted=self.profile.serves)
        self.rows = Table()
        self._provenance: Callable[[Table], Table] | None = None
        self.overlap: float | None = None
        self._catalogues: dict[str, tuple[Any, dict[str, str]]] = {}
        self.notice = notice()
        self._overlap = html_pane("")
        # The TAN inset is put in and taken out of this box (toggling a
        # HoloViews pane's visibility breaks its Bokeh stylesheets).
        self._inset = pn.Column(width=430)
        self._table = pn.widgets.Tabulator(
            pd.DataFrame(columns=TABLE_COLUMNS), show_index=False, disabled=True,
            selectable="checkbox", pagination="remote", page_size=20, height=420,
            sizing_mode="stretch_width",
            formatters={c: {"type": "plaintext"} for c in
                        ("archive", "id", "title", "product_type", "access_url")})
        self._table.link(self, selection="selection", bidirectional=True)
        self._table.param.watch(lambda e: self._select(e.new, "table"), "selection")
        self.map.param.watch(lambda e: self._select(e.new, "map"), "selection")
        #: The plot of the rows' columns, made when its card is first opened.
        self.plot: ColumnPlot | None = None
        self._plot_card = pn.Card(
            pn.pane.Markdown("Any numeric column of the rows, with what each archive "
                             "returned for them; a box or lasso here selects the same rows "
                             "on the map and in the table."),
            title="Plot columns (scatter, histogram)", collapsed=True,
            sizing_mode="stretch_width")
        self._plot_card.param.watch(self._on_plot_card, "collapsed")
        buttons = action_buttons((
                ("Load catalogue", self.load_catalogue, "primary"),
                ("Zoom to target", self.zoom, "primary"),
                ("Whole sky", self.whole_sky, "default"),
                ("Add selected rows to cart", self.add_to_cart, "primary"),
                ("Cart coverage", self.cart_coverage, "default"),
                ("Service coverage", self.service_coverage, "default"),
                ("Preview image", self.preview_selected, "default"),
                ("Links (DataLink)", self.show_links, "default"),
                ("Cutout to cart", self.cutout_to_cart, "primary"),
                ("Plot spectra", self.plot_spectra, "default"),
                ("Clear selection", self.clear_selection, "default")), width=180)
        exports = [pn.widgets.FileDownload(callback=self._moc_callback(fmt), label=label,
                                           filename=f"selection-moc.{fmt}", width=180)
                   for fmt, label in (("fits", "Selection MOC (FITS)"),
                                      ("json", "Selection MOC (JSON)"))]
        #: The DataLink document of the row shown in the links card, and that row.
        self.links: DataLink | None = None
        self._linked_row: Any = None
        self._links_table = pn.widgets.Tabulator(
            pd.DataFrame(columns=list(LINK_COLUMNS)), show_index=False, disabled=True,
            height=220, sizing_mode="stretch_width",
            hidden_columns=["href"],
            # only http(s) addresses become links (an archive's text could be javascript:)
            formatters={"access_url": {"type": "link", "target": "_blank", "urlField": "href"}})
        self._links_title = html_pane("")
        self._links_card = pn.Card(
            self._links_title, self._links_table,
            pn.Row(pn.widgets.FloatInput.from_param(self.param.cutout_radius, width=180),
                   buttons["Cutout to cart"]),
            title="DataLink: a row's links and cutouts", collapsed=True, visible=False,
            sizing_mode="stretch_width")
        #: The selected spectra's plot, made when first asked for.
        self.spectra: SpectrumPlot | None = None
        self._spectra_card = pn.Card(title="Spectra", collapsed=True, visible=False,
                                     sizing_mode="stretch_width")
        catalogue_row = pn.Column(
            pn.widgets.Select.from_param(self.param.catalogue, width=280),
            pn.widgets.IntInput.from_param(self.param.row_limit, width=180),
            buttons["Load catalogue"], visible=False)
        self.param.watch(lambda e: setattr(catalogue_row, "visible", e.new == CATALOGUE),
                         "source")
        controls = pn.Column(
            pn.widgets.RadioButtonGroup.from_param(self.param.source, width=280),
            catalogue_row,
            pn.widgets.RadioButtonGroup.from_param(self.map.param.projection, width=280),
            pn.widgets.Select.from_param(self.map.param.frame, width=280),
            pn.widgets.Select.from_param(self.map.param.survey, width=280),
            pn.widgets.FloatSlider.from_param(self.map.param.survey_opacity, width=260),
            pn.Row(pn.widgets.Checkbox.from_param(self.map.param.show_points),
                   pn.widgets.Checkbox.from_param(self.map.param.show_footprints)),
            pn.pane.Markdown("**Coverage (MOC)**"),
            pn.widgets.CheckBoxGroup.from_param(self.map.param.layers_shown),
            pn.Row(buttons["Service coverage"], width=280),
            pn.widgets.Select.from_param(self.param.overlap_a, width=280),
            pn.widgets.Select.from_param(self.param.overlap_b, width=280), self._overlap,
            pn.pane.Markdown("**Zoom**"),
            pn.widgets.TextInput.from_param(self.param.target, placeholder="M 1, 83.63 22.01",
                                            width=280),
            pn.widgets.FloatInput.from_param(self.param.fov, width=180),
            pn.Row(buttons["Zoom to target"], buttons["Whole sky"], width=300),
            width=310)
        self._layout = pn.Column(
            pn.pane.Markdown("## Sky"), self.notice,
            pn.Row(controls, pn.Column(self.map, sizing_mode="stretch_width"),
                   sizing_mode="stretch_width"),
            pn.Row(self._inset, pn.Column(
                pn.pane.Markdown("#### Rows (tick here or select on the map)"),
                # Wrapped: beside the TAN inset the buttons do not fit on one line.
                pn.FlexBox(pn.widgets.TextInput.from_param(self.param.cart_name, width=180),
                           buttons["Add selected rows to cart"], buttons["Cart coverage"],
                           buttons["Clear selection"], *exports, buttons["Preview image"],
                           buttons["Links (DataLink)"], buttons["Plot spectra"],
                           flex_wrap="wrap",
                           align_items="flex-end", sizing_mode="stretch_width"),
                self._table, sizing_mode="stretch_width"), sizing_mode="stretch_width"),
            self._plot_card, self._spectra_card, self._links_card,
            pn.Card(self.preview, title="FITS preview", collapsed=False,
                    sizing_mode="stretch_width"),
            sizing_mode="stretch_width")
        self._syncing = False
        if discovery is not None:
            discovery.param.watch(self._on_search_done, "searching")
            self.show_search()
        if pn.state.curdoc is not None:
            pn.state.onload(self._on_load)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    async def _on_load(self) -> None:
        await self.list_surveys()
        await self.list_catalogues()
        await self.service_coverage()

    async def list_surveys(self) -> None:
        """Offer the profile's HiPS surveys behind the map (their properties and
        coverage read off the event loop); each one's coverage becomes a layer."""
        found: dict[str, Survey] = {}
        for svc in self.profile.by_role("survey"):
            try:
                survey = await run_blocking(Survey.open, svc.name, svc.connector())
            except ConnectorError as exc:
                say(self.notice, f"{svc.name}: {exc.reason}", "warning")
                continue
            found[svc.name] = survey
            if survey.coverage is not None:
                self.map.set_layer(f"{svc.name} coverage", survey.coverage, show=False,
                                   redraw=False)
        self.map.set_surveys(found)
        self._layers_changed()

    # ------------------------------------------------------------------ rows
    def _on_search_done(self, event: param.parameterized.Event) -> None:
        if not event.new and self.source == SEARCH:
            self.show_search()

    @param.depends("source", watch=True)
    def _on_source(self) -> None:
        if self.source == SEARCH:
            self.show_search()
        elif not self.param.catalogue.objects and pn.state.curdoc is not None:
            pn.state.execute(self.list_catalogues)

    def show_search(self) -> None:
        """Draw the discovery page's current results (and its search cone)."""
        found = (self.discovery.search_results if self.discovery is not None
                 else SearchResults())
        query = found.query
        cone = (query.ra, query.dec, query.radius) if query is not None else None
        self.show_rows(found.merged, found.coverage, cone=cone,
                       provenance=found.with_provenance)

    def show_rows(self, rows: Table, coverage: MOC | None, *,
                  cone: tuple[float, float, float] | None = None,
                  provenance: Callable[[Table], Table] | None = None) -> None:
        """Draw ``rows`` and list them; their ``coverage`` (see :func:`sky.coverage`)
        becomes the *results* layer.

        ``provenance`` adds to selected rows what the cart keeps of where they
        came from (``query``, ``record``).
        """
        self.rows = rows
        self._provenance = provenance
        frame = pd.DataFrame({c: _values(rows, c) for c in TABLE_COLUMNS})
        with param.discard_events(self._table):
            self._table.selection = []
        self._table.value = frame
        # The coverage first, without drawing: the new rows then draw the map once.
        self.map.set_layer("results", coverage, show=False, redraw=False)
        self.map.set_results(rows, cone=cone)
        self._layers_changed()
        if self.plot is not None:
            self._later(self.plot_rows)
        shown = int(self.map.positions().valid.sum()) if len(rows) else 0
        say(self.notice, f"{shown:,} rows on the map." + (
            " " + "; ".join(self.map.warnings[:3]) if self.map.warnings else ""),
            "warning" if self.map.warnings else "info")

    async def list_catalogues(self) -> None:
        """Find the tables with positions in every TAP service (TAP_SCHEMA UCDs); a
        service several archives share is asked once and named after the first."""
        found: dict[str, tuple[Any, dict[str, str]]] = {}
        asked: set[str] = set()
        for svc in self.profile.by_role("archive"):
            if svc.kind != "tap" or svc.url in asked:
                continue
            asked.add(svc.url)
            connector = svc.connector()
            try:
                tables = await run_blocking(connector.positional_tables)
            except ConnectorError as exc:
                say(self.notice, f"{svc.name}: {exc.reason}", "warning")
                continue
            for row in tables:
                found[f"{row['table_name']} ({svc.name})"] = (connector, {
                    "archive": svc.name,
                    **{c: str(row[c]) for c in ("table_name", "id", "ra", "dec")}})
        self._catalogues = found
        self.param.catalogue.objects = list(found)
        if found and self.catalogue not in found:
            self.catalogue = next((k for k in found if k.startswith("hipparcos")), next(iter(
                found)))

    async def load_catalogue(self) -> None:
        """Draw every row of the chosen catalogue (positions and identifiers only)."""
        if self.catalogue not in self._catalogues:
            await self.list_catalogues()
            if self.catalogue not in self._catalogues:
                say(self.notice, "No catalogue with positions found.", "warning")
                return
        connector, cols = self._catalogues[self.catalogue]
        say(self.notice, f"Loading {self.catalogue} …")
        try:
            rows = await run_blocking(lambda: connector.positions(
                cols["table_name"], cols["ra"], cols["dec"], cols["id"],
                maxrec=self.row_limit))
        except ConnectorError as exc:
            say(self.notice, exc.reason, "danger")
            return
        table = await run_blocking(catalogue_rows, rows, cols, connector.url)
        self.show_rows(table, await run_blocking(sky.coverage, table), provenance=functools.partial(
            catalogue_provenance, cols=cols, record=Provenance(
                "catalogue", user=self.user, services=(Service(
                    cols["archive"], "tap", connector.url,
                    table=cols["table_name"] if cols["id"] else None,
                    asked=rows.meta.get("adql", "")),),
                query={"catalogue": cols["table_name"]}, maxrec=self.row_limit,
                truncated=(cols["archive"],) if rows.meta.get("truncated") else ())))
        if rows.meta.get("truncated"):
            say(self.notice, f"Only the first {len(rows):,} rows (row limit).", "warning")

    # --------------------------------------------------------------- selection
    def _select(self, rows: list[int], origin: str) -> None:
        """Show a selection made on the ``origin`` (map, table or plot) on the others."""
        if self._syncing:
            return
        self._syncing = True
        try:
            if origin != "map":
                self.map.selection = list(rows)
            if origin != "table":
                self._table.selection = list(rows)
                if rows:  # show the page holding the first selected row
                    self._table.page = min(rows) // self._table.page_size + 1
            if origin != "plot" and self.plot is not None:
                self.plot.selection = list(rows)
        finally:
            self._syncing = False
        if origin != "table":
            say(self.notice, f"{len(rows):,} rows selected on the {origin}.")

    def _on_plot_card(self, event: param.parameterized.Event) -> None:
        if not event.new and self.plot is None:
            self._make_plot()
            self._later(self.plot_rows)

    def _make_plot(self) -> ColumnPlot:
        if self.plot is None:
            self.plot = ColumnPlot()
            self.plot.param.watch(lambda e: self._select(e.new, "plot"), "selection")
            self._plot_card.append(self.plot)
        return self.plot

    def _later(self, work: Callable[[], Any]) -> None:
        """Run ``work`` (a coroutine function) once the session's loop is free."""
        if pn.state.curdoc is not None:
            pn.state.execute(work)

    async def plot_rows(self) -> None:
        """Plot the rows' numeric columns (their records are read off the event loop),
        opening the plot's card."""
        plot = self._make_plot()
        self._plot_card.collapsed = False
        rows = self.rows
        columns = await run_blocking(plot_columns, rows)
        if rows is not self.rows:  # other rows were shown meanwhile
            return
        self._syncing = True
        try:
            plot.set_columns(columns)
            plot.selection = list(self.map.selection)
        finally:
            self._syncing = False

    def selected_rows(self) -> Table:
        """The selected rows (all their columns, and where they came from)."""
        rows = self.rows[sorted(self.map.selection)] if len(self.rows) else self.rows
        return self._provenance(rows) if self._provenance is not None else rows

    async def clear_selection(self) -> None:
        """Forget the selection."""
        self.map.selection = []

    async def add_to_cart(self) -> None:
        """Add the selected rows to the cart, then redraw the cart's coverage."""
        rows = self.selected_rows()
        if not len(rows):
            say(self.notice, "Select rows first (box or lasso on the map, or tick them).",
                "warning")
            return
        try:
            added = await run_blocking(lambda: self.open_cart(self.cart_name).add_rows(rows))
        except CartError as exc:
            say(self.notice, str(exc), "danger")
            return
        say(self.notice, f"Added {added} rows to cart {self.cart_name!r}.")
        await self.cart_coverage()

    # ---------------------------------------------------------------- coverage
    async def cart_coverage(self) -> None:
        """The coverage of the cart's items (positions and footprints) as a layer."""
        name = self.cart_name
        try:
            coverage = await run_blocking(lambda: self.open_cart(name).coverage())
        except CartError as exc:
            say(self.notice, str(exc), "danger")
            return
        self.map.set_layer(f"cart {name}", coverage or MOC.new_empty(8))
        self._layers_changed()

    async def service_coverage(self) -> None:
        """The coverage each archive declares in the registry, one layer per archive."""
        registries = self.profile.by_role("registry")
        if not registries:
            return
        try:
            declared = await run_blocking(registries[0].connector().coverage)
        except ConnectorError as exc:
            say(self.notice, f"registry: {exc.reason}", "warning")
            return
        layers, bad = await run_blocking(declared_layers, self.profile.by_role("archive"),
                                         declared)
        for name, moc in layers.items():
            self.map.set_layer(name, moc, show=False)
        self._layers_changed()
        if bad:
            say(self.notice, "Skipped coverage: " + "; ".join(bad), "warning")

    def _layers_changed(self) -> None:
        names = list(self.map.layers)
        for p in (self.param.overlap_a, self.param.overlap_b):
            p.objects = names
        first = "results" if "results" in names else (names[0] if names else None)
        a = self.overlap_a if self.overlap_a in names else first
        b = self.overlap_b
        if b not in names or (b == a and len(names) > 1):
            b = next((n for n in names if n != a), names[0] if names else None)
        self.param.update(overlap_a=a, overlap_b=b)
        self._show_overlap()

    @param.depends("overlap_a", "overlap_b", watch=True)
    def _show_overlap(self) -> None:
        a, b = self.map.layers.get(self.overlap_a), self.map.layers.get(self.overlap_b)
        if a is None or b is None:
            self._overlap.object = ""
            return
        started = time.perf_counter()
        both = a.intersection(b)
        spent = (time.perf_counter() - started) * 1000
        area_a, area_b, area = (sky.area_deg2(m) for m in (a, b, both))
        share = f" ({100 * area / area_a:.1f} % of A)" if area_a else ""
        self.overlap = area
        self._overlap.object = (f"<p style='font-size:12px'>A: {area_a:,.3f} deg², B: "
                                f"{area_b:,.3f} deg²<br>A ∩ B: <b>{area:,.3f} deg²</b>{share}"
                                f" <span style='color:#888'>({spent:.1f} ms)</span></p>")

    def selection_moc(self) -> MOC:
        """The coverage of the selected rows (positions and footprints; blocking)."""
        return sky.coverage(self.selected_rows()) or MOC.new_empty(8)

    def selection_moc_bytes(self, fmt: str) -> bytes:
        """The coverage of the selected rows as a MOC file (``fits``, ``json`` or
        ``ascii``; blocking)."""
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"moc.{fmt}"
            self.selection_moc().save(str(path), format=fmt, overwrite=True)
            return path.read_bytes()

    def _moc_callback(self, fmt: str) -> Any:
        async def callback() -> io.BytesIO:
            return io.BytesIO(await run_blocking(self.selection_moc_bytes, fmt))
        return callback

    # -------------------------------------------------------------- zoom, preview
    async def zoom(self) -> None:
        """Centre the map on the target and show the TAN field around it."""
        if not self.target.strip():
            say(self.notice, "Type a name or coordinates to zoom to.", "warning")
            return
        try:
            position = await run_blocking(self.resolver().resolve, self.target, "icrs")
        except ConnectorError as exc:
            say(self.notice, exc.reason, "danger")
            return
        self.map.zoom_to(position.ra, position.dec, max(self.fov, 1.0))
        self._inset.objects = [pn.pane.HoloViews(
            field_view(self.rows, position.ra, position.dec, self.fov, cone=self.map.cone,
                       colours=self.map.colours),
            width=420, height=390)]
        say(self.notice, f"{self.target.strip()} → RA {position.ra:.5f}°, "
            f"Dec {position.dec:+.5f}° ({position.source})")

    async def whole_sky(self) -> None:
        """Back to the whole sky (also after zooming with the mouse)."""
        if self.map.view is None:  # zoomed with the mouse: draw the whole sky again
            self.map.param.trigger("view")
        else:
            self.map.view = None
        self._inset.objects = []

    async def preview_selected(self) -> None:
        """Show the FITS image of the (first) selected row, and its footprint on the map."""
        rows = self.selected_rows()
        images = [r for r in rows if "access_url" in rows.colnames
                  and str(r["access_url"]).startswith(("http://", "https://"))]
        if not images:
            say(self.notice, "Select a row with an image (an access URL) first.", "warning")
            return
        row = images[0]
        shown = await self.preview.show(str(row["access_url"]), title=str(row["title"]),
                                        cone=self.map.cone)
        if shown and self.preview.footprint is not None:
            self.map.highlight = [self.preview.footprint]
            self.map.param.trigger("view")

    async def show_links(self) -> None:
        """List the DataLink links of the (first) selected row whose archive offers them."""
        rows = self.selected_rows()
        found = [(r, links_url(rows, r)) for r in rows]
        found = [(r, url) for r, url in found if url]
        if not found:
            say(self.notice, "Select a row whose archive offers DataLink (an ObsCore or "
                "SIA v2 image) first.", "warning")
            return
        row, url = found[0]
        session = archive_session(self.profile, str(row["archive"]))
        say(self.notice, f"Asking for the links of {row['title']} …")
        try:
            links = await run_blocking(lambda: fetch_links(
                url, session=session, timeout=session.timeout))
        except ConnectorError as exc:
            say(self.notice, f"DataLink: {exc.reason}", "danger")
            return
        self.links, self._linked_row = links, row
        frame = links.links.to_pandas()
        frame["href"] = [u if str(u).lower().startswith(("http://", "https://")) else ""
                         for u in frame["access_url"]]
        self._links_table.value = frame
        soda = links.cutout()
        self._links_title.object = (
            f"<p><b>{html.escape(str(row['title']))}</b>: {len(links.links)} links"
            + (f"; cutouts by <code>{html.escape(soda.url)}</code> (SODA)" if soda else
               "; no cutout service") + "</p>")
        self._links_card.param.update(visible=True, collapsed=False)
        say(self.notice, f"{len(links.links)} links of {row['title']}.")

    async def cutout_to_cart(self) -> None:
        """Cut the linked data set around the target (the search's centre, else the
        data set's) with SODA and add the cutout to the cart as an item of its own."""
        if self.links is None or self._linked_row is None:
            say(self.notice, "Show a row's links first.", "warning")
            return
        row = self._linked_row
        ra, dec = ((self.map.cone[0], self.map.cone[1]) if self.map.cone is not None
                   else (float(row["ra"]), float(row["dec"])))
        try:
            item = cutout_rows(row, self.links, ra, dec, self.cutout_radius / 60,
                               user=self.user)
            added = await run_blocking(lambda: self.open_cart(self.cart_name).add_rows(item))
        except (ConnectorError, CartError) as exc:
            say(self.notice, getattr(exc, "reason", str(exc)), "danger")
            return
        say(self.notice, f"Added the cutout {str(item['title'][0])!r} to cart {self.cart_name!r}"
            + ("" if added else " (it was there already)") + ".")

    async def plot_spectra(self) -> None:
        """Read the selected rows that are spectra (SSA, ObsCore) and draw them."""
        found = spectrum_rows(self.selected_rows())
        if not found:
            say(self.notice, "Select rows that are spectra (product type spectrum, from "
                "an SSA service or ObsCore) first.", "warning")
            return
        say(self.notice, f"Reading {len(found)} spectr{'um' if len(found) == 1 else 'a'} …")
        spectra = await run_blocking(load_spectra, found, self.profile)
        if self.spectra is None:
            self.spectra = SpectrumPlot()
            self._spectra_card.objects = [self.spectra]
        self.spectra.show(spectra)
        self._spectra_card.param.update(visible=True, collapsed=False)
        failed = [s for s in spectra if s.error]
        drawn = len(self.spectra.drawn)
        say(self.notice, f"{drawn} spectr{'um' if drawn == 1 else 'a'} drawn"
            + (f"; {len(failed)} could not be read (see below)" if failed else "") + ".",
            "warning" if failed else "info")


def declared_layers(services: Any, declared: dict[str, str]
                    ) -> tuple[dict[str, MOC], list[str]]:
    """Coverage layers of ``services`` from the MOCs the registry declares for them
    (by URL), and what could not be read (blocking: parsing MOCs takes time)."""
    layers, bad = {}, []
    for svc in services:
        text = declared.get(svc.url.rstrip("?"))
        if text is None:
            continue
        try:
            layers[svc.name] = sky.moc_from_text(text)
        except ValueError as exc:
            bad.append(f"{svc.name}: {exc}")
    return layers, bad


def catalogue_rows(rows: Table, cols: dict[str, str], url: str) -> Table:
    """A catalogue's positions as rows of the map and its table: each with its
    archive, identifier, a title (table and identifier) and the service's URL."""
    ids = (np.asarray(rows["id"], dtype=str) if "id" in rows.colnames
           else np.arange(len(rows)).astype(str))
    return Table({"archive": np.full(len(rows), cols["archive"]), "id": ids,
                  "title": np.char.add(f"{cols['table_name']} ", ids),
                  "ra": np.ma.filled(np.ma.asarray(rows["ra"], float), np.nan),
                  "dec": np.ma.filled(np.ma.asarray(rows["dec"], float), np.nan),
                  "service_url": np.full(len(rows), url)}, copy=False)


def _values(rows: Table, name: str) -> Any:
    """A column for the rows' table: its values (masked ones empty), or empty."""
    if name not in rows.colnames:
        return pd.Categorical.from_codes(np.zeros(len(rows), np.int8), [""])
    column = rows[name]
    return column.tolist() if np.ma.getmaskarray(column).any() else np.asarray(column)


def catalogue_provenance(rows: Table, *, cols: dict[str, str], record: Provenance) -> Table:
    """``rows`` of a whole catalogue with what the cart keeps of their origin: the
    record of the query that loaded them, and each row's identifier and position
    under the table's own column names (so an exported notebook can ask the
    service again for exactly these rows)."""
    rows = rows.copy()
    id_col = cols["id"] or "id"
    rows["record"] = [json.dumps({id_col: str(i), cols["ra"]: float(ra), cols["dec"]: float(dec)})
                      for i, ra, dec in zip(rows["id"], rows["ra"], rows["dec"], strict=True)]
    rows["query"] = [record.to_json()] * len(rows)
    return rows
