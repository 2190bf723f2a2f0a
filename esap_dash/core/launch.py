"""Open a cart in a BinderHub or JupyterHub, and the read-only cart links they fetch.

A cart reaches a notebook server as a *shared link*: a secret, expiring,
read-only URL of the dashboard that serves the cart's runnable notebook
(``cart.ipynb``) and its VOTable (``cart.xml``).  The launch URL opens the
facility's notebook server with JupyterLab's ``fromURL`` parameter pointing
at that link, so the cart's notebook opens there; this needs the
``jupyterlab-open-url-parameter`` extension in the facility's image (without
it, the environment opens and the link can be pasted into *File > Open from
URL*).

BinderHub (the pattern ESAP used, plus the cart)::

    <binderhub>/v2/git/<repo>/<ref>?urlpath=lab/tree/<file>?fromURL=<cart link>

JupyterHub::

    <hub>/hub/user-redirect/lab/tree/<file>?fromURL=<cart link>
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import tornado.ioloop
import tornado.web

from .cart import Cart, CartError
from .config import Facility, Profile

__all__ = ["SHARE_ROUTE", "CartShareHandler", "launch_url", "share_links"]

#: Where the dashboard serves shared carts (a tornado route pattern).
SHARE_ROUTE = r"/cart-share/([A-Za-z0-9_\-]{20,64})/(cart\.ipynb|cart\.xml|cart\.prov\.json)"
_TYPES = {"cart.ipynb": ("notebook", "application/x-ipynb+json"),
          "cart.xml": ("votable", "application/x-votable+xml"),
          "cart.prov.json": ("prov-json", "application/json")}


def share_links(base_url: str, token: str) -> dict[str, str]:
    """The notebook, VOTable and provenance (PROV-JSON) links of a shared cart on the
    dashboard at ``base_url``."""
    base = base_url.rstrip("/")
    return {"notebook": f"{base}/cart-share/{token}/cart.ipynb",
            "votable": f"{base}/cart-share/{token}/cart.xml",
            "provenance": f"{base}/cart-share/{token}/cart.prov.json"}


def launch_url(facility: Facility, notebook_link: str) -> str:
    """The URL that opens ``notebook_link`` (a shared cart notebook) on ``facility``.

    Parameters
    ----------
    facility : Facility
        A BinderHub (``repo``, ``ref``, ``file``) or a JupyterHub (``file``).
    notebook_link : str
        The cart's shared ``cart.ipynb`` link (see :func:`share_links`).

    Returns
    -------
    str
    """
    lab = f"lab/tree/{facility.file}" if facility.file else "lab"
    urlpath = f"{lab}?fromURL={quote(notebook_link, safe='')}"
    base = facility.url.rstrip("/")
    if facility.kind == "binderhub":
        return (f"{base}/v2/git/{quote(facility.repo, safe='')}/{quote(facility.ref, safe='')}"
                f"?urlpath={quote(urlpath, safe='')}")
    return f"{base}/hub/user-redirect/{quote(lab, safe='/')}?fromURL=" + quote(
        notebook_link, safe="")


class CartShareHandler(tornado.web.RequestHandler):
    """Serves a shared cart (``GET /cart-share/<token>/cart.ipynb``, ``cart.xml`` or
    ``cart.prov.json``).

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
        """Write the cart in the asked format, or 404 for a bad token."""
        fmt, mime = _TYPES[filename]
        try:
            body = await tornado.ioloop.IOLoop.current().run_in_executor(
                None, self._render, token, fmt)
        except CartError as exc:
            raise tornado.web.HTTPError(404, reason=str(exc)) from exc
        self.set_header("Content-Type", mime)
        self.set_header("Content-Disposition", f'inline; filename="{filename}"')
        self.finish(body)

    def _render(self, token: str, fmt: str) -> bytes:
        cart = Cart.from_share(token, profile=self.profile)
        with tempfile.TemporaryDirectory(prefix="esap-dash-share-") as tmp:
            path: Any = cart.export(Path(tmp) / "cart", fmt)
            return Path(path).read_bytes()
