"""IVOA DataLink: a data set's links (the file, previews, related files) and the
SODA cutout service that DataLink documents describe.

A search result announces DataLink with a service descriptor (a VOTable
``RESOURCE type="meta" utype="adhoc:service"`` whose ``standardID`` is
DataLink's): :func:`datalink_descriptor` reads it off the answer; a row's
links are then ``accessURL?ID=<the row's value of the referenced column>``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import numpy as np
import requests
from astropy.table import Table
from pyvo.dal.adhoc import DatalinkResults

from .exceptions import FormatError
from .vo import dal_errors, datalink_descriptor, group_params, service_param, service_resources

__all__ = ["DataLink", "Processing", "datalink_descriptor", "fetch_links"]

SODA_STANDARD = "ivo://ivoa.net/std/soda"
LINK_COLUMNS = ("semantics", "description", "access_url", "content_type", "content_length",
                "service_def", "error_message")


@dataclass(frozen=True)
class Processing:
    """A processing service (SODA) a DataLink document describes for one data set.

    Attributes
    ----------
    url : str
        Its access URL.
    standard : str
        Its standardID (SODA's for cutouts).
    fixed : dict
        Parameters whose value the document sets (the data set's ``ID``).
    inputs : tuple of str
        The parameters it takes (``CIRCLE``, ``POLYGON``, ``POS`` ...).
    """

    url: str
    standard: str
    fixed: dict[str, str] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()

    @property
    def is_soda(self) -> bool:
        """Whether this is a SODA service."""
        return self.standard.lower().startswith(SODA_STANDARD)

    @property
    def cuts_circles(self) -> bool:
        """Whether it cuts out circles (SODA's ``CIRCLE``, or ``POS=CIRCLE ...``)."""
        return self.is_soda and bool({"CIRCLE", "POS"} & set(self.inputs))

    def circle_url(self, ra: float, dec: float, radius: float) -> str:
        """The request for a cutout of ``radius`` degrees around (``ra``, ``dec``)."""
        if not self.cuts_circles:
            raise FormatError("this service cuts out no circles", self.url)
        if not (math.isfinite(ra) and math.isfinite(dec) and 0 < radius <= 180):
            raise FormatError(f"not a circle: {ra}, {dec}, radius {radius}", self.url)
        circle = f"{ra:.7f} {dec:.7f} {radius:.7f}"
        shape = {"CIRCLE": circle} if "CIRCLE" in self.inputs else {"POS": f"CIRCLE {circle}"}
        return f"{self.url}?{urlencode({**self.fixed, **shape})}"


@dataclass(frozen=True)
class DataLink:
    """A data set's DataLink document.

    Attributes
    ----------
    url : str
        Where it was read.
    links : astropy.table.Table
        One row per link: ``semantics``, ``description``, ``access_url``,
        ``content_type``, ``content_length``, ``service_def``, ``error_message``.
    services : dict
        ``service_def`` -> :class:`Processing`.
    """

    url: str
    links: Table
    services: dict[str, Processing]

    def cutout(self) -> Processing | None:
        """The SODA service that cuts this data set, if the document offers one."""
        return next((s for s in self.services.values() if s.cuts_circles), None)


def fetch_links(url: str, *, session: requests.Session, timeout: float) -> DataLink:
    """Read a DataLink document (``.../links?ID=...``).

    Raises
    ------
    ConnectorError
        The service is down, refused the ID, or answered no DataLink document.
    """
    with dal_errors(url, timeout):
        results = DatalinkResults.from_result_url(url, session=session)
        table = results.to_table()
    missing = [c for c in ("access_url", "semantics") if c not in table.colnames]
    if missing:
        raise FormatError(f"not a DataLink document (no {', '.join(missing)})", url)
    links = Table({c: _texts(table[c]) if c in table.colnames else [""] * len(table)
                   for c in LINK_COLUMNS})
    services = {}
    for resource in service_resources(results.votable):
        inputs, fixed = [], {}
        for group in resource.groups:
            if group.name != "inputParams":
                continue
            for param in group_params(group):
                value = param.value  # set for the data set's own ID; empty for inputs
                if isinstance(value, str | bytes) and value and not param.ref:
                    fixed[param.name] = value.decode() if isinstance(value, bytes) else value
                else:
                    inputs.append(param.name)
        if resource.ID:
            services[resource.ID] = Processing(service_param(resource, "accessURL"),
                                               service_param(resource, "standardID"), fixed,
                                               tuple(inputs))
    return DataLink(url, links, services)


def _texts(column: Any) -> list[str]:
    """A column as text, masked values empty."""
    mask = np.ma.getmaskarray(column)
    return ["" if m else (v.decode() if isinstance(v, bytes) else str(v))
            for v, m in zip(np.ma.getdata(column).tolist(), mask.tolist(), strict=True)]
