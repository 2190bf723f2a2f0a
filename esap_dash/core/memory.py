"""The memory of closed sessions, given back to the system.

A session of the dashboard makes a few megabytes of small Python objects.
CPython's own small-object allocator (pymalloc) hands an arena back only
once every object in it is gone, and the objects that outlive a session
(caches, pooled connections, log records) end up scattered among the
session's: a server that held 40 sessions kept all of their memory after
they closed (+22 % over its memory before them).  Served with the C
allocator (``PYTHONMALLOC=malloc``), which :func:`esap_dash.cli.main` sets
for ``esap-dash serve``, and trimmed (glibc's ``malloc_trim``) once the
closed sessions' documents are gone, the memory comes back (+1.1 % measured
60 s after 40 sessions closed; see ``benchmarks/bench_session.py``).

Where the C library has no ``malloc_trim`` (not glibc), the trim does
nothing: memory is then given back as that allocator does.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import ctypes.util
import gc
import heapq
import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Mapping
from typing import Any

__all__ = ["ALLOCATOR", "SessionMemory", "drop_cancelled_timers", "freeze_startup_objects",
           "serving_environment", "uses_serving_allocator"]

log = logging.getLogger(__name__)

#: The allocator a server runs with (``PYTHONMALLOC``).
ALLOCATOR = "malloc"


def uses_serving_allocator(environ: Mapping[str, str] | None = None) -> bool:
    """Whether a process with ``environ`` (default: this one's) runs with :data:`ALLOCATOR`."""
    return (os.environ if environ is None else environ).get("PYTHONMALLOC") == ALLOCATOR


def serving_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` with the allocator a server runs with."""
    return {**environ, "PYTHONMALLOC": ALLOCATOR}


def freeze_startup_objects() -> int:
    """Keep the objects made so far (the imported libraries) out of every later
    garbage collection; how many they are.

    A full collection walks every object the process holds.  A server's start
    makes some half a million (Panel, Bokeh, astropy, pandas, pyvo, their
    modules and caches) that live as long as the process, and Panel runs a
    full collection a few seconds after each closed session, holding the event
    loop and so every user's page: 0.3 s each on this project's 2-core machine,
    against a few milliseconds for the sessions' own objects alone.  What is
    garbage now is collected first; frozen objects are never freed, so call
    this once, after the imports and before the first session.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def _malloc_trim() -> Any:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def drop_cancelled_timers(loop: asyncio.AbstractEventLoop) -> int:
    """Take the cancelled timers out of ``loop``'s schedule; how many (call it in the
    loop's thread).

    asyncio keeps a cancelled timer in its schedule, with the context it was made
    in, until the timer's time comes: it sweeps them out only once more than half
    of 100 or more are cancelled.  A timeout made in a session (a search's or a
    health round's deadline, met long before) has the session's document as its
    context's current one, and so kept the closed session's every object alive
    for up to a minute.  This is the sweep asyncio itself makes, made now.
    """
    scheduled = getattr(loop, "_scheduled", None)
    if not isinstance(scheduled, list):  # not asyncio's own loop: nothing known to sweep
        return 0
    kept = []
    for handle in scheduled:
        if handle.cancelled():
            handle._scheduled = False
        else:
            kept.append(handle)
    heapq.heapify(kept)
    dropped = len(scheduled) - len(kept)
    scheduled[:] = kept
    loop._timer_cancelled_count = 0
    return dropped


class SessionMemory:
    """Given each closed session, give the memory it held back to the system.

    The trim waits until the closed sessions' documents are gone (a document
    outlives its close while tasks that ran in its session wind down) or
    ``longest`` seconds passed, and for ``delay`` seconds without a new close:
    closes that come together are handled once.  While it waits it sweeps the
    event loop's cancelled timers (:func:`drop_cancelled_timers`) and forces a
    full garbage collection (documents are cyclic garbage), at most once per
    ``look`` seconds and never more often than 50 times the last one took: on a
    busy server, where closes never stop, collections cost at most 2 % of one
    core.  The work runs in a thread of its own, never in the event loop's
    callbacks.

    Parameters
    ----------
    delay : float
        Seconds without a new close before the trim.
    longest : float
        Seconds after the last close after which the trim runs even though a
        closed session's document is still alive.
    look : float
        Least seconds between two forced collections.
    loop : asyncio.AbstractEventLoop, optional
        The server's event loop, whose cancelled timers are swept.
    """

    def __init__(self, delay: float = 5.0, longest: float = 120.0, look: float = 20.0,
                 loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.delay, self.longest, self.look, self._loop = delay, longest, look, loop
        self._pending = threading.Lock()
        self._last_close = 0.0
        self._alive: weakref.WeakSet = weakref.WeakSet()
        self._trim = _malloc_trim()
        #: Seconds the last trim took, with the collection before it (``None`` before
        #: the first).
        self.last_seconds: float | None = None

    def __call__(self, session_context: Any) -> None:
        """Note that a session closed (a Panel ``on_session_destroyed`` callback)."""
        self._last_close = time.monotonic()
        document = getattr(session_context, "_document", None)
        if document is not None:
            self._alive.add(document)
        if self._pending.acquire(blocking=False):
            threading.Thread(target=self._give_back, name="esap-dash session memory",
                             daemon=True).start()

    def _give_back(self) -> None:
        try:
            collected, spent = -math.inf, 0.0
            while True:
                time.sleep(self.delay)
                now = time.monotonic()
                since = now - self._last_close
                if since < self.delay:  # closes still coming
                    continue
                if not self._alive or since >= self.longest:
                    break
                if now - collected >= max(self.look, 50 * spent):
                    start = time.perf_counter()
                    self._sweep()
                    gc.collect()
                    collected, spent = time.monotonic(), time.perf_counter() - start
            start = time.perf_counter()
            if self._alive:  # still alive after ``longest``: what can go, goes now
                self._sweep()
                gc.collect()
            if self._trim is not None:
                self._trim(0)
            self.last_seconds = time.perf_counter() - start
        finally:
            self._pending.release()
        log.debug("closed sessions' memory given back in %.3f s", self.last_seconds)

    def _sweep(self) -> None:
        """The loop's cancelled timers swept out, in its thread (waited for ≤ 5 s)."""
        if self._loop is None or self._loop.is_closed():
            return
        swept = concurrent.futures.Future()

        def sweep() -> None:
            swept.set_result(drop_cancelled_timers(self._loop))

        self._loop.call_soon_threadsafe(sweep)
        with contextlib.suppress(concurrent.futures.TimeoutError):  # a busy loop
            swept.result(timeout=5)
