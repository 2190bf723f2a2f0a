"""Search software and workflow records (ESCAPE OSSR on Zenodo)."""

from __future__ import annotations

import html
from typing import Any

import pandas as pd
import panel as pn
import param
from astropy.table import Table

from connectors.exceptions import ConnectorError
from connectors.zenodo import COLUMNS, RECORD_TYPES, ZenodoConnector

from ...core.cart import record_rows
from ...core.fanout import run_blocking
from .actions import AddToCart, cart_button
from .style import html_pane, notice, say

__all__ = ["SoftwareSearch", "safe_link"]

ANY = "any"


def safe_link(url: str, text: str | None = None) -> str:
    """An HTML link for http(s) URLs only; anything else is shown as text."""
    label = html.escape(text or url)
    if url.startswith(("https://", "http://")):
        href = html.escape(url, quote=True)
        return f'<a href="{href}" target="_blank" rel="noopener">{label}</a>'
    return label


class SoftwareSearch(pn.viewable.Viewer):
    """Keywords, community and record type against a Zenodo records API.

    Parameters
    ----------
    zenodo : ZenodoConnector
        The records service.
    add_to_cart : callable, optional
        Puts the selected record in the user's cart (no button without it).
    """

    keywords = param.String(default="", doc="Free text.")
    record_type = param.Selector(objects=[ANY, *RECORD_TYPES], default=ANY,
                                 doc="Kind of record.")
    community = param.String(default="", doc="Zenodo community (e.g. escape2020).")
    selection = param.List(default=[], item_type=int,
                           doc="Rows chosen in the table (their indices), as ticked there.")

    def __init__(self, zenodo: ZenodoConnector, *, add_to_cart: AddToCart | None = None,
                 **params: Any) -> None:
        super().__init__(**params)
        self.zenodo = zenodo
        self._add_to_cart = add_to_cart
        if not self.community:
            self.community = zenodo.community or ""
        self.records: Table | None = None
        search = pn.widgets.Button(label="Search software and workflows", color="primary",
                                   width=260)
        pn.bind(self._on_search, search.param.clicks, watch=True)
        self.notice = notice()
        self._table = pn.widgets.Tabulator(
            self._frame(), show_index=False, disabled=True, selectable=1, max_height=320,
            sizing_mode="stretch_width", pagination="local", page_size=15,
            formatters={c: {"type": "plaintext"} for c in COLUMNS},
            widths={"title": 320, "repository": 260})
        self._table.link(self, selection="selection", bidirectional=True)
        self._table.param.watch(self._on_select, "selection")
        self._detail = html_pane("")
        self._layout = pn.Column(
            pn.Row(pn.widgets.TextInput.from_param(self.param.keywords, width=260,
                                                   placeholder="gamma-ray, pipeline"),
                   pn.widgets.Select.from_param(self.param.record_type, width=130),
                   pn.widgets.TextInput.from_param(self.param.community, width=160)),
            search, self.notice, self._table, self._detail,
            *cart_button(add_to_cart, "Add selected record to cart", self.add_selected),
            sizing_mode="stretch_width")

    @property
    def detail(self) -> str:
        """What is shown of the chosen record (HTML: title, version, creators, DOI,
        licence, repository)."""
        return self._detail.object

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    async def add_selected(self) -> None:
        """Put the selected record in the cart (title, DOI, licence, repository, link)."""
        if self._add_to_cart is None or self.records is None or not self._table.selection:
            say(self.notice, "Select a record to add first.", "warning")
            return
        row = self.records[self._table.selection[0]]
        record = dict(zip(self.records.colnames, row.as_void().tolist(), strict=True))
        asked = {"keywords": self.keywords, "community": self.community,
                 "type": self.record_type}
        say(self.notice, *await self._add_to_cart(record_rows(
            self.zenodo.name, self.zenodo.url, [record], id="doi", title="title",
            product_type="type", access_url="url", service_kind="zenodo",
            query={"zenodo": asked}), "software"))

    def _frame(self) -> pd.DataFrame:
        if self.records is None or not len(self.records):
            return pd.DataFrame({c: [] for c in COLUMNS})
        return self.records.to_pandas()

    async def _on_search(self, _clicks: int) -> None:
        await self.search()

    async def search(self) -> None:
        """Run the search and show the records."""
        try:
            self.records = await run_blocking(lambda: self.zenodo.search(
                self.keywords, community=self.community or None,
                record_type=None if self.record_type == ANY else self.record_type))
        except ConnectorError as exc:
            say(self.notice, exc.reason, "danger")
            return
        self._table.value = self._frame()
        more = f" (first {len(self.records)} shown)" if self.records.meta["truncated"] else ""
        say(self.notice, f"{self.records.meta['total']} records in {self.zenodo.name}{more}.")

    def _on_select(self, event: param.parameterized.Event) -> None:
        if self.records is None or not event.new:
            self._detail.object = ""
            return
        row = self.records[event.new[0]]
        doi = str(row["doi"])
        self._detail.object = (
            f"<p><b>{html.escape(str(row['title']))}</b> {html.escape(str(row['version']))}"
            f" — {html.escape(str(row['creators']))}</p><p>DOI "
            f"{safe_link('https://doi.org/' + doi, doi) if doi else '—'} · licence "
            f"{html.escape(str(row['license']) or '—')} · repository "
            f"{safe_link(str(row['repository'])) if row['repository'] else '—'} · "
            f"{safe_link(str(row['url']), 'record')}</p>")
