"""The live state of one esap-dash process, with one owner that closes it.

What a server process keeps alive between requests — the threads that run
blocking service calls, the database engines, each service's guard, the
recent health answers, the login provider's answers, the workflow runner and
a local Dask cluster — are the *parts* of a :class:`Runtime`.  ``serve()``
makes the runtime and closes it on SIGTERM; a notebook that uses esap-dash in
process gets one on first use (closed when Python exits); a test makes its
own::

    >>> with Runtime() as runtime:  # doctest: +SKIP
    ...     cart = Cart.open("default")      # its stores and threads are runtime's
    >>> runtime.closed                        # doctest: +SKIP
    True

Code reaches the runtime of its context with :func:`current_runtime`.  The
runtime is a context variable, so asyncio tasks and callbacks see the one of
the context that started them; :meth:`Runtime.run_in_thread` and the
runtime's thread pool carry it into threads.  No part lives at module level.
"""

from __future__ import annotations

import atexit
import contextvars
import functools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["Runtime", "bare_context", "current_runtime"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_CURRENT: contextvars.ContextVar[Runtime] = contextvars.ContextVar("esap_dash_runtime")


class Runtime:
    """The owner of a process's live state.

    Parameters
    ----------
    threads : int
        Threads for blocking service calls (shared by every session).
    """

    def __init__(self, *, threads: int = 32) -> None:
        self.threads = threads
        self._parts: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._closed = False
        self._token: contextvars.Token[Runtime] | None = None

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"parts={sorted(self._parts)}"
        return f"<Runtime {state}>"

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._closed

    @property
    def parts(self) -> list[str]:
        """Names of the parts made so far, in the order they were made."""
        with self._lock:
            return list(self._parts)

    def part(self, name: str, make: Callable[[], T]) -> T:
        """The part ``name``, made by ``make()`` on first use.

        When the runtime closes, every part with a ``stop()`` method is stopped
        first (work it carries ends and records its end), then every part with a
        ``close()`` method (or an executor) is closed, the last made first.

        Raises
        ------
        RuntimeError
            The runtime is closed.
        """
        with self._lock:
            if self._closed:
                raise RuntimeError("this esap-dash runtime is closed")
            if name not in self._parts:
                self._parts[name] = make()
            return self._parts[name]

    @property
    def calls(self) -> ThreadPoolExecutor:
        """The threads that run blocking calls off the event loop."""
        return self.part("calls", lambda: ThreadPoolExecutor(
            self.threads, thread_name_prefix="esap-dash-call"))

    def submit(self, func: Callable[..., T], *args: Any,
               executor: Executor | None = None) -> Future[T]:
        """Run ``func(*args)`` in a thread of :attr:`calls` (or ``executor``), in this
        context (so it sees this runtime)."""
        context = contextvars.copy_context()
        return (executor or self.calls).submit(context.run, func, *args)

    def run_in_thread(self, target: Callable[..., Any], *args: Any, name: str) -> threading.Thread:
        """Start a daemon thread running ``target(*args)`` in this context."""
        context = contextvars.copy_context()
        thread = threading.Thread(target=context.run, args=(target, *args), name=name,
                                  daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        """Stop, then close, every part (see :meth:`part`); a part that fails to stop or
        close is logged and the others are still closed.  Closing twice does nothing."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            parts = list(self._parts.items())[::-1]
            self._parts.clear()
        for name, part in parts:
            if hasattr(part, "stop"):
                _quietly(name, part.stop)
        for name, part in parts:
            if isinstance(part, Executor):
                _quietly(name, functools.partial(part.shutdown, wait=False,
                                                 cancel_futures=True))
            elif hasattr(part, "close"):
                _quietly(name, part.close)

    def enter(self) -> Runtime:
        """Make this the runtime of the current context (and of what it starts)."""
        self._token = _CURRENT.set(self)
        return self

    def __enter__(self) -> Runtime:
        return self.enter()

    def __exit__(self, *_: object) -> None:
        if self._token is not None:
            _CURRENT.reset(self._token)
            self._token = None
        self.close()


def _quietly(name: str, func: Callable[[], Any]) -> None:
    try:
        func()
    except Exception:
        log.exception("the runtime's %s failed to stop or close", name)


def current_runtime() -> Runtime:
    """The runtime of this context; one is made (and closed when Python exits) for a
    context that has none, e.g. a notebook using esap-dash in process."""
    runtime = _CURRENT.get(None)
    if runtime is None or runtime.closed:
        if threading.current_thread() is not threading.main_thread():
            log.warning("a thread without an esap-dash runtime made its own: start threads "
                        "with Runtime.run_in_thread or Runtime.submit")
        runtime = Runtime().enter()
        atexit.register(runtime.close)
    return runtime


def bare_context() -> contextvars.Context:
    """A new context whose one variable is this context's runtime: for work started
    from a session that must keep none of the session's variables (its current
    document, and through it all the session's objects) alive."""
    context = contextvars.Context()
    context.run(_CURRENT.set, current_runtime())
    return context
