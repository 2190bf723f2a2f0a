"""The Cart page."""

from __future__ import annotations

from .planned import PlannedPage

__all__ = ["CartPage"]


class CartPage(PlannedPage):
    """The Cart page (not built yet)."""

    title = "Cart"
    purpose = (
        "collect data in a persistent cart and take it to notebooks, TOPCAT (SAMP), the "
        "data lake and Binder/JupyterHub")
