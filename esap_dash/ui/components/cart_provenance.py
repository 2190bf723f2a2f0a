"""The provenance of a cart's items, drawn, and its exports."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import panel as pn

from ...core.actor import Actor
from ...core.fanout import run_blocking
from ...core.lineage import DRAW_LIMIT, picture
from .actions import on_click
from .prov_picture import ProvenancePicture
from .style import html_pane, notice, say

__all__ = ["CartProvenance"]


class CartProvenance(pn.viewable.Viewer):
    """A card that draws where a cart's items came from (W3C PROV).

    Parameters
    ----------
    actor : Actor
        Whose cart.
    cart_name : callable
        The name of the cart in use.
    chosen : callable
        The keys of the ticked items (empty: the whole cart), and how many items
        the cart holds.
    downloads : list
        Buttons that export the provenance, shown beside the drawing's.
    """

    def __init__(self, actor: Actor, cart_name: Callable[[], str],
                 chosen: Callable[[], tuple[list[str], int]],
                 downloads: list[pn.widgets.FileDownload], **params: Any) -> None:
        super().__init__(**params)
        self.actor, self._name, self._chosen = actor, cart_name, chosen
        draw = pn.widgets.Button(label="Draw the provenance", width=190)
        on_click(draw, self.draw)
        #: The drawing.
        self.picture = ProvenancePicture()
        self.notice = notice()
        self._card = pn.Card(
            html_pane("<p>Where every item came from, as W3C PROV with IVOA ProvenanceDM "
                      "terms: the queries (service, exactly what it was asked, row limit, "
                      "truncation), workflow runs and the items they used, you and the "
                      "services as agents. The VOTable and notebook exports carry it "
                      "too.</p>"),
            pn.Row(draw, *downloads), self.notice, self.picture,
            title="Provenance", collapsed=True, sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return self._card

    async def draw(self) -> None:
        """Draw the provenance of the ticked items (or of the whole cart)."""
        keys, total = self._chosen()
        count = len(keys) or total
        if count > DRAW_LIMIT:
            say(self.notice, f"{count:,} items are too many to draw readably (at most "
                f"{DRAW_LIMIT}): tick some, or export PROV-JSON.", "warning")
            return
        name = self._name()
        try:
            svg = await run_blocking(lambda: picture(
                self.actor.open_cart(name).provenance(keys or None)))
        except RuntimeError as exc:
            say(self.notice, str(exc), "danger")
            return
        self.picture.svg = svg
        say(self.notice, f"Provenance of {'the ticked' if keys else 'all'} {count} items of "
            f"cart {name!r}.")
