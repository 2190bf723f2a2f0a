"""One door for HTTP: sessions with a user agent, a timeout and retries.

Every connector sends its requests through a session made here, also the
ones it hands to pyvo or the Rucio client, so that no call to a service can
wait forever: a service that accepts the connection and never answers costs
at most ``timeout`` seconds.
"""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from . import __version__
from .exceptions import ServiceError, ServiceUnavailableError

__all__ = ["DEFAULT_TIMEOUT", "TimeoutSession", "make_session", "request"]

DEFAULT_TIMEOUT = 30.0
USER_AGENT = f"esap-dash/{__version__} (IVOA-science)"


class TimeoutSession(requests.Session):
    """A ``requests.Session`` that applies a default timeout to every request.

    Parameters
    ----------
    timeout : float
        Seconds to wait for the connection and for each read.
    retries : int
        How often to retry a request whose connection failed (never a
        request that reached the server).
    """

    def __init__(self, timeout: float = DEFAULT_TIMEOUT, retries: int = 1) -> None:
        super().__init__()
        self.timeout = timeout
        self.headers["User-Agent"] = USER_AGENT
        retry = Retry(total=retries, connect=retries, read=0, status=0,
                      backoff_factor=0.2, allowed_methods=None)
        adapter = HTTPAdapter(max_retries=retry)
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        """Send a request, with ``self.timeout`` unless one is given."""
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().request(method, url, *args, **kwargs)


def make_session(timeout: float = DEFAULT_TIMEOUT, retries: int = 1) -> TimeoutSession:
    """Return a new session for one connector.

    Parameters
    ----------
    timeout : float
        Seconds to wait for the connection and for each read.
    retries : int
        Retries of failed connections.

    Returns
    -------
    TimeoutSession
    """
    return TimeoutSession(timeout=timeout, retries=retries)


def request(session: requests.Session, method: str, url: str, **kwargs: Any) -> requests.Response:
    """Send a request and map failures to connector exceptions.

    Parameters
    ----------
    session : requests.Session
        The session to send through (it carries the timeout).
    method : str
        HTTP method.
    url : str
        Address of the request.
    **kwargs
        Passed to ``session.request``.

    Returns
    -------
    requests.Response
        A response with a 2xx or 3xx status.

    Raises
    ------
    ServiceUnavailableError
        Connection refused, name not resolved, or no answer in time.
    ServiceError
        The service answered with an HTTP error status.
    """
    try:
        resp = session.request(method, url, **kwargs)
    except requests.Timeout as exc:
        waited = _timeout_of(session, kwargs)
        raise ServiceUnavailableError(f"no answer within {waited} s", url) from exc
    except requests.ConnectionError as exc:
        raise ServiceUnavailableError(f"cannot connect: {_root_cause(exc)}", url) from exc
    if resp.status_code >= 400:
        text = resp.text.strip().splitlines()
        detail = text[0][:300] if text else resp.reason
        raise ServiceError(f"HTTP {resp.status_code}: {detail}", url, status=resp.status_code)
    return resp


def _timeout_of(session: requests.Session, kwargs: dict[str, Any]) -> object:
    return kwargs.get("timeout") or getattr(session, "timeout", "?")


def _root_cause(exc: BaseException) -> str:
    """The innermost message of a chained connection error."""
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    text = str(exc)
    if "Connection refused" in text:
        return "connection refused"
    return text.split(": ", 1)[-1][:200] or type(exc).__name__
