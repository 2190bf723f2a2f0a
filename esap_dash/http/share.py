"""The read-only links of shared carts: the dashboard serves each cart's notebook,
VOTable and provenance at ``/cart-share/<token>/<cart>.ipynb``, ``.xml`` and
``.prov.json`` (see :mod:`esap_dash.core.launch`, which makes the links)."""

from __future__ import annotations

import tornado.web

from ..core.cart import Cart, CartError
from ..core.config import Profile
from ..core.fanout import run_blocking
from ..core.launch import shared_file

__all__ = ["SHARE_ROUTE", "CartShareHandler"]

#: Where the dashboard serves shared carts (a tornado route pattern).
SHARE_ROUTE = r"/cart-share/([A-Za-z0-9_\-]{20,64})/([A-Za-z0-9_.\-]{1,200})"


class CartShareHandler(tornado.web.RequestHandler):
    """Serves a shared cart (``GET /cart-share/<token>/<cart>.ipynb``, ``<cart>.xml``
    or ``<cart>.prov.json``; the cart's name in the file's is for the notebook
    server that saves it, the token alone says which cart).

    The token is the only credential (it is a capability); notebook servers
    fetch from another origin, so the answer allows any origin and no
    cookies.
    """

    def initialize(self, profile: Profile) -> None:
        """Keep the deployment profile (tornado passes the route's arguments)."""
        self.profile = profile

    def set_default_headers(self) -> None:
        """Cross-origin reads without credentials; never cached by proxies."""
        self.set_header("Access-Control-Allow-Origin", "*")
        self.set_header("Cache-Control", "private, no-store")

    async def get(self, token: str, filename: str) -> None:
        """Write the cart in the asked format, or 404 for a bad token or file name."""
        kind = shared_file(filename)
        if kind is None:
            raise tornado.web.HTTPError(404, reason="not a file of a shared cart")
        fmt, mime = kind
        try:
            body = await run_blocking(self._render, token, fmt)
        except CartError as exc:
            raise tornado.web.HTTPError(404, reason=str(exc)) from exc
        self.set_header("Content-Type", mime)
        self.set_header("Content-Disposition", f'inline; filename="{filename}"')
        self.finish(body)

    def _render(self, token: str, fmt: str) -> bytes:
        # The notebook reaches the live cart back here (the token's user's, with their
        # own access token): at the deployment's public address, else as asked.
        origin = self.profile.public_url or f"{self.request.protocol}://{self.request.host}"
        return Cart.from_share(token, profile=self.profile).export_bytes(fmt, origin=origin)
