"""Dask Gateway: cluster options and clusters, per user."""

from __future__ import annotations

import json
import warnings
from typing import Any, ClassVar

from astropy.table import Table

from .base import ServiceConnector
from .exceptions import ConfigurationError, QueryError, ServiceError, ServiceUnavailableError
from .http import request

#: What the page may show of a cluster; the gateway's answer also holds the
#: cluster's TLS certificate and private key, which never leave the connector.
CLUSTER_FIELDS = ("name", "status", "start_time", "stop_time", "worker_cores", "worker_memory",
                  "dashboard")

__all__ = ["CLUSTER_FIELDS", "GatewayConnector"]


def _python_patch_only(message: Warning | str) -> bool:
    """Whether a ``distributed`` version-mismatch warning names only Python patch
    releases (3.11.2 scheduler, 3.11.7 client): those run each other's pickles, every
    other mismatch is still reported."""
    if type(message).__name__ != "VersionMismatchWarning":
        return False
    rows = [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in str(message).splitlines() if line.startswith("|")]
    rows = [r for r in rows if r and r[0] != "Package"]
    if not rows or any(r[0] != "python" for r in rows):
        return False
    releases = {".".join(v.split(".")[:2]) for v in rows[0][1:] if v and v != "None"}
    return len(releases) == 1


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

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """An authenticated API call; the gateway's refusals become QueryError."""
        try:
            return request(self.session, method, self.url + path, auth=self._auth(), **kwargs)
        except ServiceError as exc:
            if exc.status in (403, 404, 409, 422):
                reason = exc.reason.split(": ", 1)[-1]
                if reason.startswith("{"):
                    reason = json.loads(reason).get("error", reason)
                raise QueryError(reason, self.url, exc.status) from exc
            raise

    @staticmethod
    def _public(cluster: dict[str, Any], base: str) -> dict[str, Any]:
        options = cluster.get("options") or {}
        route = cluster.get("dashboard_route")
        return {"name": cluster["name"], "status": cluster["status"],
                "start_time": cluster.get("start_time"), "stop_time": cluster.get("stop_time"),
                "worker_cores": options.get("worker_cores"),
                "worker_memory": options.get("worker_memory"),
                "dashboard": base + route if route else ""}

    def clusters(self) -> list[dict[str, Any]]:
        """This user's clusters (pending, running and recently stopped).

        Returns
        -------
        list of dict
            :data:`CLUSTER_FIELDS`: times in ms since 1970, memory in GiB,
            ``dashboard`` the Dask dashboard through the gateway's proxy.
            Never the cluster's TLS credentials.
        """
        answer = self._call("GET", "/api/v1/clusters/").json()
        return [self._public(c, self.url) for c in answer.values()]

    def cluster(self, name: str) -> dict[str, Any]:
        """One cluster, as :meth:`clusters` describes it."""
        return self._public(self._call("GET", f"/api/v1/clusters/{name}").json(), self.url)

    def start_cluster(self, **options: Any) -> str:
        """Ask for a new cluster with these options (see :meth:`cluster_options`); its name.

        Raises
        ------
        connectors.exceptions.QueryError
            The gateway refused the options (its message says why).
        """
        return str(self._call("POST", "/api/v1/clusters/",
                              json={"cluster_options": options}).json()["name"])

    def scale(self, name: str, workers: int) -> str:
        """Ask for ``workers`` workers; the gateway's note when it caps the number."""
        if workers < 0:
            raise QueryError("the number of workers cannot be negative", self.url)
        return self._call("POST", f"/api/v1/clusters/{name}/scale",
                          json={"count": int(workers)}).json().get("msg") or ""

    def adapt(self, name: str, minimum: int, maximum: int) -> str:
        """Let the cluster scale itself between ``minimum`` and ``maximum`` workers."""
        if not 0 <= minimum <= maximum:
            raise QueryError("adaptive limits need 0 <= minimum <= maximum", self.url)
        return self._call("POST", f"/api/v1/clusters/{name}/adapt",
                          json={"minimum": int(minimum), "maximum": int(maximum),
                                "active": True}).json().get("msg") or ""

    def stop_cluster(self, name: str) -> None:
        """Stop a cluster (its workers and scheduler end)."""
        self._call("DELETE", f"/api/v1/clusters/{name}")

    def dask_client(self, name: str) -> Any:
        """A ``distributed.Client`` of a running cluster, through the gateway's proxy.

        The cluster's TLS credentials are fetched and used inside the client
        only.  The caller closes the client.
        """
        from dask_gateway.client import GatewaySecurity
        from distributed import Client

        cluster = self._call("GET", f"/api/v1/clusters/{name}").json()
        if cluster.get("status") != "RUNNING" or not cluster.get("tls_key"):
            raise QueryError(f"cluster {name[:8]} is not running ({cluster.get('status')})",
                             self.url)
        host = self.url.split("://", 1)[1].rstrip("/")
        security = GatewaySecurity(tls_key=cluster["tls_key"], tls_cert=cluster["tls_cert"])
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                client = Client(f"gateway://{host}/{name}", security=security,
                                set_as_default=False, timeout=self.timeout)
        except (OSError, TimeoutError) as exc:
            raise ServiceUnavailableError(f"cannot reach cluster {name[:8]}: {exc}",
                                          self.url) from exc
        for warning in caught:
            if not _python_patch_only(warning.message):
                warnings.warn(warning.message, warning.category, stacklevel=2)
        return client

    def task_counts(self, name: str) -> dict[str, int]:
        """The scheduler's live counts (workers, cores, tasks by state) via the proxy."""
        return self._call("GET", f"/clusters/{name}/json/counts.json").json()
