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

from urllib.parse import quote

from .config import Facility

__all__ = ["SHARED_FILES", "launch_url", "share_links"]

#: The files of a shared cart: name -> (what :meth:`Cart.export` writes, media type).
SHARED_FILES = {"cart.ipynb": ("notebook", "application/x-ipynb+json"),
                "cart.xml": ("votable", "application/x-votable+xml"),
                "cart.prov.json": ("prov-json", "application/json")}


def share_links(base_url: str, token: str) -> dict[str, str]:
    """The links of a shared cart on the dashboard at ``base_url``, by what they
    hold: ``notebook``, ``votable`` and ``prov-json`` (its provenance)."""
    base = base_url.rstrip("/")
    return {kind: f"{base}/cart-share/{token}/{name}"
            for name, (kind, _) in SHARED_FILES.items()}


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
