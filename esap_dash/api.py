"""The HTTP API, ``/api/v1``: a user's carts and jobs for any client, acting as the caller.

Served by the dashboard's own server (and so behind the same proxy).  Every
call says who it comes from with the deployment's OIDC access token
(``Authorization: Bearer <token>``, the same identity, ``sub``, as a browser
login) and reaches only that user's records.  A single-user deployment
(no logins) answers only calls from this machine (loopback).  Errors are
HTTP statuses with an RFC 9457 problem body (``application/problem+json``).
Metadata is JSON; a cart's items as a table are an export (VOTable by
default).  The routes are described by the OpenAPI document at
``/api/v1/openapi.json``.
"""

from __future__ import annotations

import ipaddress
import json
import tempfile
from http import HTTPStatus
from pathlib import Path
from typing import Any

import tornado.httputil
import tornado.web

from connectors.exceptions import ConnectorError

from . import __version__
from .actor import Actor
from .cart import Cart, CartError
from .config import Profile
from .fanout import run_blocking
from .jobs import JobError, follow, kind_of, kinds
from .users import identity

__all__ = ["API_ROOT", "MAX_PAGE", "api_routes", "openapi"]

API_ROOT = "/api/v1"
#: Most items one page of ``/carts/{name}/items`` returns.
MAX_PAGE = 1000
#: Export formats and their media types.
EXPORTS = {"votable": "application/x-votable+xml", "ecsv": "text/plain; charset=utf-8",
           "csv": "text/csv; charset=utf-8", "notebook": "application/x-ipynb+json",
           "prov-json": "application/json", "prov-n": "text/provenance-notation"}
#: What the API says of a job.
JOB_FIELDS = ("id", "kind", "state", "progress", "what", "owner", "created", "ended",
              "duration", "error", "service", "ref")
#: Item columns of the JSON listing.
ITEM_FIELDS = ("key", "archive", "kind", "item_id", "title", "ra", "dec", "product_type",
               "access_url", "size", "added", "note", "tags")


class ApiHandler(tornado.web.RequestHandler):
    """Base of the API's routes: who calls, and errors as problem documents."""

    def initialize(self, profile: Profile) -> None:
        """Keep the deployment profile (tornado passes the route's arguments)."""
        self.profile = profile

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "private, no-store")

    def check_xsrf_cookie(self) -> None:
        """Calls carry a bearer token, not cookies: no cross-site forgery to guard."""

    async def caller(self) -> str:
        """The calling user's identity (``sub``), from the bearer token.

        Raises
        ------
        tornado.web.HTTPError
            401 without a valid token; 403 from another machine to a
            single-user deployment.
        """
        if self.profile.users == "single":
            if not _loopback(self.request):
                raise Problem(403, "This deployment has no logins: its API answers only "
                                   "calls from its own machine.")
            return identity(self.profile)
        scheme, _, token = self.request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Problem(401, "Send your access token: Authorization: Bearer <token>.",
                          challenge='Bearer realm="esap-dash"')
        try:
            return await run_blocking(identity, self.profile, None, token.strip())
        except PermissionError as exc:
            raise Problem(401, f"Your token was not accepted: {exc}.",
                          challenge='Bearer realm="esap-dash", error="invalid_token"') from None

    async def cart(self, name: str) -> Cart:
        """The caller's cart ``name`` (404 when the caller has none of that name)."""
        user = await self.caller()
        try:
            return await run_blocking(lambda: Cart.open_as(user, name, profile=self.profile,
                                                           create=False))
        except CartError as exc:
            raise Problem(404, str(exc)) from None

    async def job(self, job_id: str) -> tuple[Actor, dict[str, Any]]:
        """The caller (as an actor) and their job ``job_id`` as recorded (404 when the
        caller has no such job)."""
        actor = Actor(self.profile, await self.caller())
        record = await run_blocking(actor.store.job, actor.user, int(job_id))
        if record is None:
            raise Problem(404, f"You have no job {job_id}.")
        return actor, record

    def write_json(self, value: Any) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(value, default=str))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """An RFC 9457 problem document."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        self.set_header("Content-Type", "application/problem+json")
        body = {"type": "about:blank", "title": HTTPStatus(status_code).phrase,
                "status": status_code}
        if isinstance(exc, Problem):
            body["detail"] = exc.detail
            if exc.challenge:
                self.set_header("WWW-Authenticate", exc.challenge)
        self.finish(json.dumps(body))


class Problem(tornado.web.HTTPError):
    """An error answered as a problem document saying ``detail`` (with the
    ``WWW-Authenticate`` ``challenge`` of a 401)."""

    def __init__(self, status: int, detail: str, *, challenge: str = "") -> None:
        super().__init__(status)
        self.detail, self.challenge = detail, challenge



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


class OpenApiHandler(ApiHandler):
    """``GET /api/v1/openapi.json``: the API's description (no token needed)."""

    def get(self) -> None:
        self.write_json(openapi())


class CartsHandler(ApiHandler):
    """``GET /api/v1/carts``: the caller's carts and how many items each holds."""

    async def get(self) -> None:
        user = await self.caller()

        def carts() -> list[dict[str, Any]]:
            return [{"name": name, "items": len(Cart.open_as(user, name, profile=self.profile,
                                                             create=False))}
                    for name in Cart.names_of(user, profile=self.profile)]

        self.write_json({"carts": await run_blocking(carts)})


class CartHandler(ApiHandler):
    """``GET /api/v1/carts/{name}``: a cart's summary (items and bytes per archive)."""

    async def get(self, name: str) -> None:
        cart = await self.cart(name)
        summary = await run_blocking(cart.summary)
        self.write_json({"name": cart.name, **summary})


class CartItemsHandler(ApiHandler):
    """``GET /api/v1/carts/{name}/items?offset=0&limit=100``: one page of a cart's items,
    oldest first."""

    async def get(self, name: str) -> None:
        try:
            offset = int(self.get_query_argument("offset", "0"))
            limit = int(self.get_query_argument("limit", "100"))
        except ValueError:
            raise Problem(400, "offset and limit are whole numbers.") from None
        if offset < 0 or not 1 <= limit <= MAX_PAGE:
            raise Problem(400, f"offset is 0 or more and limit 1 to {MAX_PAGE}.")
        cart = await self.cart(name)

        def page() -> tuple[int, list[dict[str, Any]]]:
            rows = cart.listing(ITEM_FIELDS[1:], offset=offset, limit=limit)
            rows["added"] = rows["added"].astype(str)
            return len(cart), json.loads(rows.to_json(orient="records"))

        total, items = await run_blocking(page)
        self.write_json({"cart": cart.name, "total": total, "offset": offset,
                         "limit": limit, "items": items})


class CartExportHandler(ApiHandler):
    """``GET /api/v1/carts/{name}/export?format=votable``: the cart as a file, in any
    format the Cart page offers."""

    async def get(self, name: str) -> None:
        fmt = self.get_query_argument("format", "votable")
        if fmt not in EXPORTS:
            raise Problem(400, f"Unknown format {fmt!r}; one of {', '.join(EXPORTS)}.")
        cart = await self.cart(name)

        def export() -> bytes:
            with tempfile.TemporaryDirectory(prefix="esap-dash-api-") as tmp:
                return Path(cart.export(Path(tmp) / "cart", fmt)).read_bytes()

        body = await run_blocking(export)
        self.set_header("Content-Type", EXPORTS[fmt])
        self.finish(body)


class JobsHandler(ApiHandler):
    """``GET /api/v1/jobs?kind=``: the caller's jobs of every kind (or one), newest
    first, with their live states."""

    async def get(self) -> None:
        kind = self.get_query_argument("kind", None)
        if kind is not None and kind not in kinds():
            raise Problem(400, f"Unknown job kind {kind!r}; one of {', '.join(kinds())}.")
        jobs = await follow(Actor(self.profile, await self.caller()), kind)
        self.write_json({"jobs": [{k: j[k] for k in JOB_FIELDS} for j in jobs]})


class JobHandler(ApiHandler):
    """``GET /api/v1/jobs/{id}``: one of the caller's jobs, with its live state."""

    async def get(self, job_id: str) -> None:
        actor, record = await self.job(job_id)
        job = next(j for j in await follow(actor, record["kind"]) if j["id"] == record["id"])
        self.write_json({k: job[k] for k in JOB_FIELDS})


class JobAbortHandler(ApiHandler):
    """``POST /api/v1/jobs/{id}/abort``: abort one of the caller's jobs where it runs
    (202: asked for; 409: it does not run)."""

    async def post(self, job_id: str) -> None:
        actor, record = await self.job(job_id)
        try:
            await run_blocking(kind_of(record).abort, actor, record)
        except JobError as exc:
            raise Problem(409, str(exc)) from None
        except ConnectorError as exc:
            raise Problem(502, f"{record['service']}: {exc.reason}") from None
        self.set_status(202)
        self.write_json({"id": record["id"], "abort": "asked for"})


def api_routes(profile: Profile) -> list[tuple[str, type, dict[str, Any]]]:
    """The API's Tornado routes for the deployment ``profile``."""
    cart = rf"{API_ROOT}/carts/([^/]+)"
    return [(rf"{API_ROOT}/openapi\.json", OpenApiHandler, {"profile": profile}),
            (rf"{API_ROOT}/carts", CartsHandler, {"profile": profile}),
            (cart, CartHandler, {"profile": profile}),
            (rf"{cart}/items", CartItemsHandler, {"profile": profile}),
            (rf"{cart}/export", CartExportHandler, {"profile": profile}),
            (rf"{API_ROOT}/jobs", JobsHandler, {"profile": profile}),
            (rf"{API_ROOT}/jobs/(\d+)", JobHandler, {"profile": profile}),
            (rf"{API_ROOT}/jobs/(\d+)/abort", JobAbortHandler, {"profile": profile})]


def openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API."""
    name = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"},
            "description": "The cart's name."}
    job_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"},
              "description": "The job's number."}
    problem_ref = {"description": "A problem (RFC 9457).",
                   "content": {"application/problem+json": {"schema": {
                       "$ref": "#/components/schemas/Problem"}}}}
    errors = {"401": problem_ref, "404": problem_ref}

    def json_answer(description: str) -> dict[str, Any]:
        return {"200": {"description": description,
                        "content": {"application/json": {"schema": {"type": "object"}}}},
                **errors}

    return {
        "openapi": "3.1.0",
        "info": {"title": "esap-dash API", "version": __version__,
                 "description": "A user's carts and jobs, acting as the caller (OIDC "
                                "bearer token)."},
        "servers": [{"url": API_ROOT}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Problem": {"type": "object", "properties": {
                "type": {"type": "string"}, "title": {"type": "string"},
                "status": {"type": "integer"}, "detail": {"type": "string"}}}}},
        "paths": {
            "/carts": {"get": {"summary": "Your carts and their sizes.",
                               "responses": json_answer("Your carts.")}},
            "/carts/{name}": {"get": {"summary": "A cart's summary.", "parameters": [name],
                                      "responses": json_answer("Items and bytes per archive.")}},
            "/carts/{name}/items": {"get": {
                "summary": "One page of a cart's items, oldest first.",
                "parameters": [name,
                               {"name": "offset", "in": "query",
                                "schema": {"type": "integer", "minimum": 0, "default": 0}},
                               {"name": "limit", "in": "query",
                                "schema": {"type": "integer", "minimum": 1,
                                           "maximum": MAX_PAGE, "default": 100}}],
                "responses": {**json_answer("The page, with the cart's total."),
                              "400": problem_ref}}},
            "/carts/{name}/export": {"get": {
                "summary": "The cart as a file.",
                "parameters": [name, {"name": "format", "in": "query", "schema": {
                    "type": "string", "enum": list(EXPORTS), "default": "votable"}}],
                "responses": {"200": {"description": "The file.", "content": {
                    mime.split(";")[0]: {} for mime in EXPORTS.values()}},
                    "400": problem_ref, **errors}}},
            "/jobs": {"get": {
                "summary": "Your jobs of every kind, newest first, with live states.",
                "parameters": [{"name": "kind", "in": "query", "schema": {"type": "string"},
                                "description": "Only jobs of this kind (tap, rucio-rule, "
                                               "dask, ...)."}],
                "responses": {**json_answer("Your jobs."), "400": problem_ref}}},
            "/jobs/{id}": {"get": {"summary": "One of your jobs.", "parameters": [job_id],
                                   "responses": json_answer("The job.")}},
            "/jobs/{id}/abort": {"post": {
                "summary": "Abort one of your jobs where it runs.", "parameters": [job_id],
                "responses": {"202": {"description": "Abort asked for."},
                              "409": problem_ref, "502": problem_ref, **errors}}},
        },
    }
