"""esap-dash: a science analysis platform dashboard.

Discover data across archives, see it on the sky, collect it in a cart and
compute next to the data.  The code is in layers, each a folder:

- ``esap_dash.core``: the model (profiles, who acts, the store, carts, provenance,
  searches, sky, health ...);
- ``esap_dash.work``: jobs of every kind, placement, workflows and their engines;
- ``esap_dash.http``: the HTTP API, its OpenAPI contract, the notebook client;
- ``esap_dash.ui``: the pages (each usable alone in a notebook cell) and components;

with the server on top (``app``, ``web``, ``serving``, ``cli``).  For notebooks
and scripts: :class:`Cart` here, :mod:`esap_dash.client`.
"""

from __future__ import annotations

import os
from typing import Any

__version__ = "0.1.0"

__all__ = ["Cart", "__version__"]


class Cart:
    """Your carts, from a notebook or script: ``Cart.open(name)``."""

    @staticmethod
    def open(name: str = "default", *, url: str | None = None, token: str | None = None,
             **options: Any) -> Any:
        """Open (and by default create) your cart ``name``.

        From anywhere, give the deployment's address ``url`` (or set
        ``$ESAP_DASH_URL``) and your ``token`` (or ``$ESAP_DASH_TOKEN``): the cart
        is reached through the deployment's HTTP API (an
        :class:`esap_dash.http.client.RemoteCart`).  Without an address, it is read
        from the deployment's database directly (an :class:`esap_dash.core.cart.Cart`:
        the operators' way, who hold its credentials).

        Parameters
        ----------
        name : str
            Cart name, e.g. ``"M1 study"``.
        url, token : str, optional
            The deployment's address and your access token.
        **options
            ``create`` (default True); without an address also ``user`` and
            ``profile`` (see :meth:`esap_dash.core.cart.Cart.open`).

        Raises
        ------
        esap_dash.core.cart.CartError
            Invalid name, or no such cart with ``create=False``.
        PermissionError
            No valid token, or ``user=`` through the API.
        """
        from .core import URL_VARIABLE

        url = url or (os.environ.get(URL_VARIABLE) if options.get("profile") is None else None)
        if url:
            from .http.client import Client

            if options.get("user") is not None:
                raise PermissionError("through the HTTP API your token says who you are, "
                                      "not user=")
            return Client(url, token).cart(name, create=options.get("create", True))
        from .core.cart import Cart as DatabaseCart

        return DatabaseCart.open(name, token=token, **options)
