"""Closed sessions leave nothing behind in the server."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import panel as pn
import requests
from bokeh.client import pull_session
from bokeh.events import DocumentReady
from bokeh.models import TextInput
from tornado.ioloop import IOLoop

from esap_dash.app import create_app, watch_sessions
from esap_dash.core.config import Profile
from esap_dash.core.runtime import current_runtime
from esap_dash.serving import free_ports

PAGES = ["discovery", "sky", "cart", "jobs", "services"]


def test_closed_sessions_leave_no_dashboard_and_no_document_behind(
        profile: Profile, tmp_path: Path) -> None:
    profile = replace(profile, database=f"sqlite:///{tmp_path}/sessions.db")
    dashboards: weakref.WeakSet = weakref.WeakSet()
    documents: weakref.WeakSet = weakref.WeakSet()
    made = []

    def app() -> pn.template.BootstrapTemplate:
        template = create_app(profile)
        dashboards.add(template)
        made.append(pn.state.session_args.get("page", [b""])[0].decode())
        documents.add(pn.state.curdoc)
        return template

    port, loop = free_ports(), IOLoop(make_current=False)

    def serve() -> None:  # as esap-dash serve does, with the runtime of this test session
        asyncio.set_event_loop(loop.asyncio_loop)
        pn.serve({"/": app}, port=port, loop=loop, address="127.0.0.1", show=False,
                 websocket_origin=[f"127.0.0.1:{port}"], print_url=False,
                 unused_session_lifetime_milliseconds=300,
                 check_unused_sessions_milliseconds=300)

    server = current_runtime().run_in_thread(serve, name="served sessions")
    try:
        memory = watch_sessions(loop, trim_delay=1.0)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                requests.get(f"http://127.0.0.1:{port}/liveness", timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.2)

        def visit(page: str) -> None:  # as a browser tab does, in a thread of its own
            tab = pull_session(url=f"http://127.0.0.1:{port}/", arguments={"page": page})
            tab.document.callbacks.send_event(DocumentReady())
            for field in tab.document.select({"type": TextInput}):
                field.value = "M 1"  # typed: the server handles a change from the browser
            tab.request_server_info()  # a round trip: what was sent before it has arrived
            time.sleep(1.0)  # its first callbacks (health round, job list, …) start
            tab.close()

        with ThreadPoolExecutor(1) as tabs:
            list(tabs.map(visit, PAGES))
        assert sorted(made) == sorted(PAGES)
        deadline = time.monotonic() + 60
        while (dashboards or documents) and time.monotonic() < deadline:
            time.sleep(0.5)
            gc.collect()
        assert not dashboards, f"{len(dashboards)} closed dashboards still alive"
        assert not documents, f"{len(documents)} closed sessions' documents still alive"
        deadline = time.monotonic() + 30
        while memory.last_seconds is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert memory.last_seconds is not None, "closed sessions' memory was not given back"
    finally:
        loop.add_callback(loop.stop)
        server.join(30)


def test_a_server_s_start_is_kept_out_of_later_collections() -> None:
    # in a process of its own: frozen objects are never freed
    code = ("import gc, esap_dash.app\n"
            "from esap_dash.core.memory import freeze_startup_objects\n"
            "frozen = freeze_startup_objects()\n"
            "print(frozen, gc.get_freeze_count(), len(gc.get_objects()))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    frozen, counted, walked = map(int, out.split())
    assert frozen == counted > 100_000  # the libraries' objects
    assert walked < frozen / 20  # what a full collection still walks
