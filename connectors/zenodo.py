"""Software and workflow records from Zenodo (the ESCAPE OSSR is a Zenodo community).

Built on Zenodo's documented REST API (``GET /api/records`` with ``q``,
``communities``, ``type``, ``size``, ``page``).  This is the one connector
not tested against its real server: Zenodo cannot run here, so the tests and
the local demo use ``stack/zenodo/standin.py``, a local HTTP server that
answers the same requests with records of the same shape.
"""

from __future__ import annotations

from typing import Any, ClassVar

from astropy.table import Table

from .base import ServiceConnector
from .exceptions import FormatError, QueryError
from .http import request

__all__ = ["RECORD_TYPES", "ZenodoConnector"]

RECORD_TYPES = ("software", "workflow", "dataset", "publication", "other")
COLUMNS = ("title", "version", "doi", "license", "type", "repository", "creators",
           "published", "url")


class ZenodoConnector(ServiceConnector):
    """A Zenodo instance (``https://zenodo.org``), optionally one community.

    Parameters
    ----------
    url : str
        Base address (the API lives under ``/api``).
    community : str, optional
        Default community, e.g. ``escape2020`` for the OSSR.
    **kwargs
        See :class:`~connectors.base.ServiceConnector`.
    """

    kind: ClassVar[str] = "zenodo"
    capabilities: ClassVar[frozenset[str]] = frozenset({"software"})

    def __init__(self, url: str, *, community: str | None = None, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.community = community

    @property
    def health_url(self) -> str:
        """A one-record query."""
        return self.url + "/api/records?size=1"

    def _probe(self) -> str:
        total = self._hits(request(self.session, "GET", self.health_url).json())[1]
        return f"{total} records"

    @staticmethod
    def _hits(payload: Any) -> tuple[list[dict[str, Any]], int]:
        try:
            hits = payload["hits"]
            total = hits["total"]
            if isinstance(total, dict):  # Elasticsearch 7 style
                total = total["value"]
            return list(hits["hits"]), int(total)
        except (KeyError, TypeError, ValueError) as exc:
            raise FormatError(f"not a Zenodo records answer: {exc}") from exc

    def search(self, keywords: str = "", *, community: str | None = None,
               record_type: str | None = None, size: int = 50) -> Table:
        """Search records.

        Parameters
        ----------
        keywords : str
            Free text (Zenodo's ``q``).
        community : str, optional
            Community identifier; defaults to the connector's.
        record_type : str, optional
            One of :data:`RECORD_TYPES`.
        size : int
            At most this many records (1..100).

        Returns
        -------
        astropy.table.Table
            ``title``, ``version``, ``doi``, ``license``, ``type``,
            ``repository``, ``creators``, ``published``, ``url``; ``meta``
            holds ``total`` (all matches) and ``truncated``.
        """
        if record_type is not None and record_type not in RECORD_TYPES:
            raise QueryError(f"unknown record type {record_type!r}; use one of "
                             f"{', '.join(RECORD_TYPES)}", self.url)
        if len(keywords) > 200:
            raise QueryError("at most 200 characters of keywords", self.url)
        params: dict[str, Any] = {"q": keywords, "size": max(1, min(size, 100)),
                                  "sort": "bestmatch" if keywords else "mostrecent"}
        if community or self.community:
            params["communities"] = community or self.community
        if record_type:
            params["type"] = record_type
        resp = request(self.session, "GET", self.url + "/api/records", params=params)
        try:
            payload = resp.json()
        except ValueError as exc:
            raise FormatError("the answer is not JSON", resp.url) from exc
        hits, total = self._hits(payload)
        table = Table(rows=[_row(h) for h in hits] or None, names=COLUMNS,
                      dtype=(str,) * len(COLUMNS))
        table.meta.update(total=total, truncated=total > len(hits), url=resp.url)
        return table


def _row(hit: dict[str, Any]) -> tuple[str, ...]:
    meta = hit.get("metadata", {})
    licence = meta.get("license") or {}
    related = [r for r in meta.get("related_identifiers", [])
               if str(r.get("identifier", "")).startswith(("https://", "http://"))]
    supplements = [r for r in related if r.get("relation") == "isSupplementTo"]
    repository = str((supplements or related or [{}])[0].get("identifier", ""))
    creators = "; ".join(c.get("name", "") for c in meta.get("creators", []))
    return (str(meta.get("title", "")), str(meta.get("version", "")),
            str(hit.get("doi") or meta.get("doi", "")),
            str(licence.get("id", "") if isinstance(licence, dict) else licence),
            str((meta.get("resource_type") or {}).get("type", "")), repository, creators,
            str(meta.get("publication_date", "")),
            str((hit.get("links") or {}).get("self_html", "")))
