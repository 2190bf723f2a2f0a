"""The persistent shopping cart: named carts of data items, per user.

Items keep everything needed to find the data again: the archive and service
URL, the full original record and the query that found it.  Carts live in the
deployment's database (SQLite by default, PostgreSQL by URL); every write is
one transaction, and an item already in a cart is never added twice, so two
tabs adding at once cannot overwrite each other.

In a notebook::

    from esap_dash import Cart
    cart = Cart.open("M1 study")
    cart.to_table()
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import re
import secrets
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np
import sqlalchemy as sa
from astropy.table import Column, MaskedColumn, Table, vstack
from mocpy import MOC
from prov.model import ProvDocument

from connectors.query import common_table, name_mapping, ucd_mapping

from .config import Profile, load_profile
from .errors import EsapError
from .lineage import cart_document
from .provenance import Provenance, Service
from .sky import coverage as coverage_of
from .store import ARCHIVE_COLUMNS, CARTS, ITEMS, SHARES, insert_ignore, store_for
from .users import identity
from .votable import write_votable

__all__ = ["Cart", "CartError", "CartItem", "record_rows", "wide_table"]

log = logging.getLogger(__name__)

#: What a cart's name may be.
CART_NAME = re.compile(r"^[^\W_][\w .,()+\-]{0,99}$")

#: Columns of :meth:`Cart.to_table`, in order.
COLUMNS = ("key", "archive", "kind", "item_id", "title", "ra", "dec", "product_type",
           "access_url", "size", "service_url", "added", "note", "tags", "record", "query")
#: Most items whose provenance exports carry inside them (VOTable, notebook).
EMBED_LIMIT = 5000
NUMERIC = {"ra": np.float64, "dec": np.float64, "size": np.int64}


class CartError(EsapError, ValueError):
    """A cart operation that cannot be done (bad name, no such item ...)."""

    status = 400


@dataclass(frozen=True)
class CartItem:
    """One item of a cart (see :data:`COLUMNS`)."""

    key: str
    archive: str
    kind: str
    item_id: str
    title: str
    ra: float | None
    dec: float | None
    product_type: str
    access_url: str
    size: int | None
    service_url: str
    added: datetime
    note: str
    tags: str
    record: str
    query: str

    @property
    def fields(self) -> dict[str, Any]:
        """The archive's full record."""
        return json.loads(self.record)


def item_key(archive: str, item_id: str, access_url: str, record: str = "") -> str:
    """The identity of an item: the same data from the same archive is one item.

    Rows with neither an identifier nor an access URL (a table sent over
    SAMP without UCDs) are told apart by their whole record.
    """
    identity = f"{item_id}\x1f{access_url}" if item_id or access_url else record
    return hashlib.sha256(f"{archive}\x1f{identity}".encode()).hexdigest()


def check_name(name: str) -> str:
    """Return a valid cart name or raise :class:`CartError` saying what is allowed."""
    name = name.strip()
    if not CART_NAME.match(name):
        raise CartError(f"cart name {name!r}: use 1 to 100 letters, digits, spaces and "
                        "_ . , ( ) + -, starting with a letter or digit")
    return name


#: UCDs of the cart's own columns (positions are ICRS).
COLUMN_UCDS = {"archive": "meta.curation", "id": "meta.id;meta.main", "title": "meta.title",
               "ra": "pos.eq.ra;meta.main", "dec": "pos.eq.dec;meta.main",
               "product_type": "meta.code.class", "s_region": "pos.outline;obs.field",
               "access_url": "meta.ref.url", "size": "phys.size;meta.file",
               "service_url": "meta.ref.url;meta.curation"}


#: The cart's own columns in an export, before each archive's columns.
EXPORTED = ("archive", "id", "title", "ra", "dec", "product_type", "access_url", "size",
            "service_url", "kind", "note", "tags", "added")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "archive"


def _typed(values: list[Any]) -> Column | MaskedColumn | None:
    """A column for JSON values: numbers, booleans or text; None (absent) and a
    non-finite number (a service's NaN) masked, never the text ``NaN``.  Nested
    values (lists, objects) are kept as JSON text."""
    values = [None if isinstance(v, float) and not math.isfinite(v) else v for v in values]
    present = [v for v in values if v is not None]
    mask = [v is None for v in values]
    if not present:
        return None
    if all(isinstance(v, bool) for v in present):
        data = np.array([bool(v) if v is not None else False for v in values])
    elif all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        data = np.array([v if v is not None else 0 for v in values], dtype=np.int64)
    elif all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        data = np.array([v if v is not None else np.nan for v in values], dtype=float)
    else:
        data = np.array(["" if v is None else v if isinstance(v, str) else json.dumps(v)
                         for v in values], dtype=str)
    return MaskedColumn(data, mask=mask) if any(mask) else Column(data)


class Cart:
    """A named cart of one user.  Use :meth:`open`.

    Parameters
    ----------
    store_url : str
        The database.
    user : str
        The owner.
    name : str
        The cart's name.
    cart_id : int
        Its row id.
    """

    def __init__(self, store_url: str, user: str, name: str, cart_id: int) -> None:
        self._store = store_for(store_url)
        self.user, self.name, self._id = user, name, cart_id

    def __repr__(self) -> str:
        return f"Cart(name={self.name!r}, user={self.user!r}, items={len(self)})"

    # ------------------------------------------------------------ opening
    @classmethod
    def open(cls, name: str = "default", *, user: str | None = None,
             profile: Profile | None = None, create: bool = True,
             token: str | None = None) -> Cart:
        """Open (and by default create) the cart ``name`` of the caller, from the
        deployment's database (which needs its credentials: its operators hold
        them; from anywhere else, ``esap_dash.Cart.open(name, url=..., token=...)``
        reaches it through the HTTP API).

        Parameters
        ----------
        name : str
            Cart name, e.g. ``"M1 study"``.
        user : str, optional
            In a single-user deployment, the owner (default ``local``).
            Refused in a deployment with logins: there the token decides.
        profile : Profile, optional
            The deployment (for its database); :func:`load_profile` by default.
        create : bool
            Create the cart when it does not exist.
        token : str, optional
            In a deployment with logins: your OIDC access token (default
            ``$ESAP_DASH_TOKEN``); the cart is then one of yours.

        Raises
        ------
        CartError
            Invalid name, or no such cart with ``create=False``.
        PermissionError
            The deployment has users and no valid token was given, or
            ``user=`` was.
        """
        profile = profile or load_profile()
        return cls.open_as(identity(profile, user, token), name, profile=profile, create=create)

    @classmethod
    def open_as(cls, user: str, name: str = "default", *, profile: Profile,
                create: bool = True) -> Cart:
        """Open the cart ``name`` of ``user``, an identity the caller has
        already established (the served dashboard, from its login).

        Code that holds the deployment's database credentials can call this
        for anyone, as an operator can; users call :meth:`open` with their
        token.
        """
        name = check_name(name)
        url = profile.database
        store = store_for(url)
        with store.engine.begin() as conn:
            row = conn.execute(sa.select(CARTS.c.id).where(
                (CARTS.c.user == user) & (CARTS.c.name == name))).first()
            if row is None:
                if not create:
                    raise CartError(f"you have no cart named {name!r}", status=404)
                conn.execute(insert_ignore(conn, CARTS, ["user", "name"]).values(
                    user=user, name=name, created=datetime.now(UTC)))
                row = conn.execute(sa.select(CARTS.c.id).where(
                    (CARTS.c.user == user) & (CARTS.c.name == name))).first()
        return cls(url, user, name, int(row[0]))

    @classmethod
    def names(cls, *, user: str | None = None, profile: Profile | None = None,
              token: str | None = None) -> list[str]:
        """Names of the caller's carts, sorted (identity as for :meth:`open`)."""
        profile = profile or load_profile()
        return cls.names_of(identity(profile, user, token), profile=profile)

    @classmethod
    def names_of(cls, user: str, *, profile: Profile) -> list[str]:
        """Names of the carts of ``user``, established by the caller (see :meth:`open_as`)."""
        with store_for(profile.database).engine.connect() as conn:
            return sorted(r[0] for r in conn.execute(
                sa.select(CARTS.c.name).where(CARTS.c.user == user)))

    @classmethod
    def from_share(cls, token: str, *, profile: Profile | None = None) -> Cart:
        """The cart a share token (from :meth:`share`) gives read access to.

        Raises
        ------
        CartError
            Unknown, revoked or expired token.
        """
        url = (profile or load_profile()).database
        store = store_for(url)
        digest = hashlib.sha256(token.encode()).hexdigest()
        with store.engine.connect() as conn:
            row = conn.execute(sa.select(CARTS.c.user, CARTS.c.name, CARTS.c.id, SHARES.c.expires)
                               .join(SHARES, SHARES.c.cart_id == CARTS.c.id)
                               .where(SHARES.c.token_hash == digest)).first()
        if row is None or _aware(row[3]) < datetime.now(UTC):
            raise CartError("this cart link is unknown, revoked or expired", status=404)
        return cls(url, row[0], row[1], int(row[2]))

    def share(self, days: float = 7.0) -> str:
        """A new secret token giving read access to this cart for ``days``.

        Anyone holding it can read the cart (that is its purpose: a notebook
        server fetching the cart); :meth:`revoke_shares` ends every link.
        """
        token = secrets.token_urlsafe(24)
        now = datetime.now(UTC)
        with self._store.engine.begin() as conn:
            conn.execute(SHARES.insert().values(
                token_hash=hashlib.sha256(token.encode()).hexdigest(), cart_id=self._id,
                created=now, expires=now + timedelta(days=days)))
        log.info("%s shared cart %r for %g days", self.user, self.name, days)
        return token

    def revoke_shares(self) -> int:
        """End every shared link to this cart; return how many there were."""
        with self._store.engine.begin() as conn:
            return int(conn.execute(SHARES.delete().where(SHARES.c.cart_id == self._id))
                       .rowcount)

    # ------------------------------------------------------------ content
    def __len__(self) -> int:
        with self._store.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(ITEMS).where(
                ITEMS.c.cart_id == self._id)).scalar_one())

    def add_rows(self, rows: Table, *, kind: str = "row") -> int:
        """Add result rows (common columns, with ``record`` and ``query``, the JSON of
        their :class:`~esap_dash.core.provenance.Provenance`); return how many were new.
        Rows already in the cart are kept as they are.
        """
        now = datetime.now(UTC)
        names = set(rows.colnames)

        def col(name: str, default: Any = "") -> list[Any]:
            if name not in names:
                return [default] * len(rows)
            values = rows[name].tolist()
            mask = np.ma.getmaskarray(rows[name])
            if mask.ndim == 1 and mask.any():
                return [default if m else v for v, m in zip(values, mask.tolist(), strict=True)]
            return values

        archive, item_ids, urls = col("archive"), col("id"), col("access_url")
        # Every item's provenance in the one form, naming the cart's user (rows of
        # one query share their record: each is read once).
        records = {q: Provenance.from_json(str(q or "{}"), user=self.user).to_json()
                   for q in set(col("query", "{}"))}
        archive, item_ids, urls = ([str(v) for v in c] for c in (archive, item_ids, urls))
        recs = [str(rec or "{}") for rec in col("record", "{}")]
        columns = {
            "cart_id": self._id, "kind": kind, "added": now, "note": "", "tags": "",
            "key": [item_key(a, i, u, r) for a, i, u, r in zip(archive, item_ids, urls, recs,
                                                               strict=True)],
            "archive": archive, "item_id": item_ids, "access_url": urls, "record": recs,
            "title": [str(t) for t in col("title")],
            "ra": [_float(v) for v in col("ra", None)],
            "dec": [_float(v) for v in col("dec", None)],
            "product_type": [str(p) for p in col("product_type")],
            "size": [None if v is None or int(v) < 0 else int(v) for v in col("size", None)],
            "service_url": [str(v) for v in col("service_url")],
            "query": [records[q] for q in col("query", "{}")]}
        self._remember_columns(rows.meta.get("columns") or {})
        return self._insert(columns, len(rows))

    def add_samp_table(self, table: Table, name: str, sender: str) -> int:
        """Add a table a SAMP client (``sender``) sent as ``name``, each row with where
        it came from (its archive is ``SAMP: <sender>``); how many rows were new."""
        rows = common_table(table, f"SAMP: {sender}",
                            {**name_mapping(table), **ucd_mapping(table)})
        rows["query"] = [Provenance("samp", user=self.user, services=(Service(sender, "samp"),),
                                    query={"table": name}).to_json()] * len(rows)
        return self.add_rows(rows, kind="samp")

    def _remember_columns(self, columns: dict[str, dict[str, dict[str, str]]]) -> None:
        """Keep what archives said of their own columns (for exports)."""
        values = [{"archive": str(archive)[:255], "name": str(name)[:255],
                   "unit": meta.get("unit", ""), "ucd": meta.get("ucd", ""),
                   "description": meta.get("description", "")}
                  for archive, names in columns.items() if isinstance(names, dict)
                  for name, meta in names.items() if isinstance(meta, dict)]
        if values:
            with self._store.engine.begin() as conn:
                conn.execute(insert_ignore(conn, ARCHIVE_COLUMNS, ["archive", "name"]), values)

    def _insert(self, columns: dict[str, Any], n: int) -> int:
        """Insert ``n`` items, given by column (a list, or one value for all)."""
        if not n:
            return 0
        with self._store.engine.begin() as conn:
            before = conn.execute(sa.select(sa.func.count()).select_from(ITEMS).where(
                ITEMS.c.cart_id == self._id)).scalar_one()
            _insert_many(conn, insert_ignore(conn, ITEMS, ["cart_id", "key"]), columns, n)
            after = conn.execute(sa.select(sa.func.count()).select_from(ITEMS).where(
                ITEMS.c.cart_id == self._id)).scalar_one()
        return int(after - before)

    def items(self, archive: str | None = None) -> list[CartItem]:
        """The items, oldest first; only one archive's when ``archive`` is given."""
        query = sa.select(*[ITEMS.c[c] for c in COLUMNS]).where(ITEMS.c.cart_id == self._id)
        if archive is not None:
            query = query.where(ITEMS.c.archive == archive)
        with self._store.engine.connect() as conn:
            rows = conn.execute(query.order_by(ITEMS.c.id)).all()
        return [CartItem(*row) for row in rows]

    def listing(self, columns: Sequence[str], *, offset: int = 0,
                limit: int | None = None) -> Any:
        """Some columns of every item (plus ``key``), oldest first, as a DataFrame;
        ``limit`` items from ``offset`` when given.

        Lighter than :meth:`items` for display: the full records stay in the
        database.  ``added`` is as the database keeps it (a time, or its text).
        """
        import pandas as pd

        names = ["key", *[c for c in columns if c != "key"]]
        query = sa.select(*[ITEMS.c[c] for c in names]).where(
            ITEMS.c.cart_id == self._id).order_by(ITEMS.c.id).offset(offset).limit(limit)
        with self._store.engine.connect() as conn:
            # Straight from the driver (dates as the database gives them: text on
            # SQLite): SQLAlchemy's rows cost more than reading them, for a big cart.
            compiled = query.compile(dialect=conn.dialect)
            params = (tuple(compiled.params[k] for k in compiled.positiontup)
                      if compiled.positional else compiled.params)
            cursor = conn.connection.dbapi_connection.cursor()
            try:
                cursor.execute(str(compiled), params)
                rows = cursor.fetchall()
            finally:
                cursor.close()
        return pd.DataFrame(rows, columns=names)

    def remove(self, keys: Iterable[str]) -> list[CartItem]:
        """Remove items by key; return the removed items (for undo).  Missing keys are
        ignored."""
        wanted = list(dict.fromkeys(keys))
        removed: list[CartItem] = []
        with self._store.engine.begin() as conn:  # one transaction: all or nothing
            for start in range(0, len(wanted), 500):
                chunk = (ITEMS.c.cart_id == self._id) & ITEMS.c.key.in_(
                    wanted[start:start + 500])
                removed += [CartItem(*row) for row in conn.execute(
                    sa.select(*[ITEMS.c[c] for c in COLUMNS]).where(chunk)).all()]
                conn.execute(ITEMS.delete().where(chunk))
        return removed

    def restore(self, items: Sequence[CartItem]) -> int:
        """Put removed items back (undo), with their notes and tags."""
        return self._insert({"cart_id": self._id, **{c: [getattr(i, c) for i in items]
                                                     for c in COLUMNS}}, len(items))

    def annotate(self, key: str, *, note: str | None = None, tags: str | None = None) -> None:
        """Set an item's note and/or tags.

        Raises
        ------
        CartError
            The item is not in this cart.
        """
        changes = {k: v for k, v in (("note", note), ("tags", tags)) if v is not None}
        with self._store.engine.begin() as conn:
            result = conn.execute(ITEMS.update().where(
                (ITEMS.c.cart_id == self._id) & (ITEMS.c.key == key)).values(**changes))
        if result.rowcount != 1:
            raise CartError("that item is not in the cart (any more)")

    # ------------------------------------------------------------ tables
    def coverage(self, order: int = 8) -> MOC | None:
        """Where the items are on the sky: their positions and the footprints
        (``s_region``) of their records; None for a cart without items."""
        with self._store.engine.connect() as conn:
            rows = conn.execute(sa.select(ITEMS.c.ra, ITEMS.c.dec, ITEMS.c.record).where(
                ITEMS.c.cart_id == self._id)).all()
        regions = [json.loads(r).get("s_region") if '"s_region"' in r else "" for *_, r in rows]
        return coverage_of(Table({
            "ra": np.array([np.nan if ra is None else ra for ra, *_ in rows], float),
            "dec": np.array([np.nan if dec is None else dec for _, dec, _ in rows], float),
            "s_region": [r if isinstance(r, str) else "" for r in regions]}), order)

    def to_table(self, *, offset: int = 0, limit: int | None = None) -> Table:
        """The items, oldest first, as an astropy Table (``record`` and ``query`` as JSON
        text); ``limit`` items from ``offset`` when given."""
        query = sa.select(*[ITEMS.c[c] for c in COLUMNS]).where(
            ITEMS.c.cart_id == self._id).order_by(ITEMS.c.id).offset(offset).limit(limit)
        with self._store.engine.connect() as conn:
            rows = conn.execute(query).all()
        by_column = list(zip(*rows, strict=True)) if rows else [()] * len(COLUMNS)
        columns = []
        for name, values in zip(COLUMNS, by_column, strict=True):
            if name in NUMERIC:
                mask = np.fromiter((v is None for v in values), bool, len(values))
                data = np.array([0 if v is None else v for v in values], dtype=NUMERIC[name])
                columns.append(MaskedColumn(data, name=name, mask=mask, copy=False))
            elif name == "added":
                columns.append(Column([v.isoformat() for v in values], name=name, dtype=str))
            else:
                columns.append(Column(values, name=name, dtype=str))
        table = Table(columns, copy=False)
        table["ra"].unit = table["dec"].unit = "deg"
        table["size"].unit = "byte"
        for name, ucd in COLUMN_UCDS.items():
            if name in table.colnames:
                table[name].meta["ucd"] = ucd
        # The item key (a digest) is for finding items again, not for reading: last.
        table = table[[c for c in table.colnames if c != "key"] + ["key"]]
        table.meta.update(cart=self.name, user=self.user)
        return table

    def to_pandas(self) -> Any:
        """The items as a pandas DataFrame."""
        return self.to_table().to_pandas()

    def summary(self) -> dict[str, Any]:
        """Counts per archive and kind, and the total size where known."""
        with self._store.engine.connect() as conn:
            rows = conn.execute(sa.select(ITEMS.c.archive, ITEMS.c.kind, sa.func.count(),
                                          sa.func.sum(ITEMS.c.size))
                                .where(ITEMS.c.cart_id == self._id)
                                .group_by(ITEMS.c.archive, ITEMS.c.kind)).all()
        return {"groups": [{"archive": a, "kind": k, "count": int(n), "bytes": int(b or 0)}
                           for a, k, n, b in rows],
                "count": sum(int(r[2]) for r in rows),
                "bytes": sum(int(r[3] or 0) for r in rows)}

    def fetch(self, item: CartItem, directory: str | Path = ".", *,
              timeout: float = 60.0) -> Path:
        """Download an item's access URL into ``directory``; return the file.

        Raises
        ------
        CartError
            The item has no access URL.
        connectors.exceptions.ConnectorError
            The download failed (unreachable, HTTP error).
        """
        from connectors.http import make_session, request

        if not item.access_url.startswith(("http://", "https://")):
            raise CartError(f"{item.title!r} has no downloadable access URL")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with request(make_session(timeout), "GET", item.access_url, stream=True) as resp:
            target = directory / file_name(item.access_url, resp.headers, item.key)
            partial = target.with_suffix(target.suffix + ".part")
            with partial.open("wb") as out:
                for chunk in resp.iter_content(1 << 16):
                    out.write(chunk)
            partial.replace(target)
        return target

    def provenance(self, keys: Iterable[str] | None = None) -> ProvDocument:
        """The provenance of the items (those of ``keys`` if given) as a W3C PROV
        document (see :mod:`esap_dash.core.lineage`)."""
        items = self.items()
        if keys is not None:
            wanted = set(keys)
            items = [i for i in items if i.key in wanted]
        rules = [r for r in self._store.jobs(self.user, "rucio-rule")
                 if r["detail"].get("cart") == self.name]
        return cart_document(self.name, self.user, items, rules=rules)

    def embedded_provenance(self, format: str = "prov-json") -> str:
        """What exports carry of the provenance: every item's, as PROV-JSON (or PROV-N
        with ``format="prov-n"``), up to :data:`EMBED_LIMIT` items (beyond, a note:
        export the cart as PROV-JSON for it)."""
        count = len(self)
        if count > EMBED_LIMIT:
            return (f"{count:,} items: too many to carry their provenance here; export the "
                    "cart as PROV-JSON (prov-json) for it")
        doc = self.provenance()
        return doc.get_provn() if format == "prov-n" else doc.serialize(format="json")

    def export(self, path: str | Path, format: str = "votable", *, origin: str = "") -> Path:
        """Write the cart as ``votable``, ``ecsv``, ``csv``, ``notebook``, ``prov-json``
        or ``prov-n``.

        An empty cart gives a valid empty file.  ``notebook`` is a Jupyter
        notebook that finds the items again with pyvo and the Rucio client
        and records their provenance (see :mod:`esap_dash.core.notebook`);
        it reaches the live cart at ``origin``, the dashboard's address (unless
        its server says another in ``$ESAP_DASH_URL``).  ``prov-json`` and
        ``prov-n`` are the items' provenance in W3C PROV (which the VOTable
        and the notebook carry too).
        """
        formats = {"votable": "votable", "ecsv": "ascii.ecsv", "csv": "ascii.csv"}
        path = Path(path)
        if format in ("prov-json", "prov-n"):
            doc = self.provenance()
            path.write_text(doc.serialize(format="json") if format == "prov-json"
                            else doc.get_provn())
            return path
        if format == "notebook":
            import nbformat

            from .notebook import cart_notebook

            nbformat.write(cart_notebook(self, origin), str(path))
            return path
        if format not in formats:
            raise CartError(f"unknown format {format!r}; use {', '.join(formats)}, notebook, "
                            "prov-json or prov-n")
        tables = self.archive_tables()
        wide = wide_table(tables) if tables else self.archive_table([])
        wide.meta = {"cart": self.name}
        if format == "votable":  # one TABLE: astropy and TOPCAT read the whole cart
            return write_votable(wide, path, resource=f"esap-dash cart {self.name}",
                                 provenance=self.embedded_provenance())
        if format == "ecsv":  # its header carries metadata: the provenance too
            wide.meta["provenance"] = self.embedded_provenance()
        wide.write(path, format=formats[format], overwrite=True)
        return path

    def export_bytes(self, format: str = "votable", *, origin: str = "") -> bytes:
        """The cart as :meth:`export` writes it, as bytes (for a download or an answer)."""
        with tempfile.TemporaryDirectory(prefix="esap-dash-export-") as tmp:
            return self.export(Path(tmp) / "cart", format, origin=origin).read_bytes()

    def archive_tables(self) -> list[Table]:
        """One table per archive: the cart's columns, then the archive's own columns
        (typed, with the units, UCDs and descriptions the archive gave)."""
        groups: dict[str, list[CartItem]] = {}
        for item in self.items():
            groups.setdefault(item.archive, []).append(item)
        return [self.archive_table(items) for items in groups.values()]

    def archive_table(self, items: list[CartItem]) -> Table:
        """The items of one archive as in :meth:`archive_tables` (empty: the cart's
        columns only)."""
        archive = items[0].archive if items else ""
        table = Table()
        for name in EXPORTED:
            values = [getattr(i, "item_id" if name == "id" else name) for i in items]
            if name in ("ra", "dec", "size"):
                mask = [v is None for v in values]
                data = [0 if v is None else v for v in values]
                table[name] = MaskedColumn(np.array(data, dtype=float if name != "size"
                                                    else np.int64), mask=mask)
            elif name == "added":
                table[name] = Column([v.isoformat() for v in values], dtype=str)
            else:
                table[name] = Column([str(v) for v in values], dtype=str)
            if name in COLUMN_UCDS:
                table[name].meta["ucd"] = COLUMN_UCDS[name]
        table["ra"].unit = table["dec"].unit = "deg"
        table["size"].unit = "byte"
        described = self._column_meta(archive)
        records = [i.fields for i in items]
        own = list(dict.fromkeys(k for r in records for k in r))
        for key in own:
            name = key if key not in table.colnames else f"{key}_{_slug(archive)}"
            column = _typed([r.get(key) for r in records])
            if column is None:
                continue
            meta = described.get(key, {})
            if meta.get("unit"):
                column.unit = meta["unit"]  # a unit astropy does not know is kept as text
            if meta.get("ucd"):
                column.meta["ucd"] = meta["ucd"]
            column.description = meta.get("description") or None
            table[name] = column
        table.meta.update(cart=self.name, archive=archive)
        return table

    def _column_meta(self, archive: str) -> dict[str, dict[str, str]]:
        with self._store.engine.connect() as conn:
            rows = conn.execute(sa.select(ARCHIVE_COLUMNS).where(
                ARCHIVE_COLUMNS.c.archive == archive)).mappings().all()
        return {r["name"]: dict(r) for r in rows}


#: File name endings of the media types archives answer with.
MEDIA_SUFFIXES = {"application/fits": ".fits", "image/fits": ".fits",
                  "application/x-fits": ".fits", "application/x-votable+xml": ".xml",
                  "text/xml": ".xml", "application/xml": ".xml", "text/csv": ".csv",
                  "application/json": ".json", "image/png": ".png", "image/jpeg": ".jpg",
                  "application/gzip": ".gz", "application/x-tar": ".tar"}


def file_name(url: str, headers: Mapping[str, str], fallback: str) -> str:
    """A safe local file name for a download: the one the server gives
    (``Content-Disposition``), else the URL path's last part; a request with
    parameters (a SODA cutout, ``dlget?ID=...&CIRCLE=...``) adds a digest of them,
    so that two cutouts of one image are two files; a name without an ending gets
    the one of its media type (``.fits``).
    """
    said = re.search(r'filename\*?=(?:UTF-8\'\')?"?([^";]+)"?',
                     headers.get("Content-Disposition", ""), re.IGNORECASE)
    parts = urlsplit(url)
    name = unquote(said.group(1)) if said else unquote(parts.path.rstrip("/").rsplit("/", 1)[-1])
    name = re.sub(r"[^\w.\-+]", "_", name.rsplit("/", 1)[-1]).lstrip(".") or fallback
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem:
        stem, suffix = name, ""
    media = headers.get("Content-Type", "").split(";")[0].strip().lower()
    ending = f".{suffix}" if suffix else MEDIA_SUFFIXES.get(media, "")
    if parts.query:
        stem += "-" + hashlib.sha256(url.encode()).hexdigest()[:10]
    return stem + ending


def wide_table(tables: Sequence[Table]) -> Table:
    """Archives' tables (:meth:`Cart.archive_tables`) as one table, their rows one
    after the other and their columns side by side (empty where an archive has none).

    A column that is text in one archive and a number in another (an identifier)
    becomes text in all, each value as written; one whose unit differs between
    archives keeps each archive's values, with their unit, in a column named after
    the archive (``mag_<archive>``).

    Parameters
    ----------
    tables : sequence of astropy.table.Table
        One per archive, each with ``meta["archive"]``.

    Returns
    -------
    astropy.table.Table
    """
    kinds: dict[str, set[str]] = {}
    units: dict[str, set[str]] = {}
    for table in tables:
        for name in table.colnames:
            column = table[name]
            kinds.setdefault(name, set()).add("text" if column.dtype.kind in "USO"
                                              else "number")
            units.setdefault(name, set()).add(str(column.unit or ""))
    shaped = []
    for table in tables:
        table = table.copy(copy_data=False)
        for name in table.colnames:
            if len(units[name]) > 1:
                table.rename_column(name, f"{name}_{_slug(str(table.meta.get('archive')))}")
            elif len(kinds[name]) > 1 and table[name].dtype.kind not in "USO":
                table[name] = _as_text(table[name])
        shaped.append(table)
    return vstack(shaped, join_type="outer", metadata_conflicts="silent")


def _as_text(column: Column) -> Column:
    """A column's values as text (a masked value as empty), its metadata kept."""
    mask = np.ma.getmaskarray(column)
    return Column([("" if m else str(v)) for v, m in zip(column.tolist(), mask, strict=True)],
                  name=column.name, dtype=str, unit=column.unit,
                  description=column.description, meta=column.meta)


def record_rows(archive: str, service_url: str, records: Sequence[dict[str, Any]], *,
                id: str, title: str, product_type: str | None = None,
                access_url: str | None = None, size: str | None = None,
                query: dict[str, Any] | None = None, service_kind: str = "") -> Table:
    """Rows for :meth:`Cart.add_rows` from records that are not sky results.

    Data-lake identifiers and software records have no position; their
    fields are named by the keyword arguments (``id="did"``, ``size="bytes"``
    ...) and the whole record is kept.

    Parameters
    ----------
    archive, service_url : str
        Where the records come from.
    records : sequence of dict
        One dict per item.
    id, title : str
        Keys of the identifier and title.
    product_type, access_url, size : str, optional
        Keys of the product type, download URL and size in bytes.
    query : dict, optional
        What was asked (kept as provenance with the time).
    service_kind : str, optional
        The kind of service that answered (``rucio``, ``zenodo`` ...).
    """
    def values(key: str | None, default: Any = "") -> list[Any]:
        return [r.get(key, default) if key else default for r in records]

    provenance = Provenance("records", services=(Service(archive, service_kind, service_url),),
                            query=query or {}).to_json()
    return Table({"archive": [archive] * len(records), "id": [str(v) for v in values(id)],
                  "title": [str(v) for v in values(title)],
                  "product_type": [str(v) for v in values(product_type)],
                  "access_url": [str(v) for v in values(access_url)],
                  "size": [int(v or 0) or -1 for v in values(size, -1)],
                  "service_url": [service_url] * len(records),
                  "record": [json.dumps(r, default=str) for r in records],
                  "query": [provenance] * len(records)},
                 dtype=[str, str, str, str, str, np.int64, str, str, str])


def _aware(moment: datetime) -> datetime:
    """SQLite returns naive datetimes (stored in UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _insert_many(conn: sa.Connection, insert: Any, columns: dict[str, Any], n: int) -> None:
    """Insert ``n`` rows, given by column (a list, or one value for every row),
    straight through the database driver.

    The statement is compiled once and values are converted by their column's
    type only where the type asks for it (dates on SQLite), a value shared by
    every row once: SQLAlchemy's per-row parameter handling costs more than the
    database's own insert for the 100,000 rows of a big cart.
    """
    compiled = insert.compile(dialect=conn.dialect, column_keys=list(columns))
    values = {}
    for name, value in columns.items():
        convert = insert.table.c[name].type.dialect_impl(conn.dialect).bind_processor(
            conn.dialect)
        if isinstance(value, list):
            values[name] = [convert(v) for v in value] if convert else value
        else:
            values[name] = itertools.repeat(convert(value) if convert else value, n)
    if compiled.positional:
        conn.exec_driver_sql(str(compiled), list(zip(*(values[c] for c in compiled.positiontup),
                                                     strict=False)))
    else:
        names = list(values)
        conn.exec_driver_sql(str(compiled), [dict(zip(names, row, strict=True))
                                             for row in zip(*values.values(), strict=False)])
