"""JupyterHubs and BinderHubs, where carts are opened: whether one answers."""

from __future__ import annotations

from .http import make_session, request

__all__ = ["HEALTH_PATHS", "hub_health"]

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
