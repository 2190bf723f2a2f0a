"""Buttons that run coroutine methods."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import panel as pn

__all__ = ["on_click"]


def on_click(button: pn.widgets.Button, action: Callable[[], Awaitable[None]]) -> None:
    """Await ``action()`` each time ``button`` is clicked (bound to ``clicks``)."""
    async def handler(_clicks: int) -> None:
        await action()

    pn.bind(handler, button.param.clicks, watch=True)
