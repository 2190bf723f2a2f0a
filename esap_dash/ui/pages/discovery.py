"""The Discovery page: one form, every archive at once."""

from __future__ import annotations

import asyncio
import html
import time
from typing import Any

import panel as pn
import param
from astropy.table import Table

from connectors.base import ServiceConnector
from connectors.exceptions import ConnectorError
from connectors.query import DEFAULT_RADIUS, WAVEBANDS, SkyQuery
from connectors.resolver import FRAMES

from ...core.actor import NoAccountError
from ...core.fanout import run_blocking
from ...core.search import (
    ArchiveResult,
    Searches,
    SearchRequest,
    SearchResults,
    parse_time,
    sky_archives,
)
from ..components.actions import mirror, on_click
from ..components.adql_editor import AdqlEditor
from ..components.datalake_search import DataLakeSearch
from ..components.lazy_tabs import LazyTabs
from ..components.page_link import link_problems
from ..components.query_history import QueryHistory
from ..components.registry_search import RegistrySearch
from ..components.results_table import ArchiveStatus, ResultsTable
from ..components.software_search import SoftwareSearch
from ..components.style import html_pane, notice, say
from .base import Page

__all__ = ["DiscoveryPage"]

ANY = "any"
#: Least seconds between two drawings of the rows while archives answer.
SHOW_EVERY = 0.3
PRODUCT_CHOICES = [ANY, "image", "cube", "spectrum", "timeseries", "visibility", "event"]
#: Form fields kept in the page URL, so a search can be bookmarked and shared.
URL_PARAMS = ("target", "frame", "radius", "keywords", "waveband", "product_type",
              "time_from", "time_to")
#: What to give instead of a link's value a field cannot take.
URL_REASONS = {"radius": "give a number of degrees above 0",
               "frame": f"use one of {', '.join(FRAMES)}",
               "waveband": f"use one of {', '.join(WAVEBANDS)}",
               "product_type": f"use one of {', '.join(PRODUCT_CHOICES[1:])}",
               "time_from": "give an ISO date (2001-04-24) or an MJD",
               "time_to": "give an ISO date (2001-04-24) or an MJD"}

class DiscoveryPage(Page):
    """Search every configured archive at once around a target.

    Results stream in per archive; each archive shows its own state (waiting,
    running, rows and time, truncation, or the service's error), and a slow
    or dead archive never holds up the others.
    """

    title = "Discovery"

    target = param.String(default="", doc="Object name or coordinates.")
    frame = param.Selector(objects=list(FRAMES), default="icrs",
                           doc="Frame of typed coordinates.")
    radius = param.Number(default=DEFAULT_RADIUS, bounds=(0, None),
                          inclusive_bounds=(False, True), softbounds=(0.001, 10),
                          doc="Cone radius in degrees.")
    keywords = param.String(default="", doc="Words matched in titles and names.")
    waveband = param.Selector(objects=[ANY, *WAVEBANDS], default=ANY, doc="Waveband.")
    product_type = param.Selector(objects=PRODUCT_CHOICES, default=ANY,
                                  doc="ObsCore data product type.")
    time_from = param.String(default="", doc="Observed after: ISO date (2001-04-24) or MJD.")
    time_to = param.String(default="", doc="Observed before: ISO date or MJD.")
    archives = param.ListSelector(default=[], doc="Archives to ask (all by default).")
    searching = param.Boolean(default=False, doc="A search is running.")
    cart_name = param.String(default="default", doc="The cart that selected rows go to.")
    resolved = param.String(default="", doc="Where the target was resolved to.")
    selection = param.List(default=[], item_type=int,
                           doc="Rows chosen in the table (their indices), as ticked there.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        names = list(sky_archives(self.profile))
        self.param.archives.objects = names
        if not self.archives:
            self.archives = list(names)
        self.searches = Searches(self.actor, {s.name: s for s in
                                              self.profile.by_role("archive")})
        self._services = self.searches.services
        self._connectors: dict[str, ServiceConnector] = {}
        #: The current search: what this page lists and the Sky page draws.
        self.search_results = SearchResults(self._services, self.user)
        self._build()
        if pn.state.location is not None and pn.state.curdoc is not None:
            pn.state.location.sync(self, {name: name for name in URL_PARAMS})
            pn.state.onload(self._search_from_url)

    def _build(self) -> None:
        search = pn.widgets.Button(label="Search all archives", color="primary", width=200)
        pn.bind(self._on_search, search.param.clicks, watch=True)
        self._search_button = search
        form = pn.Column(
            pn.Row(pn.widgets.TextInput.from_param(
                       self.param.target, placeholder="M 1, NGC 224, HIP 32349, 83.63 22.01, "
                       "05h34m32s +22d00m52s", label="Target", width=380),
                   pn.widgets.Select.from_param(self.param.frame, label="Frame", width=110),
                   pn.widgets.FloatInput.from_param(self.param.radius, label="Radius (deg)",
                                                    width=120, step=0.05)),
            pn.Row(pn.widgets.TextInput.from_param(self.param.keywords, label="Keywords",
                                                   width=250),
                   pn.widgets.Select.from_param(self.param.waveband, label="Waveband",
                                                width=130),
                   pn.widgets.Select.from_param(self.param.product_type, label="Product type",
                                                width=130),
                   pn.widgets.TextInput.from_param(self.param.time_from, label="Observed from",
                                                   placeholder="1990-01-01 or MJD", width=150),
                   pn.widgets.TextInput.from_param(self.param.time_to, label="Observed to",
                                                   placeholder="2030-01-01 or MJD", width=150)),
            pn.widgets.CheckBoxGroup.from_param(self.param.archives, inline=True),
            search)
        self.notice = notice()
        self._resolved_pane = pn.pane.Markdown("", styles={"color": "#3b4658"})
        #: Each archive's state in the current search.
        self.status = ArchiveStatus(self.search_results)
        self._show_status()
        #: The current search's rows.
        self.table = ResultsTable(self.search_results)
        mirror(self.table, self, "selection")
        to_cart = pn.widgets.Button(label="Add selected rows to cart", width=220)
        on_click(to_cart, self.add_to_cart)
        cart_row = pn.Row(to_cart, pn.widgets.TextInput.from_param(
            self.param.cart_name, label="Cart", width=200))
        sky = pn.Column(form, self.notice, self._resolved_pane,
                        pn.pane.Markdown("### Archives"), self.status,
                        pn.pane.Markdown("### Results"), cart_row, self.table,
                        sizing_mode="stretch_width")
        self.tabs = LazyTabs("Sky search", sky)
        registries = self.profile.by_role("registry")
        if registries:
            self.tabs.add("Registry", lambda: RegistrySearch(
                registries[0].connector(), on_add=self.add_archive, cone=self._last_cone))
        if any(svc.kind == "tap" for svc in self._services.values()):
            self.tabs.add("ADQL", lambda: AdqlEditor(
                {svc.name: self.connector(svc.name) for svc in self._services.values()
                 if svc.kind == "tap"}, self.actor))
        if self.profile.by_role("rucio"):
            self.tabs.add("Data lake", self._data_lake)
        software = self.profile.by_role("software")
        if software:
            self.tabs.add("Software", lambda: SoftwareSearch(software[0].connector(),
                                                             add_to_cart=self.put_in_cart))
        self.tabs.add("History", self._history)
        self._layout = pn.Column(pn.pane.Markdown("## Discovery"), self.tabs,
                                 sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    # ------------------------------------------------------------------- tabs
    def _data_lake(self) -> pn.viewable.Viewable:
        try:
            return DataLakeSearch(self.user_connector("rucio"), add_to_cart=self.put_in_cart)
        except NoAccountError as exc:
            return html_pane(f"<p>{html.escape(str(exc))}</p>")

    def _history(self) -> QueryHistory:
        history = QueryHistory(self.store, self.user, on_rerun=self.rerun)
        if pn.state.curdoc is not None:
            pn.state.onload(history.reload)
        return history

    @property
    def registry(self) -> RegistrySearch | None:
        """The Registry tab (None when the deployment has no registry)."""
        return self.tabs.tab("Registry")

    @property
    def adql(self) -> AdqlEditor | None:
        """The ADQL tab (None when no archive speaks TAP)."""
        return self.tabs.tab("ADQL")

    @property
    def datalake(self) -> DataLakeSearch | None:
        """The Data lake tab (None without a data lake or an account there)."""
        lake = self.tabs.tab("Data lake")
        return lake if isinstance(lake, DataLakeSearch) else None

    @property
    def software(self) -> SoftwareSearch | None:
        """The Software tab (None when the deployment lists no software records)."""
        return self.tabs.tab("Software")

    @property
    def history(self) -> QueryHistory:
        """The History tab: the user's searches."""
        return self.tabs.tab("History")

    # ------------------------------------------------------------------ state
    def connector(self, name: str) -> ServiceConnector:
        """This session's connector for an archive (built on first use)."""
        if name not in self._connectors:
            self._connectors[name] = self._services[name].connector()
        return self._connectors[name]

    def search_request(self) -> SearchRequest:
        """What the form asks."""
        return SearchRequest(
            self.target, radius=float(self.radius), frame=self.frame,
            keywords=tuple(self.keywords.split()),
            waveband=None if self.waveband == ANY else self.waveband,
            product_type=None if self.product_type == ANY else self.product_type,
            time_min=parse_time(self.time_from), time_max=parse_time(self.time_to),
            archives=tuple(self.archives))

    def add_archive(self, name: str, kind: str, url: str) -> str:
        """Add a service (e.g. one found in the registry) to this session's archives
        (see :meth:`Searches.add_archive`); what happened, for the page."""
        said = self.searches.add_archive(name, kind, url)
        if name in self._services and name not in self.param.archives.objects:
            self.param.archives.objects = [*self.param.archives.objects, name]
            self.archives = [*self.archives, name]
            self._show_status()
        return said

    async def rerun(self, entry: dict[str, Any]) -> None:
        """Put a recorded search back in the form and run it."""
        query = entry["query"]
        self.param.update(
            target=query.get("target", ""), radius=float(query.get("radius", self.radius)),
            frame=query.get("extra", {}).get("frame", "icrs"),
            keywords=" ".join(query.get("keywords", [])),
            waveband=query.get("waveband") or ANY, product_type=query.get("product_type") or ANY,
            time_from=_mjd_text(query.get("time_min")), time_to=_mjd_text(query.get("time_max")),
            archives=[a for a in entry["archives"] if a in self.param.archives.objects])
        self.tabs.show("Sky search")
        await self.search()

    async def add_to_cart(self) -> None:
        """Add the ticked result rows to the named cart."""
        rows = self.selected_rows()
        if not len(rows):
            say(self.notice, "Tick result rows to add first.", "warning")
            return
        say(self.notice, *await self.put_in_cart(rows))

    async def put_in_cart(self, rows: Table, kind: str = "row") -> tuple[str, str]:
        """Add ``rows`` to the named cart; what happened and its level, for the page.
        The data-lake and software tabs add their items through this too."""
        return await self.add_rows_to_cart(self.cart_name, rows, kind)

    def _last_cone(self) -> tuple[float, float, float] | None:
        q = self.last_query
        return (q.ra, q.dec, q.radius) if q else None

    # ----------------------------------------------------------------- search
    async def _on_search(self, _clicks: int) -> None:
        await self.search()

    async def _search_from_url(self) -> None:
        """A bookmarked or shared link (``?target=M1&radius=0.5``) searches at once,
        unless one of its values cannot be used: then it says which, and why."""
        problems = link_problems(self, pn.state.session_args or {}, URL_PARAMS, URL_REASONS)
        if problems:
            self._show_error("This link cannot be searched as it is: " + "; ".join(problems)
                             + ".")
            return
        if self.target.strip():
            await self.search()

    async def search(self) -> None:
        """Resolve the target, then ask every ticked archive at once."""
        if self.searching:
            return
        self._show_error("")
        if not self.target.strip():
            self._show_error("Type a target: an object name or coordinates.")
            return
        if not self.archives:
            self._show_error("Tick at least one archive.")
            return
        self.searching = True
        self._search_button.loading = True
        try:
            try:
                request = self.search_request()
                position = await self.searches.locate(request)
                query = request.query(position)
            except ConnectorError as exc:
                self._show_error(exc.reason)
                return
            self.resolved = (f"{position.text.strip()} → RA {position.ra:.5f}°, "
                             f"Dec {position.dec:+.5f}° ({position.source})")
            self._resolved_pane.object = html.escape(self.resolved)
            self.search_results.start(query)  # the status lists every archive as waiting
            started = time.perf_counter()
            self._show_status(running=True)
            self.table.fit_ranges(None)  # no range filter while the archives answer
            connectors = {name: self.connector(name) for name in request.archives}
            answered = asyncio.Event()
            shower = asyncio.ensure_future(self._show_rows(answered))
            try:
                async for _ in self.searches.ask(request, query, self.search_results,
                                                 connectors=connectors):
                    self._show_status(running=True)
                    answered.set()
            finally:
                shower.cancel()
            self.table.fit_ranges(await self.table.show_found())
            self._show_status(total=time.perf_counter() - started)
            await run_blocking(self.searches.remember, self.search_results, request.archives)
            if self.tabs.built("History") is not None:  # else read when first shown
                await self.history.reload()
        finally:
            self.searching = False
            self._search_button.loading = False

    async def _show_rows(self, answered: asyncio.Event) -> None:
        """Show the rows found so far each time archives answered, at most every
        :data:`SHOW_EVERY` seconds: answers that come together are drawn once."""
        while True:
            await answered.wait()
            answered.clear()
            await self.table.show_found()
            await asyncio.sleep(SHOW_EVERY)

    async def shown(self) -> None:
        """The ADQL tab's job list follows what happened while another page was shown."""
        adql = self.tabs.built("ADQL")
        if adql is not None and adql.jobs:
            await adql.job_list.refresh()

    def _show_error(self, text: str) -> None:
        say(self.notice, text, "danger")

    # ---------------------------------------------------------------- display
    def _show_status(self, running: bool = False, total: float | None = None) -> None:
        self.status.show(self.param.archives.objects, self.archives, running=running,
                         total=total)

    def selected_rows(self) -> Table:
        """The rows ticked in the result table, with all the cart needs.

        Every row keeps its archive, the service URL, the full original record
        (``record``, JSON) and the query that found it (``query``, JSON, with
        the time it ran and, per archive, the kind of service that answered).
        """
        return self.table.selected_rows()

    def with_provenance(self, rows: Table) -> Table:
        """A copy of ``rows`` (of :attr:`merged`) with their provenance (``query``)."""
        return self.search_results.with_provenance(rows)

    @property
    def results(self) -> dict[str, ArchiveResult]:
        """What each archive answered to the current search."""
        return self.search_results.results

    @property
    def merged(self) -> Table:
        """The current search's rows of every archive in one table."""
        return self.search_results.merged

    @property
    def last_query(self) -> SkyQuery | None:
        """The current search's query."""
        return self.search_results.query


def _mjd_text(value: float | None) -> str:
    return "" if value is None else f"{value:g}"
