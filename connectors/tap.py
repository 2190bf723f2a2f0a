"""Table Access Protocol (TAP) services."""

from __future__ import annotations

from typing import ClassVar

from astropy.table import Table
from pyvo.dal import TAPService

from .base import ServiceConnector
from .vo import dal_errors, results_table, vosi_availability

__all__ = ["TAPConnector"]


class TAPConnector(ServiceConnector):
    """A TAP service: ADQL queries and its table metadata.

    Parameters
    ----------
    url : str
        The TAP base URL (``.../tap``).
    maxrec : int, optional
        Row limit asked of the service for every query.
    **kwargs
        See :class:`~connectors.base.ServiceConnector`.
    """

    kind: ClassVar[str] = "tap"
    capabilities: ClassVar[frozenset[str]] = frozenset({"adql", "tables"})

    def __init__(self, url: str, *, maxrec: int | None = None, **kwargs) -> None:
        super().__init__(url, **kwargs)
        self.maxrec = maxrec
        self._service: TAPService | None = None

    @property
    def service(self) -> TAPService:
        """The pyvo service, sharing this connector's session."""
        if self._service is None:
            self._service = TAPService(self.url, session=self.session)
        return self._service

    @property
    def health_url(self) -> str:
        """The VOSI availability endpoint."""
        return self.url + "/availability"

    def _probe(self) -> str:
        return vosi_availability(self.session, self.health_url)

    def run_sync(self, adql: str, *, maxrec: int | None = None) -> Table:
        """Run an ADQL query synchronously.

        Parameters
        ----------
        adql : str
            The query; build it with bound values, never by pasting user text.
        maxrec : int, optional
            Row limit; defaults to the connector's.

        Returns
        -------
        astropy.table.Table
            With ``meta["truncated"]`` set when the limit was reached.

        Raises
        ------
        connectors.exceptions.QueryError
            The service rejected the query (its message is kept).
        connectors.exceptions.ServiceUnavailableError, ServiceError, FormatError
        """
        limit = maxrec if maxrec is not None else self.maxrec
        return results_table(lambda: self.service.run_sync(adql, maxrec=limit), self.url)

    def tables(self) -> Table:
        """List the service's tables (name and description) from VOSI tables.

        Returns
        -------
        astropy.table.Table
            Columns ``table_name`` and ``description``.
        """
        with dal_errors(self.url + "/tables"):
            tables = list(self.service.tables)
        return Table(rows=[(t.name, (t.description or "").strip()) for t in tables],
                     names=("table_name", "description"), dtype=(str, str))
