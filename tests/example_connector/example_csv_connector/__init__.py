"""A connector shipped by a separate package: an archive with a plain REST/CSV API.

It asks a TAP service's ``/sync`` endpoint for CSV with an ADQL cone, without
pyvo, to show that a deployment can add an archive by installing a package
that declares an ``esap_dash.connectors`` entry point.
"""

from __future__ import annotations

from typing import ClassVar

from astropy.table import Table

from connectors.base import ServiceConnector
from connectors.http import request
from connectors.query import SkyQuery, common_table


class CsvConeConnector(ServiceConnector):
    """Cone search on ``table`` through TAP sync with FORMAT=csv."""

    kind: ClassVar[str] = "example-csv"
    capabilities: ClassVar[frozenset[str]] = frozenset({"sky"})

    def __init__(self, url: str, *, table: str, **kwargs) -> None:
        super().__init__(url, **kwargs)
        self.table = table

    def _probe(self) -> str:
        request(self.session, "GET", self.url + "/availability")
        return "available"

    def search_sky(self, query: SkyQuery) -> Table:
        adql = (f"SELECT name, raj2000, dej2000 FROM {self.table} WHERE 1=CONTAINS("
                f"POINT('ICRS', raj2000, dej2000), CIRCLE('ICRS', {query.ra!r}, {query.dec!r}, "
                f"{query.radius!r}))")
        resp = request(self.session, "GET", self.url + "/sync",
                       params={"REQUEST": "doQuery", "LANG": "ADQL", "FORMAT": "csv",
                               "QUERY": adql})
        raw = Table.read(resp.text, format="ascii.csv")
        return common_table(raw, self.name, {"id": "name", "title": "name", "ra": "raj2000",
                                             "dec": "dej2000"}, query=query,
                            product_type="source")
