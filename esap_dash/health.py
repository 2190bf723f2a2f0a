"""Check the health of every configured service at once.

Each check runs in a worker thread with the service's own timeout; the
whole round has a deadline, so one service that never answers is reported
as down without holding up the others.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor

from connectors.base import Health, ServiceConnector

from .config import ServiceConfig

__all__ = ["check", "check_all", "iter_health"]

_EXECUTOR = ThreadPoolExecutor(max_workers=16, thread_name_prefix="esap-dash-health")


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


def _deadline_health(service: ServiceConfig, seconds: float) -> Health:
    return Health(service.name, service.kind, service.url, False, seconds,
                  f"no answer within {seconds:.0f} s")


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
    loop = asyncio.get_running_loop()
    limit = deadline or max(float(s.options.get("timeout", 30)) for s in services) + 1
    start = time.perf_counter()
    pending = {loop.run_in_executor(_EXECUTOR, check, s): s for s in services}
    while pending:
        remaining = limit - (time.perf_counter() - start)
        done, _ = await asyncio.wait(pending, timeout=max(remaining, 0),
                                     return_when=asyncio.FIRST_COMPLETED)
        if not done:
            for service in pending.values():
                yield _deadline_health(service, limit)
            return
        for fut in done:
            service = pending.pop(fut)
            try:
                yield fut.result()
            except Exception as exc:  # a connector bug must not break the view
                yield Health(service.name, service.kind, service.url, False, 0.0,
                             f"health check failed: {type(exc).__name__}: {exc}")


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
        results = _EXECUTOR.submit(asyncio.run, collect()).result()
    by_name = {h.name: h for h in results}
    return [by_name[s.name] for s in services]
