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

__all__ = [
    "DEFAULT_TIMEOUT",
    "NO_ANSWER",
    "TimeoutSession",
    "make_session",
    "request",
    "unreachable_reason",
]

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
    except requests.RequestException as exc:
        why = unreachable_reason(exc) or f"request failed: {exc}"
        if why == NO_ANSWER:
            why = f"no answer within {_timeout_of(session, kwargs)} s"
        raise ServiceUnavailableError(why, url) from exc
    if resp.status_code >= 400:
        text = resp.text.strip().splitlines()
        detail = text[0][:300] if text else resp.reason
        raise ServiceError(f"HTTP {resp.status_code}: {detail}", url, status=resp.status_code)
    return resp


def _timeout_of(session: requests.Session, kwargs: dict[str, Any]) -> object:
    return kwargs.get("timeout") or getattr(session, "timeout", "?")


NO_ANSWER = "no answer in time"


def unreachable_reason(exc: BaseException) -> str | None:
    """Why a service could not be reached, if that is what ``exc`` says.

    Looks along the whole chain of causes: urllib3 retries turn a read
    timeout into a ``ConnectionError``, and pyvo wraps network failures in
    its own errors (even in ``DALFormatError`` when reading the answer).

    Returns
    -------
    str or None
        ``"no answer in time"``, ``"cannot connect: ..."``, or None when
        the error is not about reaching the service.
    """
    seen: BaseException | None = exc
    while seen is not None:
        text = str(seen)
        if isinstance(seen, requests.Timeout) or "timed out" in text.lower():
            return NO_ANSWER
        if "Connection refused" in text:
            return "cannot connect: connection refused"
        if isinstance(seen, requests.ConnectionError):
            return f"cannot connect: {text[:200]}"
        seen = getattr(seen, "cause", None) or seen.__cause__ or seen.__context__
    return None
