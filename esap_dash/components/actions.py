"""Buttons that run coroutine methods, and the callback that fills the cart."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import panel as pn
from astropy.table import Table

__all__ = ["AddToCart", "on_click"]

#: Adds rows of a kind (``row``, ``did``, ``software`` ...) to the user's cart;
#: returns a message for the page and its level (``info``, ``danger`` ...).
AddToCart = Callable[[Table, str], Awaitable[tuple[str, str]]]


def on_click(button: pn.widgets.Button, action: Callable[[], Awaitable[None]]) -> None:
    """Await ``action()`` each time ``button`` is clicked (bound to ``clicks``)."""
    async def handler(_clicks: int) -> None:
        await action()

    pn.bind(handler, button.param.clicks, watch=True)
