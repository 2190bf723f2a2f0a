"""The exceptions every connector raises.

One small hierarchy, after pyvo's ``DALAccessError`` family: each error names
the URL that failed, so a page can show the user which service said what.

``ConnectorError``
    base of everything below.
``ServiceUnavailableError``
    the service could not be reached: connection refused, DNS, timeout.
``ServiceError``
    the service answered, but with an error (HTTP 4xx/5xx, an error
    document); ``status`` holds the HTTP status where there is one.
``QueryError``
    the service refused the query itself (ADQL syntax, bad parameter).
``FormatError``
    the answer could not be parsed (malformed VOTable, JSON, XML).
``ConfigurationError``
    the connector is missing a setting it needs.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "ConnectorError",
    "FormatError",
    "QueryError",
    "ServiceError",
    "ServiceUnavailableError",
]


class ConnectorError(Exception):
    """Base class of the errors raised by connectors.

    Parameters
    ----------
    reason : str
        What went wrong, in words a user can act on.
    url : str, optional
        The URL of the request that failed.
    """

    def __init__(self, reason: str, url: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.url = url

    def __str__(self) -> str:
        return f"{self.reason} ({self.url})" if self.url else self.reason


class ServiceUnavailableError(ConnectorError):
    """The service could not be reached or did not answer in time."""


class ServiceError(ConnectorError):
    """The service answered with an error.

    Parameters
    ----------
    reason : str
        The service's own message where it sent one.
    url : str, optional
        The URL of the request that failed.
    status : int, optional
        The HTTP status code.
    """

    def __init__(self, reason: str, url: str | None = None,
                 status: int | None = None) -> None:
        super().__init__(reason, url)
        self.status = status


class QueryError(ServiceError):
    """The service refused the query (syntax error, invalid parameter)."""


class FormatError(ConnectorError):
    """The service's answer could not be parsed."""


class ConfigurationError(ConnectorError):
    """A connector setting is missing or invalid."""
