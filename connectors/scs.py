"""Simple Cone Search (SCS) services."""

from __future__ import annotations

from typing import ClassVar

from astropy.table import Table
from pyvo.dal import SCSService

from .query import SkyQuery, common_table, keywords_match, ucd_mapping
from .vo import DALConnector, query_table

__all__ = ["ConeSearchConnector"]


class ConeSearchConnector(DALConnector):
    """A cone search service.

    Parameters
    ----------
    url : str
        The service's access URL.
    columns : dict, optional
        Common column -> the service's column, where UCDs do not tell.
    **kwargs
        ``availability``, ``maxrec``: see :class:`~connectors.vo.DALConnector`.
    """

    kind: ClassVar[str] = "conesearch"
    capabilities: ClassVar[frozenset[str]] = frozenset({"cone", "sky"})

    def __init__(self, url: str, *, columns: dict[str, str] | None = None, **kwargs) -> None:
        super().__init__(url, **kwargs)
        self.columns = dict(columns or {})
        self.service = SCSService(self.url, session=self.session)

    def _metadata_query(self) -> object:
        return self.service.search((0.0, 0.0), 0.0, maxrec=0)

    def search(self, ra: float, dec: float, radius: float, *, maxrec: int | None = None,
               verbosity: int = 2) -> Table:
        """Find the sources within ``radius`` degrees of (``ra``, ``dec``), ICRS.

        Parameters
        ----------
        ra, dec : float
            Centre in degrees.
        radius : float
            Radius in degrees.
        maxrec : int, optional
            Row limit; defaults to the connector's.
        verbosity : int
            SCS VERB (1 = fewest columns, 3 = all).

        Returns
        -------
        astropy.table.Table
        """
        limit = maxrec if maxrec is not None else self.maxrec
        return query_table(
            lambda: self.service.create_query((ra, dec), radius, verbosity=verbosity,
                                              maxrec=limit),
            self.url, self.timeout)

    def search_sky(self, query: SkyQuery) -> Table:
        """Cone search mapped to the common columns.

        The identifier and position columns are found by their UCDs
        (``meta.id;meta.main``, ``pos.eq.ra;meta.main`` ...) unless the
        profile names them in ``columns``.  Keywords are matched in the
        identifier and title, since SCS has no keyword parameter.  A cone
        search returns catalogue sources: asking for a data product type or
        a time range yields no rows, with a note saying why.
        """
        if query.product_type or query.time_min is not None or query.time_max is not None:
            empty = common_table(Table(), self.name, {})
            empty.meta["note"] = "a catalogue: no data products or time range to match"
            return empty
        raw = self.search(query.ra, query.dec, query.radius, maxrec=query.maxrec)
        mapping = {**ucd_mapping(raw), **self.columns}
        table = common_table(raw, self.name, mapping, query=query, product_type="source")
        if query.keywords:
            table = table[keywords_match((f"{r['id']} {r['title']}" for r in table),
                                         query.keywords)]
        return table
