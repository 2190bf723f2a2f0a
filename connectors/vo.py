"""Helpers shared by the IVOA connectors: VOSI availability, pyvo errors, results."""

from __future__ import annotations

import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import requests
from astropy.table import Table
from pyvo.dal import DALFormatError, DALQueryError, DALServiceError
from pyvo.dal.exceptions import DALOverflowWarning

from .exceptions import FormatError, QueryError, ServiceError, ServiceUnavailableError
from .http import request

__all__ = ["dal_errors", "results_table", "vosi_availability"]

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
def dal_errors(url: str) -> Iterator[None]:
    """Translate pyvo's DAL exceptions into connector exceptions.

    Parameters
    ----------
    url : str
        The service URL, named in the raised error.
    """
    try:
        yield
    except DALQueryError as exc:
        raise QueryError(_reason(exc), url) from exc
    except DALFormatError as exc:
        raise FormatError(f"malformed answer: {_reason(exc)}", url) from exc
    except DALServiceError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, requests.Timeout):
            raise ServiceUnavailableError("no answer in time", url) from exc
        if isinstance(cause, requests.ConnectionError):
            raise ServiceUnavailableError("cannot connect", url) from exc
        code = getattr(exc, "code", None)
        raise ServiceError(_reason(exc), url, status=code) from exc
    except requests.Timeout as exc:
        raise ServiceUnavailableError("no answer in time", url) from exc
    except requests.ConnectionError as exc:
        raise ServiceUnavailableError("cannot connect", url) from exc


def _reason(exc: Exception) -> str:
    reason = getattr(exc, "reason", None) or str(exc)
    return " ".join(str(reason).split())[:500]


def results_table(run: Callable[[], Any], url: str) -> Table:
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
    with dal_errors(url), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DALOverflowWarning)
        results = run()
        table = results.to_table()
    overflow = any(issubclass(w.category, DALOverflowWarning) for w in caught)
    table.meta["url"] = url
    table.meta["truncated"] = bool(overflow or getattr(results, "query_status", "") == "OVERFLOW")
    return table
