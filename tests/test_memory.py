"""Closed sessions leave nothing behind in the server."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import subprocess
import sys
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import panel as pn
from bokeh.client import pull_session
from bokeh.events import DocumentReady
from bokeh.models import TextInput

from esap_dash.app import create_app, watch_sessions
from esap_dash.core.config import Profile
from esap_dash.core.memory import drop_cancelled_timers
from esap_dash.ui.components.actions import Every

from .conftest import run_coroutine, served_in_thread

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

    with served_in_thread({"/": app}, unused_session_lifetime_milliseconds=300,
                          check_unused_sessions_milliseconds=300) as (port, loop):
        memory = watch_sessions(loop, trim_delay=1.0)

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


class _Session:
    """Stands for what a session's context holds (its document)."""


_CURRENT: contextvars.ContextVar = contextvars.ContextVar("current")


def test_a_deadline_met_long_ago_keeps_nothing_of_its_session_once_swept() -> None:
    loop = asyncio.new_event_loop()
    try:
        context, session = contextvars.Context(), _Session()
        context.run(_CURRENT.set, session)
        alive = weakref.ref(session)
        loop.call_later(60, print, context=context).cancel()  # as a timeout met at once
        del context, session
        gc.collect()
        assert alive() is not None  # asyncio keeps a cancelled timer until its time
        assert drop_cancelled_timers(loop) == 1
        gc.collect()
        assert alive() is None
    finally:
        loop.close()


def test_a_periodic_refresh_s_waits_keep_nothing_of_its_session() -> None:
    refreshed = []

    async def refresh() -> None:
        refreshed.append(True)

    async def session() -> tuple[weakref.ref, Every]:
        mine = _Session()
        _CURRENT.set(mine)
        every = Every(0.05, refresh)
        while not refreshed:  # it refreshes, and waits for the next time
            await asyncio.sleep(0.01)
        return weakref.ref(mine), every

    async def after_the_session() -> bool:
        ended = asyncio.create_task(session(), context=contextvars.copy_context())
        alive, every = await ended
        del ended  # the session's task, and its context, are gone
        await asyncio.sleep(0.1)  # as is the loop's call that woke this task up with it
        gc.collect()
        try:
            return alive() is None
        finally:
            every.stop()

    assert run_coroutine(after_the_session())
