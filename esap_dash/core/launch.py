"""Open a cart in a BinderHub or JupyterHub, and the read-only cart links they fetch.

A cart reaches a notebook server as a *shared link*: a secret, expiring,
read-only URL of the dashboard that serves the cart's runnable notebook
(``<cart>.ipynb``), its VOTable (``<cart>.xml``) and its provenance
(``<cart>.prov.json``), each named after the cart (see :func:`file_stem`).  The
launch URL opens the facility's notebook server with JupyterLab's ``fromURL``
parameter pointing at that link, so the cart's notebook opens there under the
cart's name (a second cart opens beside the first); this needs the
``jupyterlab-open-url-parameter`` extension in the facility's image (without
it, the environment opens and the link can be pasted into *File > Open from
URL*).

BinderHub (the pattern ESAP used, plus the cart)::

    <binderhub>/v2/git/<repo>/<ref>?urlpath=lab/tree/<file>?fromURL=<cart link>

JupyterHub, in a JupyterLab workspace named after the cart (a JupyterLab already
open in another tab would otherwise move the new one to a workspace of its own,
and the notebook would be fetched twice)::

    <hub>/hub/user-redirect/lab/workspaces/<cart>/tree/<file>?fromURL=<cart link>
"""

from __future__ import annotations

import re
from urllib.parse import quote

from connectors.exceptions import ConnectorError
from connectors.hubs import hub_health

from .config import Facility

__all__ = ["SHARED_FILES", "facility_problem", "file_stem", "launch_url", "share_links",
           "shared_file"]

#: The files of a shared cart, by the end of their name: (what :meth:`Cart.export`
#: writes, media type).
SHARED_FILES = {".ipynb": ("notebook", "application/x-ipynb+json"),
                ".xml": ("votable", "application/x-votable+xml"),
                ".prov.json": ("prov-json", "application/json")}


def file_stem(cart: str) -> str:
    """The name a cart's shared files start with: its name in ASCII letters, digits,
    ``_``, ``.`` and ``-`` (any other run of characters becomes ``_``), or ``cart``
    when nothing is left.  It is the notebook's file name on the notebook server."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", cart).strip("_.") or "cart"


def shared_file(filename: str) -> tuple[str, str] | None:
    """What a shared file of this name holds: (export format, media type), or None
    for a name that is not one of a shared cart's files."""
    for end, kind in SHARED_FILES.items():
        stem = filename[:-len(end)]
        if filename.endswith(end) and stem and file_stem(stem) == stem:
            return kind
    return None


def share_links(base_url: str, token: str, cart: str = "cart") -> dict[str, str]:
    """The links of a shared cart on the dashboard at ``base_url``, by what they
    hold: ``notebook``, ``votable`` and ``prov-json`` (its provenance); the files
    are named after the cart ``cart`` (see :func:`file_stem`)."""
    base, stem = base_url.rstrip("/"), file_stem(cart)
    return {kind: f"{base}/cart-share/{token}/{stem}{end}"
            for end, (kind, _) in SHARED_FILES.items()}


def launch_url(facility: Facility, notebook_link: str, workspace: str = "") -> str:
    """The URL that opens ``notebook_link`` (a shared cart notebook) on ``facility``.

    Parameters
    ----------
    facility : Facility
        A BinderHub (``repo``, ``ref``, ``file``) or a JupyterHub (``file``).
    notebook_link : str
        The cart's shared notebook link (see :func:`share_links`).
    workspace : str, optional
        On a JupyterHub, the JupyterLab workspace to open it in (the cart's
        :func:`file_stem`); a BinderHub starts a new JupyterLab each time.

    Returns
    -------
    str
    """
    lab = "lab"
    if workspace and facility.kind == "jupyterhub":
        lab += f"/workspaces/{file_stem(workspace)}"
    if facility.file:
        lab += f"/tree/{facility.file}"
    urlpath = f"{lab}?fromURL={quote(notebook_link, safe='')}"
    base = facility.url.rstrip("/")
    if facility.kind == "binderhub":
        return (f"{base}/v2/git/{quote(facility.repo, safe='')}/{quote(facility.ref, safe='')}"
                f"?urlpath={quote(urlpath, safe='')}")
    return f"{base}/hub/user-redirect/{quote(lab, safe='/')}?fromURL=" + quote(
        notebook_link, safe="")


def facility_problem(facility: Facility, timeout: float = 5.0) -> str:
    """Why ``facility`` does not answer its health check now, as a sentence's end
    ("" when it answers); blocking, at most ``timeout`` seconds."""
    try:
        hub_health(facility.url, facility.kind, timeout)
    except ConnectorError as exc:
        return exc.reason
    return ""
