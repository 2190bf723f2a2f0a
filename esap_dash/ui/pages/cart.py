"""The Cart page: the user's named carts, their items, notes, tags and exports."""

from __future__ import annotations

import html
import io
import re
from typing import Any

import pandas as pd
import panel as pn
import param

from ...core.cart import Cart, CartError, CartItem, check_name
from ...core.fanout import run_blocking
from ..components.actions import lazy_card, offer_what_is_set, on_click
from ..components.cart_lake import CartLake
from ..components.cart_provenance import CartProvenance
from ..components.cart_samp import CartSamp
from ..components.share_links import ShareLinks
from ..components.style import (
    BYTES,
    POSITION_FORMAT,
    html_pane,
    notice,
    number_format,
    say,
    whole_bytes,
)
from ..components.where_to_run import WhereToRun
from .base import Page

__all__ = ["CartPage"]

SHOWN = ["archive", "title", "product_type", "ra", "dec", "size", "access_url", "note", "tags",
         "added"]


class CartPage(Page):
    """The items of one of the user's carts, grouped by archive.

    Items survive reloads, new sessions and server restarts; notes and tags
    are edited in the table; removal can be undone; the cart exports as
    VOTable, ECSV or CSV.
    """

    title = "Cart"
    cart_name = param.Selector(objects=[], check_on_set=False, doc="Which of your carts.")
    new_name = param.String(default="", doc="Name of a new cart.")
    refresh_period = param.Number(default=5.0, bounds=(0, None),
                                  doc="Seconds between refreshes of replicating rules.")
    selection = param.List(default=[], item_type=int,
                           doc="Rows chosen in the table (their indices), as ticked there.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        names = self.cart_names() or ["default"]
        self.param.cart_name.objects = names
        with param.discard_events(self):  # the table is built below
            self.cart_name = names[0]
        offer_what_is_set(self, "cart_name")
        self.listing = pd.DataFrame(columns=["key", *SHOWN])
        self._undo: list[CartItem] = []
        self.notice = notice()
        #: The cart's number of items and bytes, in all and by archive (see
        #: :meth:`Cart.summary`).
        self.summary: dict[str, Any] = {}
        self._summary = html_pane("")
        self._table = pn.widgets.Tabulator(
            _shown(self.listing), show_index=False, selectable="checkbox", groupby=["archive"],
            hidden_columns=["archive"],
            pagination="remote", page_size=50, max_height=480, sizing_mode="stretch_width",
            editors={c: None for c in SHOWN if c not in ("note", "tags")},
            formatters={**{c: {"type": "plaintext"} for c in
                           ("archive", "title", "product_type", "access_url", "note", "tags")},
                        **POSITION_FORMAT, "size": number_format(BYTES)},
            titles={"ra": "RA (deg)", "dec": "Dec (deg)", "size": "Size"},
            widths={"title": 280, "access_url": 260}, text_align={"size": "right"})
        self._table.link(self, selection="selection", bidirectional=True)
        self._table.on_edit(lambda e: self.annotate(e.row, e.column, str(e.value or "")))
        buttons = {}
        for label, method, color in (("Create cart", self.create, "primary"),
                                     ("Remove selected", self.remove_selected, "danger"),
                                     ("Undo remove", self.undo, "default")):
            buttons[label] = pn.widgets.Button(label=label, color=color, width=190)
            on_click(buttons[label], method)
        formats = (("votable", "xml", "VOTable"), ("ecsv", "ecsv", "ECSV"), ("csv", "csv", "CSV"),
                   ("notebook", "ipynb", "notebook"), ("prov-json", "prov.json", "PROV-JSON"),
                   ("prov-n", "provn", "PROV-N"))
        downloads = [pn.widgets.FileDownload(callback=self._export_callback(fmt),
                                             filename=f"cart.{ext}", label=f"Export {label}",
                                             width=150)
                     for fmt, ext, label in formats]
        self._downloads = dict(zip((ext for _, ext, _ in formats), downloads, strict=True))
        self._name_downloads()
        #: “Where can this run?” (its content is built when it is first opened).
        self.placement_card = self._placement_card()
        #: The cart's data-lake items in the data lake.
        self.lake = CartLake(self.actor, self._did_items, lambda: self.cart_name,
                             refresh_period=self.refresh_period)
        #: Shared links to the cart, and the address that opens it on a notebook server.
        self.sharing = ShareLinks(self.profile, lambda: self.cart)
        #: The cart to and from SAMP clients.
        self.samp = CartSamp(self.actor, lambda: self.cart_name, lambda: self.selection,
                             self.notice, self.reload, self.refresh)
        #: Where the items came from.
        self.provenance = CartProvenance(self.actor, lambda: self.cart_name,
                                         lambda: (self.ticked_keys(), len(self.listing)),
                                         downloads[4:])
        self._layout = pn.Column(
            pn.pane.Markdown("## Cart"),
            pn.Row(pn.widgets.Select.from_param(self.param.cart_name, label="Cart", width=220),
                   pn.widgets.TextInput.from_param(self.param.new_name, label="New cart",
                                                   placeholder="M1 study", width=200),
                   buttons["Create cart"]),
            self._summary, self.notice,
            pn.Row(buttons["Remove selected"], buttons["Undo remove"], *downloads[:4]),
            self.samp, self._table, self.provenance, self.lake,
            self.placement_card, self.sharing,
            sizing_mode="stretch_width")
        self.refresh()

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    @param.depends("cart_name", watch=True)
    def _name_downloads(self) -> None:
        """Exported files are named after the cart (``M1 study`` -> ``M1_study.xml``)."""
        stem = re.sub(r"[^\w.-]+", "_", self.cart_name or "cart").strip("_") or "cart"
        for ext, download in self._downloads.items():
            download.filename = f"{stem}.{ext}"

    def _placement_card(self) -> pn.Card:
        """“Where can this run?”, built when the card is first opened."""
        def build() -> WhereToRun:
            self.where_to_run = WhereToRun(self.actor, lambda: self.cart_name,
                                           on_rules=self.lake.refresh_rules,
                                           on_open=self.open_at)
            return self.where_to_run

        #: The ranking of the places work runs (None until its card is opened).
        self.where_to_run: WhereToRun | None = None
        return lazy_card("Where can this run?", build)

    async def open_at(self, facility_id: str) -> str:
        """Make the links that open the cart on the facility ``facility_id``; the
        address that opens it there (also shown in the links' card)."""
        facility = next(f for f in self.profile.facilities if f.id == facility_id)
        self.sharing.facility = facility.name
        await self.sharing.share()
        return self.sharing.links.get("launch", "")

    def _did_items(self) -> list[CartItem]:
        """The cart's data-lake items: the ticked ones, or all when none is ticked."""
        items = [i for i in self.cart.items() if i.kind == "did"]
        ticked = {self.listing["key"].iloc[i] for i in self.selection
                  if i < len(self.listing)}
        chosen = [i for i in items if i.key in ticked]
        return chosen or ([] if ticked else items)

    @property
    def cart(self) -> Cart:
        """The cart shown."""
        return self.open_cart(self.cart_name)

    def _read(self, name: str) -> tuple[Cart, pd.DataFrame, pd.DataFrame, dict[str, Any]]:
        """The cart ``name``, its listing, the listing as shown and its summary (blocking:
        the database, and formatting every row)."""
        cart = self.open_cart(name)
        listing = cart.listing(SHOWN)
        return cart, listing, _shown(listing), cart.summary()

    def _show(self, cart: Cart, listing: pd.DataFrame, shown: pd.DataFrame,
              summary: dict[str, Any]) -> None:
        self.listing, self.summary = listing, summary
        self._table.value = shown
        groups = "".join(
            f"<li>{html.escape(g['archive'])}: {g['count']} item{'s' * (g['count'] != 1)}"
            + (f", {g['bytes'] / 1e6:.1f} MB" if g["bytes"] else "") + "</li>"
            for g in summary["groups"])
        total = f", {summary['bytes'] / 1e6:.1f} MB where known" if summary["bytes"] else ""
        count = summary["count"]
        self._summary.object = (f"<p><b>{html.escape(cart.name)}</b>: {count} "
                                f"item{'s' * (count != 1)}{total}</p><ul>{groups}</ul>")

    async def reload(self) -> None:
        """Read the cart again (another tab may have added to it), off the event loop;
        the list shows that it is loading meanwhile.  A cart chosen while it loads
        wins: a reading of the cart chosen before is not shown."""
        name = self.cart_name
        self._table.loading = True
        try:
            read = await run_blocking(self._read, name)
            if name == self.cart_name:
                self._show(*read)
        finally:
            if name == self.cart_name:
                self._table.loading = False

    async def shown(self) -> None:
        """Shown again: other pages and sessions may have added to the cart meanwhile."""
        await self.reload()

    @param.depends("cart_name", watch=True)
    def refresh(self) -> None:
        """Read the cart again: off the event loop in a session, at once elsewhere."""
        if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
            pn.state.execute(self.reload)
        else:  # a notebook cell or a script: read it now
            self._show(*self._read(self.cart_name))

    async def create(self) -> None:
        """Create (or open) the cart named in the field and show it."""
        try:
            name = check_name(self.new_name)
            await run_blocking(lambda: self.open_cart(name))
        except CartError as exc:
            say(self.notice, str(exc), "danger")
            return
        self.cart_name = name
        self.new_name = ""
        say(self.notice, f"Cart {name!r} is ready.")

    async def add(self, rows: Any) -> int:
        """Add result rows to the current cart; return how many were new."""
        added = await run_blocking(lambda: self.cart.add_rows(rows))
        await self.reload()
        return added

    def ticked_keys(self) -> list[str]:
        """The keys of the ticked items."""
        return [self.listing["key"].iloc[i] for i in self.selection if i < len(self.listing)]

    async def remove_selected(self) -> None:
        """Remove the ticked items (undo puts them back)."""
        keys = self.ticked_keys()
        if not keys:
            say(self.notice, "Tick the items to remove first.", "warning")
            return
        self._undo = await run_blocking(lambda: self.cart.remove(keys))
        self._table.selection = []
        await self.reload()
        say(self.notice, f"Removed {len(self._undo)} items. Undo puts them back.")

    async def undo(self) -> None:
        """Put back what the last removal took out."""
        if not self._undo:
            say(self.notice, "Nothing to undo.", "warning")
            return
        undo = self._undo
        restored = await run_blocking(lambda: self.cart.restore(undo))
        self._undo = []
        await self.reload()
        say(self.notice, f"Put back {restored} items.")

    async def annotate(self, row: int, column: str, text: str) -> None:
        """Save ``text`` as the ``note`` or ``tags`` of the item in row ``row``."""
        item = self.listing.iloc[row]
        try:
            await run_blocking(lambda: self.cart.annotate(item["key"], **{column: text}))
        except CartError as exc:
            say(self.notice, str(exc), "danger")
            return
        say(self.notice, f"Saved the {column} of {item['title']}.")

    def _export_callback(self, fmt: str) -> Any:
        async def callback() -> io.BytesIO:  # a big cart takes seconds: off the event loop
            return io.BytesIO(await run_blocking(self.cart.export_bytes, fmt))
        return callback


def _shown(listing: pd.DataFrame) -> pd.DataFrame:
    """A cart's listing as the page lists it (times to the minute, UTC)."""
    frame = listing[SHOWN].copy()
    # Tabulator writes a group's header as HTML: the archive (from outside) is
    # escaped for it, and shown there only (its column is hidden).
    frame["archive"] = frame["archive"].map(lambda a: html.escape(str(a)))
    frame["added"] = pd.to_datetime(frame["added"], utc=True).dt.strftime("%Y-%m-%d %H:%M")
    for column in ("ra", "dec"):  # an item without a position shows none, not NaN
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    frame["size"] = whole_bytes(frame["size"])
    return frame
