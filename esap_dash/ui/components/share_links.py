"""Read-only links to a cart (its runnable notebook, VOTable and provenance) and the
address that opens the notebook on one of the deployment's BinderHubs or
JupyterHubs."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import panel as pn
import param

from ...core.cart import Cart
from ...core.config import Profile
from ...core.fanout import run_blocking
from ...core.launch import facility_problem, launch_url, share_links
from .actions import on_click
from .style import html_pane, notice, say

__all__ = ["ShareLinks"]

#: Days a shared link works.
SHARE_DAYS = 7


class ShareLinks(pn.viewable.Viewer):
    """Shared links to the cart in use.

    Parameters
    ----------
    profile : Profile
        The deployment (its public address and facilities).
    cart : callable
        The cart in use (blocking).
    """

    facility = param.Selector(objects=[], label="Open in",
                              doc="A BinderHub or JupyterHub of this deployment.")

    def __init__(self, profile: Profile, cart: Callable[[], Cart], **params: Any) -> None:
        super().__init__(**params)
        self.profile, self._cart = profile, cart
        self._facilities = {f.name: f for f in profile.facilities}
        self.param.facility.objects = list(self._facilities)
        if self._facilities:
            self.facility = next(iter(self._facilities))
        #: The last links made: ``notebook``, ``votable``, ``prov-json``, ``launch``.
        self.links: dict[str, str] = {}
        self._links = html_pane("")
        #: What is said of the facility (it does not answer now).
        self.notice = notice()
        share = pn.widgets.Button(label="Make a link to this cart", color="primary", width=220)
        on_click(share, self.share)
        revoke = pn.widgets.Button(label="Revoke all links", width=160)
        on_click(revoke, self.revoke)
        # (the sentence on a line of its own: beside the buttons it pushed them off the card)
        where = ([pn.Row(pn.widgets.Select.from_param(self.param.facility, width=280),
                         share, revoke)] if self._facilities else
                 [pn.pane.Markdown("No BinderHub or JupyterHub is configured in this "
                                   "deployment: the link can be opened in any "
                                   "JupyterLab (*File > Open from URL*)."),
                  pn.Row(share, revoke)])
        self._layout = pn.Card(
            pn.pane.Markdown("A read-only link to this cart's runnable notebook and VOTable "
                             f"(valid {SHARE_DAYS} days), and the address that opens the "
                             "notebook on a notebook server."),
            *where, self.notice, self._links, title="Open in Binder / JupyterHub",
            sizing_mode="stretch_width")

    @property
    def shown(self) -> str:
        """What the card says of the links now (HTML: the links, or how many were
        revoked)."""
        return self._links.object

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    def _base_url(self) -> str:
        if self.profile.public_url:
            return self.profile.public_url
        location = pn.state.location
        if location is not None and location.href:
            parts = urlsplit(location.href)
            return f"{parts.scheme}://{parts.netloc}"
        return "http://127.0.0.1:5006"

    async def share(self) -> None:
        """Make a shared link to the cart and the launch address for the chosen facility."""
        cart = await run_blocking(self._cart)
        token = await run_blocking(lambda: cart.share(days=SHARE_DAYS))
        links = share_links(self._base_url(), token, cart.name)
        facility = self._facilities.get(self.facility)
        launch = launch_url(facility, links["notebook"], cart.name) if facility else ""
        problem = await run_blocking(facility_problem, facility) if facility else ""
        say(self.notice, f"{facility.name} does not answer now ({problem}): its address "
                         "below opens the notebook once it is back." if problem else "",
            "warning")
        self.links = {**links, "launch": launch}
        rows = [("Notebook", links["notebook"]), ("VOTable", links["votable"]),
                ("Provenance (PROV-JSON)", links["prov-json"])]
        if launch:
            rows.append((f"Open in {facility.name}", launch))
        self._links.object = "<ul>" + "".join(
            f'<li>{html.escape(label)}: <a href="{html.escape(url)}" target="_blank" rel="noopener '
            f'noreferrer">{html.escape(url)}</a></li>' for label, url in rows) + "</ul>"

    async def revoke(self) -> None:
        """End every shared link to this cart."""
        ended = await run_blocking(lambda: self._cart().revoke_shares())
        self.links = {}
        self._links.object = f"<p>{ended} link{'s' * (ended != 1)} revoked.</p>"
