"""A row's DataLink links, and a SODA cutout of its data set into the cart."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import pandas as pd
import panel as pn
import param
from astropy.table import Table

from connectors.datalink import LINK_COLUMNS, DataLink, fetch_links
from connectors.exceptions import ConnectorError

from ...core.cart import Cart, CartError
from ...core.config import Profile
from ...core.fanout import run_blocking
from ...core.links import cutout_rows, links_url
from ...core.spectra import archive_session
from .actions import on_click
from .style import Notice, html_pane, say

__all__ = ["LinksCard"]


class LinksCard(pn.viewable.Viewer):
    """The DataLink links of a row, and cutouts around a position into the cart.

    Parameters
    ----------
    profile : Profile
        The deployment (each archive's HTTP session).
    user : str
        Who asks (the cutouts' provenance).
    cart : callable
        The cart cutouts go to (blocking).
    centre : callable
        Where to cut: ``(ra, dec)``, or None for the data set's own position.
    notice : Notice
        Where to say what happened.
    """

    cutout_radius = param.Number(default=2.0, bounds=(0.05, 600), label="Cutout radius (arcmin)",
                                 doc="Radius of a SODA cutout around the target.")

    def __init__(self, profile: Profile, user: str, cart: Callable[[], Cart],
                 centre: Callable[[], tuple[float, float] | None], notice: Notice,
                 **params: Any) -> None:
        super().__init__(**params)
        self.profile, self.user, self.notice = profile, user, notice
        self._cart, self._centre = cart, centre
        #: The DataLink document of the row shown, and that row.
        self.links: DataLink | None = None
        self.row: Any = None
        self._table = pn.widgets.Tabulator(
            pd.DataFrame(columns=list(LINK_COLUMNS)), show_index=False, disabled=True,
            height=220, sizing_mode="stretch_width", hidden_columns=["href"],
            # only http(s) addresses become links (an archive's text could be javascript:)
            formatters={"access_url": {"type": "link", "target": "_blank", "urlField": "href"}})
        self._title = html_pane("")
        cut = pn.widgets.Button(label="Cutout to cart", color="primary", width=180)
        on_click(cut, self.cutout_to_cart)
        self._card = pn.Card(
            self._title, self._table,
            pn.Row(pn.widgets.FloatInput.from_param(self.param.cutout_radius, width=180), cut),
            title="DataLink: a row's links and cutouts", collapsed=True, visible=False,
            sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return self._card

    async def show(self, rows: Table) -> None:
        """List the links of the first of ``rows`` whose archive offers DataLink."""
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
        self.links, self.row = links, row
        frame = links.links.to_pandas()
        frame["href"] = [u if str(u).lower().startswith(("http://", "https://")) else ""
                         for u in frame["access_url"]]
        self._table.value = frame
        soda = links.cutout()
        self._title.object = (
            f"<p><b>{html.escape(str(row['title']))}</b>: {len(links.links)} links"
            + (f"; cutouts by <code>{html.escape(soda.url)}</code> (SODA)" if soda else
               "; no cutout service") + "</p>")
        self._card.param.update(visible=True, collapsed=False)
        say(self.notice, f"{len(links.links)} links of {row['title']}.")

    async def cutout_to_cart(self) -> None:
        """Cut the linked data set around the centre (else the data set's position)
        with SODA and add the cutout to the cart as an item of its own."""
        if self.links is None or self.row is None:
            say(self.notice, "Show a row's links first.", "warning")
            return
        row = self.row
        ra, dec = self._centre() or (float(row["ra"]), float(row["dec"]))
        try:
            item = cutout_rows(row, self.links, ra, dec, self.cutout_radius / 60,
                               user=self.user)
            cart, added = await run_blocking(self._add, item)
        except (ConnectorError, CartError) as exc:
            say(self.notice, getattr(exc, "reason", str(exc)), "danger")
            return
        say(self.notice, f"Added the cutout {str(item['title'][0])!r} to cart {cart!r}"
            + ("" if added else " (it was there already)") + ".")

    def _add(self, item: Table) -> tuple[str, int]:
        cart = self._cart()
        return cart.name, cart.add_rows(item)
