"""What every connector has: a name, a URL, a session, and a health check."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

import requests

from .exceptions import ConnectorError
from .http import DEFAULT_TIMEOUT, make_session

if TYPE_CHECKING:
    from astropy.table import Table

    from .query import SkyQuery

__all__ = ["Health", "ServiceConnector"]


@dataclass(frozen=True)
class Health:
    """The outcome of one health check.

    Attributes
    ----------
    name : str
        The service's name in the profile.
    kind : str
        Connector kind (``tap``, ``rucio`` ...).
    url : str
        The address that was checked.
    up : bool
        Whether the service answered and declared itself available.
    seconds : float
        Response time of the check.
    detail : str
        What the service said (version, availability note), or the error.
    checked_at : datetime
        When the check finished (UTC).
    """

    name: str
    kind: str
    url: str
    up: bool
    seconds: float
    detail: str = ""
    checked_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class ServiceConnector:
    """Base class of all connectors.

    Parameters
    ----------
    url : str
        The service's base address.
    name : str, optional
        A human-readable name (defaults to the URL).
    timeout : float
        Seconds to wait for a connection and for each read.
    session : requests.Session, optional
        The HTTP session to use; by default a new :class:`TimeoutSession`.
    **options
        Connector-specific options from the profile, kept in ``options``.
    """

    kind: ClassVar[str] = "service"
    capabilities: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, url: str, *, name: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                 session: requests.Session | None = None, **options: Any) -> None:
        self.url = url.rstrip("/")
        self.name = name or self.url
        self.timeout = float(timeout)
        self.session = session if session is not None else make_session(self.timeout)
        self.options = options

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, url={self.url!r})"

    @property
    def health_url(self) -> str:
        """The address :meth:`health` asks."""
        return self.url

    def _probe(self) -> str:
        """Ask the service whether it is available; return what it said.

        Raises a :class:`ConnectorError` when it is not.
        """
        raise NotImplementedError

    def health(self) -> Health:
        """Check the service now.

        Returns
        -------
        Health
            ``up`` is False with the error in ``detail`` when the service is
            unreachable, slow beyond the timeout, or declares itself down;
            this method does not raise for those.
        """
        start = time.perf_counter()
        try:
            detail, up = self._probe(), True
        except ConnectorError as exc:
            detail, up = exc.reason, False
        return Health(self.name, self.kind, self.health_url, up,
                      time.perf_counter() - start, detail)

    def search_sky(self, query: SkyQuery) -> Table:
        """Answer the common sky query with :data:`~connectors.query.COMMON_COLUMNS`.

        Connectors that take part in the one-form search (capability
        ``"sky"``) implement this; the table's ``meta`` carries ``truncated``
        and, when the archive could not apply a constraint, ``note``.
        """
        raise NotImplementedError(f"{type(self).__name__} does not answer sky queries")
