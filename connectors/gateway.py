"""Dask Gateway: cluster options and clusters, per user."""

from __future__ import annotations

from typing import Any, ClassVar

from astropy.table import Table

from .base import ServiceConnector
from .exceptions import ConfigurationError, ServiceUnavailableError
from .http import request

__all__ = ["GatewayConnector"]


class GatewayConnector(ServiceConnector):
    """A Dask Gateway server, used as one gateway user.

    Parameters
    ----------
    url : str
        The gateway's public address.
    username : str, optional
        The gateway user (clusters are created and listed per user).
    password : str, optional
        The password for basic authentication.
    **kwargs
        See :class:`~connectors.base.ServiceConnector`.
    """

    kind: ClassVar[str] = "dask-gateway"
    capabilities: ClassVar[frozenset[str]] = frozenset({"compute"})

    def __init__(self, url: str, *, username: str | None = None, password: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.username = username
        self._password = password

    def __repr__(self) -> str:
        return f"GatewayConnector(name={self.name!r}, url={self.url!r}, username={self.username!r})"

    @property
    def health_url(self) -> str:
        """The ``/api/health`` endpoint."""
        return self.url + "/api/health"

    def _probe(self) -> str:
        resp = request(self.session, "GET", self.health_url)
        status = resp.json().get("status")
        if status != "pass":
            raise ServiceUnavailableError(f"gateway health is {status!r}", self.health_url)
        return "pass"

    def _auth(self) -> tuple[str, str]:
        if not self.username:
            raise ConfigurationError("no Dask Gateway user configured", self.url)
        return (self.username, self._password or "")

    def cluster_options(self) -> Table:
        """The options the gateway offers for new clusters (``GET /api/v1/options``).

        Returns
        -------
        astropy.table.Table
            ``field``, ``label``, ``type``, ``default``, ``min``, ``max``,
            ``options`` (the choices of a select field, comma-separated).

        Raises
        ------
        connectors.exceptions.ConfigurationError
            No gateway user is configured.
        connectors.exceptions.ServiceError
            The gateway refused the credentials or failed.
        """
        resp = request(self.session, "GET", self.url + "/api/v1/options", auth=self._auth())
        rows = []
        for opt in resp.json().get("cluster_options", []):
            spec = opt.get("spec", {})
            rows.append((opt["field"], opt.get("label") or opt["field"], spec.get("type", ""),
                         str(opt.get("default", "")), str(spec.get("min", "")),
                         str(spec.get("max", "")),
                         ", ".join(map(str, spec.get("options", [])))))
        return Table(rows=rows or None,
                     names=("field", "label", "type", "default", "min", "max", "options"),
                     dtype=(str,) * 7)
