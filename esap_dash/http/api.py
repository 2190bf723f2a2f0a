"""The HTTP API, ``/api/v1``: carts, searches, jobs and services for any client,
acting as the caller.

Served by the dashboard's own server (and so behind the same proxy).  Every
call says who it comes from with the deployment's OIDC access token
(``Authorization: Bearer <token>``, the same identity, ``sub``, as a browser
login) and reaches only that user's records.  A single-user deployment
(no logins) answers only calls from this machine (loopback).  Errors are
HTTP statuses with an RFC 9457 problem body (``application/problem+json``).
Metadata is JSON; tables (a cart's items, a search's rows, a job's result)
are VOTables.  Calls are counted per user and minute in the database (the
limit holds across server processes); request bodies, pages and searches
have limits of their own (the profile's ``[api]``).  The routes are
described by the OpenAPI document at ``/api/v1/openapi.json``
(:mod:`esap_dash.http.openapi`).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import io
import ipaddress
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, timedelta
from http import HTTPStatus
from typing import Any, TypeVar
from urllib.parse import quote

import numpy as np
import tornado.httputil
import tornado.iostream
import tornado.web
from astropy.table import Table

from connectors.exceptions import ConnectorError, QueryError
from connectors.rucio import RucioConnector

from ..core.actor import Actor
from ..core.cart import Cart
from ..core.config import Profile
from ..core.errors import EsapError
from ..core.fanout import run_blocking
from ..core.health import shared_health
from ..core.runtime import current_runtime
from ..core.search import Searches, SearchRequest, SearchResults, sky_archives
from ..core.users import LoginProviderError, identity
from ..core.votable import VOTableLimitError, read_bounded_votable, write_votable
from ..work.jobs import FINAL, check_request, follow, kind_of, kinds, request_schema
from ..work.lake import upload_to_lake
from ..work.servers import notebook_servers, stop_notebook_server
from ..work.workflows import load_workflows, reference_service
from .openapi import (
    API_ROOT,
    DID_PATTERN,
    EXPORTS,
    JOB_FIELDS,
    MAX_HISTORY,
    MAX_PAGE,
    MAX_TABLE_PAGE,
    SEARCH_FIELDS,
    VOTABLE,
    openapi,
)

__all__ = ["api_routes"]

T = TypeVar("T")

log = logging.getLogger(__name__)

#: Item columns of the JSON listing.
ITEM_FIELDS = ("key", "archive", "kind", "item_id", "title", "ra", "dec", "product_type",
               "access_url", "size", "added", "note", "tags")
_CLUSTER = re.compile(r"^[\w.\-]{1,100}$")
_DID = re.compile(DID_PATTERN)
#: Bytes of a data-lake file read and sent at a time.
CONTENT_CHUNK = 1 << 20
#: Token checks wait for the login provider: a few threads of their own (a part of
#: the runtime), so that a slow provider never holds the threads the pages and
#: searches use.
TOKEN_CHECKS = 4
#: Deepest JSON a request may send (Python's reader fails far deeper, but slowly).
MAX_JSON_NESTING = 32
#: Most columns and rows of a VOTable sent to a cart in one call.
MAX_FIELDS, MAX_ROWS = 1_000, 100_000
#: An ``Idempotency-Key`` (printable ASCII, optionally quoted as a structured-field
#: string), how long a POST's first answer is kept for it, and how long a request may
#: hold its key before the claim lapses (its server process died).
IDEMPOTENCY_KEY = re.compile(r'^"?([\x21\x23-\x7e]{1,255})"?$')
IDEMPOTENCY_KEPT = timedelta(hours=24)
IDEMPOTENCY_ABANDONED = timedelta(minutes=10)


def _idempotent(post: Any) -> Any:
    """A POST route that answers a retried request (same ``Idempotency-Key``, same
    request) with its first answer instead of acting again: 409 while the first is
    still being answered, 422 when the key came with another request."""
    @functools.wraps(post)
    async def answer_once(self: ApiHandler, *args: str) -> None:
        said = self.request.headers.get("Idempotency-Key")
        if said is None:
            return await post(self, *args)
        match = IDEMPOTENCY_KEY.match(said)
        if match is None:
            raise Problem(400, "An Idempotency-Key is 1 to 255 printable ASCII characters.")
        key, actor = match.group(1), await self.actor()
        request = hashlib.sha256(b"\n".join(
            [self.request.method.encode(), self.request.uri.encode(), self.raw_body])).hexdigest()
        kept = await run_blocking(functools.partial(
            actor.store.claim_key, actor.user, key, request, keep=IDEMPOTENCY_KEPT,
            abandoned=IDEMPOTENCY_ABANDONED))
        if kept is not None:
            if kept["request"] != request:
                raise Problem(422, "This Idempotency-Key came with another request: "
                                   "use a new key for a new request.")
            if kept["status"] is None:
                raise Problem(409, "The first request with this Idempotency-Key is still "
                                   "being answered; ask again shortly.",
                              headers={"Retry-After": "5"})
            self.set_header("Idempotent-Replayed", "true")
            self.write_json(json.loads(kept["body"]), kept["status"], kept["location"] or "")
            return None
        # The answer is kept before it is sent: a retry never finds the key unanswered
        # after its first request was answered.
        self.holding = True
        try:
            await post(self, *args)
        except BaseException:
            await run_blocking(actor.store.release_key, actor.user, key)
            raise
        finally:
            self.holding = False
        if self.answered is None:  # answered otherwise (a table): nothing to replay
            await run_blocking(actor.store.release_key, actor.user, key)
            return None
        await run_blocking(actor.store.answer_key, actor.user, key, *self.answered)
        self.finish(self.answered[2])
        return None
    return answer_once


class Problem(tornado.web.HTTPError):
    """An error answered as a problem document saying ``detail``, with extra
    response ``headers`` (the ``WWW-Authenticate`` challenge of a 401 ...)."""

    def __init__(self, status: int, detail: str, *,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status)
        self.detail, self.headers = detail, dict(headers or {})


def _unauthorized(detail: str, error: str = "") -> Problem:
    challenge = 'Bearer realm="esap-dash"' + (f', error="{error}"' if error else "")
    return Problem(401, detail, headers={"WWW-Authenticate": challenge})


@tornado.web.stream_request_body
class ApiHandler(tornado.web.RequestHandler):
    """Base of the API's routes: who calls, limits, and errors as problem documents.

    A request body is read only after the caller's token was accepted, and only up
    to the deployment's limit (what comes beyond it is not kept)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every POST route answers a retried request with an ``Idempotency-Key`` once."""
        super().__init_subclass__(**kwargs)
        if "post" in cls.__dict__:
            cls.post = _idempotent(cls.__dict__["post"])

    def initialize(self, profile: Profile) -> None:
        """Keep the deployment profile (tornado passes the route's arguments)."""
        self.profile = profile
        self._user: str | None = None
        #: The JSON answer given (status, Location, body), for an idempotency key; while
        #: ``holding``, it is kept here and sent once it is stored.
        self.answered: tuple[int, str, str] | None = None
        self.holding = False
        self._chunks: list[bytes] = []
        self._received = 0

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "private, no-store")

    def check_xsrf_cookie(self) -> None:
        """Calls carry a bearer token, not cookies: no cross-site forgery to guard."""

    def compute_etag(self) -> None:
        """No entity tags (answers are per caller and never cached): no 304 answers."""
        return None

    @property
    def body_limit(self) -> int:
        """The most bytes of a request body read here."""
        return int(float(self.profile.api["max_body_mb"]) * 2**20)

    def _too_large(self) -> Problem:
        return Problem(413, f"A request's body is at most "
                            f"{float(self.profile.api['max_body_mb']):g} MB here.")

    #: Whether the route answers without a token.
    public = False

    async def prepare(self) -> None:
        """Who calls, before anything of the request is read (its query, its body);
        refuse a body over the deployment's limit by its announced length."""
        if not self.public:
            await self.caller()
        try:
            length = int(self.request.headers.get("Content-Length") or 0)
        except ValueError:
            raise Problem(400, "Content-Length is not a number.") from None
        if length > self.body_limit:
            raise self._too_large()

    def data_received(self, chunk: bytes) -> None:
        """Keep the body up to the limit (a chunked body has no announced length)."""
        self._received += len(chunk)
        if self._received <= self.body_limit:
            self._chunks.append(chunk)

    @property
    def raw_body(self) -> bytes:
        """The request's body (413 when it was over the limit)."""
        if self._received > self.body_limit:
            raise self._too_large()
        return b"".join(self._chunks)

    async def caller(self) -> str:
        """The calling user's identity (``sub``), from the bearer token; counts the call.

        Raises
        ------
        tornado.web.HTTPError
            401 without a valid token; 403 from another machine to a
            single-user deployment; 429 over the user's calls per minute.
        """
        if self._user is not None:
            return self._user
        if self.profile.users == "single":
            if not _loopback(self.request):
                raise Problem(403, "This deployment has no logins: its API answers only "
                                   "calls from its own machine.")
            user = identity(self.profile)
        else:
            scheme, _, token = self.request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise _unauthorized("Send your access token: Authorization: Bearer <token>.")
            try:
                runtime = current_runtime()
                checks = runtime.part("token-checks", lambda: ThreadPoolExecutor(
                    TOKEN_CHECKS, thread_name_prefix="esap-token-check"))
                user = await asyncio.wrap_future(runtime.submit(
                    identity, self.profile, None, token.strip(), executor=checks))
            except PermissionError as exc:
                raise _unauthorized(f"Your token was not accepted: {exc}.",
                                    "invalid_token") from None
            except LoginProviderError as exc:
                raise Problem(503, f"Your token could not be checked now: {exc}.",
                              headers={"Retry-After": "30"}) from None
        now = time.time()
        calls = await run_blocking(Actor(self.profile, user).store.count_call, user,
                                   int(now // 60))
        rate = int(self.profile.api["rate_per_minute"])
        if calls > rate:
            raise Problem(429, f"At most {rate} calls a minute; wait for the next minute.",
                          headers={"Retry-After": str(60 - int(now % 60))})
        self._user = user
        return user

    async def actor(self) -> Actor:
        """The caller as an :class:`~esap_dash.core.actor.Actor`."""
        return Actor(self.profile, await self.caller())

    async def cart(self, name: str, *, create: bool = False) -> Cart:
        """The caller's cart ``name`` (404 when the caller has none of that name)."""
        user = await self.caller()
        return await run_blocking(lambda: Cart.open_as(user, name, profile=self.profile,
                                                       create=create))

    async def job(self, job_id: str) -> tuple[Actor, dict[str, Any]]:
        """The caller (as an actor) and their job ``job_id`` as recorded (404 when the
        caller has no such job)."""
        actor = await self.actor()
        record = (await run_blocking(actor.store.job, actor.user, int(job_id))
                  if _whole(int(job_id)) else None)
        if record is None:
            raise Problem(404, f"You have no job {job_id}.")
        return actor, record

    async def search_rows(self, search_id: int) -> Table:
        """The rows kept of the caller's search ``search_id``, with their provenance."""
        user = await self.caller()
        kept = (await run_blocking(Actor(self.profile, user).store.search_rows, user,
                                   search_id) if _whole(search_id) else None)
        if kept is None:
            raise Problem(404, f"You have no search {search_id} made through this API.")
        return await run_blocking(lambda: Table.read(kept[0].decode(), format="ascii.ecsv"))

    def body(self) -> dict[str, Any]:
        """The request's JSON object (400 when it is not one)."""
        body = self.raw_body
        if body.count(b"[") + body.count(b"{") > MAX_JSON_NESTING and _depth(body) > \
                MAX_JSON_NESTING:
            raise Problem(400, f"The request's JSON is nested deeper than "
                               f"{MAX_JSON_NESTING} levels.")
        try:
            value = json.loads(body or b"{}")
        except ValueError:
            raise Problem(400, "The request's body is not JSON.") from None
        if not isinstance(value, dict):
            raise Problem(400, "The request's body is a JSON object.")
        if _SURROGATE_ESCAPE.search(body):  # JSON may spell them; text has none
            try:
                json.dumps(value, ensure_ascii=False).encode()
            except UnicodeEncodeError:
                raise Problem(400, "The request's JSON holds an unpaired surrogate "
                                   "(\\ud800-\\udfff alone): that is not text.") from None
        return value

    def integer(self, name: str, default: int, low: int, high: int | None = None) -> int:
        """A whole-number query argument within ``low`` .. ``high`` (400 otherwise)."""
        said = (f"{name} is a whole number from {low} to {high}." if high is not None
                else f"{name} is a whole number, {low} or more.")
        high = 2**63 - 1 if high is None else high
        try:
            value = int(self.get_query_argument(name, str(default)))
        except ValueError:
            raise Problem(400, said) from None
        if not low <= value <= high:
            raise Problem(400, said)
        return value

    def page(self, most: int, default: int = 100) -> tuple[int, int]:
        """The ``offset`` and ``limit`` query arguments of a listing (400 when off)."""
        return self.integer("offset", 0, 0), self.integer("limit", min(default, most), 1, most)

    def write_json(self, value: Any, status: int = 200, location: str = "") -> None:
        self.set_status(status)
        if location:
            self.set_header("Location", location)
        self.set_header("Content-Type", "application/json")
        text = json.dumps(value, default=str)
        self.answered = (status, location, text)
        if not self.holding:
            self.finish(text)

    async def write_table(self, table: Table, resource: str) -> None:
        """Answer with ``table`` as a VOTable (written in a worker thread)."""
        def votable() -> bytes:
            out = io.BytesIO()
            write_votable(table, out, resource=resource)
            return out.getvalue()

        self.set_header("Content-Type", VOTABLE)
        self.finish(await run_blocking(votable))

    @property
    def allowed(self) -> list[str]:
        """The methods this route answers."""
        methods = [m for m in ("GET", "POST", "PUT", "PATCH", "DELETE")
                   if getattr(type(self), m.lower()) is not
                   getattr(tornado.web.RequestHandler, m.lower())]
        return methods + ["HEAD"] * ("GET" in methods)

    async def head(self, *args: str) -> None:
        """As ``GET``, without the body."""
        if "GET" not in self.allowed:
            raise tornado.web.HTTPError(405)
        await self.get(*args)  # type: ignore[attr-defined]

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """An esap-dash error is an answer, not a failure of the server: one line (a
        5xx one as a warning); anything else is logged with its traceback."""
        if isinstance(value, EsapError):
            log.log(logging.WARNING if value.status >= 500 else logging.INFO,
                    "%s %s: %s %s", self.request.method, self.request.path, value.status,
                    value)
            return
        super().log_exception(typ, value, tb)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """An RFC 9457 problem document; an esap-dash error (:class:`EsapError`) is
        answered with its own status and sentence."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, EsapError):
            status_code = exc.status
            self.set_status(status_code)
        self.set_header("Content-Type", "application/problem+json")
        body = {"type": "about:blank", "title": HTTPStatus(status_code).phrase,
                "status": status_code}
        if status_code == 405:
            self.set_header("Allow", ", ".join(self.allowed))
            body["detail"] = (f"{self.request.method} is not answered at "
                              f"{self.request.path}; it answers {', '.join(self.allowed)}.")
        if isinstance(exc, Problem):
            body["detail"] = exc.detail
            for name, value in exc.headers.items():
                self.set_header(name, value)
        elif isinstance(exc, EsapError):
            body["detail"] = str(exc)
        self.finish(json.dumps(body))


def _loopback(request: tornado.httputil.HTTPServerRequest) -> bool:
    """Whether the call comes from this machine: its peer is loopback and, when that
    peer is the deployment's nginx (``--workers``), so is the address nginx took it
    from (``X-Real-IP``, which only a loopback peer is trusted to set)."""
    peer = ipaddress.ip_address(request.remote_ip)
    forwarded = request.headers.get("X-Real-IP")
    try:
        return peer.is_loopback and (not forwarded
                                     or ipaddress.ip_address(forwarded).is_loopback)
    except ValueError:
        return False


#: A JSON escape of a UTF-16 surrogate (paired ones spell one character; an unpaired
#: one is no character at all).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _service_problem(exc: ConnectorError, service: str) -> Problem:
    """A service's refusal (404: it has no such thing for the caller; 400: the request
    was wrong) or failure (502)."""
    if isinstance(exc, QueryError):
        return Problem(404 if exc.status == 404 else 400, f"{service}: {exc.reason}")
    return Problem(502, f"{service}: {exc.reason}")


class OpenApiHandler(ApiHandler):
    """``GET /api/v1/openapi.json``: the API's description (no token needed)."""

    public = True

    def get(self) -> None:
        self.write_json(openapi(archives=list(sky_archives(self.profile)), kinds={
            name: request_schema(kind) for name, kind in kinds().items()}))


class MeHandler(ApiHandler):
    """``GET /api/v1/me``: who the caller is to this deployment."""

    async def get(self) -> None:
        self.write_json({"user": await self.caller(), "deployment": self.profile.name,
                         "title": self.profile.title, "logins": self.profile.users})


# ---------------------------------------------------------------- carts
class CartsHandler(ApiHandler):
    """``GET /api/v1/carts``: the caller's carts and their sizes; ``POST``: a new cart."""

    async def get(self) -> None:
        user = await self.caller()

        offset, limit = self.page(MAX_PAGE)

        def carts() -> tuple[int, list[dict[str, Any]]]:
            names = Cart.names_of(user, profile=self.profile)
            return len(names), [
                {"name": name, "items": len(Cart.open_as(user, name, profile=self.profile,
                                                        create=False))}
                for name in names[offset:offset + limit]]

        total, listed = await run_blocking(carts)
        self.write_json({"carts": listed, "total": total, "offset": offset, "limit": limit})

    async def post(self) -> None:
        body = self.body()
        name = body.get("name")
        if not isinstance(name, str) or set(body) != {"name"}:
            raise Problem(400, 'Name the cart: {"name": "M1 study"}.')
        actor = await self.actor()
        existed = name in await run_blocking(actor.cart_names)
        cart = await self.cart(name, create=True)
        self.write_json({"name": cart.name, "items": await run_blocking(len, cart)},
                        200 if existed else 201, f"{API_ROOT}/carts/{quote(cart.name, safe='')}")


class CartHandler(ApiHandler):
    """``GET /api/v1/carts/{name}``: a cart's summary (items and bytes per archive)."""

    async def get(self, name: str) -> None:
        cart = await self.cart(name)
        summary = await run_blocking(cart.summary)
        self.write_json({"name": cart.name, **summary})


class CartItemsHandler(ApiHandler):
    """``/api/v1/carts/{name}/items``: read a page of items (``GET``, JSON or VOTable),
    add rows (``POST``), remove items (``DELETE``)."""

    async def get(self, name: str) -> None:
        fmt = self.get_query_argument("format", "json")
        if fmt not in ("json", "votable"):
            raise Problem(400, f"Unknown format {fmt!r}; json or votable.")
        offset = self.integer("offset", 0, 0)
        limit = self.integer("limit", 100, 1, MAX_PAGE if fmt == "json" else MAX_TABLE_PAGE)
        cart = await self.cart(name)
        if fmt == "votable":
            table = await run_blocking(lambda: cart.to_table(offset=offset, limit=limit))
            await self.write_table(table, f"cart {cart.name}")
            return

        def page() -> tuple[int, list[dict[str, Any]]]:
            rows = cart.listing(ITEM_FIELDS[1:], offset=offset, limit=limit)
            rows["added"] = rows["added"].astype(str)
            return len(cart), json.loads(rows.to_json(orient="records"))

        total, items = await run_blocking(page)
        self.write_json({"cart": cart.name, "total": total, "offset": offset,
                         "limit": limit, "items": items})

    async def post(self, name: str) -> None:
        if self.request.headers.get("Content-Type", "").split(";")[0].strip() == VOTABLE:
            rows = await run_blocking(_rows_of_votable, self.raw_body)
        else:
            rows = await self._chosen_rows(self.body())
        cart = await self.cart(name, create=True)

        def add() -> tuple[int, int]:
            return cart.add_rows(rows), len(cart)

        added, total = await run_blocking(add)
        self.write_json({"cart": cart.name, "added": added, "already": len(rows) - added,
                         "total": total})

    async def _chosen_rows(self, body: dict[str, Any]) -> Table:
        """Rows of one of the caller's searches (``search``, ``rows``: their indices, all
        when not given) or the result of one of their jobs (``job``)."""
        if _whole(body.get("job")) and set(body) == {"job"}:
            actor, record = await self.job(str(body["job"]))
            kind = kind_of(record)
            try:
                return await run_blocking(
                    lambda: kind.cart_rows(record, kind.result(actor, record)))
            except ConnectorError as exc:
                raise _service_problem(exc, record["service"]) from None
        if not _whole(body.get("search")) or set(body) - {"search", "rows"}:
            raise Problem(400, 'Say which rows: {"search": <id>, "rows": [0, 2]}, '
                               '{"job": <id>}, or send a VOTable of rows '
                               f"(Content-Type: {VOTABLE}).")
        table = await self.search_rows(body["search"])
        chosen = body.get("rows")
        if chosen is None:
            return table
        if not isinstance(chosen, list) or not all(_whole(i) and 0 <= i < len(table)
                                                   for i in chosen):
            raise Problem(400, f"rows is a list of row numbers, 0 to {len(table) - 1}.")
        return table[chosen]

    async def delete(self, name: str) -> None:
        keys = self.get_query_arguments("key")
        if not keys:
            raise Problem(400, "Name the items to remove: ?key=<item key>&key=...")
        cart = await self.cart(name)

        def remove() -> tuple[int, int]:
            return len(cart.remove(keys)), len(cart)

        removed, total = await run_blocking(remove)
        self.write_json({"cart": cart.name, "removed": removed, "total": total})


def _depth(body: bytes) -> int:
    """How deep the arrays and objects of a JSON text nest (strings skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _whole(value: Any) -> bool:
    """Whether a JSON value is a whole number (not a boolean) that a database keeps
    (64 bits)."""
    return isinstance(value, int) and not isinstance(value, bool) and \
        -2**63 <= value < 2**63


def _votable(body: bytes) -> Table:
    """The table of a VOTable body (400 when it is not one, or is larger than the API
    takes at once)."""
    try:
        return read_bounded_votable(body, max_fields=MAX_FIELDS, max_rows=MAX_ROWS)
    except VOTableLimitError as exc:
        raise Problem(400, str(exc)) from None
    except Exception as exc:  # astropy raises many kinds for a broken VOTable
        raise Problem(400, f"The body is not a readable VOTable: {exc}") from None


def _rows_of_votable(body: bytes) -> Table:
    """The rows of a VOTable sent to a cart (400 when it is not one, is larger than a
    cart takes at once, or lacks the columns a cart item needs)."""
    rows = _votable(body)
    if "archive" not in rows.colnames or not {"id", "access_url"} & set(rows.colnames):
        raise Problem(400, "Rows for a cart need an archive column and an id or "
                           "access_url column.")
    return rows


class CartExportHandler(ApiHandler):
    """``GET /api/v1/carts/{name}/export?format=votable``: the cart as a file, in any
    format the Cart page offers."""

    async def get(self, name: str) -> None:
        fmt = self.get_query_argument("format", "votable")
        if fmt not in EXPORTS:
            raise Problem(400, f"Unknown format {fmt!r}; one of {', '.join(EXPORTS)}.")
        cart = await self.cart(name)
        body = await run_blocking(cart.export_bytes, fmt)
        self.set_header("Content-Type", EXPORTS[fmt])
        self.finish(body)


# ---------------------------------------------------------------- searches
class SearchesHandler(ApiHandler):
    """``GET /api/v1/searches``: the caller's searches, newest first (their history);
    ``POST``: search the deployment's archives at once."""

    async def get(self) -> None:
        offset, limit = self.page(MAX_HISTORY, default=50)
        actor = await self.actor()
        entries = await run_blocking(actor.store.history, actor.user, limit, offset)
        self.write_json({"searches": [_search_json(e) for e in entries], "offset": offset,
                         "limit": limit})

    async def post(self) -> None:
        body = self.body()
        actor = await self.actor()
        searches = Searches(actor)
        request = _search_request(body, list(searches.services))
        try:
            position = await searches.locate(request)
        except ConnectorError as exc:
            raise _service_problem(exc, "target") from None
        try:
            query = request.query(position)
        except QueryError as exc:
            raise Problem(400, exc.reason) from None
        results = SearchResults(searches.services, actor.user)
        async for _ in searches.ask(request, query, results,
                                    deadline=float(self.profile.api["deadline"])):
            pass
        search_id = await run_blocking(lambda: searches.remember(
            results, request.archives, keep_rows=True))
        self.write_json({"id": search_id, "query": query.to_dict(),
                         "position": {"ra": position.ra, "dec": position.dec,
                                      "source": position.source},
                         "archives": results.outcomes(), "rows": len(results.merged),
                         "rows_url": f"{API_ROOT}/searches/{search_id}/rows"},
                        201, f"{API_ROOT}/searches/{search_id}")


def _search_request(body: dict[str, Any], sky: list[str]) -> SearchRequest:
    """The search a request's body asks for (400 for anything else)."""
    unknown = sorted(set(body) - set(SEARCH_FIELDS))
    if unknown:
        raise Problem(400, f"Unknown field(s) {', '.join(unknown)}; a search takes "
                           f"{', '.join(SEARCH_FIELDS)}.")
    for name, value in body.items():
        if value is not None and (not isinstance(value, SEARCH_FIELDS[name])
                                  or isinstance(value, bool)):
            raise Problem(400, f"{name}: {json.dumps(value)[:40]} is not a "
                               f"{' or '.join(t.__name__ for t in SEARCH_FIELDS[name])}.")
    fields = {k: v for k, v in body.items() if v is not None}
    if not str(fields.get("target", "")).strip():
        raise Problem(400, "Say where: target is an object name or coordinates.")
    archives = fields.pop("archives", sky)
    wrong = [a for a in archives if a not in sky]
    if wrong or not archives:
        raise Problem(400, f"Unknown archive(s) {', '.join(map(str, wrong)) or '(none)'}; "
                           f"this deployment searches {', '.join(sky)}.")
    keywords = fields.get("keywords", ())
    fields["keywords"] = tuple(keywords.split() if isinstance(keywords, str)
                               else map(str, keywords))
    return SearchRequest(**fields, archives=tuple(dict.fromkeys(archives)))


def _search_json(entry: dict[str, Any]) -> dict[str, Any]:
    """A search of the history as the API says it (its time in ISO 8601, UTC)."""
    created = entry["created"]
    if created.tzinfo is None:  # SQLite keeps UTC without saying so
        created = created.replace(tzinfo=UTC)
    return {**entry, "created": created.isoformat(timespec="seconds")}


class SearchHandler(ApiHandler):
    """``GET /api/v1/searches/{id}``: one of the caller's searches and what each
    archive answered."""

    async def get(self, search_id: str) -> None:
        actor = await self.actor()
        entry = (await run_blocking(actor.store.search, actor.user, int(search_id))
                 if _whole(int(search_id)) else None)
        if entry is None:
            raise Problem(404, f"You have no search {search_id}.")
        kept = await run_blocking(actor.store.search_rows, actor.user, int(search_id))
        self.write_json({**_search_json(entry), "archives": kept[1] if kept else [
            {"archive": a, "rows": entry["row_counts"].get(a)} for a in entry["archives"]],
            "rows_url": f"{API_ROOT}/searches/{search_id}/rows" if kept else None})


class SearchRowsHandler(ApiHandler):
    """``GET /api/v1/searches/{id}/rows``: a search's rows as a VOTable, numbered as
    ``POST /carts/{name}/items`` takes them."""

    async def get(self, search_id: str) -> None:
        table = await self.search_rows(int(search_id))
        await self.write_table(table, f"search {search_id}")


# ---------------------------------------------------------------- jobs
class JobsHandler(ApiHandler):
    """``GET /api/v1/jobs?kind=``: the caller's jobs of every kind (or one), newest
    first, with their live states; ``POST``: a new job of any kind."""

    async def get(self) -> None:
        kind = self.get_query_argument("kind", None)
        if kind is not None and kind not in kinds():
            raise Problem(400, f"Unknown job kind {kind!r}; one of {', '.join(kinds())}.")
        offset, limit = self.page(MAX_PAGE)
        jobs = await follow(await self.actor(), kind, offset=offset, limit=limit)
        self.write_json({"jobs": [_job_json(j) for j in jobs], "offset": offset,
                         "limit": limit})

    async def post(self) -> None:
        request = self.body()
        kind = kinds().get(str(request.pop("kind", "")))
        if kind is None:
            raise Problem(400, f"Say the job's kind: one of {', '.join(kinds())}.")
        check_request(kind, request)
        actor = await self.actor()
        try:
            job_id = await run_blocking(lambda: kind.submit(actor, **request))
        except ConnectorError as exc:
            raise _service_problem(exc, str(request.get("service") or kind.label)) from None
        job = (await follow(actor, kind.name, job=job_id))[0]
        self.write_json(_job_json(job), 201, f"{API_ROOT}/jobs/{job_id}")


def _job_json(job: dict[str, Any]) -> dict[str, Any]:
    """What the API says of a job: :data:`JOB_FIELDS`, and ``final``: whether its state
    no longer changes by itself."""
    return {**{k: job[k] for k in JOB_FIELDS}, "final": job["state"] in FINAL}


class JobHandler(ApiHandler):
    """``GET /api/v1/jobs/{id}``: one of the caller's jobs, with its live state."""

    async def get(self, job_id: str) -> None:
        actor, record = await self.job(job_id)
        job = (await follow(actor, record["kind"], job=record["id"]))[0]
        self.write_json(_job_json(job))


class JobAbortHandler(ApiHandler):
    """``POST /api/v1/jobs/{id}/abort``: abort one of the caller's jobs where it runs
    (202: asked for; 409: it does not run)."""

    async def post(self, job_id: str) -> None:
        actor, record = await self.job(job_id)
        job = (await follow(actor, record["kind"], job=record["id"]))[0]
        if job["state"] in FINAL:
            raise Problem(409, f"Job {record['id']} has ended ({job['state']}): there is "
                               "nothing to abort.")
        try:
            await run_blocking(kind_of(record).abort, actor, record)
        except ConnectorError as exc:
            raise Problem(502, f"{record['service']}: {exc.reason}") from None
        self.write_json({"id": record["id"], "abort": "asked for"}, 202)


class JobRetryHandler(ApiHandler):
    """``POST /api/v1/jobs/{id}/retry``: ask for one of the caller's jobs again: a new
    job as it was asked (201), or, for a STUCK replication rule, the same rule tried
    again where it is (202; 409 when it is not STUCK)."""

    async def post(self, job_id: str) -> None:
        actor, record = await self.job(job_id)
        try:
            new = await run_blocking(kind_of(record).retry, actor, record)
        except ConnectorError as exc:
            raise _service_problem(exc, record["service"]) from None
        job = (await follow(actor, record["kind"], job=new))[0]
        if new == record["id"]:
            self.write_json(_job_json(job), 202)
        else:
            self.write_json(_job_json(job), 201, f"{API_ROOT}/jobs/{new}")


class JobResultHandler(ApiHandler):
    """``GET /api/v1/jobs/{id}/result``: what one of the caller's jobs produced, as a
    VOTable (409 while it has none)."""

    async def get(self, job_id: str) -> None:
        actor, record = await self.job(job_id)
        try:
            result = await run_blocking(kind_of(record).result, actor, record)
        except ConnectorError as exc:
            raise _service_problem(exc, record["service"]) from None
        await self.write_table(result.table, f"job {record['id']}")


class WorkflowsHandler(ApiHandler):
    """``GET /api/v1/workflows``: the workflows a run (job kind ``dask``) can use, with
    their parameters' defaults, and the TAP service they read reference catalogues
    from (a notebook runs them on its own cluster with it)."""

    async def get(self) -> None:
        await self.caller()
        flows, problems = await run_blocking(load_workflows)
        tap = reference_service(self.profile) if self.profile.by_role("archive") else None
        self.write_json({"workflows": [{"name": name, "title": flow.title,
                                        "parameters": flow.defaults()}
                                       for name, flow in flows.items()],
                         "unusable": problems, "reference_tap": tap.url if tap else None})


# ---------------------------------------------------------------- compute
class GatewayHandler(ApiHandler):
    """Base of the routes of the caller's Dask Gateway clusters."""

    async def gateway(self, cluster: str | None = None) -> Any:
        """The gateway as the caller (404 without one, or for a name no cluster can
        have; 403 without an account)."""
        if cluster is not None and not _CLUSTER.match(cluster):
            raise Problem(404, "No cluster has that name.")
        gateway = (await self.actor()).connector("gateway")
        if gateway is None:
            raise Problem(404, "This deployment has no Dask Gateway.")
        return gateway

    async def call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        """A gateway call in a worker thread (its failures as problems; a cluster that is
        not the caller's is one they do not have, whoever's it is)."""
        try:
            return await run_blocking(lambda: method(*args, **kwargs))
        except QueryError as exc:
            if args and exc.status in (403, 404):
                raise Problem(404, f"You have no cluster {args[0]}.") from None
            raise _service_problem(exc, "Dask Gateway") from None
        except ConnectorError as exc:
            raise _service_problem(exc, "Dask Gateway") from None


class ClustersHandler(GatewayHandler):
    """``GET /api/v1/clusters``: the caller's Dask Gateway clusters; ``POST``: a new one
    (its ``options`` as the gateway offers them)."""

    async def get(self) -> None:
        gateway = await self.gateway()
        self.write_json({"clusters": await self.call(gateway.clusters)})

    async def post(self) -> None:
        options = self.body().get("options") or {}
        if not isinstance(options, dict):
            raise Problem(400, 'options is a JSON object: {"options": {"worker_cores": 1}}.')
        gateway = await self.gateway()
        name = await self.call(gateway.start_cluster, **options)
        self.write_json({"name": name}, 201, f"{API_ROOT}/clusters/{name}")


class ClusterHandler(GatewayHandler):
    """``GET /api/v1/clusters/{name}``: one of the caller's clusters; ``DELETE``: stop it."""

    async def get(self, name: str) -> None:
        gateway = await self.gateway(name)
        self.write_json(await self.call(gateway.cluster, name))

    async def delete(self, name: str) -> None:
        gateway = await self.gateway(name)
        await self.call(gateway.cluster, name)  # the caller's own, or 404
        await self.call(gateway.stop_cluster, name)
        self.write_json({"name": name, "stop": "asked for"}, 202)


class ClusterScaleHandler(GatewayHandler):
    """``POST /api/v1/clusters/{name}/scale`` (``{"workers": n}``): scale a cluster."""

    async def post(self, name: str) -> None:
        workers = self.body().get("workers")
        if not _whole(workers) or workers < 0:
            raise Problem(400, 'Say how many workers: {"workers": 2}.')
        gateway = await self.gateway(name)
        note = await self.call(gateway.scale, name, workers)
        self.write_json({"name": name, "workers": workers, "note": note}, 202)


class FacilitiesHandler(ApiHandler):
    """``GET /api/v1/facilities``: where work and notebooks can run: the Dask Gateway
    and the BinderHubs and JupyterHubs of the deployment."""

    async def get(self) -> None:
        await self.caller()
        compute = [{"id": s.id, "name": s.name, "kind": s.kind, "url": s.url}
                   for s in self.profile.by_role("gateway")]
        hubs = [{"id": f.id, "name": f.name, "kind": f.kind, "url": f.url}
                for f in self.profile.facilities]
        self.write_json({"facilities": compute + hubs})


class ServersHandler(ApiHandler):
    """``GET /api/v1/servers``: the caller's notebook servers at each JupyterHub of the
    deployment that shows them (as the Jobs page lists them), with what each hub does
    not say: a failed last start, a server that does not answer, a waiting batch job."""

    async def get(self) -> None:
        hubs = await run_blocking(notebook_servers, await self.actor())
        self.write_json({"hubs": [
            {"id": h.facility.id, "name": h.facility.name, "problem": h.problem,
             "failure": h.failure,
             "servers": [{"name": s.name, "state": s.state, "started": s.started,
                          "last_activity": s.last_activity, "engine": s.engine,
                          "url": s.url, "note": s.note} for s in h.servers]}
            for h in hubs]})


class ServerHandler(ApiHandler):
    """``DELETE /api/v1/servers/{facility}[?name=]``: ask that hub to stop the caller's
    server (the default one without a name); the notebooks stay in the user's home."""

    async def delete(self, facility: str) -> None:
        name = self.get_query_argument("name", "")
        await run_blocking(stop_notebook_server, await self.actor(), facility, name)
        self.write_json({"facility": facility, "name": name, "stop": "asked for"}, 202)


class LakeHandler(ApiHandler):
    """Base of the data lake's routes: the caller's Rucio account."""

    async def lake(self) -> RucioConnector:
        """The data lake as the caller (404: the deployment has none)."""
        lake = (await self.actor()).connector("rucio")
        if lake is None:
            raise Problem(404, "This deployment has no Rucio data lake.")
        return lake

    async def ask(self, call: Callable[[RucioConnector, str, str], T]) -> tuple[str, str, T]:
        """``call(lake, scope, name)`` for the data identifier of the ``did`` query
        argument (``scope:name``; 400 otherwise), as the caller, off the event loop;
        the data lake's refusals as problems."""
        did = self.get_query_argument("did", "")
        if not _DID.fullmatch(did):
            raise Problem(400, "Say the data identifier as did=scope:name (e.g. "
                               "esap:crab_images).")
        scope, _, name = did.partition(":")
        lake = await self.lake()
        try:
            return scope, name, await run_blocking(call, lake, scope, name)
        except ConnectorError as exc:
            raise _lake_problem(exc) from None


def _lake_problem(exc: ConnectorError) -> Problem:
    """A refusal of the data lake: not the caller's to read (403), not a file or no
    replica this server reads (409), or as :func:`_service_problem` says."""
    status = getattr(exc, "status", None)
    if status in (403, 409):
        return Problem(status, f"Data lake: {exc.reason}")
    return _service_problem(exc, "Data lake")


class QuotasHandler(LakeHandler):
    """``GET /api/v1/quotas``: the caller's storage quota in the Rucio data lake, per
    RSE (bytes used and the limit; ``null``: none)."""

    async def get(self) -> None:
        lake = await self.lake()
        try:
            quotas = await run_blocking(lake.quotas)
        except ConnectorError as exc:
            raise _service_problem(exc, "Rucio") from None
        self.write_json({"account": lake.account, "quotas": [
            {"rse": str(q["rse"]), "used": int(q["used"]), "files": int(q["files"]),
             **{k: None if np.ma.is_masked(q[k]) else int(q[k]) for k in ("limit", "left")}}
            for q in quotas]})


class LakeFilesHandler(LakeHandler):
    """``GET /api/v1/lake/files?did=scope:name``: the files of a data identifier (a
    file: itself), with their sizes and checksums.  ``POST /api/v1/lake/files?name=&cart=``:
    a notebook's table (a VOTable body, kept as a VOTable carrying its provenance) or
    file (any other body, kept as it is) uploaded to the caller's scope of the data
    lake with its provenance, and put in a cart (201; 409: the name is taken)."""

    async def get(self) -> None:
        scope, name, files = await self.ask(RucioConnector.list_files)
        self.write_json({"did": f"{scope}:{name}", "files": [
            {"did": f"{f['scope']}:{f['name']}", "bytes": int(f["bytes"]),
             "adler32": str(f["adler32"])} for f in files]})

    async def post(self) -> None:
        name = self.get_query_argument("name", "")
        cart = self.get_query_argument("cart", "")
        note = self.get_query_argument("note", "")
        if not name or not cart:
            raise Problem(400, "Say the file's name and the cart: ?name=my-table.vot&cart=...")
        body = self.raw_body
        if not body:
            raise Problem(400, "Send the table (a VOTable) or the file as the body.")
        is_table = self.request.headers.get("Content-Type", "").split(";")[0].strip() == VOTABLE
        content = await run_blocking(_votable, body) if is_table else body
        actor = await self.actor()
        await self.cart(cart, create=True)  # (a name a cart may have, or 400)
        try:
            done = await run_blocking(lambda: upload_to_lake(actor, content, name, cart=cart,
                                                             note=note))
        except ConnectorError as exc:
            raise _service_problem(exc, "Data lake") from None
        self.write_json({"did": done.did, "rse": done.rse, "bytes": done.bytes,
                         "cart": done.cart, "added": done.added}, 201)


class LakeContentHandler(LakeHandler):
    """``GET /api/v1/lake/content?did=scope:name``: the bytes of a file of the data lake
    that the caller may read, from a replica this server reads, with its size and its
    Adler-32 checksum (``Digest: adler32=...``, as Rucio keeps it)."""

    async def get(self) -> None:
        scope, name, opened = await self.ask(RucioConnector.open_file)
        try:
            self.set_header("Content-Type", "application/octet-stream")
            self.set_header("Content-Disposition", "attachment; filename*=UTF-8''"
                            + quote(name.rsplit("/", 1)[-1], safe=""))
            self.set_header("Content-Length", str(opened.size))
            if opened.adler32:
                self.set_header("Digest", f"adler32={opened.adler32}")
            while chunk := await run_blocking(opened.read, CONTENT_CHUNK):
                self.write(chunk)
                await self.flush()
        except tornado.iostream.StreamClosedError:
            log.info("%s left before the end of %s:%s", self._user, scope, name)
        finally:
            await run_blocking(opened.close)


class ServicesHandler(ApiHandler):
    """``GET /api/v1/services``: every service of the deployment and whether it answers
    (answers up to the profile's health period old are reused)."""

    async def get(self) -> None:
        await self.caller()
        checks = [h async for h in shared_health(
            self.profile.services, self.profile.health_period)]
        self.write_json({"services": [
            {"name": h.name, "kind": h.kind, "url": h.url, "up": h.up,
             "seconds": round(h.seconds, 3), "detail": h.detail,
             "checked_at": h.checked_at.isoformat(timespec="seconds")} for h in checks]})


class NotFoundHandler(ApiHandler):
    """Any other path under the API's root: a 404 problem, whatever the method."""

    async def prepare(self) -> None:
        raise Problem(404, f"No such route: {self.request.path}; the routes are listed at "
                           f"{API_ROOT}/openapi.json.")


def api_routes(profile: Profile) -> list[tuple[str, type, dict[str, Any]]]:
    """The API's Tornado routes for the deployment ``profile``."""
    cart, job, search = (rf"{API_ROOT}/carts/([^/]+)", rf"{API_ROOT}/jobs/(\d+)",
                         rf"{API_ROOT}/searches/(\d+)")
    routes = [(rf"{API_ROOT}/openapi\.json", OpenApiHandler), (rf"{API_ROOT}/me", MeHandler),
              (rf"{API_ROOT}/carts", CartsHandler), (cart, CartHandler),
              (rf"{cart}/items", CartItemsHandler), (rf"{cart}/export", CartExportHandler),
              (rf"{API_ROOT}/searches", SearchesHandler), (search, SearchHandler),
              (rf"{search}/rows", SearchRowsHandler),
              (rf"{API_ROOT}/jobs", JobsHandler), (job, JobHandler),
              (rf"{job}/abort", JobAbortHandler), (rf"{job}/result", JobResultHandler),
              (rf"{job}/retry", JobRetryHandler), (rf"{API_ROOT}/lake/files", LakeFilesHandler),
              (rf"{API_ROOT}/lake/content", LakeContentHandler),
              (rf"{API_ROOT}/workflows", WorkflowsHandler),
              (rf"{API_ROOT}/clusters", ClustersHandler),
              (rf"{API_ROOT}/clusters/([^/]+)", ClusterHandler),
              (rf"{API_ROOT}/clusters/([^/]+)/scale", ClusterScaleHandler),
              (rf"{API_ROOT}/facilities", FacilitiesHandler),
              (rf"{API_ROOT}/servers", ServersHandler),
              (rf"{API_ROOT}/servers/(?P<facility>[^/]+)", ServerHandler),
              (rf"{API_ROOT}/quotas", QuotasHandler),
              (rf"{API_ROOT}/services", ServicesHandler),
              (rf"{API_ROOT}(?:/.*)?", NotFoundHandler)]
    return [(path, handler, {"profile": profile}) for path, handler in routes]
