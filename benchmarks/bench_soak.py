"""Soak: 20 logged-in browser-less sessions searching and filling carts at once.

    .venv/bin/python benchmarks/bench_soak.py [--users 20] [--seconds 60] [--workers 1,2]

Run once per number of server workers (``esap-dash serve --workers N``: N
Panel servers behind nginx), in the same script, and compared: rounds per
minute with N workers against one.

Serves the ``local-oidc`` profile (fresh database) and logs each virtual
user in through the stack's OIDC provider with plain HTTP (its own ``sub``).
A session is what a browser tab is: the page is fetched over HTTP, then a
Bokeh client pulls the session's document over the websocket (with the
login cookies and the dashboard's own origin) and acts on it as BokehJS
would: "document ready" (Discovery runs the search of its URL), then rows
ticked and "Add selected rows to cart" clicked.

Reported: p50/p95 of the search (page load to results) and of the cart
addition, one session alone vs all at once; the server's CPU per round of the
session alone (new tab, name resolved, every archive searched, rows added)
against the CPU of the same archive calls made with raw pyvo in this process
(the same positions and radius, the name resolution left out); server memory before, at the
peak and after the sessions closed (Bokeh drops closed sessions after its
unused-session lifetime) after each of two waves of sessions (a leak grows
from wave to wave; memory the allocator keeps does not); errors; and a
check that every user's carts hold exactly the rows that user added, nobody
else's.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import panel.models.esm
import panel.models.layout
import panel.models.location
import panel.models.markup
import panel.models.reactive_html
import panel.models.tabulator
import panel.models.widgets  # the document holds Panel's models
import psutil
import requests
from bench_discovery import raw_calls
from bokeh.client import connection as bokeh_connection
from bokeh.client.session import ClientSession
from bokeh.events import ButtonClick, DocumentReady
from bokeh.models import Button, TextInput
from bokeh.util.token import get_session_id
from tornado.httpclient import HTTPRequest

from connectors.query import SkyQuery
from esap_dash.core.actor import Actor
from esap_dash.core.cart import Cart
from esap_dash.core.config import load_profile
from esap_dash.core.search import sky_archives
from esap_dash.serving import free_ports

PROFILE = "local-oidc"
TARGETS = ["M 1", "M 45", "M 42", "M 31", "M 13", "NGC 7000", "M 57", "M 8"]
_HEADERS = threading.local()
# The Bokeh client opens its websocket without headers; a browser sends its
# cookies and its origin, which the dashboard checks.
bokeh_connection.HTTPRequest = lambda url, **kw: HTTPRequest(
    url, headers=dict(getattr(_HEADERS, "value", {})), **kw)


class TabSession(ClientSession):
    """The session a fetched page created, joined over the websocket with its token."""

    def __init__(self, token: str, websocket_url: str) -> None:
        self._page_token = token
        super().__init__(session_id=get_session_id(token), websocket_url=websocket_url)

    @property
    def token(self) -> str:
        return self._page_token

    def texts(self) -> str:
        return " ".join(v for m in self.document.models for a in ("text", "object")
                        if isinstance(v := getattr(m, a, None), str))

    def wait_for(self, predicate, timeout: float = 60.0) -> bool:
        conn = self._connection
        handle = conn._loop.call_later(timeout, conn._loop.stop)
        if not predicate():
            conn._loop_until(predicate)
        conn._loop.remove_timeout(handle)
        return predicate()


def wait_answering(url: str, seconds: float, server: subprocess.Popen | None = None,
                   log: Path | None = None) -> None:
    """Wait (at most ``seconds``) until ``url`` answers.

    Raises RuntimeError, with the end of ``log``, if ``server`` ends first or
    nothing answered in time.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=5)
            return
        except requests.RequestException:
            if server is not None and server.poll() is not None:
                break
            time.sleep(0.3)
    said = log.read_text()[-2000:] if log is not None and log.exists() else ""
    ended = (f"ended (exit {server.returncode})" if server is not None
             and server.poll() is not None else f"did not answer in {seconds:g} s")
    raise RuntimeError(f"the server at {url} {ended}:\n{said}")


@contextmanager
def served(profile: str, database: str, workdir: Path, *, workers: int = 1,
           env: dict[str, str] | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """``esap-dash serve`` of ``profile`` on ``database`` (log in ``workdir``), answering:
    its URL and process; stopped afterwards."""
    port = free_ports(1 + workers)  # nginx's and its workers' with --workers
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "ESAP_DASH__DEPLOYMENT__DATABASE": database, "PYTHONUNBUFFERED": "1",
           **(env or {})}
    with (workdir / "server.log").open("w") as log:
        server = subprocess.Popen([sys.executable, "-m", "esap_dash.cli", "serve", "--profile",
                                   profile, "--port", str(port), "--workers", str(workers)],
                                  env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_answering(url, 120, server, workdir / "server.log")
            yield url, server
        finally:
            server.terminate()
            server.wait(timeout=30)


def log_in(url: str, sub: str) -> requests.Session:
    http = requests.Session()
    form = http.get(url, timeout=60)
    if "oauth2/authorize" not in form.url:
        raise RuntimeError(f"expected the provider's login page, got {form.url}")
    http.post(form.url, data={"sub": sub}, timeout=60).raise_for_status()
    return http


def new_tab(url: str, http: requests.Session, **params: str) -> TabSession:
    """The Discovery page with ``params`` (target, radius) in a new tab of the user
    logged in on ``http``: page fetched, document pulled, "ready" sent."""
    page = http.get(url, params={"page": "discovery", **params}, timeout=120)
    token = re.search(r'"token": ?"([^"]+)"', page.text).group(1)
    _HEADERS.value = {"Origin": url.rstrip("/"), "Cookie": "; ".join(
        f"{k}={v}" for k, v in http.cookies.items())}
    tab = TabSession(token, url.replace("http://", "ws://") + "ws")
    tab.pull()
    tab.document.callbacks.send_event(DocumentReady())
    return tab


def one_round(url: str, http: requests.Session, target: str) -> tuple[float, float, int]:
    """Search ``target`` in a new tab, add two rows to the cart; times and rows added."""
    start = time.perf_counter()
    tab = new_tab(url, http, target=target, radius="0.5")
    try:

        def results() -> list:
            return [m for m in tab.document.models
                    if isinstance(m, panel.models.tabulator.DataTabulator)
                    and len(m.source.data.get("title", []))]

        # The status line and the table's rows are separate updates: wait for both.
        if not tab.wait_for(lambda: "rows from" in tab.texts() and results(), 120):
            raise RuntimeError(f"no results for {target} in 120 s")
        searched = time.perf_counter() - start
        tables = results()
        tables[0].source.selected.indices = [0, 1]
        button = next(m for m in tab.document.models
                      if isinstance(m, Button) and m.label == "Add selected rows to cart")
        start = time.perf_counter()
        tab.document.callbacks.send_event(ButtonClick(button))
        if not tab.wait_for(lambda: "to cart" in tab.texts(), 60):
            raise RuntimeError("the cart did not answer in 60 s")
        added = int(re.search(r"Added (\d+) row", tab.texts()).group(1))
        return searched, time.perf_counter() - start, added
    finally:
        tab.close()


def searches_in_one_tab(url: str, http: requests.Session, targets: list[str],
                        server: subprocess.Popen) -> float:
    """Search each of ``targets`` (0.5 deg) in turn in one open tab, as a user types
    a name and clicks the search button: the server's CPU seconds per search."""
    tab = new_tab(url, http, radius="0.5")
    try:
        models = list(tab.document.models)
        box = next(m for m in models if isinstance(m, TextInput) and m.title == "Target")
        button = next(m for m in models
                      if isinstance(m, Button) and m.label == "Search all archives")

        def summary() -> str | None:
            found = re.search(r"\d+ rows from \d+ archives in [\d.]+ s", tab.texts())
            return found and found.group(0)

        cpu = server_cpu(server)
        for target in targets:
            before = summary()
            box.value = target
            tab.document.callbacks.send_event(ButtonClick(button))
            if not tab.wait_for(lambda: summary() not in (None, before), 120):  # noqa: B023
                raise RuntimeError(f"no new results for {target} in 120 s")
        return (server_cpu(server) - cpu) / len(targets)
    finally:
        tab.close()


def server_rss(proc: subprocess.Popen) -> float:
    """Resident memory of the server process and its children, MB."""
    main = psutil.Process(proc.pid)
    return sum(p.memory_info().rss for p in [main, *main.children(recursive=True)]) / 1e6


def server_cpu(proc: subprocess.Popen) -> float:
    """CPU seconds (user and system) of the server process and its children so far."""
    main = psutil.Process(proc.pid)
    return sum(sum(p.cpu_times()[:2]) for p in [main, *main.children(recursive=True)])


def raw_round_cpu(profile_name: str, targets: list[str]) -> float:
    """CPU seconds per round of the raw pyvo calls of the rounds on ``targets``:
    every archive the Discovery page searches, around the same position, 0.5 deg."""
    profile = load_profile(profile_name)
    archives = list(sky_archives(profile).values())
    resolver = Actor(profile, "bench").resolver()
    calls = [raw_calls(archives, SkyQuery(p.ra, p.dec, 0.5))
             for p in (resolver.resolve(t) for t in targets)]
    for call in calls[0].values():  # imports and first connections
        call()
    start = time.process_time()
    for round_calls in calls:
        for call in round_calls.values():
            call()
    return (time.process_time() - start) / len(targets)


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--single-rounds", type=int, default=6)
    parser.add_argument("--waves", type=int, default=2,
                        help="rounds of sessions; memory is read after each")
    parser.add_argument("--workers", default="1,2",
                        help="numbers of server workers to compare, e.g. 1,2")
    parser.add_argument("--settle", type=float, default=45,
                        help="seconds after a wave before the memory read (Bokeh discards "
                             "closed sessions after its unused-session lifetime)")
    args = parser.parse_args()
    rates = {}
    for workers in (int(n) for n in args.workers.split(",")):
        rates[workers] = soak(args, workers)
    base = rates[min(rates)]
    for workers, rate in rates.items():
        print(f"{workers} worker(s): {rate:.1f} rounds per minute "
              f"({rate / base:.2f} x {min(rates)} worker(s))")


def soak(args: argparse.Namespace, workers: int) -> float:
    """One soak against ``workers`` server workers; the rounds per minute."""
    workdir = Path(tempfile.mkdtemp(prefix="esap-soak-"))
    database = f"sqlite:///{workdir}/soak.db"
    run = secrets.token_hex(2)  # users of this run only
    with served(PROFILE, database, workdir, workers=workers,
                env={"ESAP_DASH_COOKIE_SECRET": secrets.token_urlsafe(32)}) as (url, server):
        alone = log_in(url, f"soak-{run}-alone")
        one_round(url, alone, "M 1")  # warm-up: imports, first connections
        time.sleep(2)
        before = server_rss(server)
        targets = [TARGETS[i % len(TARGETS)] for i in range(args.single_rounds)]
        cpu = server_cpu(server)
        single = [one_round(url, alone, target) for target in targets]
        cpu = (server_cpu(server) - cpu) / args.single_rounds
        searches_cpu = searches_in_one_tab(url, alone, targets, server)
        raw_cpu = raw_round_cpu(PROFILE, targets)
        added: dict[str, int] = {f"soak-{run}-alone": 2 + sum(r[2] for r in single)}
        results: list[tuple[float, float, int]] = []
        errors: list[str] = []
        peak = [before]
        after: list[float] = []
        lock = threading.Lock()

        def user(n: int, stop: float) -> None:
            sub = f"soak-{run}-{n:02d}"
            try:
                http = log_in(url, sub)
            except Exception as exc:
                with lock:
                    errors.append(f"{sub} login: {exc}")
                return
            i = n
            while time.monotonic() < stop:
                try:
                    outcome = one_round(url, http, TARGETS[i % len(TARGETS)])
                except Exception as exc:
                    with lock:
                        errors.append(f"{sub}: {type(exc).__name__}: {exc}")
                    continue
                with lock:
                    results.append(outcome)
                    added[sub] = added.get(sub, 0) + outcome[2]
                i += 1

        def watch(stop: float) -> None:
            while time.monotonic() < stop + 5:
                peak.append(server_rss(server))
                time.sleep(1)

        for _wave in range(args.waves):
            stop = time.monotonic() + args.seconds
            threads = [threading.Thread(target=user, args=(n, stop))
                       for n in range(args.users)]
            threads.append(threading.Thread(target=watch, args=(stop,)))
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            time.sleep(args.settle)
            after.append(server_rss(server))

    profile = load_profile(PROFILE, overrides={"deployment.database": database})
    leaks = []
    for sub, count in added.items():
        have = sum(len(Cart.open_as(sub, name, profile=profile, create=False))
                   for name in Cart.names_of(sub, profile=profile))
        if have != count:
            leaks.append(f"{sub}: {have} items in carts, added {count}")
    searches = [r[0] for r in results]
    carts = [r[1] for r in results]
    print(f"{workers} server worker(s): {args.waves} waves of {args.users} logged-in sessions "
          f"for {args.seconds:.0f} s; each round: a new tab, a search over every archive, two "
          "rows to the cart")
    print(f"  rounds: {len(results)} concurrent, {len(single)} alone; errors: {len(errors)}")
    for name, alone_t, many in (("search (page to results)", [r[0] for r in single], searches),
                                ("cart addition", [r[1] for r in single], carts)):
        if many:
            print(f"  {name}: alone p50 {pct(alone_t, 50):.2f} s p95 {pct(alone_t, 95):.2f} s; "
                  f"{args.users} at once p50 {pct(many, 50):.2f} s p95 {pct(many, 95):.2f} s "
                  f"(p50 ratio {pct(many, 50) / pct(alone_t, 50):.1f})")
    print(f"  server CPU per round, alone: {cpu * 1000:.0f} ms; the same archive calls with "
          f"raw pyvo {raw_cpu * 1000:.0f} ms CPU (ratio {cpu / raw_cpu:.1f}); per search in "
          f"one open tab {searches_cpu * 1000:.0f} ms (ratio {searches_cpu / raw_cpu:.1f})")
    print(f"  server memory: {before:.0f} MB before, {max(peak):.0f} MB at the peak "
          f"({(max(peak) - before) / args.users:.0f} MB per session); 45 s after each "
          f"wave's sessions closed: {', '.join(f'{a:.0f} MB' for a in after)}")
    print(f"  carts: {len(added)} users, every cart holds exactly its user's rows: "
          f"{not leaks}")
    for line in (errors[:5] + leaks[:5]):
        print("   ", line)
    return len(results) / (args.waves * args.seconds / 60)


if __name__ == "__main__":
    main()
