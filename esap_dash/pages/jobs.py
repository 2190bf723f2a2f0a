"""The Jobs page: Dask Gateway clusters, and one live view of every job of the user."""

from __future__ import annotations

import html
import time
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import panel as pn
import param

from connectors.exceptions import ConnectorError

from ..components.actions import Refresher, on_click
from ..components.style import html_pane, notice, say
from ..fanout import fan_out, run_blocking
from .base import Page

__all__ = ["JobsPage"]

#: States after which a job, rule or cluster no longer changes by itself.
FINAL = {"COMPLETED", "ERROR", "ABORTED", "OK", "STUCK", "SUSPENDED", "STOPPED", "FAILED",
         "UNKNOWN"}
JOB_COLUMNS = ["kind", "state", "service", "what", "created", "ended", "error", "ref"]
CLUSTER_COLUMNS = ["name", "status", "workers", "cores", "tasks", "started", "worker_cores",
                   "worker_memory"]


def _ms(value: Any) -> str:
    if not value:
        return ""
    return datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


class JobsPage(Page):
    """Clusters on the deployment's Dask Gateway, and every job of the user.

    The jobs list gathers async TAP (UWS) jobs started from Discovery and
    Rucio replication rules asked for from the Cart, whatever ran them; it
    refreshes by itself while something is still running and survives
    reloads and restarts (the records are in the deployment's database).
    """

    title = "Jobs"
    workers = param.Integer(default=2, bounds=(0, None), doc="Workers to scale the cluster to.")
    adapt_min = param.Integer(default=0, bounds=(0, None), label="Adaptive minimum",
                              doc="Fewest workers when adaptive.")
    adapt_max = param.Integer(default=2, bounds=(0, None), label="Adaptive maximum",
                              doc="Most workers when adaptive.")
    refresh_period = param.Number(default=5.0, bounds=(0, None),
                                  doc="Seconds between refreshes while something runs.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        gateways = self.profile.by_role("gateway")
        self.gateway = gateways[0].connector() if gateways else None
        self.clusters: list[dict[str, Any]] = []
        self.jobs: list[dict[str, Any]] = []
        self.first_worker_s: float | None = None
        self._asked: dict[str, float] = {}
        self._option_widgets: dict[str, pn.widgets.Widget] = {}
        self._refresher = Refresher(self.refresh, lambda: self.refresh_period)
        self._message = notice()
        self._options = pn.Row()
        self._dashboards = html_pane("")
        self._clusters = pn.widgets.Tabulator(
            pd.DataFrame(columns=CLUSTER_COLUMNS), show_index=False, disabled=True,
            selectable=1, height=180, sizing_mode="stretch_width")
        self._jobs = pn.widgets.Tabulator(
            pd.DataFrame(columns=JOB_COLUMNS), show_index=False, disabled=True, selectable=1,
            height=320, sizing_mode="stretch_width",
            formatters={c: {"type": "plaintext"} for c in ("what", "error", "ref", "service")},
            widths={"what": 320, "error": 220})
        buttons = {}
        for label, method, color in (
                ("Start cluster", self.start_cluster, "primary"),
                ("Scale", self.scale, "default"), ("Adapt", self.adapt, "default"),
                ("Stop cluster", self.stop_cluster, "danger"),
                ("Refresh", self.refresh, "default"),
                ("Abort job", self.abort_job, "default"),
                ("Forget job", self.forget_job, "default")):
            buttons[label] = pn.widgets.Button(label=label, color=color, width=140)
            on_click(buttons[label], method)
        engine = (f"Clusters run on the Dask Gateway {html.escape(self.gateway.url)}, as "
                  f"gateway user {html.escape(str(self.gateway.username))}." if self.gateway
                  else "This deployment has no Dask Gateway.")
        self._layout = pn.Column(
            pn.pane.Markdown("## Jobs"), self._message,
            pn.Card(html_pane(f"<p>{engine}</p>"), pn.pane.Markdown(
                        "Options offered by the gateway for a new cluster:"), self._options,
                    pn.Row(buttons["Start cluster"], buttons["Refresh"]), self._clusters,
                    pn.Row(pn.widgets.IntInput.from_param(self.param.workers, width=120),
                           buttons["Scale"],
                           pn.widgets.IntInput.from_param(self.param.adapt_min, width=140),
                           pn.widgets.IntInput.from_param(self.param.adapt_max, width=140),
                           buttons["Adapt"], buttons["Stop cluster"]),
                    self._dashboards, title="Dask clusters", sizing_mode="stretch_width"),
            pn.Card(pn.pane.Markdown(
                        "Every job of yours, whatever runs it: async TAP queries (started in "
                        "Discovery > ADQL) and Rucio replication rules (asked for on the Cart "
                        "page)."),
                    pn.Row(buttons["Abort job"], buttons["Forget job"]), self._jobs,
                    title="All jobs", sizing_mode="stretch_width"),
            sizing_mode="stretch_width")
        if pn.state.curdoc is not None:
            pn.state.onload(self._on_load)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    async def _on_load(self) -> None:
        await self.load_options()
        await self.refresh()

    # ------------------------------------------------------------- clusters
    async def load_options(self) -> None:
        """Build the new-cluster form from the options the gateway offers."""
        if self.gateway is None:
            return
        try:
            options = await run_blocking(self.gateway.cluster_options)
        except ConnectorError as exc:
            say(self._message, f"{self.gateway.name}: {exc.reason}", "danger")
            return
        widgets = {}
        for row in options:
            kind = {"int": pn.widgets.IntInput, "float": pn.widgets.FloatInput}.get(
                str(row["type"]))
            if kind is None:
                widgets[row["field"]] = pn.widgets.Select(
                    label=str(row["label"]), options=str(row["options"]).split(", "),
                    value=str(row["default"]), width=160)
                continue
            cast = int if kind is pn.widgets.IntInput else float
            limits = f" ({row['min']}–{row['max']})" if row["max"] else ""
            widgets[row["field"]] = kind(label=f"{row['label']}{limits}",
                                         value=cast(float(row["default"])), width=160)
        self._option_widgets = widgets
        self._options.objects = list(widgets.values())

    def _selected_cluster(self) -> str | None:
        if not self._clusters.selection or not self.clusters:
            say(self._message, "Select a cluster first.", "warning")
            return None
        return self.clusters[self._clusters.selection[0]]["name"]

    async def _gateway_call(self, func: Any, done: str) -> bool:
        if self.gateway is None:
            say(self._message, "This deployment has no Dask Gateway.", "warning")
            return False
        try:
            note = await run_blocking(func)
        except ConnectorError as exc:
            say(self._message, exc.reason, "danger")
            return False
        say(self._message, done + (f" {note}" if isinstance(note, str) and note else ""))
        await self.refresh()
        return True

    async def start_cluster(self) -> None:
        """Ask the gateway for a cluster with the form's options."""
        options = {field: w.value for field, w in self._option_widgets.items()}
        started = time.perf_counter()
        names: list[str] = []
        if await self._gateway_call(lambda: names.append(self.gateway.start_cluster(**options)),
                                    "Cluster asked for; it starts in a few seconds."):
            self._asked[names[0]] = started

    async def scale(self) -> None:
        """Scale the selected cluster to the chosen number of workers."""
        name = self._selected_cluster()
        if name:
            await self._gateway_call(lambda: self.gateway.scale(name, self.workers),
                                     f"Scaling to {self.workers} workers.")

    async def adapt(self) -> None:
        """Make the selected cluster adaptive within the chosen limits."""
        name = self._selected_cluster()
        if name:
            await self._gateway_call(
                lambda: self.gateway.adapt(name, self.adapt_min, self.adapt_max),
                f"Adaptive between {self.adapt_min} and {self.adapt_max} workers.")

    async def stop_cluster(self) -> None:
        """Stop the selected cluster."""
        name = self._selected_cluster()
        if name:
            await self._gateway_call(lambda: self.gateway.stop_cluster(name), "Stopping.")

    def _cluster_rows(self) -> list[dict[str, Any]]:
        assert self.gateway is not None
        rows = []
        for cluster in self.gateway.clusters():
            counts: dict[str, Any] = {}
            if cluster["status"] == "RUNNING":
                try:
                    counts = self.gateway.task_counts(cluster["name"])
                except ConnectorError:
                    counts = {}
            workers = counts.get("workers", "")
            if workers and cluster["name"] in self._asked:
                self.first_worker_s = time.perf_counter() - self._asked.pop(cluster["name"])
            tasks = (f"{counts.get('processing', 0)} running, {counts.get('waiting', 0)} "
                     f"waiting, {counts.get('memory', 0)} in memory" if counts else "")
            rows.append({**cluster, "workers": workers, "cores": counts.get("cores", ""),
                         "tasks": tasks, "started": _ms(cluster["start_time"])})
        return rows

    # ----------------------------------------------------------------- jobs
    def _tap(self, name: str) -> Any:
        """The TAP connector of the archive ``name``, or None when it is not configured."""
        svc = next((s for s in self.profile.by_role("archive") if s.name == name), None)
        return svc.connector() if svc is not None else None

    def _job_state(self, record: dict[str, Any]) -> dict[str, Any]:
        if record["kind"] == "tap":
            tap = self._tap(record["service"])
            if tap is None:
                return {"state": "UNKNOWN", "error": "service not configured"}
            status = tap.job_status(record["ref"])
            return {"state": status["phase"], "ended": status["ended"],
                    "error": status["error"]}
        if record["kind"] == "rucio-rule":
            lakes = self.profile.by_role("rucio")
            if not lakes:
                return {"state": "UNKNOWN", "error": "no Rucio configured"}
            rule = lakes[0].connector().rule(record["ref"])
            return {"state": rule["state"], "error": rule["error"],
                    "ended": str(rule["updated"] or "") if rule["state"] == "OK" else ""}
        return {"state": "UNKNOWN", "error": f"unknown kind {record['kind']!r}"}

    @staticmethod
    def _what(record: dict[str, Any]) -> str:
        detail = record["detail"]
        if record["kind"] == "tap":
            return " ".join(str(detail.get("adql", "")).split())
        return f"{detail.get('did')} at {detail.get('rse')} (cart {detail.get('cart')})"

    async def refresh(self) -> None:
        """Read clusters and jobs again, with their live states (concurrently)."""
        records = await run_blocking(self.store.jobs, self.user)
        calls: dict[Any, Any] = {r["id"]: (lambda r=r: self._job_state(r)) for r in records}
        if self.gateway is not None:
            calls["clusters"] = self._cluster_rows
        states: dict[Any, Any] = {}
        async for outcome in fan_out(calls, deadline=15):
            if outcome.error is not None or outcome.timed_out:
                reason = getattr(outcome.error, "reason", "no answer in time")
                states[outcome.key] = {"state": "UNKNOWN", "error": reason}
            else:
                states[outcome.key] = outcome.value
        clusters = states.pop("clusters", None)
        if isinstance(clusters, dict):  # the gateway did not answer: keep the last list
            say(self._message, f"{self.gateway.name} is down: {clusters['error']}"
                ". The job history is kept.", "warning")
        elif clusters is not None:
            self.clusters = clusters
        self.jobs = [{"kind": r["kind"], "service": r["service"], "what": self._what(r),
                      "created": r["created"].strftime("%Y-%m-%d %H:%M:%S"), "ended": "",
                      "error": "", "ref": r["ref"], "id": r["id"], **states[r["id"]]}
                     for r in records]
        self._jobs.value = pd.DataFrame(self.jobs, columns=JOB_COLUMNS)
        self._clusters.value = pd.DataFrame(self.clusters, columns=CLUSTER_COLUMNS)
        self._dashboards.object = "".join(
            f'<p>Dask dashboard of {html.escape(c["name"][:8])}: <a href="'
            f'{html.escape(c["dashboard"])}" target="_blank" rel="noopener noreferrer">'
            f"{html.escape(c['dashboard'])}</a></p>" for c in self.clusters if c["dashboard"])
        if self.first_worker_s is not None:
            say(self._message, f"First worker {self.first_worker_s:.1f} s after "
                "“Start cluster”.")
        self._refresher.keep(any(j["state"] not in FINAL for j in self.jobs)
                             or any(c["status"] not in FINAL for c in self.clusters))

    def _selected_job(self) -> dict[str, Any] | None:
        if not self._jobs.selection or not self.jobs:
            say(self._message, "Select a job first.", "warning")
            return None
        return self.jobs[self._jobs.selection[0]]

    async def abort_job(self) -> None:
        """Abort the selected async TAP job (rules end by being forgotten)."""
        job = self._selected_job()
        if job is None:
            return
        if job["kind"] != "tap":
            say(self._message, "Only TAP jobs can be aborted; forget a rule to delete it.",
                "warning")
            return
        tap = self._tap(job["service"])
        if tap is None:
            say(self._message, f"{job['service']} is not configured any more.", "warning")
            return
        try:
            await run_blocking(tap.abort_job, job["ref"])
        except ConnectorError as exc:
            say(self._message, exc.reason, "danger")
        await self.refresh()

    async def forget_job(self) -> None:
        """Delete the selected job where it runs (TAP job, Rucio rule) and forget it."""
        job = self._selected_job()
        if job is None:
            return
        try:
            if job["kind"] == "tap" and self._tap(job["service"]) is not None:
                await run_blocking(self._tap(job["service"]).delete_job, job["ref"])
            elif job["kind"] == "rucio-rule":
                lake = self.profile.by_role("rucio")[0].connector()
                await run_blocking(lake.delete_rule, job["ref"])
        except ConnectorError as exc:
            if getattr(exc, "status", None) != 404:
                say(self._message, exc.reason, "danger")
                return
        await run_blocking(self.store.forget_job, self.user, job["id"])
        self._jobs.selection = []
        say(self._message, "Job deleted and forgotten.")
        await self.refresh()
