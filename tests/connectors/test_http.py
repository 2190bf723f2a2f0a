"""The HTTP door's guard for addresses someone else names (a SAMP client, a record):
each hop of a fetch is checked, and the connection goes to the address that was."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from connectors import http
from connectors.exceptions import ServiceError

SECRET = b"secret of the server's own machine"


@contextmanager
def served(host: str, answer, port: int = 0) -> Iterator[int]:
    """An HTTP server on ``host`` (``port``; any free one by default) answering each
    GET with ``answer(handler)``."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            answer(self)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def body(data: bytes):
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
    return answer


@pytest.fixture
def private_and_public(monkeypatch) -> Iterator[tuple[int, int]]:
    """A "private" server on 127.0.0.1 holding a secret and a "public" one on
    127.0.0.2 (loopback stands in for both: 127.0.0.2 counts as public here)."""
    monkeypatch.setattr(http, "is_public", lambda a: a == ipaddress.ip_address("127.0.0.2"))
    with served("127.0.0.1", body(SECRET)) as private, \
            served("127.0.0.2", body(b"public table")) as public:
        yield private, public


def test_a_redirect_to_a_private_address_is_not_followed(private_and_public, tmp_path) -> None:
    private, _ = private_and_public

    def redirect(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", f"http://127.0.0.1:{private}/secret")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    with served("127.0.0.2", redirect) as hop, \
            pytest.raises(ServiceError, match="local or private address"):
        http.download(f"http://127.0.0.2:{hop}/t.xml", tmp_path / "t.xml",
                      max_bytes=10_000, allow_local=False)
    assert not (tmp_path / "t.xml").exists()


def test_a_name_that_resolves_elsewhere_the_next_time_connects_where_checked(
        private_and_public, tmp_path, monkeypatch) -> None:
    """DNS rebinding: the name is public for the first two look-ups, then points to
    the server's own machine, where a server holds a secret on the same port."""
    real = socket.getaddrinfo
    looked_up = []

    def rebinding(host, port, *args, **kwargs):
        if host == "rebind.example":
            looked_up.append(host)
            host = "127.0.0.2" if len(looked_up) <= 2 else "127.0.0.1"
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with served("127.0.0.2", body(b"public table")) as port, \
            served("127.0.0.1", body(SECRET), port):
        path = http.download(f"http://rebind.example:{port}/t.xml", tmp_path / "t.xml",
                             max_bytes=10_000, allow_local=False)
    assert path.read_bytes() == b"public table"


def test_public_addresses_are_fetched(private_and_public, tmp_path) -> None:
    _, public = private_and_public
    path = http.download(f"http://127.0.0.2:{public}/t.xml", tmp_path / "t.xml",
                         max_bytes=10_000, allow_local=False)
    assert path.read_bytes() == b"public table"
