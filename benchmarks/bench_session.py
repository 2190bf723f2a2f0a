"""What one session costs the server: CPU to build it, memory while it sits idle.

    .venv/bin/python benchmarks/bench_session.py [--sessions 40] [--page discovery]

CPU, in this process, as the server does for every new browser tab: the
dashboard of the ``local`` profile is built and its Bokeh document made (the
models the browser is sent), with that document current as in a served session
(Panel then shares stylesheets within it, and registers its change callbacks).
The baseline, in the same run, is a bare Panel template of the same kind with
one widget: the floor Panel itself costs.

Memory, of a real server (``esap-dash serve``, fresh database): ``--sessions``
tabs opened at once (page fetched, document pulled over the websocket,
"document ready" sent, as a browser does) and left idle; then closed, and
the server's memory read once Bokeh has dropped them (its unused-session
lifetime).  The same server's CPU while those tabs sit idle for ``--idle``
seconds (their periodic health checks and the like), against the same span
with no tab open.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import panel as pn
import requests
from bench_soak import TabSession, served, server_cpu, server_rss
from bokeh.document import Document
from bokeh.events import DocumentReady
from panel.io.state import set_curdoc

from esap_dash.app import PAGES, EsapDash
from esap_dash.core.config import load_profile


def bare() -> Document:
    doc = Document()
    with set_curdoc(doc):
        pn.template.BootstrapTemplate(title="bare", main=[pn.widgets.TextInput(name="x")]
                                      ).server_doc(doc)
    return doc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--page", default="discovery", choices=sorted(PAGES))
    parser.add_argument("--settle", type=float, default=60,
                        help="seconds between the sessions' close and the memory read")
    parser.add_argument("--idle", type=float, default=60,
                        help="seconds of idle CPU measured, with no tab and with the tabs")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    profile = load_profile("local")

    def session() -> Document:
        doc = Document()
        with set_curdoc(doc):  # as in a served session: Panel then shares stylesheets
            EsapDash(profile=profile, page=args.page).template.server_doc(doc)
        return doc

    for build in (session, bare):  # imports, first connections, caches
        build()
    cpu = {}
    for name, build in (("esap-dash", session), ("bare Panel template", bare)):
        times = []
        for _ in range(args.sessions):
            start = time.process_time()
            build()
            times.append(time.process_time() - start)
        cpu[name] = statistics.median(times)
    memory, idle = served_memory(args.sessions, args.page, args.settle, args.idle)
    base = cpu["bare Panel template"]
    print(f"{args.page} page, {args.sessions} sessions, one process")
    print(f"  build CPU per session: {cpu['esap-dash']:.3f} s (budget 0.4 s); bare Panel "
          f"template {base:.3f} s; ratio {cpu['esap-dash'] / base:.1f}")
    before, peak, after = memory
    print(f"  server memory: {before:.0f} MB after one session, {peak:.0f} MB with "
          f"{args.sessions} idle sessions ({(peak - before) / args.sessions:.1f} MB per "
          f"session, budget 5 MB); {after:.0f} MB {args.settle:.0f} s after they "
          f"closed ({100 * (after - before) / before:+.1f} % of before, budget +5 %)")
    alone, with_tabs = (60 * cpu / args.idle for cpu in idle)
    print(f"  server CPU while idle: {with_tabs:.2f} s a minute with {args.sessions} idle "
          f"tabs, {alone:.2f} s with none ({(with_tabs - alone) / args.sessions:.4f} s a "
          "minute per tab)")


def open_tab(url: str, page: str, **params: str) -> TabSession:
    """A browser tab of ``page`` (with more query ``params``, e.g. ``cart``): the page
    fetched, its document pulled, "ready" sent."""
    text = requests.get(url, params={"page": page, **params}, timeout=120).text
    token = re.search(r'"token": ?"([^"]+)"', text).group(1)
    tab = TabSession(token, url.replace("http://", "ws://") + "ws")
    tab.pull()
    tab.document.callbacks.send_event(DocumentReady())
    tab.wait_for(lambda: False, 1.0)  # its first callbacks run
    return tab


def served_memory(sessions: int, page: str, settle: float,
                  idle: float) -> tuple[tuple[float, float, float], tuple[float, float]]:
    """Server memory (MB) after one session, with ``sessions`` idle ones, and
    ``settle`` seconds after they closed; its CPU seconds in ``idle`` seconds without
    a tab, and with those tabs idle."""
    workdir = Path(tempfile.mkdtemp(prefix="esap-session-"))
    with served("local", f"sqlite:///{workdir}/s.db", workdir) as (url, server):
        open_tab(url, page).close()  # imports, first connections
        time.sleep(min(40, settle))  # that session is dropped too
        before = server_rss(server)
        alone = idle_cpu(server, idle)
        tabs = [open_tab(url, page) for _ in range(sessions)]
        time.sleep(2)
        peak = server_rss(server)
        with_tabs = idle_cpu(server, idle)
        for tab in tabs:
            tab.close()
        # Bokeh drops a closed session after 15 s, checking every 17 s; the server gives
        # the memory back once their documents are gone
        time.sleep(settle)
        return (before, peak, server_rss(server)), (alone, with_tabs)


def idle_cpu(server, seconds: float) -> float:
    """CPU seconds the server spends in the next ``seconds`` (nothing asked of it)."""
    start = server_cpu(server)
    time.sleep(seconds)
    return server_cpu(server) - start


if __name__ == "__main__":
    main()
