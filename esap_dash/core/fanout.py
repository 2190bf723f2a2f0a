"""Run blocking service calls concurrently and report each as it finishes.

Connectors stay synchronous; pages fan their calls out to worker threads
from the event loop, so a slow or dead service costs only its own row.

The threads are the server process's, shared by every session, so a service
that hangs must not take them all: each service may hold at most
:attr:`ServiceGuard.cap` calls of this process at once, and a service whose
last :attr:`ServiceGuard.trips` calls found no answer is skipped for
:attr:`ServiceGuard.cooldown` seconds (its circuit is open; the row says
so), then asked again.  These guards protect this process's own threads,
so they live in the process (as a connection pool does), not the database:
they are a part of the process's :class:`~esap_dash.core.runtime.Runtime`,
whose threads run the calls.  The cap also holds for the deployment: a call
takes one of the service's :attr:`~ServiceGuard.cap` places counted in the
deployment's database (:mod:`esap_dash.core.places`), so that N server workers
do not press a service N times harder than one.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import AsyncIterator, Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from connectors.exceptions import ServiceUnavailableError

from .places import Places, places_for
from .runtime import current_runtime

__all__ = ["Guards", "Outcome", "ServiceGuard", "fan_out", "guard", "run_blocking"]

K = TypeVar("K", bound=Hashable)


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


@dataclass
class ServiceGuard:
    """How much of this process one service may hold, and whether it is skipped.

    Attributes
    ----------
    name : str
        The service, in words.
    cap : int
        Calls to the service at once, of this process and of the deployment (when
        :attr:`places` counts them); more are refused.
    trips : int
        Calls in a row without an answer that open the circuit.
    cooldown : float
        Seconds the circuit stays open; then one call is let through.
    service : str
        What the deployment's places are counted by (the service's URL).
    places : Places, optional
        The deployment's places (None: this process's count alone).
    """

    name: str
    service: str = ""
    places: Places | None = None
    cap: int = 4
    trips: int = 3
    cooldown: float = 30.0
    running: int = 0
    failures: int = 0
    open_until: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def admit(self) -> str | None:
        """Take a place for one call; why not, when it may not run now."""
        with self._lock:
            now = time.monotonic()
            if now < self.open_until:
                return (f"skipped: {self.name} did not answer its last {self.failures} calls; "
                        f"asked again in {self.open_until - now:.0f} s")
            if self.running >= self.cap:
                return (f"skipped: {self.running} calls of this server to {self.name} are "
                        "still waiting for an answer")
            if self.failures >= self.trips:  # the one call after the cooldown
                self.open_until = now + self.cooldown
            self.running += 1
            return None

    def done(self, answered: bool | None) -> None:
        """Give the place back; ``answered`` is False when the service gave no answer,
        None when it was not asked after all."""
        with self._lock:
            self.running -= 1
            if answered is None:
                return
            if answered:
                self.failures, self.open_until = 0, 0.0
                return
            self.failures += 1
            if self.failures >= self.trips:
                self.open_until = time.monotonic() + self.cooldown

    def run(self, func: Callable[[], Any]) -> Any:
        """Call ``func`` within the guard (refused with :class:`ServiceUnavailableError`)."""
        refused = self.admit()
        if refused:
            raise ServiceUnavailableError(refused)
        place = self.places.take(self.service, self.cap) if self.places else None
        if self.places and place is None:
            self.done(None)
            raise ServiceUnavailableError(
                f"skipped: {self.cap} calls of this deployment's servers to {self.name} are "
                "still waiting for an answer")
        answered = False
        try:
            result = func()
            answered = True
            return result
        except ServiceUnavailableError:
            raise
        except Exception:
            answered = True  # the service answered; what it said was wrong
            raise
        finally:
            if self.places and place is not None:
                self.places.give(self.service, place)
            self.done(answered)


class Guards:
    """The guards of a runtime, one per service (the profile's services: bounded)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_service: dict[tuple[str, str | None], ServiceGuard] = {}

    def of(self, service: str, name: str | None = None,
           database: str | None = None) -> ServiceGuard:
        """The guard of ``service`` (its URL), made on first use; with ``database``, its
        cap also counts the calls of the deployment using that database."""
        with self._lock:
            key = (service, database)
            if key not in self._by_service:
                self._by_service[key] = ServiceGuard(
                    name or service, service, places_for(database) if database else None)
            return self._by_service[key]


def guard(service: str, name: str | None = None, database: str | None = None) -> ServiceGuard:
    """This process's guard of ``service`` (its URL), made on first use; with
    ``database``, its cap also counts the calls of every process of the deployment
    using that database."""
    return current_runtime().part("guards", Guards).of(service, name, database)


def _timed(func: Callable[[], Any]) -> tuple[Any, BaseException | None, float]:
    start = time.perf_counter()
    try:
        return func(), None, time.perf_counter() - start
    except Exception as exc:
        return None, exc, time.perf_counter() - start


async def fan_out(calls: Mapping[K, Callable[[], Any]], *, deadline: float,
                  services: Mapping[K, str] | None = None,
                  database: str | None = None) -> AsyncIterator[Outcome[K]]:
    """Start every call at once; yield each outcome as it arrives.

    Parameters
    ----------
    calls : mapping
        Key -> a blocking function of no arguments.
    deadline : float
        Seconds after which the calls still running are reported as timed
        out (their threads end with their own HTTP timeouts).
    services : mapping, optional
        Key -> the service a call asks (its URL): the call then goes through
        that service's :func:`guard` (refused at once when the service holds
        too many calls or its circuit is open).
    database : str, optional
        The deployment's database: the guards' caps then hold for all of its
        server processes together.

    Yields
    ------
    Outcome
        In the order the calls finish.
    """
    loop = asyncio.get_running_loop()
    runtime = current_runtime()
    start = time.perf_counter()
    guarded = {key: functools.partial(guard(services[key], str(key), database).run, func)
               if services and key in services else func for key, func in calls.items()}
    pending = {asyncio.wrap_future(runtime.submit(_timed, func), loop=loop): key
               for key, func in guarded.items()}
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
    return await asyncio.wrap_future(current_runtime().submit(func, *args))
