"""The Sky page: results and catalogues on an all-sky map, coverage, selection, FITS previews."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import panel as pn
import param
from astropy.table import Table
from mocpy import MOC

from connectors.exceptions import ConnectorError

from ...core import sky
from ...core.cart import CartError
from ...core.catalogues import Catalogue, find_catalogues, science_columns
from ...core.fanout import run_blocking
from ...core.search import SearchResults
from ...core.survey import open_surveys
from ..components.actions import action_buttons, mirror
from ..components.coverage_overlap import CoverageOverlap
from ..components.fits_preview import FitsPreview
from ..components.links_card import LinksCard
from ..components.plot_card import ColumnPlotCard
from ..components.rows_table import RowsTable
from ..components.sky_map import SkyMap
from ..components.sky_zoom import SkyZoom
from ..components.spectra_card import SpectraCard
from ..components.style import notice, say
from .base import Page

__all__ = ["SkyPage"]

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
    catalogue_columns = param.ListSelector(
        default=[], objects=[], label="Columns",
        doc="The catalogue's columns to bring besides positions (its TAP_SCHEMA's); "
            "magnitudes, colours and parallaxes unless others are chosen.")
    row_limit = param.Integer(default=2_000_000, bounds=(1, 20_000_000),
                              doc="At most this many catalogue rows.")
    cart_name = param.String(default="default", label="Cart", doc="Where selected rows go.")
    selection = param.List(default=[], item_type=int,
                           doc="Rows chosen in the table (their indices), as ticked there.")

    def __init__(self, discovery: Any = None, **params: Any) -> None:
        super().__init__(**params)
        self.discovery = discovery
        self.map = SkyMap()
        self.map.offer_surveys([svc.name for svc in self.profile.by_role("survey")])
        #: The overlap of two coverage layers of the map.
        self.overlaps = CoverageOverlap(self.map)
        self.preview = FitsPreview(trusted=self.profile.serves)
        self._preview_card = pn.Card(self.preview, title="FITS preview",
                                     sizing_mode="stretch_width")
        #: The DataLink and FITS preview cards, put here when first used.
        self._more = pn.Column(sizing_mode="stretch_width")
        self.rows = Table()
        self._provenance: Callable[[Table], Table] | None = None
        self._catalogues: dict[str, Catalogue] = {}
        #: The chosen catalogue's columns (see :meth:`Catalogue.columns`), once listed.
        self._described: Table | None = None
        self.notice = notice()
        #: Go to a target (a field centred on it), or back to the whole sky.
        self.zoom = SkyZoom(self.map, self.resolver, self.notice)
        #: The rows drawn, listed.
        self.table = RowsTable()
        mirror(self.table, self, "selection")
        self.table.param.watch(lambda e: self._select(e.new, "table"), "selection")
        self.map.param.watch(lambda e: self._select(e.new, "map"), "selection")
        #: The rows' numeric columns, plotted when the card is first opened.
        self.columns = ColumnPlotCard(lambda: self.rows, lambda: self.map.selection)
        self.columns.param.watch(lambda e: self._select(e.new, "plot"), "selection")
        buttons = action_buttons((
                ("Load catalogue", self.load_catalogue, "primary"),
                ("Add selected rows to cart", self.add_to_cart, "primary"),
                ("Cart coverage", self.cart_coverage, "default"),
                ("Service coverage", self.service_coverage, "default"),
                ("Preview image", self.preview_selected, "default"),
                ("Links (DataLink)", self.show_links, "default"),
                ("Plot spectra", self.plot_spectra, "default"),
                ("Clear selection", self.clear_selection, "default")), width=180)
        exports = [pn.widgets.FileDownload(callback=self._moc_callback(fmt), label=label,
                                           filename=f"selection-moc.{fmt}", width=180)
                   for fmt, label in (("fits", "Selection MOC (FITS)"),
                                      ("json", "Selection MOC (JSON)"))]
        #: The DataLink links of a row, and its cutouts.
        self.datalink = LinksCard(self.profile, self.user,
                                  cart=lambda: self.open_cart(self.cart_name),
                                  centre=lambda: self.map.cone[:2] if self.map.cone else None,
                                  notice=self.notice)
        #: The selected spectra, drawn when asked for.
        self.spectra = SpectraCard(self.profile, self.notice)
        catalogue_row = pn.Column(
            pn.widgets.Select.from_param(self.param.catalogue, width=280),
            pn.widgets.MultiChoice.from_param(self.param.catalogue_columns, width=280),
            pn.widgets.IntInput.from_param(self.param.row_limit, width=180),
            buttons["Load catalogue"], visible=False)
        self.param.watch(lambda e: setattr(catalogue_row, "visible", e.new == CATALOGUE),
                         "source")
        # In a session the page is shown first and the map drawn into it next (it
        # costs about as much as the rest of the page together).
        document = pn.state.curdoc
        in_session = document is not None and document.session_context is not None
        self._map_box = pn.Column(
            self.map if not in_session else pn.indicators.LoadingSpinner(
                value=True, size=36, name="Drawing the sky …", margin=(40, 20)),
            min_height=500, sizing_mode="stretch_width")
        controls = pn.Column(
            pn.widgets.RadioButtonGroup.from_param(self.param.source, width=280),
            catalogue_row,
            self.map.controls(width=280),
            pn.Row(buttons["Service coverage"], width=280),
            self.overlaps, self.zoom, width=310)
        self._layout = pn.Column(
            pn.pane.Markdown("## Sky"), self.notice,
            pn.Row(controls, self._map_box, sizing_mode="stretch_width"),
            pn.pane.Markdown("#### Rows (tick here or select on the map)"),
            pn.FlexBox(pn.widgets.TextInput.from_param(self.param.cart_name, width=180),
                       buttons["Add selected rows to cart"], buttons["Cart coverage"],
                       buttons["Clear selection"], *exports, buttons["Preview image"],
                       buttons["Links (DataLink)"], buttons["Plot spectra"], flex_wrap="wrap",
                       align_items="flex-end", sizing_mode="stretch_width"),
            self.table,
            self.columns, self.spectra, self._more, sizing_mode="stretch_width")
        self._syncing = False
        if discovery is not None:
            discovery.param.watch(self._on_search_done, "searching")
            self.show_search()
        if pn.state.curdoc is not None:
            pn.state.onload(self._on_load)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    async def _on_load(self) -> None:
        self._map_box.objects = [self.map]
        await self.list_surveys()
        await self.list_catalogues()
        await self.service_coverage()

    async def list_surveys(self) -> None:
        """Offer the profile's HiPS surveys behind the map (their properties and
        coverage read off the event loop); each one's coverage becomes a layer."""
        found, failed = await run_blocking(open_surveys, self.profile.by_role("survey"))
        for sentence in failed:
            say(self.notice, sentence, "warning")
        for name, survey in found.items():
            if survey.coverage is not None:
                self.map.set_layer(f"{name} coverage", survey.coverage, show=False,
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
        self.table.show(rows)
        # The coverage and the field first, without drawing: the new rows then draw
        # the map once, centred on the search's cone.
        self.map.set_layer("results", coverage, show=False, redraw=False)
        if cone is not None:
            self.map.zoom_to(*cone[:2], max(5 * cone[2], 0.02), redraw=False)
        self.map.set_results(rows, cone=cone)
        self._layers_changed()
        self.columns.rows_changed()
        if not len(rows) and cone is None:
            return  # nothing searched yet: nothing to say
        shown = int(self.map.positions().valid.sum()) if len(rows) else 0
        say(self.notice, f"{shown:,} rows on the map." + (
            " " + "; ".join(self.map.warnings[:3]) if self.map.warnings else ""),
            "warning" if self.map.warnings else "info")

    async def list_catalogues(self) -> None:
        """Offer the tables with positions of every TAP service (see
        :func:`find_catalogues`)."""
        found, failed = await run_blocking(find_catalogues, self.profile.by_role("archive"))
        for sentence in failed:
            say(self.notice, sentence, "warning")
        self._catalogues = found
        # Hipparcos-2 first where a service has it: the one a widget offered a new
        # list picks, and the one chosen.
        offered = sorted(found, key=lambda k: not k.startswith("hipparcos"))
        self.param.catalogue.objects = offered
        if found and self.catalogue not in found:
            self.catalogue = offered[0]

    @param.depends("catalogue", watch=True)
    def _on_catalogue(self) -> None:
        self._described = None
        self.param.catalogue_columns.objects = []
        if pn.state.curdoc is not None:
            pn.state.execute(self.list_columns)

    async def list_columns(self) -> None:
        """Offer the chosen catalogue's columns (see :meth:`Catalogue.columns`), its
        magnitudes, colours and parallaxes chosen."""
        catalogue = self._catalogues.get(self.catalogue)
        if catalogue is None:
            return
        try:
            described = await run_blocking(catalogue.columns)
        except ConnectorError as exc:
            say(self.notice, exc.reason, "warning")
            return
        self._described = described
        self.param.catalogue_columns.objects = [str(n) for n in described["column_name"]]
        self.catalogue_columns = science_columns(described)

    async def load_catalogue(self) -> None:
        """Draw every row of the chosen catalogue: positions, identifiers and the
        :attr:`catalogue_columns`."""
        if self.catalogue not in self._catalogues:
            await self.list_catalogues()
            if self.catalogue not in self._catalogues:
                say(self.notice, "No catalogue with positions found.", "warning")
                return
        if not self.param.catalogue_columns.objects:
            await self.list_columns()
        say(self.notice, f"Loading {self.catalogue} …")
        try:
            loaded = await run_blocking(self._catalogues[self.catalogue].load, self.user,
                                        self.row_limit, list(self.catalogue_columns),
                                        self._described)
        except ConnectorError as exc:
            say(self.notice, exc.reason, "danger")
            return
        self.show_rows(loaded.rows, loaded.coverage, provenance=loaded.provenance)
        if loaded.truncated:
            say(self.notice, f"Only the first {len(loaded.rows):,} rows (row limit).",
                "warning")

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
                self.table.reveal(rows)
            if origin != "plot":
                self.columns.select(rows)
        finally:
            self._syncing = False
        if origin != "table":
            say(self.notice, f"{len(rows):,} rows selected on the {origin}.")

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
        said, kind = await self.add_rows_to_cart(self.cart_name, rows)
        say(self.notice, said, kind)
        if kind != "danger":
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
        layers, bad = await run_blocking(sky.declared_layers,
                                         self.profile.by_role("archive"), declared)
        for name, moc in layers.items():
            self.map.set_layer(name, moc, show=False)
        self._layers_changed()
        if bad:
            say(self.notice, "Skipped coverage: " + "; ".join(bad), "warning")

    def _layers_changed(self) -> None:
        self.overlaps.layers_changed()

    def selection_moc(self) -> MOC:
        """The coverage of the selected rows (positions and footprints; blocking)."""
        return sky.coverage(self.selected_rows()) or MOC.new_empty(8)

    def selection_moc_bytes(self, fmt: str) -> bytes:
        """The coverage of the selected rows as a MOC file (``fits``, ``json`` or
        ``ascii``; blocking)."""
        return sky.moc_bytes(self.selection_moc(), fmt)

    def _moc_callback(self, fmt: str) -> Any:
        async def callback() -> io.BytesIO:
            return io.BytesIO(await run_blocking(self.selection_moc_bytes, fmt))
        return callback

    # ----------------------------------------------------------------- preview
    async def preview_selected(self) -> None:
        """Show the FITS image of the (first) selected row, and its footprint on the map."""
        rows = self.selected_rows()
        images = [r for r in rows if "access_url" in rows.colnames
                  and str(r["access_url"]).startswith(("http://", "https://"))]
        if not images:
            say(self.notice, "Select a row with an image (an access URL) first.", "warning")
            return
        row = images[0]
        self._reveal(self._preview_card)
        shown = await self.preview.show(str(row["access_url"]), title=str(row["title"]),
                                        cone=self.map.cone)
        if shown and self.preview.footprint is not None:
            self.map.highlight = [self.preview.footprint]
            self.map.param.trigger("view")

    async def show_links(self) -> None:
        """List the DataLink links of the (first) selected row whose archive offers them."""
        self._reveal(self.datalink)
        await self.datalink.show(self.selected_rows())

    def _reveal(self, card: Any) -> None:
        """Put ``card`` on the page (below the others) the first time it is used."""
        view = pn.panel(card)
        if view not in self._more.objects:
            self._more.append(view)

    async def plot_spectra(self) -> None:
        """Read the selected rows that are spectra (SSA, ObsCore) and draw them."""
        await self.spectra.show(self.selected_rows())
