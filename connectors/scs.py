"""Simple Cone Search (SCS) services."""

from __future__ import annotations

from typing import ClassVar

from astropy.table import Table
from pyvo.dal import SCSService

from .base import ServiceConnector
from .vo import results_table, vosi_availability

__all__ = ["ConeSearchConnector"]


class ConeSearchConnector(ServiceConnector):
    """A cone search service.

    Parameters
    ----------
    url : str
        The service's access URL.
    availability : str, optional
        Its VOSI availability endpoint; without one, :meth:`health` sends a
        metadata query (``MAXREC=0``).
    maxrec : int, optional
        Row limit asked of the service.
    **kwargs
        See :class:`~connectors.base.ServiceConnector`.
    """

    kind: ClassVar[str] = "conesearch"
    capabilities: ClassVar[frozenset[str]] = frozenset({"cone"})

    def __init__(self, url: str, *, availability: str | None = None,
                 maxrec: int | None = None, **kwargs) -> None:
        super().__init__(url, **kwargs)
        self.availability = availability
        self.maxrec = maxrec
        self.service = SCSService(self.url, session=self.session)

    @property
    def health_url(self) -> str:
        """VOSI availability, or the access URL itself."""
        return self.availability or self.url

    def _probe(self) -> str:
        if self.availability:
            return vosi_availability(self.session, self.availability)
        fields = results_table(lambda: self.service.search((0.0, 0.0), 0.0, maxrec=0), self.url)
        return f"{len(fields.colnames)} columns"

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
        return results_table(
            lambda: self.service.search((ra, dec), radius, verbosity=verbosity, maxrec=limit),
            self.url)
