"""The Cart page: the user's named carts, their items, notes, tags and exports."""

from __future__ import annotations

import html
import io
import re
from typing import Any

import pandas as pd
import panel as pn
import param
from astropy.table import Table

from connectors.exceptions import ConnectorError
from connectors.query import common_table, name_mapping, ucd_mapping
from connectors.samp import SampLink

from ...core.cart import Cart, CartError, CartItem, check_name
from ...core.config import SAMP_DEFAULTS
from ...core.fanout import run_blocking
from ...core.launch import share_links
from ...core.lineage import DRAW_LIMIT, picture
from ...core.provenance import Provenance, Service
from ..components.actions import lazy_card, on_click
from ..components.cart_lake import CartLake
from ..components.prov_picture import ProvenancePicture
from ..components.samp_web import WebSamp
from ..components.share_links import ShareLinks
from ..components.style import POSITION_FORMAT, html_pane, notice, say, whole_bytes
from ..components.where_to_run import WhereToRun
from .base import Page

__all__ = ["CartPage"]

#: Days the link a cart is sent by through the browser's SAMP works.
WEB_SAMP_LINK_DAYS = 1 / 24
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
        self.listing = pd.DataFrame(columns=["key", *SHOWN])
        self._undo: list[CartItem] = []
        self.notice = notice()
        self._summary = html_pane("")
        self._table = pn.widgets.Tabulator(
            _shown(self.listing), show_index=False, selectable="checkbox", groupby=["archive"],
            hidden_columns=["archive"],
            pagination="remote", page_size=50, height=480, sizing_mode="stretch_width",
            editors={c: None for c in SHOWN if c not in ("note", "tags")},
            formatters={**{c: {"type": "plaintext"} for c in
                           ("archive", "title", "product_type", "access_url", "note", "tags")},
                        **POSITION_FORMAT},
            titles={"ra": "RA (deg)", "dec": "Dec (deg)", "size": "Size (bytes)"},
            widths={"title": 280, "access_url": 260})
        self._table.link(self, selection="selection", bidirectional=True)
        self._table.on_edit(self._on_edit)
        buttons = {}
        self._samp: SampLink | None = None
        self._websamp: WebSamp | None = None
        self._doc: Any = None
        for label, method, color in (("Create cart", self.create, "primary"),
                                     ("Remove selected", self.remove_selected, "danger"),
                                     ("Undo remove", self.undo, "default"),
                                     ("Send to TOPCAT (SAMP)", self.send_samp, "default")):
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
        self._layout = pn.Column(
            pn.pane.Markdown("## Cart"),
            pn.Row(pn.widgets.Select.from_param(self.param.cart_name, label="Cart", width=220),
                   pn.widgets.TextInput.from_param(self.param.new_name, label="New cart",
                                                   placeholder="M1 study", width=200),
                   buttons["Create cart"]),
            self._summary, self.notice,
            pn.Row(buttons["Remove selected"], buttons["Undo remove"], *downloads[:4]),
            self._samp_row(buttons["Send to TOPCAT (SAMP)"]),
            self._table, self._provenance_card(downloads[4:]), self.lake,
            self.placement_card, self.sharing,
            sizing_mode="stretch_width")
        self._on_cart_name()

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    @param.depends("cart_name", watch=True)
    def _name_downloads(self) -> None:
        """Exported files are named after the cart (``M1 study`` -> ``M1_study.xml``)."""
        stem = re.sub(r"[^\w.-]+", "_", self.cart_name or "cart").strip("_") or "cart"
        for ext, download in self._downloads.items():
            download.filename = f"{stem}.{ext}"

    def _provenance_card(self, downloads: list[pn.widgets.FileDownload]) -> pn.Card:
        draw = pn.widgets.Button(label="Draw the provenance", width=190)
        on_click(draw, self.draw_provenance)
        self.picture = ProvenancePicture()
        self.prov_notice = notice()
        return pn.Card(
            html_pane("<p>Where every item came from, as W3C PROV with IVOA ProvenanceDM "
                      "terms: the queries (service, exactly what it was asked, row limit, "
                      "truncation), workflow runs and the items they used, you and the "
                      "services as agents. The VOTable and notebook exports carry it "
                      "too.</p>"),
            pn.Row(draw, *downloads), self.prov_notice, self.picture,
            title="Provenance", collapsed=True, sizing_mode="stretch_width")

    async def draw_provenance(self) -> None:
        """Draw the provenance of the ticked items (or of the whole cart)."""
        keys = [self.listing["key"].iloc[i] for i in self._table.selection
                if i < len(self.listing)] or None
        if len(keys or self.listing) > DRAW_LIMIT:
            say(self.prov_notice, f"{len(keys or self.listing):,} items are too many to "
                f"draw readably (at most {DRAW_LIMIT}): tick some, or export PROV-JSON.",
                "warning")
            return
        name = self.cart_name
        try:
            svg = await run_blocking(lambda: picture(self.open_cart(name).provenance(keys)))
        except RuntimeError as exc:
            say(self.prov_notice, str(exc), "danger")
            return
        self.picture.svg = svg
        say(self.prov_notice, f"Provenance of {'the ticked' if keys else 'all'} "
            f"{len(keys or self.listing)} items of cart {name!r}.")

    def _samp_row(self, send: pn.widgets.Button) -> pn.viewable.Viewable:
        receive = pn.widgets.Checkbox.from_param(self.param.samp_receive)
        if not self.profile.samp:
            self._websamp = WebSamp(max_bytes=int(SAMP_DEFAULTS["max_mb"] * 2**20),
                                    on_sent=self._sent_by_browser,
                                    on_table=self._table_from_browser,
                                    on_error=lambda text: say(self.notice, text, "danger"))
            return pn.Column(pn.Row(send, receive, self._websamp), html_pane(
                "<p style='color:#5b6475'>SAMP through your browser (Web Profile): TOPCAT or "
                "Aladin on <em>your</em> computer, through its hub at localhost:21012; accept "
                "esap-dash when the hub asks. Tables go out as a link to the cart that works "
                "for one hour.</p>"))
        if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
            pn.state.on_session_destroyed(lambda _ctx: self._close_samp())
        return pn.Column(pn.Row(send, receive), html_pane(
            "<p style='color:#5b6475'>SAMP from this server (standard profile): the hub of "
            "the computer the server runs on, which is yours in this single-user "
            "deployment.</p>"))

    def _samp_link(self) -> SampLink:
        samp = self.profile.samp
        return SampLink(timeout=samp["timeout"], local_urls=samp["local_urls"],
                        max_bytes=int(samp["max_mb"] * 2**20), max_rows=int(samp["max_rows"]))

    def _close_samp(self) -> None:
        if self._samp is not None:
            self._samp.close()
            self._samp = None

    def _placement_card(self) -> pn.Card:
        """“Where can this run?”, built when the card is first opened."""
        def build() -> WhereToRun:
            self.where_to_run = WhereToRun(self.actor, lambda: self.cart_name)
            return self.where_to_run

        #: The ranking of the places work runs (None until its card is opened).
        self.where_to_run: WhereToRun | None = None
        return lazy_card("Where can this run?", build)

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
        self.listing = listing
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
        the list shows that it is loading meanwhile."""
        self._table.loading = True
        try:
            self._show(*await run_blocking(self._read, self.cart_name))
        finally:
            self._table.loading = False

    @param.depends("cart_name", watch=True)
    def _on_cart_name(self) -> None:
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
        if name not in self.param.cart_name.objects:
            self.param.cart_name.objects = sorted([*self.param.cart_name.objects, name])
        self.cart_name = name
        self.new_name = ""
        say(self.notice, f"Cart {name!r} is ready.")

    async def add(self, rows: Any) -> int:
        """Add result rows to the current cart; return how many were new."""
        added = await run_blocking(lambda: self.cart.add_rows(rows))
        await self.reload()
        return added

    async def remove_selected(self) -> None:
        """Remove the ticked items (undo puts them back)."""
        keys = [self.listing["key"].iloc[i] for i in self._table.selection
                if i < len(self.listing)]
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

    async def send_samp(self) -> None:
        """Send the cart (or the ticked items) as a VOTable to the SAMP clients."""
        if self._websamp is not None:
            await self._send_by_browser()
            return
        table = await run_blocking(lambda: self.cart.to_table())
        if self._table.selection:
            table = table[sorted(self._table.selection)]
        try:
            link = self._samp or await run_blocking(lambda: self._samp_link().connect())
        except ConnectorError as exc:
            say(self.notice, exc.reason, "danger")
            return
        try:
            sent = await run_blocking(lambda: link.send_table(
                table, name=f"esap-dash cart {self.cart_name}"))
        except ConnectorError as exc:
            say(self.notice, exc.reason, "danger")
            return
        finally:
            if link is not self._samp:
                link.close()
        say(self.notice, f"Sent {len(table)} items to {', '.join(sent)}.")

    @param.depends("samp_receive", watch=True)
    async def _toggle_samp(self) -> None:
        await self.receive_samp(self.samp_receive)

    async def _send_by_browser(self) -> None:
        """Offer the cart to the SAMP clients of the user's desktop, through the browser,
        as a shared link (read-only, one hour)."""
        name = self.cart_name
        token = await run_blocking(self.cart.share, WEB_SAMP_LINK_DAYS)
        self._websamp.send(share_links("", token)["votable"], f"esap-dash cart {name}")
        whole = " (the whole cart: ticked items are not sent on their own here)" if (
            self._table.selection) else ""
        say(self.notice, f"Offering cart {name!r} ({len(self.listing)} items) to the SAMP "
            f"clients on your computer{whole}...")

    def _sent_by_browser(self, names: list[str]) -> None:
        if names:
            say(self.notice, f"Sent cart {self.cart_name!r} to {', '.join(names)}.")
        else:
            say(self.notice, "No SAMP client on your computer takes tables: start TOPCAT "
                "or Aladin.", "warning")

    async def _table_from_browser(self, votable: str, name: str, sender: str) -> None:
        """Add a table a SAMP client sent through the browser to the current cart."""
        def add() -> int:
            try:
                table = Table.read(io.BytesIO(votable.encode()), format="votable")
            except Exception as exc:  # astropy raises many kinds for a broken VOTable
                raise CartError(f"{sender} sent a table that is not a readable VOTable: "
                                f"{exc}") from None
            if len(table) > SAMP_DEFAULTS["max_rows"]:
                raise CartError(f"{sender} sent {len(table):,} rows: at most "
                                f"{SAMP_DEFAULTS['max_rows']:,} are taken.")
            return self._add_samp_rows(table, name, sender)

        try:
            added = await run_blocking(add)
        except CartError as exc:
            say(self.notice, str(exc), "danger")
            return
        await self.reload()
        say(self.notice, f"{sender} sent {name!r}: {added} new items.")

    async def receive_samp(self, on: bool) -> None:
        """Start (or stop) adding the tables SAMP clients send to this cart."""
        with param.discard_events(self):
            self.samp_receive = on
        if self._websamp is not None:
            self._websamp.receiving = on
            say(self.notice, "Tables your SAMP clients send now go to this cart." if on
                else "No longer receiving SAMP tables.")
            return
        if not on:
            await run_blocking(self._close_samp)
            say(self.notice, "No longer receiving SAMP tables.")
            return
        if not self.profile.samp:
            return
        doc = pn.state.curdoc
        try:
            self._samp = await run_blocking(lambda: self._samp_link().connect())
        except ConnectorError as exc:
            say(self.notice, exc.reason, "danger")
            with param.discard_events(self):
                self.samp_receive = False
            return
        self._doc = doc  # SAMP calls arrive on another thread
        self._samp.on_table(self.receive_table)
        say(self.notice, "Tables sent by SAMP clients now go to this cart.")

    def _add_samp_rows(self, table: Table, name: str, sender: str) -> int:
        """Add a table from a SAMP client to the current cart, with where it came from;
        how many rows were new (blocking)."""
        rows = common_table(table, f"SAMP: {sender}",
                            {**name_mapping(table), **ucd_mapping(table)})
        rows["query"] = [Provenance("samp", user=self.user, services=(Service(sender, "samp"),),
                                    query={"table": name}).to_json()] * len(rows)
        return self.open_cart(self.cart_name).add_rows(rows, kind="samp")

    def receive_table(self, table: Table, name: str, sender: str) -> int:
        """Add a table a SAMP client sent to the current cart; return how many rows were new."""
        added = self._add_samp_rows(table, name, sender)
        said = f"{sender} sent {name!r}: {added} new items."

        async def show() -> None:
            await self.reload()
            say(self.notice, said)

        if self._doc is not None and self._doc.session_context is not None:
            self._doc.add_next_tick_callback(show)
        else:
            self._show(*self._read(self.cart_name))
            say(self.notice, said)
        return added

    async def _on_edit(self, event: Any) -> None:
        row = self.listing.iloc[event.row]
        try:
            await run_blocking(lambda: self.cart.annotate(
                row["key"], **{event.column: str(event.value or "")}))
        except CartError as exc:
            say(self.notice, str(exc), "danger")
            return
        say(self.notice, f"Saved the {event.column} of {row['title']}.")

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
