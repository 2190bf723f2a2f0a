"""A Jupyter server extension of the stack's hubs: keeps the user's current access
token of the provider where a user's JupyterLab server and its kernels look for
it, and makes it the login of the data-lake panel.

The hub holds the token and renews it before it expires (``jupyterhub_config.py``);
the server's hub token may read it.  Every :data:`EVERY` seconds this extension asks
the hub and puts the current token

* in the server's ``$ESAP_DASH_TOKEN``, where rucio-jupyterlab reads it
  (``oidc_auth = "env"``) and kernels started later find it;
* in the file ``$BEARER_TOKEN_FILE`` (0600), where every Rucio client of the
  session (rucio-jupyterlab's downloads, a notebook's or a terminal's ``rucio``)
  finds it at each call: WLCG bearer token discovery.

A hub that does not answer leaves the token as it was.

rucio-jupyterlab answers only a user who chose how to log in to an instance (its
Settings tab stores the choice): a user who chose nothing has "OpenID Connect"
chosen for her, the same row the Settings tab would store, so that her panel
works from the start; a choice of hers is kept.
"""

from __future__ import annotations

import json
import os
import tempfile
from urllib.parse import quote

from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.ioloop import PeriodicCallback

#: The variable that holds the token (the one esap-dash's client reads too).
VARIABLE = "ESAP_DASH_TOKEN"
#: Seconds between two asks: well under the hub's ten minutes of renewal margin.
EVERY = 60


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "esap_hub_token"}]


async def refresh(log) -> None:
    """Put the user's current access token in ``$ESAP_DASH_TOKEN`` and
    ``$BEARER_TOKEN_FILE`` when the hub has renewed it."""
    api, hub = os.environ.get("JUPYTERHUB_API_URL"), os.environ.get("JUPYTERHUB_API_TOKEN")
    user = os.environ.get("JUPYTERHUB_USER")
    if not (api and hub and user):
        return
    request = HTTPRequest(f"{api.rstrip('/')}/users/{quote(user, safe='')}",
                          headers={"Authorization": f"token {hub}"},
                          connect_timeout=10, request_timeout=10)
    try:
        answer = await AsyncHTTPClient().fetch(request)
        token = (json.loads(answer.body).get("auth_state") or {}).get("access_token")
    except Exception as exc:  # any failure: keep the token there is
        log.warning("esap-dash: the hub did not give %s's current token: %s", user, exc)
        return
    if token and token != os.environ.get(VARIABLE):
        os.environ[VARIABLE] = token
        keep(token)
        log.info("esap-dash: $%s and $BEARER_TOKEN_FILE hold %s's renewed access token",
                 VARIABLE, user)


def keep(token: str) -> None:
    """Write ``token`` to ``$BEARER_TOKEN_FILE`` (0600), replacing it whole."""
    path = os.environ.get("BEARER_TOKEN_FILE")
    if not path:
        return
    folder = os.path.dirname(path)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    fd, part = tempfile.mkstemp(dir=folder, prefix=".token-")  # mode 0600
    with os.fdopen(fd, "w") as out:
        out.write(token)
    os.replace(part, path)


def choose_oidc(instance: str, log) -> None:
    """Log the data-lake panel in to ``instance`` with the user's token, unless she
    chose otherwise."""
    try:
        from rucio_jupyterlab.db import get_db
    except ImportError:  # no data-lake panel in this environment
        return
    db = get_db()
    if not db.has_any_auth_credentials(namespace=instance):
        db.set_rucio_auth_credentials(namespace=instance, auth_type="oidc", params={})
        log.info("esap-dash: the data-lake panel logs in to %s with your access token", instance)
    if not db.get_active_auth_method():
        db.set_active_auth_method("oidc")


def _load_jupyter_server_extension(server_app) -> None:
    log = server_app.log
    if os.environ.get(VARIABLE):  # the token of the spawn, until the first ask
        keep(os.environ[VARIABLE])
    rucio = server_app.config.get("RucioConfig", {})
    if rucio.get("default_auth_type") == "oidc" and rucio.get("default_instance"):
        choose_oidc(rucio["default_instance"], log)
    PeriodicCallback(lambda: refresh(log), EVERY * 1000).start()
