"""A cart as a runnable Jupyter notebook that finds its data again.

The notebook uses only the archives' own protocols (pyvo for TAP, cone
search and SIA v2; the Rucio client for the data lake), so it runs wherever
those services can be reached, without esap-dash.  Each group of items gets
a cell that asks its service again and keeps the rows of the cart:

* TAP tables: ``SELECT * FROM <table> WHERE <id column> IN (...)``, by
  identifier (exact, whatever the original query was);
* cone search and SIA v2: the recorded query again, then the cart's rows;
* Rucio data identifiers: where their replicas are now;
* anything no service can answer again (tables received over SAMP, software
  records): the records themselves, embedded.

The first cell records the provenance: who exported which cart when, and
for every group the service, the query and the time it ran.  Where the
notebook server can reach esap-dash as the user (``$ESAP_DASH_TOKEN``, set
for instance by a JupyterHub logged in through the same provider; the
dashboard the notebook came from, or ``$ESAP_DASH_URL``), a cell opens the
cart as it is now through the HTTP API; where it also reaches a Dask Gateway
as the user (``gateway.address`` in Dask's configuration, as the stack's
JupyterHub sets it), the next cell cross-matches the cart's positions on a
cluster of the user's and adds the matches to the cart
(:func:`esap_dash.client.run_workflow`).
"""

from __future__ import annotations

import html
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from .provenance import Provenance

if TYPE_CHECKING:  # the cart writes its notebook with this module
    from .cart import Cart, CartItem

__all__ = ["cart_notebook"]

#: Identifiers per ADQL ``IN (...)`` list.
CHUNK = 500
_REGULAR = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def _group_key(item: CartItem) -> tuple[str, str, str, str]:
    """Items asked of one service by one query are one group (the time aside)."""
    record = Provenance.from_json(item.query)
    service = record.service(item.archive)
    kind = item.kind if item.kind in ("did", "software") else (service.kind if service else "")
    return item.archive, kind, item.service_url, json.dumps(dict(record.query), sort_keys=True,
                                                            default=str)


def _id_column(items: Iterable[CartItem]) -> str | None:
    """The column of the archive's records that holds the items' identifiers."""
    for item in items:
        if not item.item_id:
            continue
        for name, value in item.fields.items():
            if str(value) == item.item_id:
                return name
    return None


def _md(text: str) -> str:
    """Text for a markdown table cell: no HTML, no cell break; quotes stay quotes."""
    return html.escape(" ".join(str(text).split()), quote=False).replace("|", "\\|")


def _provenance(cart: Cart, groups: dict[tuple[str, str, str, str], list[CartItem]]) -> str:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    lines = [f"# Cart {_md(cart.name)}", "",
             f"Exported by esap-dash {version('esap-dash')} on {now} for user "
             f"`{_comment(cart.user)}`: {sum(len(g) for g in groups.values())} items.", "",
             "Each cell below asks the service again and keeps the cart's items. The "
             "items' whole provenance (W3C PROV, with IVOA ProvenanceDM terms) follows, "
             "and is in this notebook's metadata as PROV-JSON (`esap_dash.core.provenance`).", "",
             "| Archive | Service | Kind | Items | Query | Added |",
             "|---|---|---|---|---|---|"]
    for (archive, kind, url, _), items in groups.items():
        record = Provenance.from_json(items[0].query)
        asked = ", ".join(f"{k}={v}" for k, v in record.query.items()
                          if v not in (None, "", [], {}))
        cut = " (cut at the row limit)" if archive in record.truncated else ""
        lines.append(f"| {_md(archive)} | {_md(url)} | {kind or 'table'} | "
                     f"{len(items)}{cut} | {_md(asked) or '—'} | "
                     f"{_md(record.at or items[0].added.isoformat(timespec='seconds'))} |")
    lines += ["", "<details><summary>Provenance (PROV-N)</summary>", "",
              *_fenced(cart.embedded_provenance("prov-n")), "", "</details>"]
    return "\n".join(lines)


def _fenced(text: str) -> list[str]:
    """``text`` as a markdown code block whose fence no run of backticks in it can
    close (it holds names and titles from archives)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, text, fence]


def _identifier(name: str) -> str:
    """An ADQL column name: regular ones as they are, others delimited (``"..."``)."""
    if _REGULAR.match(name):
        return name
    return '"' + name.replace('"', '""') + '"'


def _comment(text: str) -> str:
    """Text safe on one comment line (names come from archives and SAMP clients)."""
    return " ".join(str(text).split())


def _live_cell(name: str, origin: str) -> str:
    """The cell that opens the cart as it is now through esap-dash's HTTP API (at
    ``origin`` unless ``$ESAP_DASH_URL`` says another address), where the notebook
    server can reach it as the user."""
    return ("# The cart as it is now, where this notebook server reaches esap-dash as you\n"
            "# (your ESAP_DASH_TOKEN, e.g. set by a JupyterHub; ESAP_DASH_URL, or the\n"
            "# dashboard this notebook came from).\n"
            "from os import environ\n\n"
            "live = None\n"
            f"dashboard = environ.get('ESAP_DASH_URL') or {origin!r}\n"
            "if dashboard and environ.get('ESAP_DASH_TOKEN'):\n"
            "    try:\n"
            "        from esap_dash import Cart\n"
            "    except ImportError:\n"
            "        print('Install esap-dash here to reach the live cart.')\n"
            "    else:\n"
            "        try:\n"
            f"            live = Cart.open({name!r}, url=dashboard, create=False)\n"
            "        except Exception as exc:  # a refused token, esap-dash away: said\n"
            "            print(f'esap-dash did not open the live cart ({exc}); the cells below '\n"
            "                  'ask the services again.')\n"
            "        else:\n"
            "            print(f'The live cart {live.name!r} has {len(live)} items now.')\n"
            "else:\n"
            "    print('No link to esap-dash here: the cells below ask the services again.')")


def _crossmatch_cell() -> str:
    """The cell that runs the dashboard's cross-match on a Dask Gateway cluster of the
    user's, from here, and adds the matches to the live cart (their provenance: this
    notebook session)."""
    return ("# Cross-match the cart's positions with the deployment's reference catalogue on\n"
            "# a Dask Gateway cluster of yours (the Cart page's workflow, run from here), and\n"
            "# add the matches to the live cart: their provenance names this notebook session.\n"
            "import dask\n\n"
            "if live is None or not dask.config.get('gateway.address', None):\n"
            "    print('No live cart or no Dask Gateway here: nothing to cross-match here.')\n"
            "else:\n"
            "    from dask_gateway import Gateway\n\n"
            "    from esap_dash.client import run_workflow\n\n"
            "    try:\n"
            "        with Gateway().new_cluster() as cluster:\n"
            "            cluster.scale(1)\n"
            "            matched = run_workflow(live, 'crossmatch', cluster, radius_arcsec=1.0)\n"
            "    except Exception as exc:  # said, and the cells below still run\n"
            "        print(f'The cross-match did not run: {type(exc).__name__}: {exc}')\n"
            "    else:\n"
            "        added = matched.table.meta['added']\n"
            "        print(f'Cross-match on your cluster: {matched.note} '\n"
            "              f'{added} new items in the cart {live.name!r}.')")


def _tap_cell(name: str, url: str, table: str, column: str, ids: list[str]) -> str:
    select = f"SELECT * FROM {table} WHERE {_identifier(column)} IN ("
    return (f"# {_comment(name)}: the cart's rows of {_comment(table)}, by {_comment(column)}\n"
            f"ids = {ids!r}\n"
            f"service = pyvo.dal.TAPService({url!r})\n"
            f"datatype = column_datatype(service, {table!r}, {column!r})\n"
            "chunks = []\n"
            f"for start in range(0, len(ids), {CHUNK}):\n"
            "    literals = ', '.join(adql_literal(i, datatype)\n"
            f"                         for i in ids[start:start + {CHUNK}])\n"
            f"    adql = {select!r} + literals + ')'\n"
            "    chunks.append(service.run_sync(adql, maxrec=len(ids)).to_table())\n"
            f"parts[{name!r}] = vstack(chunks) if len(chunks) > 1 else chunks[0]\n"
            f"expected[{name!r}] = len(ids)")


def _cone_cell(name: str, url: str, kind: str, query: dict[str, Any], column: str,
               ids: list[str]) -> str:
    ra, dec, radius = query["ra"], query["dec"], query["radius"]
    if kind == "sia2":
        call = (f"pyvo.dal.SIA2Service({url!r}).search(pos=({ra!r}, {dec!r}, {radius!r}), "
                "maxrec=100000)")
    elif kind == "ssa":
        call = (f"pyvo.dal.SSAService({url!r}).search(pos=({ra!r}, {dec!r}), "
                f"diameter={2 * radius!r}, maxrec=100000)")
    else:
        call = (f"pyvo.dal.SCSService({url!r}).search(({ra!r}, {dec!r}), {radius!r}, "
                "verbosity=3, maxrec=100000)")
    target = f" around {_comment(query['target'])}" if query.get("target") else ""
    return (f"# {_comment(name)}: the recorded query{target} again, keeping the cart's rows\n"
            f"ids = {ids!r}\n"
            f"found = {call}.to_table()\n"
            f"parts[{name!r}] = found[np.isin(found[{column!r}].astype(str), ids)]\n"
            f"expected[{name!r}] = len(ids)")


def _rucio_cell(name: str, url: str, items: list[CartItem]) -> str:
    dids = [dict(zip(("scope", "name"), i.item_id.split(":", 1), strict=True)) for i in items]
    return (f"# {_comment(name)}: where the data identifiers' replicas are now.\n"
            "# Account and credentials come from your rucio.cfg (or RUCIO_* variables);\n"
            "# without them this part says why and the other cells still run.\n"
            f"dids = {dids!r}\n"
            "try:\n"
            "    from rucio.client import Client\n"
            f"    rucio = Client(rucio_host={url!r}, auth_host={url!r})\n"
            "    rows = [(r['scope'], r['name'], rse, (r.get('states') or {}).get(rse, ''),\n"
            "             pfns[0])\n"
            "            for r in rucio.list_replicas(dids, all_states=True)\n"
            "            for rse, pfns in (r.get('rses') or {}).items() if pfns]\n"
            "except Exception as exc:  # no rucio.cfg, no account, the server out of reach\n"
            "    rows = []\n"
            f"    not_asked[{name!r}] = f'{{type(exc).__name__}}: {{exc}}'\n"
            f"parts[{name!r}] = Table(rows=rows or None, "
            "names=('scope', 'name', 'rse', 'state', 'pfn'), dtype=(str,) * 5)\n"
            f"expected[{name!r}] = None  # files per dataset: any number\n"
            "# The files themselves, through esap-dash as you (with the live cart), into\n"
            "# data-lake/<scope>/<name>, each checked against the data lake's checksum.\n"
            "for did in (f\"{d['scope']}:{d['name']}\" for d in dids if live is not None):\n"
            "    try:\n"
            "        files = live.client.download(did, 'data-lake')\n"
            "    except Exception as exc:  # not yours to read, no replica esap-dash reads\n"
            "        print(f'{did} was not fetched: {exc}')\n"
            "    else:\n"
            "        print(f'{did}: {len(files)} file(s) in data-lake/{did.split(\":\")[0]}/')")


def _embedded_cell(name: str, why: str, items: list[CartItem]) -> str:
    records = [i.fields for i in items]
    return (f"# {_comment(name)}: {why}; the records are kept here as they were.\n"
            f"records = json.loads({json.dumps(records)!r})\n"
            f"parts[{name!r}] = Table(rows=records) if records else Table()\n"
            f"expected[{name!r}] = len(records)")


#: Functions the exported notebook defines for asking TAP services again.
HELPERS = '''NUMBERS = {"short", "int", "long", "smallint", "integer", "bigint", "float", "double",
           "real"}


def adql_string(value):
    """An ADQL string literal (quotes doubled)."""
    return "'" + str(value).replace("'", "''") + "'"


def adql_literal(value, datatype):
    """A literal of the column's ADQL datatype: a number, or a quoted string."""
    if datatype.lower() not in NUMBERS:
        return adql_string(value)
    text = str(value).strip()
    if datatype.lower() in {"float", "double", "real"}:
        return repr(float(text))
    try:
        return str(int(text))  # exact: 64-bit identifiers do not fit a float
    except ValueError:
        return str(int(float(text)))  # "7.0"


def column_datatype(service, table, column):
    """The column's datatype, from the service's TAP_SCHEMA (char when not listed)."""
    rows = service.run_sync(
        "SELECT datatype FROM TAP_SCHEMA.columns WHERE table_name = " + adql_string(table)
        + " AND column_name = " + adql_string(column)).to_table()
    return str(rows[0][0]) if len(rows) else "char"
'''


def cart_notebook(cart: Cart, origin: str = "") -> nbformat.NotebookNode:
    """Build the notebook that re-creates ``cart``'s data (see the module docstring).

    Parameters
    ----------
    cart : Cart
        The cart to export.
    origin : str, optional
        The dashboard's address, where the notebook reaches the live cart.

    Returns
    -------
    nbformat.NotebookNode
        A version 4 notebook; write it with ``nbformat.write``.  Its last
        cell prints, per group, how many items were found again.
    """
    groups: dict[tuple[str, str, str, str], list[CartItem]] = defaultdict(list)
    for item in cart.items():
        groups[_group_key(item)].append(item)
    cells = [new_markdown_cell(_provenance(cart, groups)),
             new_code_cell("import json\n\nimport numpy as np\nimport pyvo\n"
                           "from astropy.table import Table, vstack\n\n"
                           "parts, expected, not_asked = {}, {}, {}\n\n\n"
                           + HELPERS),
             new_code_cell(_live_cell(cart.name, origin)), new_code_cell(_crossmatch_cell())]
    per_archive = Counter(archive for archive, *_ in groups)
    seen: Counter[str] = Counter()
    for (archive, kind, url, raw_query), items in groups.items():
        query = json.loads(raw_query)
        service = Provenance.from_json(items[0].query).service(archive)
        seen[archive] += 1
        name = f"{archive} #{seen[archive]}" if per_archive[archive] > 1 else archive
        column = _id_column(items)
        ids = [i.item_id for i in items]
        if kind == "did":
            source = _rucio_cell(name, url, items)
        elif kind == "tap" and column and service is not None and service.table:
            source = _tap_cell(name, url, service.table, column, ids)
        elif kind in ("conesearch", "sia2", "ssa") and column \
                and {"ra", "dec", "radius"} <= set(query):
            source = _cone_cell(name, url, kind, query, column, ids)
        else:
            why = {"software": "software and workflow records",
                   "samp": "a table received over SAMP"}.get(
                kind or items[0].kind, "no query that a service could answer again")
            source = _embedded_cell(name, why, items)
        cells.append(new_code_cell(source))
    cells.append(new_code_cell(
        "found = {name: len(table) for name, table in parts.items()}\n"
        "for name, count in found.items():\n"
        "    want = expected[name]\n"
        "    note = '' if want in (None, count) else f' (the cart has {want}: some are gone)'\n"
        "    if name in not_asked:\n"
        "        note = f' (not asked: {not_asked[name]})'\n"
        "    print(f'{name}: {count} rows{note}')\n"
        "print(json.dumps({'found': found, 'expected': expected, 'not_asked': not_asked}))"))
    notebook = new_notebook(cells=cells)
    notebook.metadata.update(
        kernelspec={"name": "python3", "display_name": "Python 3", "language": "python"},
        esap_dash={"cart": cart.name, "user": cart.user, "items": len(cart),
                   "exported": datetime.now(UTC).isoformat(timespec="seconds"),
                   "provenance": cart.embedded_provenance()})
    return notebook

