"""Simple Image Access version 2 (SIA v2) services."""

from __future__ import annotations

from typing import ClassVar

from astropy.table import Table
from astropy.time import Time
from pyvo.dal import SIA2Service
from pyvo.dal.sia2 import SIA2Query

from .query import OBSCORE_MAPPING, SkyQuery, common_table, keywords_match
from .vo import DALConnector, query_table

__all__ = ["SIA2Connector"]


class SIA2Connector(DALConnector):
    """An SIA v2 image service (ObsCore records).

    Parameters
    ----------
    url : str
        The query endpoint (``.../siap2.xml`` for DaCHS).
    **kwargs
        ``availability``, ``maxrec``: see :class:`~connectors.vo.DALConnector`.
    """

    kind: ClassVar[str] = "sia2"
    capabilities: ClassVar[frozenset[str]] = frozenset({"cone", "images", "sky"})

    def __init__(self, url: str, **kwargs) -> None:
        super().__init__(url, **kwargs)
        # check_baseurl=False: the URL is the query endpoint, no capabilities fetch
        self.service = SIA2Service(self.url, session=self.session, check_baseurl=False)

    def _metadata_query(self) -> object:
        return self.service.search(maxrec=0)

    def search(self, ra: float, dec: float, radius: float, *,
               maxrec: int | None = None) -> Table:
        """Find images overlapping the circle (``ra``, ``dec``, ``radius``), degrees ICRS.

        Returns
        -------
        astropy.table.Table
            ObsCore columns (obs_title, s_ra, s_dec, s_region, access_url ...).
        """
        limit = maxrec if maxrec is not None else self.maxrec
        return query_table(
            lambda: SIA2Query(self.url, pos=(ra, dec, radius), maxrec=limit,
                              session=self.session), self.url, self.timeout)

    def search_sky(self, query: SkyQuery) -> Table:
        """SIA v2 query (POS, BAND, TIME, DPTYPE) mapped to the common columns.

        Keywords are matched in ``obs_title`` and ``target_name``.
        """
        kwargs: dict[str, object] = {"pos": (query.ra, query.dec, query.radius),
                                     "maxrec": query.maxrec or self.maxrec}
        if query.band:
            kwargs["band"] = query.band
        if query.time_min is not None or query.time_max is not None:
            kwargs["time"] = (Time(query.time_min if query.time_min is not None else 0,
                                   format="mjd"),
                              Time(query.time_max if query.time_max is not None else 1e6,
                                   format="mjd"))
        if query.product_type:
            kwargs["data_type"] = query.product_type
        raw = query_table(lambda: SIA2Query(self.url, session=self.session, **kwargs), self.url,
                          self.timeout)
        table = common_table(raw, self.name, OBSCORE_MAPPING, query=query, size_factor=1024)
        if query.keywords:
            targets = [str(t) for t in raw["target_name"]] if "target_name" in raw.colnames \
                else [""] * len(raw)
            table = table[keywords_match((f"{r['title']} {t}" for r, t in
                                          zip(table, targets, strict=True)), query.keywords)]
        return table
