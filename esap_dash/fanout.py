"""Run blocking service calls concurrently and report each as it finishes.

Connectors stay synchronous; pages fan their calls out to worker threads
from the event loop, so a slow or dead service costs only its own row.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Hashable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["EXECUTOR", "Outcome", "fan_out", "run_blocking"]

K = TypeVar("K", bound=Hashable)
EXECUTOR = ThreadPoolExecutor(max_workers=32, thread_name_prefix="esap-dash-call")


@dataclass(frozen=True)
class Outcome(Generic[K]):
    """How one call ended.

    Attributes
    ----------
    key : hashable
        The key the call was given under.
    value : object
        Its result (None on error or timeout).
    error : BaseException or None
        What it raised.
    seconds : float
        Wall time until it finished (or until the deadline).
    timed_out : bool
        True when the deadline passed first.
    """

    key: K
    value: Any
    error: BaseException | None
    seconds: float
    timed_out: bool = False

    @property
    def reason(self) -> str | None:
        """Why the call gave no value, in words for the user (None when it did)."""
        if self.timed_out:
            return f"no answer within {self.seconds:g} s"
        if self.error is None:
            return None
        return getattr(self.error, "reason", None) or f"{type(self.error).__name__}: {self.error}"


def _timed(func: Callable[[], Any]) -> tuple[Any, BaseException | None, float]:
    start = time.perf_counter()
    try:
        return func(), None, time.perf_counter() - start
    except Exception as exc:
        return None, exc, time.perf_counter() - start


async def fan_out(calls: Mapping[K, Callable[[], Any]], *,
                  deadline: float) -> AsyncIterator[Outcome[K]]:
    """Start every call at once; yield each outcome as it arrives.

    Parameters
    ----------
    calls : mapping
        Key -> a blocking function of no arguments.
    deadline : float
        Seconds after which the calls still running are reported as timed
        out (their threads end with their own HTTP timeouts).

    Yields
    ------
    Outcome
        In the order the calls finish.
    """
    loop = asyncio.get_running_loop()
    start = time.perf_counter()
    pending = {loop.run_in_executor(EXECUTOR, _timed, func): key for key, func in calls.items()}
    while pending:
        remaining = deadline - (time.perf_counter() - start)
        done, _ = await asyncio.wait(pending, timeout=max(remaining, 0),
                                     return_when=asyncio.FIRST_COMPLETED)
        if not done:
            for key in pending.values():
                yield Outcome(key, None, None, deadline, timed_out=True)
            return
        for fut in done:
            key = pending.pop(fut)
            value, error, seconds = fut.result()
            yield Outcome(key, value, error, seconds)


async def run_blocking(func: Callable[..., Any], *args: Any) -> Any:
    """Run a blocking call in a worker thread, off the event loop.

    Parameters
    ----------
    func : callable
        The blocking function.
    *args
        Its arguments.

    Returns
    -------
    object
        What ``func`` returned (its exception is raised here).
    """
    return await asyncio.get_running_loop().run_in_executor(EXECUTOR, func, *args)
