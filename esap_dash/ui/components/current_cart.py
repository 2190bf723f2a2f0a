"""The session's current cart: the one every page adds to and shows, chosen once in
the dashboard's header."""

from __future__ import annotations

from typing import Any

import panel as pn
import param

from ...core.actor import Actor
from ...core.fanout import run_blocking
from .actions import offer_what_is_set

__all__ = ["CurrentCart"]


class CurrentCart(pn.viewable.Viewer):
    """Which of the user's carts the session works on.

    The dashboard keeps one for all its pages (each page's ``cart_name`` follows
    it, and a page that switches cart switches it); it shows as a choice of the
    user's carts.  A name not yet in the database is a cart made the first time
    something is added to it.  Unless one was asked for (``?cart=``), a session
    starts on the user's first cart, or on ``default`` when they have none.

    Parameters
    ----------
    actor : Actor
        The session's user.
    """

    cart_name = param.Selector(objects=["default"], default="default", check_on_set=False,
                               label="Current cart", doc="The cart pages add to and show.")

    def __init__(self, actor: Actor, **params: Any) -> None:
        super().__init__(**params)
        self.actor = actor
        offer_what_is_set(self, "cart_name")

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.widgets.Select.from_param(self.param.cart_name, width=200,
                                            margin=(0, 12), stylesheets=[_HEADER_CSS])

    async def refresh(self) -> None:
        """Offer the user's carts as they are in the database now (made elsewhere too);
        a ``default`` cart that does not exist gives way to the user's first cart."""
        names = sorted(await run_blocking(self.actor.cart_names))
        if self.cart_name == "default" and names and "default" not in names:
            self.cart_name = names[0]
        self.param.cart_name.objects = sorted({*names, self.cart_name})


#: The choice reads as part of the dark header.
_HEADER_CSS = (":host .bk-input-group label { color: #cfe0ff; } "
               ":host select { color: #1f2937; background-color: #ffffff; }")
