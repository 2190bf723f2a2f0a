"""Per-user records that outlive a page: query history, jobs, carts.

One SQLAlchemy database per deployment (SQLite by default, PostgreSQL by
URL); every row belongs to a user identity, and every read is filtered by it.
The schema is brought up to date by the Alembic migrations of
:mod:`esap_dash.core.migrations` whenever a store opens: a database made by an
earlier esap-dash keeps everything it holds.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from .errors import EsapError
from .runtime import current_runtime

__all__ = ["Store", "StoreError", "Stores", "insert_ignore", "store_for"]

META = sa.MetaData()
HISTORY = sa.Table(
    "query_history", META,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user", sa.String(255), nullable=False, index=True),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("query", sa.Text, nullable=False),
    sa.Column("archives", sa.Text, nullable=False),
    sa.Column("row_counts", sa.Text, nullable=False),
)
#: Work running elsewhere that the user follows: async TAP jobs (``tap``, ref =
#: the UWS job URL) and Rucio replication rules (``rucio-rule``, ref = rule id).
JOBS = sa.Table(
    "jobs", META,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user", sa.String(255), nullable=False, index=True),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("service", sa.Text, nullable=False),
    sa.Column("ref", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    #: When the user asked to abort it (from any server process).
    sa.Column("abort_requested", sa.DateTime(timezone=True), nullable=True),
)

CARTS = sa.Table(
    "carts", META,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user", sa.String(255), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("user", "name", name="uq_cart_user_name"),
)
ITEMS = sa.Table(
    "cart_items", META,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("cart_id", sa.Integer, sa.ForeignKey("carts.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("key", sa.String(64), nullable=False),
    sa.Column("archive", sa.Text, nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("item_id", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("ra", sa.Float, nullable=True),
    sa.Column("dec", sa.Float, nullable=True),
    sa.Column("product_type", sa.Text, nullable=False),
    sa.Column("access_url", sa.Text, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=True),
    sa.Column("service_url", sa.Text, nullable=False),
    sa.Column("record", sa.Text, nullable=False),
    sa.Column("query", sa.Text, nullable=False),
    sa.Column("added", sa.DateTime(timezone=True), nullable=False),
    sa.Column("note", sa.Text, nullable=False, default=""),
    sa.Column("tags", sa.Text, nullable=False, default=""),
    sa.UniqueConstraint("cart_id", "key", name="uq_cart_item_key"),
)

#: What each archive said of its own columns (unit, UCD, description), so that
#: exports carry them; the first description of a column is kept.
ARCHIVE_COLUMNS = sa.Table(
    "archive_columns", META,
    sa.Column("archive", sa.String(255), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("unit", sa.Text, nullable=False, default=""),
    sa.Column("ucd", sa.Text, nullable=False, default=""),
    sa.Column("description", sa.Text, nullable=False, default=""),
)

#: Read-only links to a cart (for a notebook server to fetch it); only the
#: token's SHA-256 is kept.
SHARES = sa.Table(
    "cart_shares", META,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("cart_id", sa.Integer, sa.ForeignKey("carts.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires", sa.DateTime(timezone=True), nullable=False),
)

#: What a workflow run produced: its table (ECSV) and preview image (FITS).
RESULTS = sa.Table(
    "job_results", META,
    sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("table_ecsv", sa.LargeBinary, nullable=False),
    sa.Column("image_fits", sa.LargeBinary, nullable=True),
)

#: The rows of a search made through the HTTP API (ECSV, with their provenance) and
#: what each archive answered (JSON).
SEARCH_RESULTS = sa.Table(
    "search_results", META,
    sa.Column("search_id", sa.Integer, sa.ForeignKey("query_history.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("table_ecsv", sa.LargeBinary, nullable=False),
    sa.Column("outcomes", sa.Text, nullable=False),
)
#: Calls to the HTTP API per user and minute (since the epoch), for its rate limit.
API_CALLS = sa.Table(
    "api_calls", META,
    sa.Column("user", sa.String(255), primary_key=True),
    sa.Column("minute", sa.BigInteger, primary_key=True),
    sa.Column("calls", sa.Integer, nullable=False),
)

#: The first answer to a POST of the HTTP API with an ``Idempotency-Key``, per user and
#: key: the request's fingerprint, and the answer once there is one (``status`` is
#: NULL while the first request is still being answered).
IDEMPOTENCY = sa.Table(
    "idempotency_keys", META,
    sa.Column("user", sa.String(255), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("request", sa.String(64), nullable=False),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.Integer, nullable=True),
    sa.Column("location", sa.Text, nullable=True),
    sa.Column("body", sa.Text, nullable=True),
)


class StoreError(EsapError, RuntimeError):
    """The database cannot be used (unreadable, not ours, unreachable)."""

    status = 503


class Store:
    """The deployment's database of per-user records.

    Parameters
    ----------
    url : str
        SQLAlchemy URL, e.g. ``sqlite:////srv/esap-dash/esap-dash.db``.
    """

    def __init__(self, url: str) -> None:
        # A database server restarted under a running dashboard: each pooled
        # connection is tested before use, so no one's first call after it fails.
        kwargs: dict[str, Any] = {"pool_pre_ping": True}
        if url.startswith("sqlite"):
            kwargs = {"connect_args": {"timeout": 30}}
        self.engine = sa.create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            migrate(self.engine)
        except sa.exc.OperationalError as exc:
            where = self.engine.url.render_as_string(hide_password=True)
            raise StoreError(f"cannot reach the database {where}: "
                             f"{str(exc.orig).strip()}") from exc
        except sa.exc.DatabaseError as exc:
            where = self.engine.url.render_as_string(hide_password=True)
            raise StoreError(f"{where} is not a usable esap-dash database "
                             f"({str(exc.orig).strip()}); it was left untouched") from exc

    def add_history(self, user: str, query: dict[str, Any], archives: list[str],
                    row_counts: dict[str, int]) -> int:
        """Record one search; return its id."""
        with self.engine.begin() as conn:
            result = conn.execute(HISTORY.insert().values(
                user=user, created=datetime.now(UTC), query=json.dumps(query),
                archives=json.dumps(archives), row_counts=json.dumps(row_counts)))
            return int(result.inserted_primary_key[0])

    def history(self, user: str, limit: int = 200, offset: int = 0) -> list[dict[str, Any]]:
        """The user's searches, newest first (``limit`` of them after the first
        ``offset``)."""
        with self.engine.connect() as conn:
            rows = conn.execute(HISTORY.select().where(HISTORY.c.user == user)
                                .order_by(HISTORY.c.id.desc()).offset(offset)
                                .limit(limit)).mappings().all()
        return [_search(r) for r in rows]

    def search(self, user: str, search_id: int) -> dict[str, Any] | None:
        """One of the user's searches (as :meth:`history` gives them), or None."""
        with self.engine.connect() as conn:
            row = conn.execute(HISTORY.select().where(
                (HISTORY.c.id == search_id) & (HISTORY.c.user == user))).mappings().first()
        return _search(row) if row else None

    def keep_search_rows(self, user: str, search_id: int, table_ecsv: bytes,
                         outcomes: list[dict[str, Any]]) -> None:
        """Keep the rows one of ``user``'s searches found and what each archive said."""
        with self.engine.begin() as conn:
            owner = conn.execute(sa.select(HISTORY.c.user).where(
                HISTORY.c.id == search_id)).scalar()
            if owner != user:
                raise StoreError(f"search {search_id} is not one of {user}'s")
            conn.execute(SEARCH_RESULTS.insert().values(
                search_id=search_id, table_ecsv=table_ecsv, outcomes=json.dumps(outcomes)))

    def search_rows(self, user: str, search_id: int) -> tuple[bytes, list[dict[str, Any]]] | None:
        """The rows kept of one of ``user``'s searches (ECSV) and what each archive said;
        None when none were kept (a search of the Discovery page) or it is not theirs."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(SEARCH_RESULTS.c.table_ecsv, SEARCH_RESULTS.c.outcomes)
                               .join(HISTORY, HISTORY.c.id == SEARCH_RESULTS.c.search_id)
                               .where((HISTORY.c.id == search_id)
                                      & (HISTORY.c.user == user))).first()
        return (bytes(row[0]), json.loads(row[1])) if row else None

    def count_call(self, user: str, minute: int) -> int:
        """Count one API call of ``user`` in ``minute``; how many they made in it so far.

        Counts of earlier minutes are dropped as they end.
        """
        with self.engine.begin() as conn:
            mine = (API_CALLS.c.user == user) & (API_CALLS.c.minute == minute)
            if not conn.execute(API_CALLS.update().where(mine).values(
                    calls=API_CALLS.c.calls + 1)).rowcount:
                conn.execute(API_CALLS.delete().where(API_CALLS.c.minute < minute))
                conn.execute(insert_ignore(conn, API_CALLS, ["user", "minute"]).values(
                    user=user, minute=minute, calls=0))
                conn.execute(API_CALLS.update().where(mine).values(calls=API_CALLS.c.calls + 1))
            return int(conn.execute(sa.select(API_CALLS.c.calls).where(mine)).scalar_one())

    def claim_key(self, user: str, key: str, request: str, *, keep: timedelta,
                  abandoned: timedelta) -> dict[str, Any] | None:
        """Claim an idempotency key of ``user`` for a request (its fingerprint).

        Parameters
        ----------
        user, key : str
            Whose key, and the key.
        request : str
            The request's fingerprint.
        keep : datetime.timedelta
            How long an answer is kept (older keys are dropped).
        abandoned : datetime.timedelta
            How long a request may be answered before its claim lapses (its server
            process died).

        Returns
        -------
        dict or None
            None: the key is now the caller's; else the key as kept: ``request``,
            ``status``, ``location``, ``body`` (``status`` None while its first
            request is still being answered).
        """
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            conn.execute(IDEMPOTENCY.delete().where(
                (IDEMPOTENCY.c.created < now - keep)
                | (IDEMPOTENCY.c.status.is_(None) & (IDEMPOTENCY.c.created < now - abandoned))))
            if conn.execute(insert_ignore(conn, IDEMPOTENCY, ["user", "key"]).values(
                    user=user, key=key, request=request, created=now)).rowcount:
                return None
            row = conn.execute(sa.select(IDEMPOTENCY).where(
                (IDEMPOTENCY.c.user == user) & (IDEMPOTENCY.c.key == key))).mappings().first()
        if row is None:  # dropped between the two statements: claim it again
            return self.claim_key(user, key, request, keep=keep, abandoned=abandoned)
        return {k: row[k] for k in ("request", "status", "location", "body")}

    def answer_key(self, user: str, key: str, status: int, location: str, body: str) -> None:
        """Keep the answer to the request that claimed ``key``."""
        with self.engine.begin() as conn:
            conn.execute(IDEMPOTENCY.update().where(
                (IDEMPOTENCY.c.user == user) & (IDEMPOTENCY.c.key == key)).values(
                status=status, location=location, body=body))

    def release_key(self, user: str, key: str) -> None:
        """Give up a claimed key whose request got no answer to keep (it failed)."""
        with self.engine.begin() as conn:
            conn.execute(IDEMPOTENCY.delete().where(
                (IDEMPOTENCY.c.user == user) & (IDEMPOTENCY.c.key == key)
                & IDEMPOTENCY.c.status.is_(None)))

    def add_job(self, user: str, kind: str, service: str, ref: str,
                detail: dict[str, Any]) -> int:
        """Remember a job of ``user``; return its id.

        Parameters
        ----------
        user : str
            The owner.
        kind : str
            ``tap``, ``rucio-rule`` or ``dask`` (a workflow run).
        service : str
            The service that runs it (name in the profile).
        ref : str
            How the service knows it (UWS job URL, rule id).
        detail : dict
            What it does, as JSON-ready data (the ADQL, the DID and RSE ...).
        """
        with self.engine.begin() as conn:
            result = conn.execute(JOBS.insert().values(
                user=user, created=datetime.now(UTC), kind=kind, service=service, ref=ref,
                detail=json.dumps(detail)))
            return int(result.inserted_primary_key[0])

    def jobs(self, user: str, kind: str | None = None) -> list[dict[str, Any]]:
        """The user's jobs (of one kind if given), newest first."""
        query = JOBS.select().where(JOBS.c.user == user)
        if kind is not None:
            query = query.where(JOBS.c.kind == kind)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(JOBS.c.id.desc())).mappings().all()
        return [{**r, "detail": json.loads(r["detail"])} for r in rows]

    def unfinished_jobs(self, kind: str) -> list[dict[str, Any]]:
        """Every user's jobs of ``kind`` whose recorded state is QUEUED or RUNNING."""
        with self.engine.connect() as conn:
            rows = conn.execute(JOBS.select().where(JOBS.c.kind == kind)).mappings().all()
        jobs = [{**r, "detail": json.loads(r["detail"])} for r in rows]
        return [j for j in jobs if j["detail"].get("state") in ("QUEUED", "RUNNING")]

    def job(self, user: str, job_id: int) -> dict[str, Any] | None:
        """One of ``user``'s jobs, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(JOBS.select().where(
                (JOBS.c.id == job_id) & (JOBS.c.user == user))).mappings().first()
        return {**row, "detail": json.loads(row["detail"])} if row else None

    def update_job(self, user: str, job_id: int, detail: dict[str, Any]) -> bool:
        """Replace the detail of one of ``user``'s jobs; False if it is not theirs."""
        with self.engine.begin() as conn:
            result = conn.execute(JOBS.update().where(
                (JOBS.c.id == job_id) & (JOBS.c.user == user)).values(
                detail=json.dumps(detail)))
            return result.rowcount == 1

    def request_abort(self, user: str, job_id: int) -> bool:
        """Record that ``user`` asked to abort one of their jobs; False if it is not theirs."""
        with self.engine.begin() as conn:
            result = conn.execute(JOBS.update().where(
                (JOBS.c.id == job_id) & (JOBS.c.user == user)).values(
                abort_requested=datetime.now(UTC)))
            return result.rowcount == 1

    def abort_requested(self, job_id: int) -> bool:
        """Whether the owner of job ``job_id`` asked to abort it."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(JOBS.c.abort_requested).where(
                JOBS.c.id == job_id)).scalar() is not None

    def put_result(self, user: str, job_id: int, table_ecsv: bytes,
                   image_fits: bytes | None = None) -> None:
        """Keep what one of ``user``'s jobs produced (replacing an earlier result)."""
        with self.engine.begin() as conn:
            owner = conn.execute(sa.select(JOBS.c.user).where(JOBS.c.id == job_id)).scalar()
            if owner != user:
                raise StoreError(f"job {job_id} is not one of {user}'s")
            conn.execute(RESULTS.delete().where(RESULTS.c.job_id == job_id))
            conn.execute(RESULTS.insert().values(job_id=job_id, table_ecsv=table_ecsv,
                                                 image_fits=image_fits))

    def result(self, user: str, job_id: int) -> dict[str, bytes | None] | None:
        """What one of ``user``'s jobs produced (``table_ecsv``, ``image_fits``), or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(RESULTS.c.table_ecsv, RESULTS.c.image_fits).join(
                JOBS, JOBS.c.id == RESULTS.c.job_id).where(
                (RESULTS.c.job_id == job_id) & (JOBS.c.user == user))).mappings().first()
        return dict(row) if row else None

    def forget_job(self, user: str, job_id: int) -> bool:
        """Drop one of ``user``'s job records; False if it was not theirs or not there."""
        with self.engine.begin() as conn:
            if conn.execute(sa.select(JOBS.c.id).where(
                    (JOBS.c.id == job_id) & (JOBS.c.user == user))).first() is None:
                return False
            conn.execute(RESULTS.delete().where(RESULTS.c.job_id == job_id))
            conn.execute(JOBS.delete().where(JOBS.c.id == job_id))
            return True


def insert_ignore(conn: sa.Connection, table: sa.Table, keys: list[str]) -> Any:
    """An INSERT that skips rows whose unique ``keys`` exist (SQLite and PostgreSQL)."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        raise StoreError(f"esap-dash needs SQLite or PostgreSQL, not {dialect}")
    return insert(table).on_conflict_do_nothing(index_elements=keys)


def _search(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "created": row["created"], "query": json.loads(row["query"]),
            "archives": json.loads(row["archives"]), "row_counts": json.loads(row["row_counts"])}


#: The Alembic scripts; the revision a database made before migrations existed is at.
MIGRATIONS = Path(__file__).parent / "migrations"
BASELINE = "0001"
#: Arbitrary key of the PostgreSQL advisory lock held while migrating.
_MIGRATION_LOCK = 0x65736170


def migrate(engine: sa.Engine) -> str:
    """Bring the database's schema to the newest revision; return that revision.

    A database with esap-dash's tables but no revision (made before
    migrations) is marked as at :data:`BASELINE` first.  Server processes
    starting together migrate one at a time (an advisory lock on PostgreSQL,
    the database's write lock on SQLite).
    """
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"),
                         {"key": _MIGRATION_LOCK})
        elif conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        config.attributes["connection"] = conn
        tables = set(sa.inspect(conn).get_table_names())
        if "alembic_version" not in tables and CARTS.name in tables:
            command.stamp(config, BASELINE)
        command.upgrade(config, "head")
        return str(MigrationContext.configure(conn).get_current_revision())


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Stores:
    """The stores of a runtime, one per database URL (the profile's: bounded)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_url: dict[str, Store] = {}

    def of(self, url: str) -> Store:
        """The store of ``url``, made (and its tables migrated) on first use.

        Sessions open stores from several threads at once; the lock makes the
        first one create the tables while the others wait.
        """
        with self._lock:
            if url not in self._by_url:
                if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
                    _private_file(Path(url.removeprefix("sqlite:///")))
                self._by_url[url] = Store(url)
            return self._by_url[url]

    def close(self) -> None:
        """Close every store's connections."""
        with self._lock:
            stores, self._by_url = list(self._by_url.values()), {}
        for store in stores:
            store.engine.dispose()


def _private_file(path: Path) -> None:
    """Create ``path`` readable by its owner only (0600), or make it so."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)


def store_for(url: str) -> Store:
    """The one :class:`Store` of this process's runtime for ``url`` (its engine is
    shared)."""
    return current_runtime().part("stores", Stores).of(url)
