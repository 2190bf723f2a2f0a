"""Where a cart item or a result came from: one typed record with one JSON form.

Every path that puts rows in a cart or produces a result writes a
:class:`Provenance` (a search of several archives, a whole catalogue, records
of the data lake or of a software repository, a table sent over SAMP, the
result of a job); the notebook export and every later reader read it back
with :meth:`Provenance.from_json`, which also reads the forms esap-dash
wrote before this record existed.

    >>> p = Provenance("search", services=(Service("Hipparcos", "conesearch", "http://x"),))
    >>> Provenance.from_json(p.to_json()).services[0].kind
    'conesearch'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

__all__ = ["ACTIVITIES", "FORM", "Provenance", "Service", "now", "software"]

#: Version of the JSON form (the ``provenance`` key of every record).
FORM = 1
#: What made the rows: a query of several archives, a whole catalogue, records of
#: a service that are not sky results (data lake, software), a table another
#: tool sent, what a job produced, a cutout a service made of a data set, a table a
#: user uploaded to the data lake from elsewhere (a notebook), what a workflow run
#: in a notebook session produced (the session is the activity).
ACTIVITIES = ("search", "catalogue", "records", "samp", "result", "cutout", "upload",
              "notebook")


@cache
def software() -> str:
    """``esap-dash <version>``: the agent every record names."""
    try:
        return f"esap-dash {version('esap-dash')}"
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "esap-dash"


def now() -> str:
    """The current time as records write it (ISO 8601, UTC, seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Service:
    """A service as a record names it.

    Parameters
    ----------
    name : str
        The archive's name in the profile (or the job engine, the SAMP sender).
    kind : str
        ``tap``, ``conesearch``, ``sia2``, ``rucio``, ``zenodo``, ``dask`` ...
    url : str
        Its base URL.
    ivoid : str
        Its IVOA identifier, where the profile or the registry gives one.
    table : str, optional
        The table asked, for a TAP service whose rows can be asked for again by
        identifier.
    asked : str
        Exactly what it was asked: the ADQL, or the request URL with its parameters.
    ended : str
        When its answer was in (ISO 8601, UTC), where known.
    """

    name: str
    kind: str = ""
    url: str = ""
    ivoid: str = ""
    table: str | None = None
    asked: str = ""
    ended: str = ""


@dataclass(frozen=True)
class Provenance:
    """Who asked what of which services, when, with which limits; and for a result,
    the job and the items it was made from.

    Parameters
    ----------
    activity : str
        One of :data:`ACTIVITIES`.
    at : str
        When the rows were obtained (ISO 8601, UTC).
    user : str
        Who asked (the OIDC ``sub``; ``local`` without logins).
    software : str
        The esap-dash that asked, with its version.
    services : tuple of Service
        The services asked.
    query : mapping
        The request as the user made it (form values, workflow parameters ...).
    maxrec : int, optional
        The row limit asked for.
    truncated : tuple of str
        The services whose answers stopped at a row limit.
    job : int, optional
        The job whose result the rows are.
    inputs : tuple of str
        Keys of the cart items the job worked on.
    """

    activity: str
    at: str = field(default_factory=now)
    user: str = ""
    software: str = field(default_factory=software)
    services: tuple[Service, ...] = ()
    query: Mapping[str, Any] = field(default_factory=dict)
    maxrec: int | None = None
    truncated: tuple[str, ...] = ()
    job: int | None = None
    inputs: tuple[str, ...] = ()

    def service(self, name: str) -> Service | None:
        """The service ``name`` of the record, or None."""
        return next((s for s in self.services if s.name == name), None)

    def for_user(self, user: str) -> Provenance:
        """The record, naming ``user`` if it names nobody yet."""
        return self if self.user else replace(self, user=user)

    def to_json(self) -> str:
        """The record's one JSON form."""
        data = asdict(self)
        return json.dumps({"provenance": FORM, **data, "query": dict(self.query)},
                          default=str, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None, *, user: str = "") -> Provenance:
        """Read a record (any form esap-dash wrote; an empty text is an unknown origin).

        Parameters
        ----------
        text : str
            The JSON form, or one of the earlier forms.
        user : str, optional
            Who to name when the text names nobody (earlier forms did not).
        """
        data = json.loads(text or "{}")
        if not isinstance(data, dict):
            data = {}
        if data.get("provenance") == FORM:
            data.pop("provenance")
            data["services"] = tuple(Service(**s) for s in data.get("services", ()))
            data["truncated"] = tuple(data.get("truncated", ()))
            data["inputs"] = tuple(data.get("inputs", ()))
            return cls(**data).for_user(user)
        return cls._earlier(data, user)

    @classmethod
    def _earlier(cls, data: dict[str, Any], user: str) -> Provenance:
        """A record from the JSON esap-dash kept before this form (no version, no user)."""
        query = dict(data)
        at = str(query.pop("searched_at", "") or "")
        services = tuple(
            Service(name, kind=str(s.get("kind") or ""), url=str(s.get("url") or ""),
                    table=s.get("table"), asked=str(query.get("adql") or ""))
            for name, s in (query.pop("services", None) or {}).items())
        if "workflow" in query and "job" in query:
            return cls("result", at=at, user=user, software="", services=services,
                       query={"workflow": query["workflow"]}, job=int(query["job"]))
        activity = "catalogue" if "catalogue" in query else "search" if services else "records"
        if activity == "catalogue":
            query.pop("adql", None)
        return cls(activity, at=at, user=user, software="", services=services, query=query,
                   maxrec=query.get("maxrec"))
