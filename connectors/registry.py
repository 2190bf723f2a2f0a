"""IVOA registry searches through a RegTAP service."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from astropy.table import Table
from pyvo.dal import TAPService
from pyvo.registry import regtap, rtcons

from .base import ServiceConnector
from .exceptions import QueryError
from .vo import dal_errors, results_table, vosi_availability

__all__ = ["RegistryConnector"]

#: Service types a user can ask for, with the ``standard_id`` they select.
SERVICE_TYPES: dict[str, str] = {
    "tap": "ivo://ivoa.net/std/tap",
    "conesearch": "ivo://ivoa.net/std/conesearch",
    "sia2": "ivo://ivoa.net/std/sia2",  # as pyvo regularizes "sia#query-2.0"
    "ssa": "ivo://ivoa.net/std/ssa",
}


class RegistryConnector(ServiceConnector):
    """A RegTAP registry (the local one, or e.g. the GAVO/Euro-VO registry).

    Unlike ``pyvo.registry.search`` this never changes pyvo's module-wide
    registry choice, so sessions with different registries do not interfere.

    Parameters
    ----------
    url : str
        The RegTAP service's TAP URL.
    maxrec : int
        Row limit of a search.
    **kwargs
        See :class:`~connectors.base.ServiceConnector`.
    """

    kind: ClassVar[str] = "registry"
    capabilities: ClassVar[frozenset[str]] = frozenset({"registry"})

    def __init__(self, url: str, *, maxrec: int = 1000, **kwargs) -> None:
        super().__init__(url, **kwargs)
        self.maxrec = maxrec
        self.service = TAPService(self.url, session=self.session)

    @property
    def health_url(self) -> str:
        """The VOSI availability endpoint of the RegTAP service."""
        return self.url + "/availability"

    def _probe(self) -> str:
        return vosi_availability(self.session, self.health_url)

    def search(self, *, keywords: Sequence[str] = (), servicetype: str | None = None,
               datamodel: str | None = None,
               spatial: tuple[float, float, float] | None = None) -> Table:
        """Search resources; all given constraints must hold.

        Parameters
        ----------
        keywords : sequence of str
            Words matched in title, description or subjects.
        servicetype : str, optional
            One of ``tap``, ``conesearch``, ``sia2``, ``ssa``.
        datamodel : str, optional
            ``obscore``, ``epntap`` or ``regtap``.
        spatial : (ra, dec, radius), optional
            A circle in degrees that the resource's coverage must overlap.

        Returns
        -------
        astropy.table.Table
            One row per resource and capability: ``ivoid``, ``title``,
            ``short_name``, ``description``, ``servicetype``, ``access_url``,
            ``waveband``.

        Raises
        ------
        connectors.exceptions.QueryError
            No constraint, or an unknown service type or data model.
        """
        constraints: list[rtcons.Constraint] = []
        if keywords:
            constraints.append(rtcons.Freetext(*keywords))
        if servicetype:
            if servicetype not in SERVICE_TYPES:
                raise QueryError(f"unknown service type {servicetype!r}; "
                                 f"use one of {', '.join(SERVICE_TYPES)}", self.url)
            constraints.append(rtcons.Servicetype(servicetype))
        if datamodel:
            try:
                constraints.append(rtcons.Datamodel(datamodel))
            except Exception as exc:  # pyvo raises DALQueryError for unknown models
                raise QueryError(str(exc), self.url) from exc
        if spatial:
            constraints.append(rtcons.Spatial(list(spatial), intersect="overlaps"))
        if not constraints:
            raise QueryError("give at least one constraint (keywords, service type, "
                             "data model or sky area)", self.url)
        with dal_errors(self.url, self.timeout):
            adql = rtcons.build_regtap_query(constraints, self.service)
            results = regtap.RegistryQuery(self.url, adql, maxrec=self.maxrec,
                                           session=self.session).execute()
        return self._flatten(results, servicetype)

    def coverage(self) -> dict[str, str]:
        """The sky coverage each registered service declares, by access URL.

        Returns
        -------
        dict
            Access URL of a standard interface -> the resource's coverage MOC
            as the registry holds it (IVOA ASCII serialisation,
            ``rr.stc_spatial``); TAP interfaces are left out (a TAP service
            serves many resources), and so are resources without a declared
            coverage.
        """
        adql = ("SELECT i.access_url, s.coverage FROM rr.stc_spatial AS s "
                "JOIN rr.interface AS i ON i.ivoid = s.ivoid "
                "JOIN rr.capability AS c ON c.ivoid = i.ivoid AND c.cap_index = i.cap_index "
                "WHERE i.intf_role = 'std' AND c.standard_id NOT LIKE 'ivo://ivoa.net/std/tap%'")
        with dal_errors(self.url, self.timeout):
            rows = results_table(lambda: self.service.run_sync(adql, maxrec=self.maxrec),
                                 self.url, self.timeout)
        return {str(r["access_url"]).rstrip("?"): str(r["coverage"]) for r in rows
                if str(r["coverage"] or "").strip()}

    @staticmethod
    def _flatten(results: regtap.RegistryResults, servicetype: str | None) -> Table:
        wanted = SERVICE_TYPES.get(servicetype or "")
        rows, seen = [], set()
        for res in results:
            for intf in res.interfaces:
                std = (intf.standard_id or "").lower()
                if (not std or "vosi" in std or std.endswith("#aux")
                        or (wanted and not std.startswith(wanted))
                        or (res.ivoid, intf.access_url) in seen):
                    continue
                seen.add((res.ivoid, intf.access_url))
                rows.append((res.ivoid, res.res_title, res.short_name or "",
                             res.res_description or "", _short_type(std), intf.access_url,
                             ", ".join(res.waveband)))
        return Table(rows=rows or None, names=("ivoid", "title", "short_name", "description",
                                              "servicetype", "access_url", "waveband"),
                     dtype=(str,) * 7)


def _short_type(standard_id: str) -> str:
    for name, std in SERVICE_TYPES.items():
        if standard_id.startswith(std):
            return name
    return regtap.shorten_stdid(standard_id)
