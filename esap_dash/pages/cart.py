"""The Cart page: the user's named carts, their items, notes, tags and exports."""

from __future__ import annotations

import html
import io
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import panel as pn
import param
from astropy.table import Table

from connectors.exceptions import ConnectorError
from connectors.query import common_table, ucd_mapping
from connectors.samp import SampLink

from ..cart import Cart, CartError, CartItem, check_name
from ..components.actions import on_click
from ..components.style import html_pane, notice, say
from ..fanout import run_blocking
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
    cart_name = param.Selector(objects=[], doc="Which of your carts.")
    new_name = param.String(default="", doc="Name of a new cart.")
    samp_receive = param.Boolean(default=False, label="Receive tables from TOPCAT/Aladin (SAMP)",
                                 doc="Add the tables that SAMP clients send to this cart.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        names = Cart.names(user=self.user, profile=self.profile) or ["default"]
        self.param.cart_name.objects = names
        with param.discard_events(self):  # the table is built below
            self.cart_name = names[0]
        self.listing = pd.DataFrame(columns=["key", *SHOWN])
        self._undo: list[CartItem] = []
        self._message = notice()
        self._summary = html_pane("")
        self._table = pn.widgets.Tabulator(
            self._frame(), show_index=False, selectable="checkbox", groupby=["archive"],
            pagination="remote", page_size=50, height=480, sizing_mode="stretch_width",
            editors={c: None for c in SHOWN if c not in ("note", "tags")},
            formatters={c: {"type": "plaintext"} for c in
                        ("archive", "title", "product_type", "access_url", "note", "tags")},
            titles={"ra": "RA (deg)", "dec": "Dec (deg)", "size": "Size (bytes)"},
            widths={"title": 280, "access_url": 260})
        self._table.on_edit(self._on_edit)
        buttons = {}
        self._samp: SampLink | None = None
        self._doc: Any = None
        for label, method, color in (("Create cart", self.create, "primary"),
                                     ("Remove selected", self.remove_selected, "danger"),
                                     ("Undo remove", self.undo, "default"),
                                     ("Send to TOPCAT (SAMP)", self.send_samp, "default")):
            buttons[label] = pn.widgets.Button(label=label, color=color, width=190)
            on_click(buttons[label], method)
        formats = (("votable", "xml", "VOTable"), ("ecsv", "ecsv", "ECSV"), ("csv", "csv", "CSV"))
        downloads = [pn.widgets.FileDownload(callback=self._export_callback(fmt),
                                             filename=f"cart.{ext}", label=f"Export {label}",
                                             width=150)
                     for fmt, ext, label in formats]
        self._layout = pn.Column(
            pn.pane.Markdown("## Cart"),
            pn.Row(pn.widgets.Select.from_param(self.param.cart_name, label="Cart", width=220),
                   pn.widgets.TextInput.from_param(self.param.new_name, label="New cart",
                                                   placeholder="M1 study", width=200),
                   buttons["Create cart"]),
            self._summary, self._message,
            pn.Row(buttons["Remove selected"], buttons["Undo remove"], *downloads),
            pn.Row(buttons["Send to TOPCAT (SAMP)"],
                   pn.widgets.Checkbox.from_param(self.param.samp_receive)),
            self._table, sizing_mode="stretch_width")
        self.reload()

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    @property
    def cart(self) -> Cart:
        """The cart shown."""
        return Cart.open(self.cart_name, user=self.user, profile=self.profile)

    def _frame(self) -> pd.DataFrame:
        frame = self.listing[SHOWN].copy()
        frame["added"] = pd.to_datetime(frame["added"], utc=True).dt.strftime("%Y-%m-%d %H:%M")
        return frame

    @param.depends("cart_name", watch=True)
    def reload(self) -> None:
        """Read the cart again (another tab may have added to it)."""
        cart = self.cart
        self.listing = cart.listing(SHOWN)
        self._table.value = self._frame()
        summary = cart.summary()
        groups = "".join(
            f"<li>{html.escape(g['archive'])}: {g['count']} item{'s' * (g['count'] != 1)}"
            + (f", {g['bytes'] / 1e6:.1f} MB" if g["bytes"] else "") + "</li>"
            for g in summary["groups"])
        total = f", {summary['bytes'] / 1e6:.1f} MB where known" if summary["bytes"] else ""
        self._summary.object = (f"<p><b>{html.escape(cart.name)}</b>: {summary['count']} "
                                f"items{total}</p><ul>{groups}</ul>")

    async def create(self) -> None:
        """Create (or open) the cart named in the field and show it."""
        try:
            name = check_name(self.new_name)
            await run_blocking(lambda: Cart.open(name, user=self.user, profile=self.profile))
        except CartError as exc:
            say(self._message, str(exc), "danger")
            return
        if name not in self.param.cart_name.objects:
            self.param.cart_name.objects = sorted([*self.param.cart_name.objects, name])
        self.cart_name = name
        self.new_name = ""
        say(self._message, f"Cart {name!r} is ready.")

    async def add(self, rows: Any) -> int:
        """Add result rows to the current cart; return how many were new."""
        added = await run_blocking(self.cart.add_rows, rows)
        self.reload()
        return added

    async def remove_selected(self) -> None:
        """Remove the ticked items (undo puts them back)."""
        keys = [self.listing["key"].iloc[i] for i in self._table.selection
                if i < len(self.listing)]
        if not keys:
            say(self._message, "Tick the items to remove first.", "warning")
            return
        self._undo = await run_blocking(self.cart.remove, keys)
        self._table.selection = []
        self.reload()
        say(self._message, f"Removed {len(self._undo)} items. Undo puts them back.")

    async def undo(self) -> None:
        """Put back what the last removal took out."""
        if not self._undo:
            say(self._message, "Nothing to undo.", "warning")
            return
        restored = await run_blocking(self.cart.restore, self._undo)
        self._undo = []
        self.reload()
        say(self._message, f"Put back {restored} items.")

    async def send_samp(self) -> None:
        """Send the cart (or the ticked items) as a VOTable to the SAMP clients."""
        table = await run_blocking(self.cart.to_table)
        if self._table.selection:
            table = table[sorted(self._table.selection)]
        try:
            link = self._samp or await run_blocking(lambda: SampLink().connect())
        except ConnectorError as exc:
            say(self._message, exc.reason, "danger")
            return
        try:
            sent = await run_blocking(lambda: link.send_table(
                table, name=f"esap-dash cart {self.cart_name}"))
        except ConnectorError as exc:
            say(self._message, exc.reason, "danger")
            return
        finally:
            if link is not self._samp:
                link.close()
        say(self._message, f"Sent {len(table)} items to {', '.join(sent)}.")

    @param.depends("samp_receive", watch=True)
    def _toggle_samp(self) -> None:
        if not self.samp_receive:
            if self._samp is not None:
                self._samp.close()
                self._samp = None
            say(self._message, "No longer receiving SAMP tables.")
            return
        try:
            self._samp = SampLink().connect()
        except ConnectorError as exc:
            say(self._message, exc.reason, "danger")
            with param.discard_events(self):
                self.samp_receive = False
            return
        self._doc = pn.state.curdoc  # SAMP calls arrive on another thread
        self._samp.on_table(self.receive_table)
        say(self._message, "Tables sent by SAMP clients now go to this cart.")

    def receive_table(self, table: Table, name: str, sender: str) -> int:
        """Add a table a SAMP client sent to the current cart; return how many rows were new."""
        rows = common_table(table, f"SAMP: {sender}", {**ucd_mapping(table)})
        added = Cart.open(self.cart_name, user=self.user, profile=self.profile).add_rows(
            rows, kind="samp")
        def show() -> None:
            self.reload()
            say(self._message, f"{sender} sent {name!r}: {added} new items.")

        if self._doc is not None and self._doc.session_context is not None:
            self._doc.add_next_tick_callback(show)
        else:
            show()
        return added

    def _on_edit(self, event: Any) -> None:
        row = self.listing.iloc[event.row]
        try:
            self.cart.annotate(row["key"], **{event.column: str(event.value or "")})
        except CartError as exc:
            say(self._message, str(exc), "danger")
            return
        say(self._message, f"Saved the {event.column} of {row['title']}.")

    def export_bytes(self, fmt: str) -> bytes:
        """The cart exported as ``votable``, ``ecsv`` or ``csv``."""
        with tempfile.TemporaryDirectory() as tmp:
            return self.cart.export(Path(tmp) / "cart", fmt).read_bytes()

    def _export_callback(self, fmt: str) -> Any:
        def callback() -> io.BytesIO:
            return io.BytesIO(self.export_bytes(fmt))
        return callback

