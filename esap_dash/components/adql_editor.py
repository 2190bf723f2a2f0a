"""ADQL for any TAP service: schema browser, examples, sync runs and async (UWS) jobs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import panel as pn
import param
from astropy.table import Table

from connectors.exceptions import ConnectorError
from connectors.tap import TAPConnector

from ..fanout import fan_out, run_blocking
from ..store import Store
from .actions import Refresher, on_click
from .style import notice, say

__all__ = ["AdqlEditor"]

FINAL_PHASES = {"COMPLETED", "ERROR", "ABORTED"}


class AdqlEditor(pn.viewable.Viewer):
    """Write ADQL against a TAP service; run it now or as a job that outlives the page.

    Async jobs are recorded per user in the store, so the job list survives a
    page reload and a server restart; each job's phase comes live from the
    service.

    Parameters
    ----------
    services : mapping
        Name -> TAP connector.
    store : Store
        Where the user's jobs are recorded.
    user : str
        Whose jobs.
    """

    service = param.Selector(objects=[], doc="TAP service.")
    table_name = param.Selector(objects=[], doc="Table of the service (from TAP_SCHEMA).")
    example = param.Selector(objects=[], doc="Example queries for the chosen table.")
    adql = param.String(default="", label="ADQL", doc="The ADQL query.")
    maxrec = param.Integer(default=1000, bounds=(1, None), label="MAXREC",
                           doc="Row limit (MAXREC).")
    refresh_period = param.Number(default=3.0, bounds=(0, None),
                                  doc="Seconds between job-list refreshes while jobs run; "
                                      "0 stops them.")

    def __init__(self, services: Mapping[str, TAPConnector], store: Store, user: str,
                 **params: Any) -> None:
        super().__init__(**params)
        self.services = dict(services)
        self.store, self.user = store, user
        self.param.service.objects = list(self.services)
        if self.services and self.service is None:
            self.service = next(iter(self.services))
        self.result: Table | None = None
        self.jobs: list[dict[str, Any]] = []
        self._refresher = Refresher(self.refresh, lambda: self.refresh_period)
        buttons = {label: pn.widgets.Button(label=label, width=170, **kw) for label, kw in (
            ("Load tables", {}), ("Run now", {"color": "primary"}),
            ("Run as async job", {"color": "primary"}), ("Refresh jobs", {}),
            ("Fetch result", {}), ("Abort", {}), ("Delete", {"color": "danger"}))}
        for label, method in (("Load tables", self.load_tables), ("Run now", self.run_sync),
                              ("Run as async job", self.submit), ("Refresh jobs", self.refresh),
                              ("Fetch result", self.fetch_selected),
                              ("Abort", self.abort_selected), ("Delete", self.delete_selected)):
            on_click(buttons[label], method)
        self._message = notice()
        self._columns = pn.widgets.Tabulator(
            None, show_index=False, disabled=True, height=220, sizing_mode="stretch_width",
            formatters={"description": {"type": "plaintext"}})
        self._jobs = pn.widgets.Tabulator(
            self._jobs_frame(), show_index=False, disabled=True, selectable=1, height=220,
            sizing_mode="stretch_width", formatters={"adql": {"type": "plaintext"},
                                                     "error": {"type": "plaintext"}})
        self._result = pn.widgets.Tabulator(
            None, show_index=False, disabled=True, height=320, pagination="remote",
            page_size=20, sizing_mode="stretch_width")
        browser = pn.Column(
            pn.Row(pn.widgets.Select.from_param(self.param.service, width=260),
                   buttons["Load tables"]),
            pn.widgets.Select.from_param(self.param.table_name, width=320),
            self._columns, width=560)
        editor = pn.Column(
            pn.widgets.Select.from_param(self.param.example, width=520),
            pn.widgets.TextAreaInput.from_param(self.param.adql, height=160, width=520,
                                                placeholder="SELECT TOP 10 * FROM ..."),
            pn.Row(pn.widgets.IntInput.from_param(self.param.maxrec, width=120),
                   buttons["Run now"], buttons["Run as async job"]), width=560)
        self._layout = pn.Column(
            pn.Row(browser, editor), self._message,
            pn.pane.Markdown("#### My async jobs"),
            pn.Row(buttons["Refresh jobs"], buttons["Fetch result"], buttons["Abort"],
                   buttons["Delete"]),
            self._jobs, pn.pane.Markdown("#### Result"), self._result,
            sizing_mode="stretch_width")
        if pn.state.curdoc is not None:
            pn.state.onload(self.refresh)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    @property
    def connector(self) -> TAPConnector:
        """The connector of the chosen service."""
        return self.services[self.service]

    def _say(self, text: str, kind: str = "info") -> None:
        say(self._message, text, kind)

    # ----------------------------------------------------------- schema
    async def load_tables(self) -> None:
        """Read the service's tables from TAP_SCHEMA."""
        try:
            tables = await run_blocking(lambda: self.connector.run_sync(
                "SELECT table_name FROM TAP_SCHEMA.tables ORDER BY table_name", maxrec=5000))
        except ConnectorError as exc:
            self._say(exc.reason, "danger")
            return
        names = [str(n) for n in tables["table_name"]]
        self.param.table_name.objects = names
        self.table_name = names[0] if names else None
        self._say(f"{len(names)} tables in {self.service}.")

    @param.depends("table_name", watch=True)
    async def _show_table(self) -> None:
        if not self.table_name:
            return
        try:
            columns = await run_blocking(self.connector.table_columns, self.table_name)
        except ConnectorError as exc:
            self._say(exc.reason, "danger")
            return
        self._columns.value = columns.to_pandas()
        examples = [f"SELECT TOP 10 * FROM {self.table_name}",
                    f"SELECT COUNT(*) AS n FROM {self.table_name}"]
        ucds = {str(u): str(c) for c, u in zip(columns["column_name"], columns["ucd"],
                                                strict=True)}
        ra, dec = ucds.get("pos.eq.ra;meta.main"), ucds.get("pos.eq.dec;meta.main")
        if ra and dec:
            examples.append(f"SELECT * FROM {self.table_name} WHERE 1=CONTAINS("
                            f"POINT('ICRS', {ra}, {dec}), CIRCLE('ICRS', 83.633, 22.014, 0.5))")
        self.param.example.objects = examples
        self.example = examples[0]

    @param.depends("example", watch=True)
    def _use_example(self) -> None:
        if self.example:
            self.adql = self.example

    # -------------------------------------------------------------- runs
    async def run_sync(self) -> None:
        """Run the query now and show its rows."""
        if not self.adql.strip():
            self._say("Write a query first.", "warning")
            return
        try:
            self.result = await run_blocking(lambda: self.connector.run_sync(
                self.adql, maxrec=self.maxrec))
        except ConnectorError as exc:
            self._say(f"{self.service}: {exc.reason}", "danger")
            return
        self._show_result(self.result)

    def _show_result(self, table: Table) -> None:
        frame = table.to_pandas() if len(table.colnames) else None
        if frame is not None:
            # identifiers (HIP 32349) read wrong with thousands separators
            self._result.formatters = {c: {"type": "plaintext"} for c in frame.columns
                                       if frame[c].dtype.kind in "iu"}
        self._result.value = frame
        note = " (truncated at MAXREC)" if table.meta.get("truncated") else ""
        self._say(f"{len(table)} rows{note}.")

    async def submit(self) -> None:
        """Start the query as an async job recorded for this user."""
        if not self.adql.strip():
            self._say("Write a query first.", "warning")
            return
        try:
            url = await run_blocking(lambda: self.connector.submit_async(
                self.adql, maxrec=self.maxrec))
        except ConnectorError as exc:
            self._say(f"{self.service}: {exc.reason}", "danger")
            return
        await run_blocking(self.store.add_job, self.user, "tap", self.service, url,
                           {"adql": self.adql})
        self._say(f"Job started: {url}. It runs on the service even if you close this page.")
        await self.refresh()

    # -------------------------------------------------------------- jobs
    def _jobs_frame(self) -> pd.DataFrame:
        cols = ["phase", "service", "created", "started", "ended", "adql", "error", "job_url"]
        return pd.DataFrame([{c: j.get(c, "") for c in cols} for j in self.jobs], columns=cols)

    async def refresh(self) -> None:
        """Read the user's jobs and their live phases (concurrently)."""
        records = [{**r, "job_url": r["ref"], "adql": r["detail"]["adql"]}
                   for r in await run_blocking(self.store.jobs, self.user, "tap")]
        calls = {r["id"]: (lambda r=r: self._status(r)) for r in records}
        status: dict[int, dict[str, Any]] = {}
        async for outcome in fan_out(calls, deadline=15):
            if outcome.error is not None or outcome.timed_out:
                reason = outcome.reason
                status[outcome.key] = {"phase": "UNKNOWN", "error": reason}
            else:
                status[outcome.key] = outcome.value
        self.jobs = [{**r, **status[r["id"]]} for r in records]
        self._jobs.value = self._jobs_frame()
        self._refresher.keep(any(j["phase"] not in FINAL_PHASES for j in self.jobs))

    def _status(self, record: dict[str, Any]) -> dict[str, Any]:
        if record["service"] not in self.services:
            return {"phase": "UNKNOWN", "error": "service not configured"}
        return self.services[record["service"]].job_status(record["job_url"])


    def _selected(self) -> dict[str, Any] | None:
        if not self._jobs.selection:
            self._say("Select a job in the list first.", "warning")
            return None
        return self.jobs[self._jobs.selection[0]]

    async def fetch_selected(self) -> None:
        """Show the rows of the selected job."""
        job = self._selected()
        if job is None:
            return
        try:
            self.result = await run_blocking(self.services[job["service"]].job_result,
                                             job["job_url"])
        except ConnectorError as exc:
            self._say(f"job {job['job_url']}: {exc.reason}", "danger")
            return
        self._show_result(self.result)

    async def abort_selected(self) -> None:
        """Abort the selected job."""
        job = self._selected()
        if job is None:
            return
        try:
            await run_blocking(self.services[job["service"]].abort_job, job["job_url"])
        except ConnectorError as exc:
            self._say(exc.reason, "danger")
        await self.refresh()

    async def delete_selected(self) -> None:
        """Delete the selected job on the service and forget it."""
        job = self._selected()
        if job is None:
            return
        try:
            await run_blocking(self.services[job["service"]].delete_job, job["job_url"])
        except ConnectorError as exc:
            if getattr(exc, "status", None) != 404:
                self._say(exc.reason, "danger")
                return
        await run_blocking(self.store.forget_job, self.user, job["id"])
        self._jobs.selection = []
        self._say("Job deleted.")
        await self.refresh()
