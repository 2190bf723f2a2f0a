"""One door for HTTP: sessions with a user agent, a timeout and retries.

Every connector sends its requests through a session made here, also the
ones it hands to pyvo or the Rucio client, so that no call to a service can
wait forever: a service that accepts the connection and never answers costs
at most ``timeout`` seconds.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import socket
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.retry import Retry

from . import __version__
from .exceptions import ConnectorError, ServiceError, ServiceUnavailableError

__all__ = [
    "DEFAULT_TIMEOUT",
    "NO_ANSWER",
    "TRANSPORT_ERRORS",
    "NotPublicError",
    "TimeoutSession",
    "check_public_url",
    "download",
    "is_cut_off",
    "is_public",
    "make_session",
    "read_url",
    "request",
    "transport_error",
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
    public_only : bool
        Connect only to public addresses: each connection (each redirect's
        too) resolves its host once, refuses it when any address is not
        public, and connects to the address it checked; no proxy from the
        environment.
    """

    def __init__(self, timeout: float = DEFAULT_TIMEOUT, retries: int = 1, *,
                 public_only: bool = False) -> None:
        super().__init__()
        self.timeout = timeout
        self.headers["User-Agent"] = USER_AGENT
        retry = Retry(total=retries, connect=retries, read=0, status=0,
                      backoff_factor=0.2, allowed_methods=None)
        adapter = (_PublicOnlyAdapter if public_only else HTTPAdapter)(max_retries=retry)
        self.trust_env = not public_only
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        """Send a request, with ``self.timeout`` unless one is given."""
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().request(method, url, *args, **kwargs)


class NotPublicError(ValueError):
    """A connection to an address that is not public was refused."""


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether the server may fetch from ``address`` on someone else's word."""
    return address.is_global


def _public_addresses(host: str, port: int) -> list[tuple[Any, ...]]:
    """``host``'s addresses (``getaddrinfo``), refused unless all are public."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not is_public(address):
            raise NotPublicError(f"{host!r} is a local or private address ({address}); this "
                                 "deployment fetches only public addresses")
    return infos


def _public_socket(conn: HTTPConnection) -> socket.socket:
    """A connection's socket, to the very address that was checked."""
    try:
        family, kind, proto, _, where = _public_addresses(conn._dns_host, conn.port)[0]
    except socket.gaierror as exc:
        raise NameResolutionError(conn.host, conn, exc) from exc
    sock = socket.socket(family, kind, proto)
    try:
        for option in conn.socket_options or ():
            sock.setsockopt(*option)
        if isinstance(conn.timeout, int | float):
            sock.settimeout(conn.timeout)
        sock.connect(where)
    except TimeoutError as exc:
        sock.close()
        raise ConnectTimeoutError(conn, f"Connection to {conn.host} timed out") from exc
    except OSError as exc:
        sock.close()
        raise NewConnectionError(conn, f"Failed to establish a new connection: {exc}") from exc
    return sock


class _PublicHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _public_socket(self)


class _PublicHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _public_socket(self)


class _PublicHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PublicHTTPConnection


class _PublicHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PublicHTTPSConnection


class _PublicOnlyAdapter(HTTPAdapter):
    """Connections only to public addresses, checked when each is made."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _PublicHTTPPool,
                                                   "https": _PublicHTTPSPool}


def make_session(timeout: float = DEFAULT_TIMEOUT, retries: int = 1, *,
                 public_only: bool = False) -> TimeoutSession:
    """Return a new session for one connector.

    Parameters
    ----------
    timeout : float
        Seconds to wait for the connection and for each read.
    retries : int
        Retries of failed connections.
    public_only : bool
        Connect only to public addresses (see :class:`TimeoutSession`).

    Returns
    -------
    TimeoutSession
    """
    return TimeoutSession(timeout=timeout, retries=retries, public_only=public_only)


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
    except TRANSPORT_ERRORS as exc:
        raise transport_error(exc, url, _timeout_of(session, kwargs)) from exc
    if resp.status_code >= 400:
        text = resp.text.strip().splitlines()
        detail = text[0][:300] if text else resp.reason
        raise ServiceError(f"HTTP {resp.status_code}: {detail}", url, status=resp.status_code)
    return resp


#: What a transport failure can surface as, from requests, urllib3, http.client
#: or the socket layer (clients such as pyvo's and Rucio's let some through).
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    requests.RequestException, urllib3.exceptions.HTTPError, http.client.HTTPException,
    ConnectionError, TimeoutError, socket.timeout)


def transport_error(exc: BaseException, url: str | None,
                    timeout: object = "?") -> ServiceUnavailableError:
    """The connectors' error for a transport failure ``exc``: refused,
    unresolvable, no answer in ``timeout`` seconds, or an answer cut off."""
    why = unreachable_reason(exc)
    if why == NO_ANSWER:
        why = f"no answer within {timeout} s" if timeout != "?" else why
    elif is_cut_off(exc):
        why = ("the service closed the connection before its answer ended "
               f"({type(exc).__name__})")
    elif why is None:
        why = f"request failed: {str(exc)[:300]}"
    return ServiceUnavailableError(why, url)


def is_cut_off(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the answer stopped before its end."""
    seen: BaseException | None = exc
    while seen is not None:
        name = type(seen).__name__
        if name in {"ChunkedEncodingError", "ProtocolError", "IncompleteRead",
                    "ContentDecodingError", "RemoteDisconnected"} \
                or "Connection broken" in str(seen) or "Connection aborted" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def check_public_url(url: str, *, allow_local: bool = False) -> None:
    """Refuse ``url`` unless it is http(s) to a public address.

    Parameters
    ----------
    url : str
        An address someone else (a SAMP client, a record) named.
    allow_local : bool
        Also accept loopback, private and link-local addresses and
        ``file://`` (a single-user deployment on the user's own desktop).

    Raises
    ------
    ServiceError
        The address is not one the server may fetch.
    """
    parts = urlsplit(url)
    if parts.scheme == "file" and allow_local:
        return
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ServiceError(f"only http(s) addresses are fetched, not {url[:80]!r}", None)
    if allow_local:
        return
    try:
        _public_addresses(parts.hostname, parts.port or 443)
    except NotPublicError as exc:
        raise ServiceError(str(exc), None) from None
    except OSError as exc:
        raise ServiceUnavailableError(f"cannot resolve {parts.hostname!r}: {exc}", url) from exc


def download(url: str, dest: Path, *, max_bytes: int, timeout: float = DEFAULT_TIMEOUT,
             allow_local: bool = True) -> Path:
    """Fetch ``url`` into ``dest``, at most ``max_bytes``.

    Parameters
    ----------
    url : str
        http(s), or ``file://`` with ``allow_local``.
    dest : Path
        Where to write it.
    max_bytes : int
        Refuse a larger answer (it is never read whole into memory).
    timeout : float
        Seconds for the connection and for each read.
    allow_local : bool
        See :func:`check_public_url`.

    Raises
    ------
    ServiceError
        Too large, or an address the server may not fetch.
    ServiceUnavailableError
        Unreachable, no answer in time, or cut off.
    """
    try:
        with dest.open("wb") as out:
            _fetch(url, out, max_bytes, timeout, allow_local)
    except ConnectorError:
        dest.unlink(missing_ok=True)
        raise
    return dest


def read_url(url: str, *, max_bytes: int, timeout: float = DEFAULT_TIMEOUT,
             allow_local: bool = False) -> bytes:
    """The bytes at ``url``, at most ``max_bytes``: as :func:`download`, in memory."""
    out = io.BytesIO()
    _fetch(url, out, max_bytes, timeout, allow_local)
    return out.getvalue()


def _fetch(url: str, out: BinaryIO, max_bytes: int, timeout: float, allow_local: bool) -> None:
    check_public_url(url, allow_local=allow_local)
    too_big = ServiceError(f"the file is larger than {_size(max_bytes)}, the limit here", url)
    if url.startswith("file://"):
        source = Path(urlsplit(url).path)
        try:
            if source.stat().st_size > max_bytes:
                raise too_big
            out.write(source.read_bytes())
        except OSError as exc:
            raise ServiceError(f"cannot read {source}: {exc.strerror}", url) from exc
        return
    # Every hop (redirects too) connects only where it was checked to go.
    session = make_session(timeout, public_only=not allow_local)
    try:
        with request(session, "GET", url, stream=True) as resp:
            if int(resp.headers.get("Content-Length") or 0) > max_bytes:
                raise too_big
            size = 0
            try:
                for chunk in resp.iter_content(1 << 16):
                    size += len(chunk)
                    if size > max_bytes:
                        raise too_big
                    out.write(chunk)
            except TRANSPORT_ERRORS as exc:
                raise transport_error(exc, url, timeout) from exc
    except NotPublicError as exc:
        raise ServiceError(str(exc), url) from None


def _size(n: int) -> str:
    return f"{n / 2**20:g} MB" if n >= 2**20 else f"{n:,} bytes"


def _timeout_of(session: requests.Session, kwargs: dict[str, Any]) -> object:
    timeout = kwargs.get("timeout") or getattr(session, "timeout", "?")
    return f"{timeout:g}" if isinstance(timeout, int | float) else timeout


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
