"""Fixtures: the real local science stack, started once per test session."""

from __future__ import annotations

import asyncio
import contextvars
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import panel as pn
import pytest
import requests
from tornado.ioloop import IOLoop

from esap_dash.core.config import PROJECT_ROOT, Profile, ServiceConfig, load_profile
from esap_dash.core.runtime import Runtime, current_runtime
from esap_dash.serving import free_ports

STACK = PROJECT_ROOT / "stack" / "esap-stack"
ARTIFACTS = PROJECT_ROOT / "var" / "test-artifacts"
T = TypeVar("T")
_STARTED = pytest.StashKey[float]()


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_STARTED] = time.time()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """With ``ESAP_DASH_SCREENSHOTS=<folder>``, the screenshots this run's browser tests
    took again replace those of the same name in the folder (the README's, in
    ``assets/screenshots``)."""
    folder = os.environ.get("ESAP_DASH_SCREENSHOTS")
    if not folder:
        return
    started = session.config.stash.get(_STARTED, time.time())
    for old in sorted(Path(folder).glob("*.png")):
        new = ARTIFACTS / old.name
        if new.exists() and new.stat().st_mtime >= started:
            shutil.copyfile(new, old)
            print(f"\nscreenshot taken again: {old}")


@contextmanager
def served_in_thread(apps: dict[str, Any], **kwargs: Any) -> Iterator[tuple[int, Any]]:
    """Serve Panel ``apps`` on a free port in a thread of this test session's runtime, as
    ``esap-dash serve`` does; yield the port and the server's tornado loop once the
    server answers.  ``kwargs`` go to :func:`panel.serve`."""
    port, loop = free_ports(), IOLoop(make_current=False)

    def serve() -> None:
        asyncio.set_event_loop(loop.asyncio_loop)
        pn.serve(apps, port=port, loop=loop, address="127.0.0.1", show=False,
                 websocket_origin=[f"127.0.0.1:{port}"], print_url=False, **kwargs)

    server = current_runtime().run_in_thread(serve, name="served sessions")
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:  # any answer (no app there: no session made)
                requests.get(f"http://127.0.0.1:{port}/liveness", timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        yield port, loop
    finally:
        loop.add_callback(loop.stop)
        server.join(30)


def _loop_set_here() -> asyncio.AbstractEventLoop | None:
    """The event loop set for this (the main) thread, without making one."""
    return getattr(asyncio.get_event_loop_policy()._local, "_loop", None)


@pytest.fixture(autouse=True)
def _no_event_loop_left_behind() -> Iterator[None]:
    """A test leaves no event loop of its own set in the main thread.

    Changing a widget whose watcher is async outside a running loop makes Panel
    create and set an event loop that nothing closes; a later ``asyncio.run``
    drops it, and the garbage collector reports "unclosed event loop" in whatever
    test it happens to run.  Caught here, the test that did it is named.
    """
    before = _loop_set_here()
    yield
    after = _loop_set_here()
    if after is not None and after is not before and not after.is_closed():
        asyncio.set_event_loop(before)
        after.close()
        pytest.fail("this test left an event loop set in the main thread (an async "
                    "watcher or handler triggered outside a running loop: trigger it "
                    "inside run_coroutine, as in a served session)")


def run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion, also when this thread's loop is busy.

    The playwright fixtures keep an event loop running in the main thread.
    """
    with ThreadPoolExecutor(1) as pool:  # in this context: the test session's runtime
        return pool.submit(contextvars.copy_context().run, asyncio.run, coro).result()


def stack(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``stack/esap-stack`` with ``args``; fail the test on error."""
    proc = subprocess.run([str(STACK), *args], capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, (
        f"esap-stack {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session", autouse=True)
def _runtime() -> Iterator[Runtime]:
    """The test session's live state (threads, stores, local cluster), closed at its end."""
    with Runtime() as runtime:
        yield runtime


@pytest.fixture(scope="session", autouse=True)
def _test_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Per-user records of the test session go to a database of its own."""
    path = tmp_path_factory.mktemp("store") / "esap-dash.db"
    old = os.environ.get("ESAP_DASH__DEPLOYMENT__DATABASE")
    os.environ["ESAP_DASH__DEPLOYMENT__DATABASE"] = f"sqlite:///{path}"
    yield
    if old is None:
        del os.environ["ESAP_DASH__DEPLOYMENT__DATABASE"]
    else:
        os.environ["ESAP_DASH__DEPLOYMENT__DATABASE"] = old


@pytest.fixture(scope="session")
def local_stack() -> None:
    """Make sure DaCHS, Rucio and Dask Gateway run (idempotent, once per session)."""
    stack("start")


@pytest.fixture(scope="session")
def profile(local_stack: None) -> Profile:
    """The ``local`` profile, pointing at the running stack."""
    return load_profile("local")


@pytest.fixture
def service(profile: Profile):
    """Look up one configured service by id."""
    def get(service_id: str) -> ServiceConfig:
        return profile.service(service_id)
    return get


@pytest.fixture(scope="session")
def secrets() -> dict[str, str]:
    """The passwords the stack generated (var/stack.env)."""
    path = Path(os.environ.get("ESAP_DASH_VAR", PROJECT_ROOT / "var")) / "stack.env"
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


@contextmanager
def hung_tcp_server() -> Iterator[str]:
    """A TCP server on loopback that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        sock.close()


class FaultyProxy:
    """A TCP proxy on loopback in front of a real service (``http://host:port``).

    ``mode`` (changeable at any time) decides what happens to each request:
    ``pass`` forwards both ways; ``cut`` forwards the request whole and cuts
    the answer ``after_headers`` bytes after the end of its headers (None:
    inside its status line); ``hang`` forwards the request and never answers
    (only requests of ``hang_methods``, when given; the others pass).
    """

    def __init__(self, upstream: str, mode: str = "pass", after_headers: int | None = 0,
                 hang_methods: tuple[str, ...] = ()) -> None:
        target = urlsplit(upstream)
        self.target = (target.hostname, target.port)
        self.mode, self.after_headers, self.hang_methods = mode, after_headers, hang_methods
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._stop = threading.Event()
        self._held: list[socket.socket] = []
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def __enter__(self) -> FaultyProxy:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for conn in self._held:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        self._sock.close()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(1 << 16):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def _relay_some(self, client: socket.socket, up: socket.socket) -> None:
        """Forward everything, but no answer to a request of ``hang_methods``."""
        held = threading.Event()

        def requests() -> None:
            try:
                while chunk := client.recv(1 << 16):
                    if chunk.split(b" ", 1)[0].decode(errors="replace") in self.hang_methods:
                        held.set()
                    up.sendall(chunk)
            except OSError:
                pass

        threading.Thread(target=requests, daemon=True).start()
        try:
            while chunk := up.recv(1 << 16):
                if not held.is_set():
                    client.sendall(chunk)
        except OSError:
            pass

    def _relay(self, client: socket.socket) -> None:
        mode = self.mode
        up = socket.create_connection(self.target, 10)
        self._held.extend([client, up])  # all closed when the proxy ends
        if mode == "hang" and self.hang_methods:
            self._relay_some(client, up)
            return
        threading.Thread(target=self._pipe, args=(client, up), daemon=True).start()
        if mode == "pass":
            self._pipe(up, client)
            return
        if mode == "hang":
            return
        answer = b""
        up.settimeout(10)
        cut = self.after_headers or 0
        while b"\r\n\r\n" not in answer or len(answer) < answer.find(b"\r\n\r\n") + 4 + cut:
            try:
                chunk = up.recv(1 << 16)
            except OSError:
                break
            if not chunk:
                break
            answer += chunk
        end = answer.find(b"\r\n\r\n") + 4
        with suppress(OSError):  # a client that gave up first: that is the cut too
            client.sendall(answer[:10] if self.after_headers is None else answer[:end + cut])
            client.shutdown(socket.SHUT_RDWR)
        client.close()
        up.close()

    def _accept(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn = self._sock.accept()[0]
            except OSError:
                continue
            threading.Thread(target=self._relay, args=(conn,), daemon=True).start()


@pytest.fixture
def hung_server() -> Iterator[str]:
    """See :func:`hung_tcp_server`."""
    with hung_tcp_server() as url:
        yield url


@pytest.fixture
def dead_url() -> str:
    """An address on loopback where nothing listens."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


@pytest.fixture(autouse=True)
def _reset_panel_state() -> Iterator[None]:
    yield
    pn.state.kill_all_servers()
    pn.state.reset()


@pytest.fixture
def samp_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A real SAMP hub on loopback, found through SAMP_HUB like a desktop hub."""
    from pyvo.samp import SAMPHubServer

    lockfile = tmp_path / "samp.lock"
    hub = SAMPHubServer(web_profile=False, lockfile=str(lockfile), addr="127.0.0.1")
    hub.start()
    monkeypatch.setenv("SAMP_HUB", f"std-lockurl:{lockfile.as_uri()}")
    yield hub
    hub.stop()


@pytest.fixture
def topcat(samp_hub: Any) -> Iterator[tuple[Any, list[Any]]]:
    """A real SAMP client that takes tables, as TOPCAT does; yields it and what it got."""
    from astropy.table import Table
    from pyvo.samp import SAMPIntegratedClient

    client = SAMPIntegratedClient(name="topcat-like")
    client.connect(hub=samp_hub)
    received: list[Table] = []

    def receive(key, sender, msg_id, mtype, params, extra) -> None:
        received.append(Table.read(params["url"].removeprefix("file://"), format="votable"))
        client.reply(msg_id, {"samp.status": "samp.ok", "samp.result": {}})

    client.bind_receive_call("table.load.votable", receive)
    yield client, received
    client.disconnect()


def send_table_to_esap_dash(client: Any, url: str, name: str | None = None) -> dict[str, Any]:
    """Have a SAMP client send the VOTable at ``url`` to esap-dash; return the reply."""
    ours = next(cid for cid in client.get_subscribed_clients("table.load.votable")
                if client.get_metadata(cid).get("samp.name") == "esap-dash")
    params = {"url": url, **({"name": name} if name else {})}
    # The hub waits this long for the reply: generous, a loaded machine answers late.
    return client.call_and_wait(ours, {"samp.mtype": "table.load.votable",
                                       "samp.params": params}, "60")


def add_dataset_to_cart(discovery: Any, pattern: str) -> str:
    """Through Discovery > Data lake, put the first dataset matching ``pattern`` in the
    page's cart; return the tab's message."""
    import param

    lake = discovery.datalake
    run_coroutine(lake.load_scopes())
    lake.param.update(did_type="dataset", pattern=pattern)
    run_coroutine(lake.search())
    with param.discard_events(lake):  # no replica lookup
        lake.selection = [0]
    run_coroutine(lake.add_selected())
    return str(lake.notice.text)


def sky_catalogue_to_cart(page: Any, cart: str, *, row_limit: int = 500) -> None:
    """On a Sky page, load Hipparcos-2 as a whole catalogue and put its first three rows
    in ``cart``."""
    run_coroutine(page.list_catalogues())
    page.catalogue = next(c for c in page.param.catalogue.objects if c.startswith("hipparcos"))
    page.row_limit = row_limit
    run_coroutine(page.load_catalogue())
    page.map.selection = [0, 1, 2]
    page.cart_name = cart
    run_coroutine(page.add_to_cart())


ALICE, BOB, CAROL = "alice-4f2c9e", "bob-91ad07", "carol-5b3e11"


def oidc_token(profile: Profile, sub: str) -> str:
    """An access token of ``sub`` from the stack's OIDC provider (authorization code flow)."""
    oidc = profile.oidc
    callback = "http://127.0.0.1:9/callback"
    session = requests.Session()
    params = {"response_type": "code", "client_id": oidc["client_id"],
              "redirect_uri": callback, "scope": oidc["scope"], "state": "test"}
    assert session.get(oidc["authorize_url"], params=params, timeout=10).status_code == 200
    answer = session.post(oidc["authorize_url"], params=params, data={"sub": sub},
                          allow_redirects=False, timeout=10)
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    tokens = session.post(oidc["token_url"], timeout=10, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": callback,
        "client_id": oidc["client_id"], "client_secret": oidc["client_secret"]}).json()
    return tokens["access_token"]


def readme_python(after: str) -> str:
    """The first Python block of the README after the line holding ``after``, as
    written there (tests run the README's examples)."""
    text = (Path(__file__).parents[1] / "README.md").read_text()
    rest = text[text.index(after):]
    start = rest.index("```python\n") + len("```python\n")
    return rest[start:rest.index("```", start)]
