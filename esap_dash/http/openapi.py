"""The HTTP API's contract: its root, limits and formats, and its OpenAPI 3.1
document (the routes are :mod:`esap_dash.http.api`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib.metadata import version
from typing import Any

from connectors.query import DEFAULT_RADIUS, FRAMES, MAX_RADIUS, MIN_RADIUS, MJD_RANGE

__all__ = ["API_ROOT", "EXPORTS", "JOB_FIELDS", "MAX_HISTORY", "MAX_PAGE", "MAX_TABLE_PAGE",
           "SCHEMAS", "SEARCH_FIELDS", "VOTABLE", "openapi"]

API_ROOT = "/api/v1"

#: Most items one page of ``/carts/{name}/items`` returns as JSON, and as a VOTable.
MAX_PAGE = 1000
MAX_TABLE_PAGE = 10_000
#: Most searches ``/searches`` lists.
MAX_HISTORY = 200
VOTABLE = "application/x-votable+xml"
#: Export formats and their media types.
EXPORTS = {"votable": VOTABLE, "ecsv": "text/plain; charset=utf-8",
           "csv": "text/csv; charset=utf-8", "notebook": "application/x-ipynb+json",
           "prov-json": "application/json", "prov-n": "text/provenance-notation"}
#: The exports that are JSON, and their schemas' names.
JSON_EXPORTS = {"application/x-ipynb+json": "Notebook", "application/json": "ProvJson"}
#: A data identifier of Rucio: ``scope:name`` (a name may hold slashes).
DID_PATTERN = r"^[A-Za-z0-9._-]{1,30}:[A-Za-z0-9._/+-]{1,250}$"
#: What a search request may say, and the JSON types each takes.
SEARCH_FIELDS: dict[str, tuple[type, ...]] = {
    "target": (str,), "frame": (str,), "radius": (int, float), "keywords": (list, str),
    "waveband": (str,), "product_type": (str,), "time_min": (int, float),
    "time_max": (int, float), "maxrec": (int,), "archives": (list,)}

#: What the API says of a job (besides ``final``: whether its state no longer changes
#: by itself), and the JSON type of each; text a service may leave out can be null.
JOB_FIELDS: dict[str, Any] = {
    "id": {"type": "integer"}, "kind": {"type": "string"}, "state": {"type": "string"},
    **{name: {"type": ["string", "null"]} for name in (
        "note", "progress", "what", "owner", "created", "ended", "duration", "error",
        "service", "ref")}}

def _object(properties: dict[str, Any], *optional: str) -> dict[str, Any]:
    """An object with these ``properties``, all present but the ``optional`` ones."""
    return {"type": "object", "properties": properties,
            "required": [name for name in properties if name not in optional]}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _list_of(name: str) -> dict[str, Any]:
    return {"type": "array", "items": _ref(name)}


_TEXT, _NUMBER, _INTEGER = {"type": "string"}, {"type": "number"}, {"type": "integer"}
_MAYBE_TEXT = {"type": ["string", "null"]}
_MAYBE_NUMBER = {"type": ["number", "null"]}
_PAGING = {"offset": _INTEGER, "limit": _INTEGER}
#: A search's query as kept (``SkyQuery``): ICRS degrees, MJD.
_QUERY = _object({"ra": _NUMBER, "dec": _NUMBER, "radius": _NUMBER,
                  "keywords": {"type": "array", "items": _TEXT},
                  "waveband": _MAYBE_TEXT, "time_min": _MAYBE_NUMBER,
                  "time_max": _MAYBE_NUMBER, "product_type": _MAYBE_TEXT,
                  "maxrec": {"type": ["integer", "null"]}, "target": _TEXT,
                  "extra": {"type": "object"}}, "extra")

#: The shape of every JSON answer of the API, by name.
SCHEMAS: dict[str, Any] = {
    "Problem": {"type": "object", "properties": {
        "type": _TEXT, "title": _TEXT, "status": _INTEGER, "detail": _TEXT}},
    "Document": _object({"openapi": _TEXT, "info": {"type": "object"},
                         "paths": {"type": "object"}}),
    "Me": _object({"user": _TEXT, "deployment": _TEXT, "title": _TEXT, "logins": _TEXT}),
    "CartSize": _object({"name": _TEXT, "items": _INTEGER}),
    "Carts": _object({"carts": _list_of("CartSize"), "total": _INTEGER, **_PAGING}),
    "CartSummary": _object({
        "name": _TEXT, "count": _INTEGER, "bytes": _INTEGER,
        "groups": {"type": "array", "items": _object({
            "archive": _TEXT, "kind": _TEXT, "count": _INTEGER, "bytes": _INTEGER})}}),
    "Item": _object({"key": _TEXT, "archive": _TEXT, "kind": _TEXT, "item_id": _MAYBE_TEXT,
                     "title": _MAYBE_TEXT, "ra": _MAYBE_NUMBER, "dec": _MAYBE_NUMBER,
                     "product_type": _MAYBE_TEXT, "access_url": _MAYBE_TEXT,
                     "size": {"type": ["integer", "null"]}, "added": _TEXT,
                     "note": _MAYBE_TEXT, "tags": _MAYBE_TEXT}),
    "Items": _object({"cart": _TEXT, "total": _INTEGER, **_PAGING,
                      "items": _list_of("Item")}),
    "Added": _object({"cart": _TEXT, "added": _INTEGER, "already": _INTEGER,
                      "total": _INTEGER}),
    "Removed": _object({"cart": _TEXT, "removed": _INTEGER, "total": _INTEGER}),
    "ArchiveAnswer": _object({"archive": _TEXT, "state": _TEXT, "rows": _INTEGER,
                              "truncated": {"type": "boolean"}, "seconds": _NUMBER,
                              "message": _MAYBE_TEXT}),
    "Search": _object({
        "id": _INTEGER, "query": _QUERY,
        "position": _object({"ra": _NUMBER, "dec": _NUMBER, "source": _TEXT}),
        "archives": _list_of("ArchiveAnswer"), "rows": _INTEGER, "rows_url": _TEXT}),
    "SearchEntry": _object({
        "id": _INTEGER, "created": {"type": "string", "format": "date-time"},
        "query": _QUERY, "archives": {"type": "array", "items": _TEXT},
        "row_counts": {"type": "object", "additionalProperties": {
            "type": ["integer", "null"]}}}),
    "Searches": _object({"searches": _list_of("SearchEntry"), **_PAGING}),
    "SearchKept": _object({
        "id": _INTEGER, "created": {"type": "string", "format": "date-time"},
        "query": _QUERY, "row_counts": {"type": "object"},
        "archives": {"type": "array", "items": _object({
            "archive": _TEXT, "rows": {"type": ["integer", "null"]}})},
        "rows_url": _MAYBE_TEXT}),
    "Job": {"type": "object", "required": [*JOB_FIELDS, "final"],
            "properties": {**JOB_FIELDS, "final": {"type": "boolean"}}},
    "Jobs": _object({"jobs": _list_of("Job"), **_PAGING}),
    "AbortAsked": _object({"id": _INTEGER, "abort": _TEXT}),
    "Workflows": _object({
        "workflows": {"type": "array", "items": _object({
            "name": _TEXT, "title": _TEXT, "parameters": {"type": "object"}})},
        "unusable": {"type": "object", "additionalProperties": _TEXT},
        "reference_tap": _MAYBE_TEXT}),
    "Cluster": _object({"name": _TEXT, "status": _TEXT, "start_time": _MAYBE_NUMBER,
                        "stop_time": _MAYBE_NUMBER, "worker_cores": _MAYBE_NUMBER,
                        "worker_memory": _MAYBE_NUMBER, "dashboard": _TEXT}),
    "Clusters": _object({"clusters": _list_of("Cluster")}),
    "ClusterStarted": _object({"name": _TEXT}),
    "ClusterStopping": _object({"name": _TEXT, "stop": _TEXT}),
    "ClusterScaling": _object({"name": _TEXT, "workers": _INTEGER, "note": _TEXT}),
    "Facilities": _object({"facilities": {"type": "array", "items": _object({
        "id": _TEXT, "name": _TEXT, "kind": _TEXT, "url": _TEXT})}}),
    "NotebookServer": _object({
        "name": _TEXT, "state": {"type": "string", "description": "running, starting or "
                                                                  "stopping"},
        "started": _TEXT, "last_activity": _TEXT, "engine": _TEXT, "url": _TEXT,
        "note": _TEXT}),
    "NotebookServers": _object({"hubs": {"type": "array", "items": _object({
        "id": _TEXT, "name": _TEXT, "problem": _TEXT, "failure": _TEXT,
        "servers": _list_of("NotebookServer")})}}),
    "ServerStopping": _object({"facility": _TEXT, "name": _TEXT, "stop": _TEXT}),
    "Quotas": _object({"account": _TEXT, "quotas": {"type": "array", "items": _object({
        "rse": _TEXT, "used": _INTEGER, "files": _INTEGER,
        "limit": {"type": ["integer", "null"]}, "left": {"type": ["integer", "null"]}})}}),
    "Notebook": {**_object({"cells": {"type": "array", "items": {"type": "object"}},
                            "metadata": {"type": "object"},
                            "nbformat": _INTEGER, "nbformat_minor": _INTEGER}),
                 "description": "A Jupyter notebook (nbformat 4)."},
    "ProvJson": {"type": "object", "description": "W3C PROV-JSON.", "properties": {
        name: {"type": "object"} for name in ("prefix", "entity", "activity", "agent",
                                               "wasGeneratedBy", "used")}},
    "LakeFile": _object({"did": _TEXT, "rse": _TEXT, "bytes": _INTEGER, "cart": _TEXT,
                         "added": {"type": "boolean"}}),
    "LakeFiles": _object({"did": _TEXT, "files": {"type": "array", "items": _object({
        "did": _TEXT, "bytes": _INTEGER, "adler32": _TEXT})}}),
    "Services": _object({"services": {"type": "array", "items": _object({
        "name": _TEXT, "kind": _TEXT, "url": _TEXT, "up": {"type": "boolean"},
        "seconds": _NUMBER, "detail": _TEXT,
        "checked_at": {"type": "string", "format": "date-time"}})}}),
}

_PROBLEM = {"description": "A problem (RFC 9457): what went wrong, for the caller.",
            "content": {"application/problem+json": {
                "schema": {"$ref": "#/components/schemas/Problem"}}}}
_JSON_TYPES = {str: "string", int: "integer", float: "number", list: "array"}


def _camel(name: str) -> str:
    """``rucio-rule`` -> ``RucioRule``."""
    return "".join(part.capitalize() for part in name.replace("_", "-").split("-"))


def _path(name: str, description: str, kind: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": kind},
            "description": description}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description}


def _json(description: str, schema: str) -> dict[str, Any]:
    """A JSON answer of the schema named ``schema``."""
    return {"description": description, "content": {"application/json": {
        "schema": _ref(schema)}}}


def _body(description: str, properties: dict[str, Any], *,
          required: tuple[str, ...] = (), extra: dict[str, Any] | None = None) -> dict[str, Any]:
    content = {"application/json": {"schema": {
        "type": "object", "properties": properties, "required": list(required),
        "additionalProperties": False}}}
    return {"description": description, "required": True, "content": {**content,
                                                                      **(extra or {})}}


def _op(summary: str, answers: dict[str, Any], *, parameters: tuple[dict[str, Any], ...] = (),
        body: dict[str, Any] | None = None, errors: tuple[str, ...] = ("400", "404"),
        public: bool = False) -> dict[str, Any]:
    """One operation: its answers, and the problems every call can meet besides
    ``errors`` (no valid token, a call from elsewhere to a deployment without logins,
    too many calls, a login provider that cannot check the token; a body too large)."""
    caller = () if public else ("401", "403", "429", "503")  # token, machine, rate, provider
    sized = ("413",) if body is not None else ()
    op: dict[str, Any] = {"summary": summary, "responses": {
        **answers, **{code: _PROBLEM for code in sorted({*errors, *caller, *sized})}}}
    if parameters:
        op["parameters"] = list(parameters)
    if body is not None:
        op["requestBody"] = body
    if public:
        op["security"] = []
    return op


def openapi(*, archives: Sequence[str] = (),
            kinds: Mapping[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API.

    Parameters
    ----------
    archives : sequence of str
        The deployment's archives (their names become the values a request may give).
    kinds : mapping, optional
        The installed job kinds: each one's name and the JSON Schema of its request
        (see :func:`esap_dash.work.jobs.request_schema`).
    """
    kinds = dict(kinds or {})
    requests = {f"{_camel(name)}JobRequest": schema for name, schema in kinds.items()}
    job_body = ({"oneOf": [_ref(n) for n in requests], "discriminator": {
                    "propertyName": "kind",
                    "mapping": {k: f"#/components/schemas/{n}"
                                for k, n in zip(kinds, requests, strict=True)}}}
                if kinds else {"type": "object", "required": ["kind"],
                               "properties": {"kind": {"type": "string"}}})
    cart = {**_path("name", "The cart's name: letters, digits, spaces and _ . , ( ) + -, "
                          "starting with a letter or digit."),
            "schema": {"type": "string", "minLength": 1, "maxLength": 100}}
    job = _path("id", "The job's number.", "integer")
    search = _path("id", "The search's number.", "integer")
    cluster = _path("name", "The cluster's name.")
    table = {"schema": {"type": "string", "format": "binary"}}
    did = {**_query("did", {"type": "string", "pattern": DID_PATTERN},
                    "A data identifier of the data lake: scope:name."), "required": True}
    votable = {"200": {"description": "A VOTable.", "content": {VOTABLE: table}}}
    def listing(most: int, default: int) -> tuple[dict[str, Any], ...]:
        return (_query("offset", {"type": "integer", "minimum": 0, "maximum": 2**63 - 1,
                                  "default": 0}, "How many to skip."),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": most,
                                 "default": default}, "How many to list."))

    page = (_query("offset", {"type": "integer", "minimum": 0, "maximum": 2**63 - 1,
                              "default": 0}, "Items to skip."),
            _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_TABLE_PAGE,
                             "default": 100},
                   f"Items to return: at most {MAX_PAGE} as JSON, {MAX_TABLE_PAGE} as a "
                   "VOTable."))
    search_fields = {name: ({"type": [_JSON_TYPES[t] for t in types]} if len(types) > 1
                            else {"type": _JSON_TYPES[types[0]]})
                     for name, types in SEARCH_FIELDS.items()}
    search_fields.update({
        "target": {"type": "string", "minLength": 1, "maxLength": 100,
                   "description": "A name or coordinates."},
        "frame": {"type": "string", "enum": list(FRAMES), "default": "icrs"},
        "radius": {"type": "number", "minimum": MIN_RADIUS, "maximum": MAX_RADIUS,
                   "default": DEFAULT_RADIUS, "description": "Degrees."},
        "keywords": {"oneOf": [{"type": "array", "items": {"type": "string",
                                                           "maxLength": 80}},
                               {"type": "string"}],
                     "description": "Words matched in titles (a list, or one string)."},
        "maxrec": {"type": "integer", "minimum": 1},
        **{name: {"type": "number", "minimum": MJD_RANGE[0], "maximum": MJD_RANGE[1],
                  "description": "MJD."} for name in ("time_min", "time_max")},
        "archives": {"type": "array", "items": {"type": "string", **(
                         {"enum": list(archives)} if archives else {})},
                     "description": "Archives to ask (all by default)."}})
    document = {
        "openapi": "3.1.0",
        "info": {"title": "esap-dash API", "version": version("esap-dash"),
                 "description": "Carts, searches across the deployment's archives, jobs and "
                                "services, acting as the caller (OIDC bearer token). "
                                "Tables are VOTables; everything else JSON."},
        "servers": [{"url": API_ROOT}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {**SCHEMAS, **requests}},
        "paths": {
            "/openapi.json": {"get": _op(
                "This document.", {"200": _json("The document.", "Document")},
                errors=(), public=True)},
            "/me": {"get": _op("Who you are to this deployment.", {"200": _json("You.", "Me")},
                               errors=())},
            "/carts": {
                "get": _op("Your carts and their sizes, and how many you have.",
                           {"200": _json("Your carts.", "Carts")},
                           parameters=listing(MAX_PAGE, 100),
                           errors=("400",)),
                "post": _op("Make a cart (200 when you have it already).",
                            {"201": _json("The new cart.", "CartSize"),
                             "200": _json("Your cart.", "CartSize")},
                            body=_body("Its name: letters, digits, spaces and _ . , ( ) + "
                                       "-, starting with a letter or digit.", {"name": {
                                "type": "string", "minLength": 1, "maxLength": 100}},
                                       required=("name",)), errors=("400",))},
            "/carts/{name}": {"get": _op("A cart's summary: items and bytes per archive.",
                                         {"200": _json("The summary.", "CartSummary")},
                                         parameters=(cart,))},
            "/carts/{name}/items": {
                "get": _op("One page of a cart's items, oldest first.",
                           {"200": {"description": "The page: JSON with the cart's total, "
                                                   "or a VOTable.",
                                    "content": {"application/json": {"schema": _ref(
                                        "Items")}, VOTABLE: table}}},
                           parameters=(cart, *page, _query(
                               "format", {"type": "string", "enum": ["json", "votable"],
                                          "default": "json"}, "JSON or VOTable."))),
                "post": _op("Add rows to a cart (made if needed): rows of one of your "
                            "searches, a job's result, or a VOTable of rows.",
                            {"200": _json("How many were added, how many were there.", "Added")},
                            parameters=(cart,),
                            body=_body("Which rows.", {
                                "search": {"type": "integer"},
                                "rows": {"type": "array", "items": {"type": "integer"}},
                                "job": {"type": "integer"}},
                                extra={VOTABLE: table}), errors=("400", "404", "409", "413")),
                "delete": _op("Remove items from a cart.",
                              {"200": _json("How many were removed.", "Removed")},
                              parameters=(cart, _query(
                                  "key", {"type": "array", "items": {"type": "string"}},
                                  "The items' keys.")))},
            "/carts/{name}/export": {"get": _op(
                "The cart as a file, in any format the Cart page offers.",
                {"200": {"description": "The file.", "content": {
                    mime.split(";")[0]: {"schema": _ref(JSON_EXPORTS[mime])}
                    if mime in JSON_EXPORTS else table for mime in EXPORTS.values()}}},
                parameters=(cart, _query("format", {"type": "string", "enum": list(EXPORTS),
                                                    "default": "votable"}, "The format.")))},
            "/searches": {
                "get": _op("Your searches, newest first.",
                           {"200": _json("Your searches.", "Searches")},
                           parameters=listing(MAX_HISTORY, 50), errors=("400",)),
                "post": _op("Search the deployment's archives at once: each archive's "
                            "state, rows, truncation and error; the rows are kept.",
                            {"201": _json("The search.", "Search")},
                            body=_body("The query (as the Discovery page's form); radius "
                                       "and times in degrees and MJD.", search_fields,
                                       required=("target",)),
                            errors=("400", "502"))},
            "/searches/{id}": {"get": _op("One of your searches.",
                                          {"200": _json("It.", "SearchKept")},
                                          parameters=(search,))},
            "/searches/{id}/rows": {"get": _op(
                "A search's rows with their provenance, numbered from 0.", votable,
                parameters=(search,))},
            "/jobs": {
                "get": _op("Your jobs of every kind, newest first, with live states.",
                           {"200": _json("Your jobs.", "Jobs")},
                           parameters=(*listing(MAX_PAGE, 100),
                                                                     _query(
                               "kind", {"type": "string", **(
                                   {"enum": list(kinds)} if kinds else {})},
                               "Only jobs of this kind (tap, rucio-rule, dask ...)."),),
                           errors=("400",)),
                "post": _op("Start a job: its kind and that kind's request.",
                            {"201": _json("The job.", "Job")},
                            body={"required": True, "content": {"application/json": {
                                "schema": job_body}}},
                            errors=("400", "422", "502"))},
            "/jobs/{id}": {"get": _op("One of your jobs.", {"200": _json("The job.", "Job")},
                                      parameters=(job,))},
            "/jobs/{id}/abort": {"post": _op(
                "Abort one of your jobs where it runs.",
                {"202": _json("Abort asked for.", "AbortAsked")},
                parameters=(job,),
                errors=("404", "409", "502"))},
            "/jobs/{id}/retry": {"post": _op(
                "Ask for one of your jobs again: a new job as it was asked, or (a STUCK "
                "replication rule) the same rule's failed transfers tried again.",
                {"201": _json("The new job.", "Job"),
                 "202": _json("The same job, asked to try again.", "Job")},
                parameters=(job,), errors=("404", "409", "422", "502"))},
            "/jobs/{id}/result": {"get": _op("What one of your jobs produced.", votable,
                                             parameters=(job,), errors=("404", "409", "502"))},
            "/workflows": {"get": _op("The workflows a run can use, and their parameters.",
                                      {"200": _json("The workflows.", "Workflows")}, errors=())},
            "/clusters": {
                "get": _op("Your Dask Gateway clusters.",
                           {"200": _json("Your clusters.", "Clusters")},
                           errors=("403", "404", "502")),
                "post": _op("Start a cluster.", {"201": _json("Its name.", "ClusterStarted")},
                            body=_body("The gateway's cluster options.",
                                       {"options": {"type": "object"}}),
                            errors=("400", "403", "404", "502"))},
            "/clusters/{name}": {
                "get": _op("One of your clusters.", {"200": _json("The cluster.", "Cluster")},
                           parameters=(cluster,), errors=("403", "404", "502")),
                "delete": _op("Stop one of your clusters.",
                              {"202": _json("Stop asked for.", "ClusterStopping")},
                              parameters=(cluster,), errors=("403", "404", "502"))},
            "/clusters/{name}/scale": {"post": _op(
                "Scale one of your clusters.",
                {"202": _json("Scaling asked for.", "ClusterScaling")},
                parameters=(cluster,),
                body=_body("How many workers.", {"workers": {"type": "integer",
                                                             "minimum": 0}},
                           required=("workers",)),
                errors=("400", "403", "404", "502"))},
            "/facilities": {"get": _op("Where work and notebooks can run.",
                                       {"200": _json("The facilities.", "Facilities")}, errors=())},
            "/servers": {"get": _op(
                "Your JupyterLab servers at each JupyterHub of the deployment that shows "
                "them: state, start, last activity, what runs each (the batch job), and "
                "what the hub does not say (note: a server that does not answer, a "
                "waiting or ended batch job; failure: why your last start failed; "
                "problem: why a hub's servers are not known).",
                {"200": _json("Your servers, by hub.", "NotebookServers")}, errors=())},
            "/servers/{facility}": {"delete": _op(
                "Stop one of your servers (your notebooks stay in your home).",
                {"202": _json("Stop asked for.", "ServerStopping")},
                parameters=(_path("facility", "The hub's id (as /facilities lists it)."),
                            _query("name", {"type": "string", "maxLength": 255,
                                            "default": ""},
                                   "The server's name (the default server: none).")),
                errors=("403", "404", "409", "502"))},
            "/quotas": {"get": _op("Your storage quota in the data lake, per RSE.",
                                   {"200": _json("Bytes used and the limit per RSE.", "Quotas")},
                                   errors=("403", "404", "502"))},
            "/lake/files": {"get": _op(
                "The files of a data identifier of the data lake (a file: itself), with "
                "their sizes and Adler-32 checksums.",
                {"200": _json("The files.", "LakeFiles")}, parameters=(did,),
                errors=("400", "404", "502")),
                "post": _op(
                "Upload a table or a file (a notebook's) to your own scope of the data "
                "lake (user.<account>) with its provenance, and put it in a cart; a file "
                "of the data lake is never replaced.",
                {"201": _json("The file in the data lake, and the cart.", "LakeFile")},
                parameters=(
                    {**_query("name", {"type": "string", "minLength": 1, "maxLength": 250,
                                       "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$"},
                              "The file's name in the data lake."), "required": True},
                    {**_query("cart", cart["schema"], "The cart it goes to (made if "
                                                      "need be)."), "required": True},
                    _query("note", {"type": "string", "maxLength": 1000},
                           "What made the table, kept in its provenance.")),
                body={"description": "A table (a VOTable: kept as a VOTable carrying "
                                     "its provenance) or a file (kept as it is).",
                      "required": True,
                      "content": {VOTABLE: table, "application/octet-stream": table}},
                errors=("400", "404", "409", "502"))},
            "/lake/content": {"get": _op(
                "The bytes of a file of the data lake, read from a replica the server "
                "reads; Digest: adler32=<hex> is Rucio's checksum of them.",
                {"200": {"description": "The file.", "headers": {
                    "Digest": {"description": "adler32=<the Adler-32 checksum in hex>",
                               "schema": {"type": "string"}}},
                         "content": {"application/octet-stream": table}}},
                parameters=(did,), errors=("400", "404", "409", "502"))},
            "/services": {"get": _op("Every service of the deployment and whether it "
                                     "answers.", {"200": _json("The services.", "Services")},
                                     errors=())},
        },
    }
    for methods in document["paths"].values():
        if "post" in methods:
            _idempotent(methods["post"])
    return document


#: The header a POST may carry so that a retry does not act twice.
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 257,
               "pattern": '^"?[\\x21\\x23-\\x7e]{1,255}"?$'},
    "description": "Any unique string (a UUID): a retry of this request with the same key "
                   "is answered with the first answer (header Idempotent-Replayed: true) "
                   "instead of acting again, for 24 hours."}


def _idempotent(op: dict[str, Any]) -> None:
    """A POST takes an ``Idempotency-Key``: 409 while the key's first request is being
    answered, 422 when the key came with another request."""
    op["parameters"] = [*op.get("parameters", ()), _IDEMPOTENCY_KEY]
    op["responses"].update({code: _PROBLEM for code in ("400", "409", "422")})
    op["responses"] = dict(sorted(op["responses"].items()))
