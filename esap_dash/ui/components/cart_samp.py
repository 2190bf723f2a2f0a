"""A cart to and from TOPCAT, Aladin and other SAMP clients: through the browser
(Web Profile, the user's own desktop) or from the server (standard profile, a
single-user deployment)."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from typing import Any

import panel as pn
import param
from astropy.table import Table

from connectors.exceptions import ConnectorError
from connectors.samp import SampLink

from ...core.actor import Actor
from ...core.cart import Cart, CartError
from ...core.config import SAMP_DEFAULTS
from ...core.fanout import run_blocking
from ...core.launch import share_links
from .actions import on_click
from .samp_web import WebSamp
from .style import Notice, html_pane, say

__all__ = ["CartSamp"]

#: Days the link a cart is sent by through the browser's SAMP works.
WEB_SAMP_LINK_DAYS = 1 / 24


class CartSamp(pn.viewable.Viewer):
    """Send the cart (or its ticked items) to SAMP clients; add the tables they send.

    Parameters
    ----------
    actor : Actor
        Who acts; without a ``[samp]`` section in the deployment's profile, SAMP
        goes through the browser.
    cart_name : callable
        The name of the cart in use.
    ticked : callable
        The indices of the ticked items.
    notice : Notice
        Where to say what happened.
    reload : callable
        Show the cart again after a table was added (a coroutine function, run in
        the session).
    reload_now : callable
        The same, outside a session (a notebook, a script).
    """

    receiving = param.Boolean(default=False, label="Receive tables from TOPCAT/Aladin (SAMP)",
                              doc="Add the tables that SAMP clients send to this cart.")

    def __init__(self, actor: Actor, cart_name: Callable[[], str],
                 ticked: Callable[[], list[int]], notice: Notice,
                 reload: Callable[[], Awaitable[None]], reload_now: Callable[[], None],
                 **params: Any) -> None:
        super().__init__(**params)
        self.actor, self.profile, self.notice = actor, actor.profile, notice
        self._name, self._ticked = cart_name, ticked
        self._reload, self._reload_now = reload, reload_now
        self._samp: SampLink | None = None
        self._websamp: WebSamp | None = None
        self._doc: Any = None
        send = pn.widgets.Button(label="Send to TOPCAT (SAMP)", width=190)
        on_click(send, self.send)
        receive = pn.widgets.Checkbox.from_param(self.param.receiving)
        if not self.profile.samp:
            self._websamp = WebSamp(max_bytes=int(SAMP_DEFAULTS["max_mb"] * 2**20),
                                    on_sent=self._sent_by_browser,
                                    on_table=self._table_from_browser,
                                    on_error=lambda text: say(self.notice, text, "danger"))
            self._layout = pn.Column(pn.Row(send, receive, self._websamp), html_pane(
                "<p class='esap-muted'>SAMP through your browser (Web Profile): TOPCAT or "
                "Aladin on <em>your</em> computer, through its hub at localhost:21012; accept "
                "esap-dash when the hub asks. Tables go out as a link to the cart that works "
                "for one hour.</p>"))
            return
        if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
            pn.state.on_session_destroyed(lambda _ctx: self._close())
        self._layout = pn.Column(pn.Row(send, receive), html_pane(
            "<p class='esap-muted'>SAMP from this server (standard profile): the hub of "
            "the computer the server runs on, which is yours in this single-user "
            "deployment.</p>"))

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    def _cart(self) -> Cart:
        return self.actor.open_cart(self._name())

    def _link(self) -> SampLink:
        samp = self.profile.samp
        return SampLink(timeout=samp["timeout"], local_urls=samp["local_urls"],
                        max_bytes=int(samp["max_mb"] * 2**20), max_rows=int(samp["max_rows"]))

    def _close(self) -> None:
        if self._samp is not None:
            self._samp.close()
            self._samp = None

    async def send(self) -> None:
        """Send the cart (or the ticked items) as a VOTable to the SAMP clients."""
        if self._websamp is not None:
            await self._send_by_browser()
            return
        cart = await run_blocking(self._cart)
        table = await run_blocking(cart.to_table)
        ticked = self._ticked()
        if ticked:
            table = table[sorted(ticked)]
        try:
            link = self._samp or await run_blocking(lambda: self._link().connect())
        except ConnectorError as exc:
            say(self.notice, exc.reason, "danger")
            return
        try:
            sent = await run_blocking(lambda: link.send_table(
                table, name=f"esap-dash cart {cart.name}"))
        except ConnectorError as exc:
            say(self.notice, exc.reason, "danger")
            return
        finally:
            if link is not self._samp:
                link.close()
        say(self.notice, f"Sent {len(table)} items to {', '.join(sent)}.")

    @param.depends("receiving", watch=True)
    async def _toggle(self) -> None:
        await self.receive(self.receiving)

    async def _send_by_browser(self) -> None:
        """Offer the cart to the SAMP clients of the user's desktop, through the browser,
        as a shared link (read-only, one hour)."""
        def share() -> tuple[str, str, int]:
            cart = self._cart()
            return cart.name, cart.share(WEB_SAMP_LINK_DAYS), len(cart)

        name, token, count = await run_blocking(share)
        self._websamp.send(share_links("", token)["votable"], f"esap-dash cart {name}")
        whole = (" (the whole cart: ticked items are not sent on their own here)"
                 if self._ticked() else "")
        say(self.notice, f"Offering cart {name!r} ({count} items) to the SAMP clients on "
            f"your computer{whole}...")

    def _sent_by_browser(self, names: list[str]) -> None:
        if names:
            say(self.notice, f"Sent cart {self._name()!r} to {', '.join(names)}.")
        else:
            say(self.notice, "No SAMP client on your computer takes tables: start TOPCAT "
                "or Aladin.", "warning")

    async def _table_from_browser(self, votable: str, name: str, sender: str) -> None:
        """Add a table a SAMP client sent through the browser to the cart."""
        def add() -> int:
            try:
                table = Table.read(io.BytesIO(votable.encode()), format="votable")
            except Exception as exc:  # astropy raises many kinds for a broken VOTable
                raise CartError(f"{sender} sent a table that is not a readable VOTable: "
                                f"{exc}") from None
            if len(table) > SAMP_DEFAULTS["max_rows"]:
                raise CartError(f"{sender} sent {len(table):,} rows: at most "
                                f"{SAMP_DEFAULTS['max_rows']:,} are taken.")
            return self._cart().add_samp_table(table, name, sender)

        try:
            added = await run_blocking(add)
        except CartError as exc:
            say(self.notice, str(exc), "danger")
            return
        await self._reload()
        say(self.notice, f"{sender} sent {name!r}: {added} new items.")

    async def receive(self, on: bool) -> None:
        """Start (or stop) adding the tables SAMP clients send to the cart."""
        with param.discard_events(self):
            self.receiving = on
        if self._websamp is not None:
            self._websamp.receiving = on
            say(self.notice, "Tables your SAMP clients send now go to this cart." if on
                else "No longer receiving SAMP tables.")
            return
        if not on:
            await run_blocking(self._close)
            say(self.notice, "No longer receiving SAMP tables.")
            return
        doc = pn.state.curdoc
        try:
            self._samp = await run_blocking(lambda: self._link().connect())
        except ConnectorError as exc:
            say(self.notice, exc.reason, "danger")
            with param.discard_events(self):
                self.receiving = False
            return
        self._doc = doc  # SAMP calls arrive on another thread
        self._samp.on_table(self.receive_table)
        say(self.notice, "Tables sent by SAMP clients now go to this cart.")

    def receive_table(self, table: Table, name: str, sender: str) -> int:
        """Add a table a SAMP client sent to the cart; how many rows were new."""
        added = self._cart().add_samp_table(table, name, sender)
        said = f"{sender} sent {name!r}: {added} new items."

        async def show() -> None:
            await self._reload()
            say(self.notice, said)

        if self._doc is not None and self._doc.session_context is not None:
            self._doc.add_next_tick_callback(show)
        else:
            self._reload_now()
            say(self.notice, said)
        return added
