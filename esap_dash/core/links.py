"""A result row's DataLink links, and SODA cutouts of it that go to the cart as
items of their own (with where they were cut from).

The archive that found the row announced its DataLink service with its answer
(see :func:`connectors.vo.datalink_descriptor`); the rows keep that, per
archive, in ``meta["datalink"]``, and each row's ``record`` holds the ID.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from astropy.table import Row, Table

from connectors.datalink import DataLink
from connectors.exceptions import FormatError

from .provenance import Provenance, Service

__all__ = ["cutout_rows", "links_url"]


def links_url(rows: Table, row: Row) -> str | None:
    """Where ``row``'s DataLink document is; None if its archive announced none."""
    archive = str(row["archive"]) if "archive" in row.colnames else ""
    described = rows.meta.get("datalink", {}).get(archive)
    if not described or "record" not in row.colnames:
        return None
    try:
        record = json.loads(str(row["record"]) or "{}")
    except ValueError:
        return None
    identifier = record.get(described["id_column"]) if isinstance(record, dict) else None
    if identifier in (None, ""):
        return None
    return f"{described['url']}?{urlencode({'ID': str(identifier)})}"


def cutout_rows(row: Row, links: DataLink, ra: float, dec: float, radius: float, *,
                user: str = "") -> Table:
    """One row for the cart: the SODA cutout of ``radius`` degrees around (``ra``,
    ``dec``) of the data set ``row`` (whose DataLink document is ``links``).

    Its ``access_url`` is the cutout request itself; its provenance (``query``)
    names the SODA service, exactly what it was asked, and the data set cut.

    Raises
    ------
    FormatError
        The document offers no SODA cutout, or the circle is not one.
    """
    soda = links.cutout()
    if soda is None:
        raise FormatError("this data set offers no SODA cutout", links.url)
    url = soda.circle_url(ra, dec, radius)
    archive = str(row["archive"])
    identifier = soda.fixed.get("ID", "")
    circle = f"{ra:.7f} {dec:.7f} {radius:.7f}"
    record = Provenance("cutout", user=user, services=(
        Service(archive, "soda", soda.url, asked=url),),
        query={"ID": identifier, "CIRCLE": circle, "parent": str(row["access_url"])})
    parent: dict[str, Any] = {"ID": identifier, "CIRCLE": circle, "links": links.url,
                              "parent_title": str(row["title"])}
    return Table({
        "archive": [archive], "id": [f"{identifier} CIRCLE {circle}"],
        "title": [f"Cutout {radius * 60:.2f}′ of {row['title']}"],
        "ra": [float(ra)], "dec": [float(dec)], "product_type": ["image"],
        "s_region": [f"CIRCLE ICRS {circle}"], "access_url": [url],
        "record": [json.dumps(parent)], "query": [record.to_json()]})
