"""Search the Rucio data lake: scopes, DIDs with wildcards and metadata filters, replicas."""

from __future__ import annotations

import re
from typing import Any

import panel as pn
import param
from astropy.table import Table

from connectors.exceptions import ConnectorError, QueryError
from connectors.rucio import RucioConnector

from ...core.cart import record_rows
from ...core.fanout import run_blocking
from .actions import AddToCart, cart_button
from .style import notice, say

__all__ = ["DataLakeSearch", "parse_filters"]

_FILTER = re.compile(r"^\s*([a-z_][a-z0-9_]*(?:\.(?:gt|gte|lt|lte|ne))?)\s*=\s*(.+?)\s*$")


def parse_filters(text: str) -> dict[str, Any]:
    """Parse ``"bytes.gt=100000, campaign=crab"`` into Rucio metadata filters.

    Numbers become numbers; everything else stays a string.

    Raises
    ------
    QueryError
        For a part that is not ``key=value`` (``key.gt``, ``.lt``, ``.gte``,
        ``.lte``, ``.ne`` allowed).
    """
    filters: dict[str, Any] = {}
    for part in filter(str.strip, text.split(",")):
        match = _FILTER.match(part)
        if not match:
            raise QueryError(f"metadata filter {part.strip()!r}: write key=value or "
                             "key.gt=value (gt, gte, lt, lte, ne)")
        key, value = match.groups()
        try:
            filters[key] = int(value)
        except ValueError:
            try:
                filters[key] = float(value)
            except ValueError:
                filters[key] = value
    return filters


class DataLakeSearch(pn.viewable.Viewer):
    """DIDs of a scope by name pattern and metadata, and where their files are.

    Parameters
    ----------
    rucio : RucioConnector
        The session's Rucio connector (acting as the user's account).
    add_to_cart : callable, optional
        Puts the ticked identifiers in the user's cart (no button without it).
    """

    scope = param.Selector(objects=[], doc="Rucio scope.")
    pattern = param.String(default="*", doc="Name with * wildcards.")
    did_type = param.Selector(objects=["all", "collection", "dataset", "container", "file"],
                              default="all", doc="Kind of data identifier.")
    filters = param.String(default="", doc="Metadata filters: key=value, key.gt=value, ...")
    selection = param.List(default=[], item_type=int,
                           doc="Data identifiers ticked in the list (their indices).")

    def __init__(self, rucio: RucioConnector, *, add_to_cart: AddToCart | None = None,
                 **params: Any) -> None:
        super().__init__(**params)
        self.rucio = rucio
        self._add_to_cart = add_to_cart
        self._asked: dict[str, Any] = {}
        self.dids: Table | None = None
        self.replicas: Table | None = None
        search = pn.widgets.Button(label="List data identifiers", color="primary", width=200)
        pn.bind(self._on_search, search.param.clicks, watch=True)
        scopes = pn.widgets.Button(label="Load scopes", width=120)
        pn.bind(self._on_scopes, scopes.param.clicks, watch=True)
        self.notice = notice()
        self._dids = pn.widgets.Tabulator(
            None, show_index=False, disabled=True, selectable="checkbox", height=260,
            sizing_mode="stretch_width", formatters={"name": {"type": "plaintext"}})
        self._dids.link(self, selection="selection", bidirectional=True)
        self._dids.param.watch(self._on_select, "selection")
        self._replicas = pn.widgets.Tabulator(
            None, show_index=False, disabled=True, height=240, sizing_mode="stretch_width",
            formatters={"pfn": {"type": "plaintext"}, "name": {"type": "plaintext"}})
        self._layout = pn.Column(
            pn.Row(pn.widgets.Select.from_param(self.param.scope, width=140), scopes,
                   pn.widgets.TextInput.from_param(self.param.pattern, width=200),
                   pn.widgets.Select.from_param(self.param.did_type, width=130)),
            pn.widgets.TextInput.from_param(self.param.filters, width=480,
                                            placeholder="bytes.gt=100000, campaign=crab"),
            search, self.notice, pn.pane.Markdown("#### Data identifiers"), self._dids,
            *cart_button(add_to_cart, "Add ticked identifiers to cart", self.add_selected),
            pn.pane.Markdown("#### Files and replicas of the selected identifier "
                             "(RSE per file)"), self._replicas,
            sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    async def add_selected(self) -> None:
        """Put the ticked data identifiers in the cart (their replicas are looked up there)."""
        if self._add_to_cart is None or self.dids is None or not self.selection:
            self._say("Tick data identifiers to add first.", "warning")
            return
        rows = self.dids[sorted(self.selection)]
        records = [{"did": f"{r['scope']}:{r['name']}", **dict(zip(rows.colnames, r.as_void()
                                                                    .tolist(), strict=True))}
                   for r in rows]
        self._say(*await self._add_to_cart(record_rows(
            self.rucio.name, self.rucio.url, records, id="did", title="name",
            product_type="did_type", size="bytes", service_kind="rucio",
            query={"rucio": self._asked}), "did"))

    def _say(self, text: str, kind: str = "info") -> None:
        say(self.notice, text, kind)

    async def _on_scopes(self, _clicks: int) -> None:
        await self.load_scopes()

    async def load_scopes(self) -> None:
        """Fill the scope menu from the server."""
        try:
            scopes = await run_blocking(self.rucio.list_scopes)
        except ConnectorError as exc:
            self._say(exc.reason, "danger")
            return
        self.param.scope.objects = scopes
        if scopes and self.scope not in scopes:
            self.scope = scopes[0]
        self._say(f"{len(scopes)} scopes.")

    async def _on_search(self, _clicks: int) -> None:
        await self.search()

    async def search(self) -> None:
        """List the DIDs matching the pattern and filters."""
        if not self.scope:
            await self.load_scopes()
            if not self.scope:
                return
        try:
            filters = parse_filters(self.filters)
            self._asked = {"scope": self.scope, "pattern": self.pattern or "*",
                           "did_type": self.did_type, "filters": filters}
            self.dids = await run_blocking(
                lambda: self.rucio.list_dids(self.scope, self.pattern or "*",
                                             did_type=self.did_type, filters=filters))
        except ConnectorError as exc:
            self._say(exc.reason, "danger")
            return
        self._dids.value = self.dids.to_pandas()
        self._replicas.value = None
        self._say(f"{len(self.dids)} data identifiers in scope {self.scope}.")

    async def _on_select(self, event: param.parameterized.Event) -> None:
        if self.dids is not None and event.new:
            await self.show_replicas(int(event.new[-1]))

    async def show_replicas(self, index: int) -> None:
        """Show where the files of the DID in row ``index`` are stored."""
        assert self.dids is not None
        row = self.dids[index]
        try:
            self.replicas = await run_blocking(self.rucio.list_replicas, str(row["scope"]),
                                               str(row["name"]))
        except ConnectorError as exc:
            self._say(exc.reason, "danger")
            return
        self._replicas.value = self.replicas.to_pandas()
        rses = sorted(set(self.replicas["rse"]))
        self._say(f"{row['scope']}:{row['name']}: {len(set(self.replicas['name']))} files on "
                  f"{', '.join(rses) or 'no RSE'}.")
