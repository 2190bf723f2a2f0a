"""Check the health of every configured service at once.

Each check runs in a worker thread with the service's own timeout; the
whole round has a deadline, so one service that never answers is reported
as down without holding up the others.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence

from connectors.base import Health, ServiceConnector

from .config import ServiceConfig
from .fanout import fan_out
from .runtime import current_runtime

__all__ = ["HealthCache", "check", "check_all", "iter_health", "shared_health"]



class HealthCache:
    """The last answer of each service (by name and address) in a runtime, and the
    checks under way: the sessions of a served dashboard share them (bounded by the
    profile's services)."""

    def __init__(self) -> None:
        self.recent: dict[tuple[str, str], tuple[float, Health]] = {}
        self.underway: dict[tuple[str, str], asyncio.Future[Health]] = {}


def check(service: ServiceConfig, connector: ServiceConnector | None = None) -> Health:
    """Check one service now.

    Parameters
    ----------
    service : ServiceConfig
        The service.
    connector : ServiceConnector, optional
        An existing connector (e.g. the session's); built from ``service``
        otherwise.

    Returns
    -------
    Health
    """
    conn = connector or service.connector()
    health = conn.health()
    return Health(service.name, service.kind, health.url, health.up, health.seconds,
                  health.detail, health.checked_at)


async def iter_health(services: Sequence[ServiceConfig], *,
                      deadline: float | None = None) -> AsyncIterator[Health]:
    """Yield each service's health as soon as it is known.

    Parameters
    ----------
    services : sequence of ServiceConfig
        What to check, concurrently.
    deadline : float, optional
        Seconds after which the services still unanswered are reported down;
        defaults to the largest service timeout plus one second.

    Yields
    ------
    Health
        In the order the answers arrive.
    """
    if not services:
        return
    limit = deadline or max(float(s.options.get("timeout", 30)) for s in services) + 1
    by_name = {s.name: s for s in services}
    calls = {s.name: (lambda s=s: check(s)) for s in services}
    async for outcome in fan_out(calls, deadline=limit):
        service = by_name[outcome.key]
        if outcome.timed_out:
            yield Health(service.name, service.kind, service.url, False, limit,
                         f"no answer within {limit:.0f} s")
        elif outcome.error is not None:  # a connector bug must not break the view
            yield Health(service.name, service.kind, service.url, False, outcome.seconds,
                         f"health check failed: {type(outcome.error).__name__}: "
                         f"{outcome.error}")
        else:
            yield outcome.value


async def shared_health(services: Sequence[ServiceConfig],
                        max_age: float) -> AsyncIterator[Health]:
    """Like :func:`iter_health`, sharing answers between the sessions of a server.

    A service answered less than ``max_age`` seconds ago is not asked again,
    and one being checked for another session is waited for, so many users
    opening the dashboard cost one check per service and period.  Sessions
    run on the server's one event loop, where this bookkeeping lives.

    Parameters
    ----------
    services : sequence of ServiceConfig
        What to check.
    max_age : float
        Seconds an answer is reused (0: always ask).

    Yields
    ------
    Health
    """
    cache = current_runtime().part("health", HealthCache)
    now = time.monotonic()
    todo, others = [], []
    for service in services:
        key = (service.name, service.url)
        if key in cache.recent and now - cache.recent[key][0] < max_age:
            yield cache.recent[key][1]
        elif key in cache.underway:
            others.append(cache.underway[key])
        else:
            todo.append(service)
    loop = asyncio.get_running_loop()
    mine = {(s.name, s.url): loop.create_future() for s in todo}
    cache.underway.update(mine)
    try:
        async for health in iter_health(todo):
            key = next(k for k in mine if k[0] == health.name)
            cache.recent[key] = (time.monotonic(), health)
            mine[key].set_result(health)
            yield health
    finally:
        for key, future in mine.items():
            cache.underway.pop(key, None)
            if not future.done():
                future.cancel()
    for future in others:
        try:
            yield await future
        except asyncio.CancelledError:
            continue


def check_all(services: Sequence[ServiceConfig], *, deadline: float | None = None) -> list[Health]:
    """Check all services concurrently (blocking); results in profile order.

    Parameters
    ----------
    services : sequence of ServiceConfig
        What to check.
    deadline : float, optional
        See :func:`iter_health`.

    Returns
    -------
    list of Health
    """
    async def collect() -> list[Health]:
        return [h async for h in iter_health(services, deadline=deadline)]

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        results = asyncio.run(collect())
    else:  # called from a notebook cell or another running loop
        results = current_runtime().submit(asyncio.run, collect()).result()
    by_name = {h.name: h for h in results}
    return [by_name[s.name] for s in services]
