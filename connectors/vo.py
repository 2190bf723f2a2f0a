"""Helpers shared by the IVOA connectors: VOSI availability, pyvo errors, results."""

from __future__ import annotations

import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import requests
from astropy.io.votable.tree import Param
from astropy.table import Table
from pyvo.dal import DALFormatError, DALQueryError, DALServiceError
from pyvo.dal.exceptions import DALOverflowWarning

from .base import ServiceConnector
from .exceptions import FormatError, QueryError, ServiceError, ServiceUnavailableError
from .http import TRANSPORT_ERRORS, is_cut_off, request, transport_error, unreachable_reason

__all__ = ["DALConnector", "dal_errors", "datalink_descriptor", "group_params", "results_table",
           "service_param", "service_resources", "vosi_availability"]

DATALINK_STANDARD = "ivo://ivoa.net/std/datalink"

_AVL = "{http://www.ivoa.net/xml/VOSIAvailability/v1.0}"


def vosi_availability(session: requests.Session, url: str) -> str:
    """Read a VOSI availability document.

    Parameters
    ----------
    session : requests.Session
        Session carrying the timeout.
    url : str
        The ``.../availability`` endpoint.

    Returns
    -------
    str
        The service's note, or ``"available"``.

    Raises
    ------
    ServiceUnavailableError
        Unreachable, or the document says ``available=false``.
    ServiceError, FormatError
        HTTP error, or not a VOSI availability document.
    """
    resp = request(session, "GET", url)
    try:
        root = ET.fromstring(resp.content)
    except ET.ParseError as exc:
        raise FormatError(f"not a VOSI availability document: {exc}", url) from exc
    available = root.find(f"{_AVL}available")
    if available is None:
        raise FormatError("VOSI availability document without <available>", url)
    notes = [n.text.strip() for n in root.iter(f"{_AVL}note") if n.text and n.text.strip()]
    if (available.text or "").strip().lower() != "true":
        raise ServiceUnavailableError("service declares itself unavailable"
                                 + (f": {'; '.join(notes)}" if notes else ""), url)
    return "; ".join(notes) or "available"


@contextmanager
def dal_errors(url: str, timeout: float | None = None) -> Iterator[None]:
    """Translate pyvo's DAL exceptions, and transport failures, into connector exceptions.

    Parameters
    ----------
    url : str
        The service URL, named in the raised error.
    timeout : float, optional
        The seconds waited, named when there was no answer in time.
    """
    waited = "?" if timeout is None else f"{timeout:g}"
    try:
        yield
    except TRANSPORT_ERRORS as exc:
        raise transport_error(exc, url, waited) from exc
    except (DALQueryError, DALFormatError, DALServiceError) as exc:
        if unreachable_reason(exc) or is_cut_off(exc):
            raise transport_error(exc, url, waited) from exc
        if isinstance(exc, DALQueryError):
            raise QueryError(_reason(exc), url) from exc
        if isinstance(exc, DALFormatError):
            raise FormatError(f"malformed answer: {_reason(exc)}", url) from exc
        raise ServiceError(_reason(exc), url, status=getattr(exc, "code", None)) from exc


def _reason(exc: Exception) -> str:
    reason = getattr(exc, "reason", None) or str(exc)
    return " ".join(str(reason).split())[:500]


def results_table(run: Callable[[], Any], url: str, timeout: float | None = None) -> Table:
    """Run a pyvo query and return its rows as a Table.

    The table's ``meta`` holds ``url`` and ``truncated`` (True when the
    service stopped at its row limit, MAXREC).

    Parameters
    ----------
    run : callable
        Executes the query and returns pyvo ``DALResults``.
    url : str
        The service URL for errors and provenance.

    Returns
    -------
    astropy.table.Table
    """
    with dal_errors(url, timeout), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DALOverflowWarning)
        results = run()
        table = results.to_table()
    overflow = any(issubclass(w.category, DALOverflowWarning) for w in caught)
    table.meta["url"] = url
    table.meta["truncated"] = overflow or _says_overflow(results)
    votable = getattr(results, "votable", None)
    if votable is not None:
        described = datalink_descriptor(votable)
        if described is not None and described["url"]:
            table.meta["datalink"] = described
    return table


def query_table(make: Callable[[], Any], url: str, timeout: float | None = None) -> Table:
    """Run a pyvo DAL query (cone search, SIA2, SSA) and return its rows as a Table.

    As :func:`results_table`; ``meta["asked"]`` is also the request itself (the
    query's URL with its parameters), as the rows' provenance says what was asked.

    Parameters
    ----------
    make : callable
        Returns the pyvo query (``service.create_query(...)``).
    url : str
        The service URL for errors.
    """
    made: list[Any] = []

    def run() -> Any:
        made.append(make())
        return made[0].execute()

    table = results_table(run, url, timeout)
    table.meta["asked"] = f"{made[0].queryurl}?{urlencode(dict(made[0]), doseq=True)}"
    return table


def service_resources(votable: Any) -> list[Any]:
    """The service descriptors (``RESOURCE type="meta" utype="adhoc:service"``) of a
    VOTable."""
    return [r for r in getattr(votable, "resources", [])
            if r.type == "meta" and (r.utype or "").lower() == "adhoc:service"]


def service_param(resource: Any, name: str) -> str:
    for param in resource.params:
        if param.name == name:
            value = param.value
            return value.decode() if isinstance(value, bytes) else str(value)
    return ""


def group_params(group: Any) -> list[Param]:
    """The PARAMs of a VOTable GROUP."""
    return [e for e in group.entries if isinstance(e, Param)]


def datalink_descriptor(votable: Any) -> dict[str, str] | None:
    """The DataLink service a query's answer announces for its rows: ``url`` (its
    access URL) and ``id_column`` (the column whose value is a row's ID); None
    if it announces none."""
    for resource in service_resources(votable):
        if not service_param(resource, "standardID").lower().startswith(DATALINK_STANDARD):
            continue
        for group in resource.groups:
            for param in group_params(group):
                if param.name == "ID" and param.ref:
                    column = next((f.name for f in votable.iter_fields_and_params()
                                   if getattr(f, "ID", None) == param.ref), param.ref)
                    return {"url": service_param(resource, "accessURL"), "id_column": column}
    return None


def _says_overflow(results: Any) -> bool:
    """Whether a DALI QUERY_STATUS INFO of the answer says OVERFLOW."""
    votable = getattr(results, "votable", None)
    infos = list(getattr(votable, "infos", []))
    for resource in getattr(votable, "resources", []):
        infos += list(resource.infos)
    return any(i.name == "QUERY_STATUS" and i.value == "OVERFLOW" for i in infos)


class DALConnector(ServiceConnector):
    """Base of the simple DAL protocols (cone search, SIA v2).

    Parameters
    ----------
    url : str
        The query endpoint.
    availability : str, optional
        Its VOSI availability endpoint; without one, :meth:`health` sends a
        metadata query (``MAXREC=0``).
    maxrec : int, optional
        Row limit asked of the service.
    **kwargs
        See :class:`~connectors.base.ServiceConnector`.
    """

    def __init__(self, url: str, *, availability: str | None = None,
                 maxrec: int | None = None, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.availability = availability
        self.maxrec = maxrec

    @property
    def health_url(self) -> str:
        """VOSI availability, or the query endpoint."""
        return self.availability or self.url

    def _metadata_query(self) -> Any:
        """Run the protocol's MAXREC=0 query; return pyvo results."""
        raise NotImplementedError

    def _probe(self) -> str:
        if self.availability:
            return vosi_availability(self.session, self.availability)
        fields = results_table(self._metadata_query, self.url, self.timeout)
        return f"{len(fields.colnames)} columns"
