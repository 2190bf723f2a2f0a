"""Places for calls to a service, shared by the server processes of one deployment.

Each process caps its own calls to a service (:class:`~esap_dash.core.fanout.ServiceGuard`);
without more, N workers would press an archive N times harder than one.  The
places here are counted where every worker of the deployment sees them, and
given back by the operating system or the database when a process dies (so a
killed worker never keeps a place):

* PostgreSQL: a place is a session-level advisory lock, ``(service, place)``,
  held on one connection of the process for as long as the call runs;
* SQLite (workers on one machine): a place is an ``flock`` on a file in a
  folder beside the database file;
* an in-memory database has one process: its own cap is the deployment's.

A process whose database cannot be reached counts on its own cap alone (and
logs it) rather than refusing every call.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import threading
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from .runtime import current_runtime

__all__ = ["UNSHARED", "Places", "PlacesByDatabase", "places_for"]

log = logging.getLogger(__name__)

#: A place taken by this process alone (the deployment's count could not be asked).
UNSHARED = -1


class Places(Protocol):
    """Places for calls to services, counted across a deployment's processes."""

    def take(self, service: str, cap: int) -> int | None:
        """Take one of ``cap`` places for a call to ``service``: its number, ``UNSHARED``
        when the count could not be asked, None when all are taken."""

    def give(self, service: str, place: int) -> None:
        """Give back a place :meth:`take` gave."""

    def close(self) -> None:
        """Give back every place of this process."""


def _key(service: str) -> int:
    """A service as a signed 32-bit number (an advisory lock's first key)."""
    return int.from_bytes(hashlib.sha256(service.encode()).digest()[:4], "big", signed=True)


class _Own:
    """A deployment of one process: its own cap is the deployment's."""

    def take(self, service: str, cap: int) -> int | None:
        return UNSHARED

    def give(self, service: str, place: int) -> None:
        pass

    def close(self) -> None:
        pass


class _Held:
    """What this process holds, by service (shared by the two kinds below)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, set[int]] = {}

    def free(self, service: str, cap: int) -> list[int]:
        return [p for p in range(cap) if p not in self._held.get(service, set())]

    def hold(self, service: str, place: int) -> None:
        self._held.setdefault(service, set()).add(place)

    def drop(self, service: str, place: int) -> bool:
        """Forget a place; whether this process held it."""
        held = self._held.get(service, set())
        if place not in held:
            return False
        held.discard(place)
        return True


class _AdvisoryLocks(_Held):
    """Places as PostgreSQL advisory locks on one connection of this process."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self._engine = sa.create_engine(url, poolclass=NullPool)
        self._conn: sa.Connection | None = None

    def _connection(self) -> sa.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    def _lost(self, exc: Exception) -> None:
        """The connection broke: its locks went with it."""
        log.warning("the deployment's count of service calls could not be asked (%s); "
                    "this process counts its own calls only until it can", exc)
        if self._conn is not None:
            self._conn.invalidate()
        self._conn = None
        self._held.clear()

    def take(self, service: str, cap: int) -> int | None:
        with self._lock:
            try:
                conn = self._connection()
                for place in self.free(service, cap):
                    if conn.execute(sa.text("SELECT pg_try_advisory_lock(:k, :p)"),
                                    {"k": _key(service), "p": place}).scalar():
                        self.hold(service, place)
                        return place
                return None
            except sa.exc.DBAPIError as exc:
                self._lost(exc)
                return UNSHARED

    def give(self, service: str, place: int) -> None:
        with self._lock:
            if not self.drop(service, place) or self._conn is None:
                return
            try:
                self._conn.execute(sa.text("SELECT pg_advisory_unlock(:k, :p)"),
                                   {"k": _key(service), "p": place})
            except sa.exc.DBAPIError as exc:
                self._lost(exc)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()  # the session ends: its locks are given back
            self._conn = None
            self._held.clear()
            self._engine.dispose()


class _FileLocks(_Held):
    """Places as ``flock`` locks on files beside a SQLite database."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self._folder = folder
        self._files: dict[tuple[str, int], int] = {}

    def take(self, service: str, cap: int) -> int | None:
        with self._lock:
            try:
                self._folder.mkdir(mode=0o700, exist_ok=True)
                for place in self.free(service, cap):
                    path = self._folder / f"{_key(service) & 0xFFFFFFFF:08x}-{place}"
                    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        os.close(fd)
                        continue
                    self.hold(service, place)
                    self._files[service, place] = fd
                    return place
                return None
            except OSError as exc:
                log.warning("the deployment's count of service calls could not be asked "
                            "(%s); this process counts its own calls only", exc)
                return UNSHARED

    def give(self, service: str, place: int) -> None:
        with self._lock:
            if self.drop(service, place):
                os.close(self._files.pop((service, place)))  # closing unlocks

    def close(self) -> None:
        with self._lock:
            for fd in self._files.values():
                os.close(fd)
            self._files.clear()
            self._held.clear()


class PlacesByDatabase:
    """The places of a runtime, one set per database URL (the profile's: bounded)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_url: dict[str, Places] = {}

    def of(self, database: str) -> Places:
        """The places counted in ``database``, made on first use."""
        with self._lock:
            if database not in self._by_url:
                self._by_url[database] = _places(database)
            return self._by_url[database]

    def close(self) -> None:
        with self._lock:
            for places in self._by_url.values():
                places.close()
            self._by_url.clear()


def _places(database: str) -> Places:
    url = make_url(database)
    if url.get_backend_name() == "postgresql":
        return _AdvisoryLocks(database)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return _FileLocks(Path(f"{url.database}.places"))
    return _Own()


def places_for(database: str) -> Places:
    """The places for service calls of the deployment whose database is ``database``
    (a part of the current runtime)."""
    return current_runtime().part("places", PlacesByDatabase).of(database)
