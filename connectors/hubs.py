"""JupyterHubs and BinderHubs, where carts are opened: whether one answers, and a
JupyterHub user's servers (seen and stopped through the hub's REST API, as a
service of the hub)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from .exceptions import ServiceError
from .http import make_session, request

__all__ = ["HEALTH_PATHS", "hub_health", "server_answers", "spawn_failure", "stop_user_server",
           "user_servers"]

#: Each kind of hub's health check, under its base address.
HEALTH_PATHS = {"jupyterhub": "/hub/health", "binderhub": "/health"}


def hub_health(url: str, kind: str, timeout: float = 5.0) -> None:
    """Ask the hub at ``url`` its health check; return when it answers it.

    Parameters
    ----------
    url : str
        The hub's base address (a JupyterHub's may end in its ``base_url``).
    kind : str
        ``jupyterhub`` or ``binderhub``.
    timeout : float
        Seconds to wait for the connection and for the answer.

    Raises
    ------
    connectors.exceptions.ServiceUnavailableError
        Refused, unresolvable or no answer in ``timeout`` seconds.
    connectors.exceptions.ServiceError
        The hub answered with an HTTP error.
    """
    request(make_session(timeout=timeout, retries=0), "GET",
            url.rstrip("/") + HEALTH_PATHS[kind])


def server_answers(url: str, timeout: float = 5.0) -> None:
    """Ask a user's notebook server its version (which a Jupyter server gives without
    a login) through the hub's proxy; return when it answers.

    Parameters
    ----------
    url : str
        The server's address (``<hub>/user/<name>/``).
    timeout : float
        Seconds to wait for the connection and for the answer.

    Raises
    ------
    connectors.exceptions.ServiceUnavailableError
        Refused, or no answer in ``timeout`` seconds (a server that hangs).
    connectors.exceptions.ServiceError
        The proxy or the hub answered for it with an HTTP error (503: nothing
        listens where the server was).
    """
    request(make_session(timeout=timeout, retries=0), "GET", url.rstrip("/") + "/api",
            allow_redirects=False)


def _api(url: str, token: str, method: str, path: str, timeout: float, **kwargs: Any) -> Any:
    return request(make_session(timeout=timeout, retries=0), method,
                   url.rstrip("/") + "/hub/api" + path,
                   headers={"Authorization": f"token {token}"}, **kwargs)


def _server_path(user: str, name: str) -> str:
    """A user's server (the default one when ``name`` is empty) in the hub's API."""
    return f"/users/{quote(user, safe='')}/server" + (f"s/{quote(name, safe='')}" if name
                                                       else "")


def user_servers(url: str, token: str, user: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The servers of ``user`` at the JupyterHub at ``url``.

    Parameters
    ----------
    url : str
        The hub's base address (with its ``base_url``).
    token : str
        A token of the hub with the scopes ``read:users:name`` and ``read:servers``
        (and ``admin:server_state`` for the spawner's state: a batch job's id).
    user : str
        The hub's user name.
    timeout : float
        Seconds for the answer.

    Returns
    -------
    list of dict
        One per server: ``name`` (``""`` for the default one), ``state``
        (``running``, ``starting`` or ``stopping``), ``started`` and
        ``last_activity`` (ISO 8601, or ``""``), ``url`` (the server's path on
        the hub) and ``job`` (the batch job running it, where its spawner says).
        Empty for a user the hub does not know yet (never logged in there).

    Raises
    ------
    connectors.exceptions.ServiceUnavailableError
        The hub does not answer.
    connectors.exceptions.ServiceError
        It refused (a wrong token, or one without those scopes).
    """
    try:
        model = _api(url, token, "GET", f"/users/{quote(user, safe='')}", timeout).json()
    except ServiceError as exc:
        if exc.status == 404:
            return []
        raise
    servers = []
    for name, server in sorted((model.get("servers") or {}).items()):
        pending = server.get("pending")
        state = server.get("state") or {}
        servers.append({
            "name": name, "url": str(server.get("url") or ""),
            "state": {"spawn": "starting", "stop": "stopping"}.get(
                pending, "running" if server.get("ready") else str(pending or "starting")),
            "started": str(server.get("started") or ""),
            "last_activity": str(server.get("last_activity") or ""),
            "job": str(state.get("job_id") or "") if isinstance(state, dict) else ""})
    return servers


def stop_user_server(url: str, token: str, user: str, name: str = "",
                     timeout: float = 10.0) -> None:
    """Ask the JupyterHub at ``url`` to stop ``user``'s server ``name`` (the default
    one when empty); the hub stops it in the background (scope ``servers``).

    Raises
    ------
    connectors.exceptions.ServiceUnavailableError
        The hub does not answer.
    connectors.exceptions.ServiceError
        It refused (no such server: status 404; a stop already under way: 400).
    """
    _api(url, token, "DELETE", _server_path(user, name), timeout)


def spawn_failure(url: str, token: str, user: str, name: str = "",
                  timeout: float = 10.0) -> str:
    """Why the last start of ``user``'s server ``name`` at the JupyterHub at ``url``
    failed, as the hub says it (``""``: it did not fail, or it runs or starts).

    The hub keeps the failure of a server's last start until the next one, and
    tells it as the first event of the server's progress (scope ``read:servers``).

    Raises
    ------
    connectors.exceptions.ServiceUnavailableError
        The hub does not answer.
    connectors.exceptions.ServiceError
        It refused (a token without that scope).
    """
    try:
        answer = _api(url, token, "GET", _server_path(user, name) + "/progress", timeout,
                      stream=True)
    except ServiceError as exc:
        if exc.status in (400, 404):  # not starting and no failure; no such user
            return ""
        raise
    with answer:
        for line in answer.iter_lines(decode_unicode=True):
            if line.startswith("data:"):
                try:
                    event = json.loads(line[5:])
                except ValueError:
                    return ""
                return str(event.get("message") or "a failure the hub did not explain") \
                    if isinstance(event, dict) and event.get("failed") else ""
    return ""
