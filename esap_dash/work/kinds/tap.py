"""Async TAP (UWS) queries as jobs: they run on the archive, outliving the page."""

from __future__ import annotations

from typing import Any

from astropy.table import Table

from connectors.exceptions import ConnectorError

from ...core.actor import Actor
from ...core.provenance import Provenance, Service, now
from ..flows import result_rows
from ..jobs import JobError, JobKind, JobResult

__all__ = ["TapJobs"]


class TapJobs(JobKind):
    """An ADQL query run as an async job of a TAP service of the profile."""

    name = "tap"
    label = "async TAP query"
    #: UWS phases a job never leaves.
    ends = frozenset({"COMPLETED", "ERROR", "ABORTED"})

    @staticmethod
    def _tap(actor: Actor, service: str) -> Any:
        tap = actor.archive(service)
        if tap is None or not hasattr(tap, "submit_async"):
            raise JobError(f"{service} is not a TAP service of this deployment (any more).")
        return tap

    def submit(self, actor: Actor, *, service: str, adql: str,
               maxrec: int | None = None) -> int:
        """Start ``adql`` on the TAP service named ``service`` (the profile's name)."""
        if not adql.strip():
            raise JobError("Write a query first.")
        url = self._tap(actor, service).submit_async(adql, maxrec=maxrec)
        return actor.store.add_job(actor.user, self.name, service, url,
                                   {"adql": adql, "maxrec": maxrec})

    def request(self, record: dict[str, Any]) -> dict[str, Any]:
        return {"service": record["service"], "adql": record["detail"]["adql"],
                "maxrec": record["detail"].get("maxrec")}

    def describe(self, record: dict[str, Any]) -> str:
        return " ".join(str(record["detail"].get("adql", "")).split())

    def state(self, actor: Actor, record: dict[str, Any]) -> dict[str, Any]:
        status = self._tap(actor, record["service"]).job_status(record["ref"])
        return {"state": status["phase"], "ended": status["ended"], "error": status["error"]}

    def abort(self, actor: Actor, record: dict[str, Any]) -> None:
        self._tap(actor, record["service"]).abort_job(record["ref"])

    def delete(self, actor: Actor, record: dict[str, Any]) -> None:
        try:
            self._tap(actor, record["service"]).delete_job(record["ref"])
        except ConnectorError as exc:
            if getattr(exc, "status", None) != 404:  # gone already is what was asked
                raise

    def result(self, actor: Actor, record: dict[str, Any]) -> JobResult:
        tap = self._tap(actor, record["service"])
        phase = tap.job_status(record["ref"])["phase"]
        if phase != "COMPLETED":
            raise JobError(f"Job {record['id']} has no result to show ({phase}).", status=409)
        return JobResult(tap.job_result(record["ref"]))

    def provenance(self, record: dict[str, Any], result: JobResult) -> Provenance:
        detail = record["detail"]
        return Provenance(
            "result", at=str(result.table.meta.get("ended") or now()), user=record["user"],
            services=(Service(record["service"], "tap", record["ref"],
                              asked=str(detail.get("adql", ""))),),
            query={"adql": detail.get("adql", "")}, maxrec=detail.get("maxrec"),
            truncated=(record["service"],) if result.table.meta.get("truncated") else (),
            job=record["id"])

    def cart_rows(self, record: dict[str, Any], result: JobResult) -> Table:
        return result_rows(result.table, self.provenance(record, result),
                           archive=record["service"])
