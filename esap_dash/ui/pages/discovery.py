"""The Discovery page: one form, every archive at once."""

from __future__ import annotations

import functools
import html
import json
import math
import time
import warnings
from collections.abc import Callable
from typing import Any

import pandas as pd
import panel as pn
import param
from astropy.table import Table
from astropy.time import Time
from erfa import ErfaWarning

from connectors.base import ServiceConnector
from connectors.exceptions import ConnectorError, QueryError
from connectors.query import DEFAULT_RADIUS, WAVEBANDS, SkyQuery, quote_prefix
from connectors.resolver import FRAMES

from ...core.actor import NoAccountError
from ...core.cart import CartError
from ...core.config import ServiceConfig
from ...core.fanout import run_blocking
from ...core.search import ArchiveResult, Searches, SearchRequest, SearchResults, sky_archives
from ..components.actions import on_click
from ..components.adql_editor import AdqlEditor
from ..components.datalake_search import DataLakeSearch
from ..components.query_history import QueryHistory
from ..components.registry_search import RegistrySearch
from ..components.software_search import SoftwareSearch
from ..components.style import POSITION_FORMAT, html_pane, notice, say, whole_bytes
from .base import Page

__all__ = ["DiscoveryPage"]

ANY = "any"
PRODUCT_CHOICES = [ANY, "image", "cube", "spectrum", "timeseries", "visibility", "event"]
#: Form fields kept in the page URL, so a search can be bookmarked and shared.
URL_PARAMS = ("target", "frame", "radius", "keywords", "waveband", "product_type",
              "time_from", "time_to")
#: Columns of the merged table shown in the page (``record`` is kept for the cart).
SHOWN = ["archive", "id", "title", "ra", "dec", "distance", "product_type", "access_url", "size",
         "also_in"]
TEXT_COLUMNS = ("archive", "id", "title", "product_type", "access_url", "also_in")
#: Numeric columns filtered by a range (a slider whose limits follow the results).
RANGE_COLUMNS = {"ra": "RA (deg)", "dec": "Dec (deg)", "distance": "Distance (deg)",
                 "size": "Size (bytes)"}


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
    range_version = param.Integer(default=0, precedence=-1,
                                  doc="Counts the user's changes of the range filters.")
    searching = param.Boolean(default=False, doc="A search is running.")
    own_columns = param.Selector(objects=[], doc="Show every column of this archive's rows.")
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
        self._services = {s.name: s for s in self.profile.by_role("archive")}
        self._connectors: dict[str, ServiceConnector] = {}
        #: The current search: what this page lists and the Sky page draws.
        self.search_results = SearchResults(self._services, self.user)
        self.searches = Searches(self.actor, self._services)
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
        self._status = html_pane(self._status_html())
        self._table = pn.widgets.Tabulator(
            self._frame(), pagination="remote", page_size=25, selectable="checkbox",
            show_index=False, disabled=True, sizing_mode="stretch_width", height=520,
            # Text columns: "contains" (case-insensitive); numbers: the range filters.
            header_filters={c: {"type": "input", "func": "like", "placeholder": "contains…"}
                            for c in TEXT_COLUMNS},
            formatters={**{c: {"type": "plaintext"} for c in TEXT_COLUMNS},
                        **POSITION_FORMAT, "distance": POSITION_FORMAT["ra"]},
            titles={"ra": "RA (deg)", "dec": "Dec (deg)", "distance": "Dist. (deg)",
                    "size": "Size (bytes)", "product_type": "Product", "also_in": "Also in"},
            widths={"archive": 190, "id": 220, "title": 260, "access_url": 220},
            text_align={"size": "right"})
        self._table.link(self, selection="selection", bidirectional=True)
        #: Column -> its range filter over the results (rows without a value stay).
        self.range_filters = {c: pn.widgets.RangeSlider(label=label, start=0, end=1,
                                                        value=(0, 1), width=250,
                                                        format="0[.]00[0]", margin=(5, 18))
                              for c, label in RANGE_COLUMNS.items()}
        # Filtering follows what the user sets (a released handle), not the limits
        # the page fits to each result set: those leave the table as it is.
        self._user_ranges: dict[str, tuple[float, float]] = {}
        for column, slider in self.range_filters.items():
            slider.param.watch(functools.partial(self._on_range, column), "value_throttled")
        self._table.add_filter(pn.bind(self._in_ranges, self.param.range_version))
        self._own = pn.widgets.Tabulator(None, show_index=False, disabled=True, height=300,
                                         pagination="remote", page_size=20,
                                         sizing_mode="stretch_width")
        own = pn.Card(pn.widgets.Select.from_param(self.param.own_columns, width=300,
                                                   label="Archive"),
                      self._own, title="Each archive's own columns", collapsed=True,
                      sizing_mode="stretch_width")
        to_cart = pn.widgets.Button(label="Add selected rows to cart", width=220)
        on_click(to_cart, self.add_to_cart)
        cart_row = pn.Row(to_cart, pn.widgets.TextInput.from_param(
            self.param.cart_name, label="Cart", width=200))
        sky = pn.Column(form, self.notice, self._resolved_pane,
                        pn.pane.Markdown("### Archives"), self._status,
                        pn.pane.Markdown("### Results"), cart_row,
                        # A fixed height: fitting the filters never moves the table.
                        pn.Row(*self.range_filters.values(), height=64,
                               sizing_mode="stretch_width"),
                        self._table, own,
                        sizing_mode="stretch_width")
        self.tabs = pn.Tabs(("Sky search", sky), dynamic=True, sizing_mode="stretch_width")
        # The other tabs are built when first shown (or first used): a session that
        # never opens them does not pay for them.
        self._builders: dict[str, Callable[[], pn.viewable.Viewable]] = {}
        self._built: dict[str, pn.viewable.Viewable] = {}
        self._titles = ["Sky search"]
        registries = self.profile.by_role("registry")
        if registries:
            self._lazy_tab("Registry", lambda: RegistrySearch(
                registries[0].connector(), on_add=self.add_archive, cone=self._last_cone))
        if any(svc.kind == "tap" for svc in self._services.values()):
            self._lazy_tab("ADQL", lambda: AdqlEditor(
                {svc.name: self.connector(svc.name) for svc in self._services.values()
                 if svc.kind == "tap"}, self.actor))
        if self.profile.by_role("rucio"):
            self._lazy_tab("Data lake", self._data_lake)
        software = self.profile.by_role("software")
        if software:
            self._lazy_tab("Software", lambda: SoftwareSearch(software[0].connector(),
                                                              add_to_cart=self.put_in_cart))
        self._lazy_tab("History", self._history)
        self.tabs.param.watch(lambda event: self._tab(self._titles[event.new]), "active")
        self._layout = pn.Column(pn.pane.Markdown("## Discovery"), self.tabs,
                                 sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    # ------------------------------------------------------------------- tabs
    def _lazy_tab(self, title: str, build: Callable[[], pn.viewable.Viewable]) -> None:
        self._builders[title] = build
        self._titles.append(title)
        self.tabs.append((title, pn.Column(sizing_mode="stretch_width")))

    def _tab(self, title: str) -> Any:
        """The component of tab ``title``, built on first use; None without that tab."""
        if title not in self._built:
            if title not in self._builders:
                return None
            self._built[title] = self._builders[title]()
            self.tabs[self._titles.index(title)].objects = [self._built[title]]
        return self._built[title]

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
        return self._tab("Registry")

    @property
    def adql(self) -> AdqlEditor | None:
        """The ADQL tab (None when no archive speaks TAP)."""
        return self._tab("ADQL")

    @property
    def datalake(self) -> DataLakeSearch | None:
        """The Data lake tab (None without a data lake or an account there)."""
        lake = self._tab("Data lake")
        return lake if isinstance(lake, DataLakeSearch) else None

    @property
    def software(self) -> SoftwareSearch | None:
        """The Software tab (None when the deployment lists no software records)."""
        return self._tab("Software")

    @property
    def history(self) -> QueryHistory:
        """The History tab: the user's searches."""
        return self._tab("History")

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
        """Add a service (e.g. one found in the registry) to this session's archives.

        Returns
        -------
        str
            What happened, for the page.
        """
        url = url.rstrip("?")
        if name in self._services or any(s.url.rstrip("?") == url
                                         for s in self._services.values()):
            return f"{name} is already in your archives."
        options: dict[str, Any] = {"timeout": 30}
        if kind == "tap":
            options["table"] = "ivoa.obscore"
        self._services[name] = ServiceConfig(f"session-{len(self._services) + 1}", kind, name,
                                             url, "archive", options)
        self.param.archives.objects = [*self.param.archives.objects, name]
        self.archives = [*self.archives, name]
        self._status.object = self._status_html()
        return f"{name} added to your archives for this session."

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
        self.tabs.active = 0
        await self.search()

    async def add_to_cart(self) -> None:
        """Add the ticked result rows to the named cart."""
        rows = self.selected_rows()
        if not len(rows):
            say(self.notice, "Tick result rows to add first.", "warning")
            return
        say(self.notice, *await self.put_in_cart(rows))

    async def put_in_cart(self, rows: Table, kind: str = "row") -> tuple[str, str]:
        """Add ``rows`` to the named cart; return what happened and its level for the page.

        The data-lake and software tabs add their items through this too.
        """
        try:
            added = await run_blocking(
                lambda: self.open_cart(self.cart_name).add_rows(rows, kind=kind))
        except CartError as exc:
            return str(exc), "danger"
        known = len(rows) - added
        noun = "row" if kind == "row" else "item"
        return (f"Added {added} {noun}{'s' * (added != 1)} to cart {self.cart_name!r}"
                + (f" ({known} were already in it)." if known else "."), "info")

    def _last_cone(self) -> tuple[float, float, float] | None:
        q = self.last_query
        return (q.ra, q.dec, q.radius) if q else None

    # ----------------------------------------------------------------- search
    async def _on_search(self, _clicks: int) -> None:
        await self.search()

    async def _search_from_url(self) -> None:
        """A bookmarked or shared link (``?target=M1&radius=0.5``) searches at once,
        unless one of its values cannot be used: then it says which, and why."""
        problems = link_problems(self, pn.state.session_args or {})
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
            self._status.object = self._status_html(running=True)
            self._fit_ranges(None)  # no range filter while the archives answer
            connectors = {name: self.connector(name) for name in request.archives}
            frame = None
            async for _ in self.searches.ask(request, query, self.search_results,
                                             connectors=connectors):
                frame = await run_blocking(self._frame)
                self._table.value = frame
                self._status.object = self._status_html(running=True)
            self._fit_ranges(frame)
            self._status.object = self._status_html(
                total=time.perf_counter() - started)
            self.param.own_columns.objects = [n for n, r in self.results.items() if len(r.table)]
            await run_blocking(self.searches.remember, self.search_results, request.archives)
            if "History" in self._built:  # else it reads the history when first shown
                await self.history.reload()
        finally:
            self.searching = False
            self._search_button.loading = False

    async def shown(self) -> None:
        """The ADQL tab's job list follows what happened while another page was shown."""
        adql = self._built.get("ADQL")
        if adql is not None and adql.jobs:
            await adql.job_list.refresh()

    def _show_error(self, text: str) -> None:
        say(self.notice, text, "danger")

    # ---------------------------------------------------------------- display
    def _frame(self) -> pd.DataFrame:
        if not len(self.merged):
            return pd.DataFrame({c: [] for c in SHOWN})
        frame = self.merged[SHOWN].to_pandas()
        frame["size"] = whole_bytes(frame["size"])
        return frame

    def _fit_ranges(self, frame: pd.DataFrame | None) -> None:
        """Set each range filter to the span of the results (all rows shown)."""
        self._user_ranges = {}
        for column, slider in self.range_filters.items():
            values = (_numbers(frame, column).dropna() if frame is not None else ())
            low, high = (float(values.min()), float(values.max())) if len(values) else (0., 1.)
            high = max(high, low + 1e-9)
            slider.param.update(start=low, end=high, value=(low, high),
                                step=(high - low) / 200)

    def _on_range(self, column: str, event: param.parameterized.Event) -> None:
        self._user_ranges[column] = event.new
        self.range_version += 1

    def _in_ranges(self, _version: int, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows inside every range the user set (Tabulator passes the frame last);
        a row without a value stays."""
        keep = pd.Series(True, index=frame.index)
        for column, (low, high) in self._user_ranges.items():
            numbers = _numbers(frame, column)
            keep &= numbers.isna() | numbers.between(low, high)
        return frame[keep]

    def _status_html(self, running: bool = False, total: float | None = None) -> str:
        rows = []
        for name in self.param.archives.objects:
            if name not in self.archives:
                state, cls, detail = "not asked", "checking", ""
            elif name in self.results:
                res = self.results[name]
                if res.state == "done":
                    n = len(res.table)
                    state = f"{n} row{'' if n == 1 else 's'} in {res.seconds:.2f} s"
                    cls = "up"
                else:
                    state, cls = res.state, "down"
                detail = res.message
            elif running:
                state, cls, detail = "running", "checking", ""
            else:
                state, cls, detail = "waiting", "checking", ""
            rows.append(f"<tr><td>{html.escape(name)}</td>"
                        f'<td><span class="esap-state {cls}">{html.escape(state)}</span></td>'
                        f"<td>{html.escape(detail)}</td></tr>")
        found = sum(len(r.table) for r in self.results.values())
        grouped = (f"; {found - len(self.merged)} more were the same products from another "
                   "archive (see Also in)" if found > len(self.merged) else "")
        footer = (f"<p>{len(self.merged)} rows from {len(self.results)} archives in "
                  f"{total:.2f} s{grouped}</p>" if total is not None else "")
        return ('<table class="esap-status-table"><thead><tr><th>Archive</th><th>State</th>'
                "<th>Message</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
                + footer)

    @property
    def visible_rows(self) -> pd.DataFrame:
        """The rows the results table shows now (after the range filters)."""
        return self._table.current_view

    def selected_rows(self) -> Table:
        """The rows ticked in the result table, with all the cart needs.

        Every row keeps its archive, the service URL, the full original record
        (``record``, JSON) and the query that found it (``query``, JSON, with
        the time it ran and, per archive, the kind of service that answered).
        """
        chosen = [i for i in self._table.selection if i < len(self.merged)]
        rows = self.merged[chosen] if len(self.merged) else self.merged
        return self.with_provenance(rows)

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

    @property
    def own_rows(self) -> pd.DataFrame | None:
        """The rows of the archive chosen in :attr:`own_columns`, with every column it
        gave (None before a choice, or when it gave no rows)."""
        return self._own.value

    @param.depends("own_columns", watch=True)
    def _show_own_columns(self) -> None:
        result = self.results.get(self.own_columns)
        if result is None or not len(result.table):
            self._own.value = None
            return
        self._own.value = pd.DataFrame([json.loads(r) for r in result.table["record"]])


def parse_time(text: str) -> float | None:
    """An ISO date/time or an MJD as MJD; None for an empty field.

    Raises
    ------
    QueryError
        For text that is neither.
    """
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        with warnings.catch_warnings():  # future dates: leap seconds not known yet
            warnings.simplefilter("ignore", ErfaWarning)
            return float(Time(text, format="isot" if "T" in text else "iso", scale="utc").mjd)
    except ValueError as exc:
        raise QueryError(f"cannot read {quote_prefix(text)} as a date (2001-04-24, "
                         "2001-04-24T12:00:00) or an MJD") from exc


def _numbers(frame: pd.DataFrame, column: str) -> pd.Series:
    """A column as numbers; missing ones (and an unknown size, -1) as NaN."""
    numbers = pd.to_numeric(frame[column], errors="coerce")
    return numbers.where(numbers >= 0) if column == "size" else numbers


def _mjd_text(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def link_problems(page: DiscoveryPage, args: dict[str, list[bytes]]) -> list[str]:
    """What of a search link's values (``args``, the page address's query) the page
    could not take: each as ``name='value' cannot be used (why)``.

    Parameters
    ----------
    page : DiscoveryPage
        The page, after it took the link's values.
    args : dict
        The address's query arguments.
    """
    reasons = {"radius": "give a number of degrees above 0",
               "frame": f"use one of {', '.join(FRAMES)}",
               "waveband": f"use one of {', '.join(WAVEBANDS)}",
               "product_type": f"use one of {', '.join(map(str, PRODUCT_CHOICES[1:]))}",
               "time_from": "give an ISO date (2001-04-24) or an MJD",
               "time_to": "give an ISO date (2001-04-24) or an MJD"}
    problems = []
    for name in URL_PARAMS:
        if name not in args or not args[name]:
            continue
        raw = args[name][0].decode("utf-8", "replace")
        value = getattr(page, name)
        if name == "radius":
            try:
                taken = math.isfinite(float(raw)) and float(raw) == value and value > 0
            except ValueError:
                taken = False
        else:
            taken = raw == str(value)
        if not taken:
            shown = raw if len(raw) <= 40 else raw[:40] + "..."
            problems.append(f"{name}={shown!r} cannot be used "
                            f"({reasons.get(name, 'not a value this field takes')})")
    return problems
