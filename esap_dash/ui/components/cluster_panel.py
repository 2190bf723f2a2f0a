"""The user's Dask Gateway clusters: where they run, the gateway's options for a new
one, the list with live counts and dashboards, scale, adapt, stop (a view over
:class:`~esap_dash.work.clusters.Clusters`)."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import panel as pn
import param

from connectors.exceptions import ConnectorError

from ...core.actor import Actor, NoAccountError
from ...core.fanout import run_blocking
from ...work.clusters import ClusterError, Clusters, UnconfirmedStartError
from .actions import Refresher, action_buttons
from .style import Notice, html_pane, notice, say

__all__ = ["ClusterPanel"]

CLUSTER_COLUMNS = ["name", "status", "workers", "cores", "tasks", "started", "worker_cores",
                   "worker_memory"]


def _facility_label(svc: Any) -> str:
    engine = svc.placement.get("engine")
    return f"{svc.name} ({engine})" if engine and engine not in svc.name.lower() else svc.name


def _ms(value: Any) -> str:
    if not value:
        return ""
    return datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


class ClusterPanel(pn.viewable.Viewer):
    """The user's clusters at one of the deployment's gateways (chosen in
    :attr:`facility`); refreshed by itself while one changes.

    Parameters
    ----------
    actor : Actor
        Whose clusters.
    notice : Notice, optional
        Where to say what happened (its own line by default).
    """

    workers = param.Integer(default=2, bounds=(0, None), doc="Workers to scale the cluster to.")
    start_workers = param.Integer(default=1, bounds=(0, None), label="Workers at start",
                                  doc="Workers the new cluster is scaled to once it runs.")
    adapt_min = param.Integer(default=0, bounds=(0, None), label="Adaptive minimum",
                              doc="Fewest workers when adaptive.")
    adapt_max = param.Integer(default=2, bounds=(0, None), label="Adaptive maximum",
                              doc="Most workers when adaptive.")
    refresh_period = param.Number(default=5.0, bounds=(0, None),
                                  doc="Seconds between refreshes while a cluster changes.")
    run_on = param.Selector(objects=[], label="Run on", doc="One of your running clusters.")
    selection = param.List(default=[], item_type=int,
                           doc="Clusters chosen in the list (their indices).")
    facility = param.Selector(objects=[], label="Where clusters run",
                              doc="The Dask Gateway (and the engine behind it) whose clusters "
                                  "are listed, started and run on.")

    def __init__(self, actor: Actor, *, notice_line: Notice | None = None,
                 **params: Any) -> None:
        super().__init__(**params)
        self.actor = actor
        self.notice = notice_line if notice_line is not None else notice()
        # The places the user has an account at (the first place when none, to say so).
        gateways = [g for g in actor.profile.by_role("gateway") if self._has_account(g.id)] \
            or actor.profile.by_role("gateway")[:1]
        self.param.facility.objects = [g.id for g in gateways]
        self.param.facility.names = {_facility_label(g): g.id for g in gateways}
        if gateways:
            with param.discard_events(self):  # the panel is built below
                self.facility = gateways[0].id
        #: The user's clusters at the chosen facility.
        self.compute = Clusters(actor, self.facility)
        self.clusters: list[dict[str, Any]] = []
        self.gateway_down = False
        #: The new-cluster form's inputs, by the gateway's option.
        self.option_inputs: dict[str, pn.widgets.Widget] = {}
        self._refresher = Refresher(self.refresh, lambda: self.refresh_period)
        self._options = pn.Row()
        self._dashboards = html_pane("")
        self._clusters = pn.widgets.Tabulator(
            pd.DataFrame(columns=CLUSTER_COLUMNS), show_index=False, disabled=True,
            selectable=1, height=180, sizing_mode="stretch_width")
        self._clusters.link(self, selection="selection", bidirectional=True)
        buttons = action_buttons((
                ("Start cluster", self.start_cluster, "primary"),
                ("Scale", self.scale, "default"), ("Adapt", self.adapt, "default"),
                ("Stop cluster", self.stop_cluster, "danger"),
                ("Refresh", self.refresh, "default")), width=140)
        self._start_button = buttons["Start cluster"]
        self._start_button.disabled = self.gateway is None
        self._engine_note = html_pane(self._engine_text())
        controls = [] if self.gateway is None else [
            pn.pane.Markdown("Options offered by the gateway for a new cluster:"),
            self._options,
            pn.Row(pn.widgets.IntInput.from_param(self.param.start_workers, width=140),
                   buttons["Start cluster"], buttons["Refresh"]),
            self._clusters,
            pn.Row(pn.widgets.IntInput.from_param(self.param.workers, width=120),
                   buttons["Scale"],
                   pn.widgets.IntInput.from_param(self.param.adapt_min, width=140),
                   pn.widgets.IntInput.from_param(self.param.adapt_max, width=140),
                   buttons["Adapt"], buttons["Stop cluster"]),
            self._dashboards]
        self._layout = pn.Card(
            *([pn.widgets.Select.from_param(self.param.facility, width=360)]
              if len(gateways) > 1 else []),
            self._engine_note, *controls, title="Dask clusters",
            sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    def _has_account(self, gateway_id: str) -> bool:
        try:
            self.actor.connector("gateway", gateway_id)
        except NoAccountError:
            return False
        return True

    @property
    def gateway(self) -> Any:
        """The chosen facility's gateway as the user (None without one, or without an
        account there: :attr:`no_account` says so)."""
        return self.compute.gateway

    @property
    def no_account(self) -> str:
        """Why the user cannot use the chosen gateway ("" when they can)."""
        return self.compute.no_account

    @property
    def batch_jobs(self) -> Any:
        """The clusters' Slurm jobs, where the facility's engine is Slurm."""
        return self.compute.batch_jobs

    @property
    def first_worker_s(self) -> float | None:
        """Seconds from the last “Start cluster” to the cluster's first worker."""
        return self.compute.first_worker_s

    @property
    def engine_description(self) -> str:
        """Where the chosen facility's clusters run, in words."""
        return self.compute.description

    @property
    def batch_description(self) -> str:
        """The clusters' Slurm jobs per cluster ("" off Slurm)."""
        return self.compute.batch_description

    @property
    def following(self) -> bool:
        """Whether the list refreshes by itself."""
        return self._refresher.active

    def _engine_text(self) -> str:
        return f"<p>{html.escape(self.engine_description)}</p>"

    @param.depends("facility", watch=True)
    def _on_facility(self) -> None:
        """Show the clusters of the facility chosen."""
        self.compute = Clusters(self.actor, self.facility)
        self.clusters = []
        self._start_button.disabled = self.gateway is None
        self._engine_note.object = self._engine_text()
        self._clusters.value = pd.DataFrame(columns=CLUSTER_COLUMNS)
        self.param.run_on.objects, self.run_on = [], None
        self._options.objects = []
        if pn.state.curdoc is not None:
            pn.state.execute(self.show_facility)

    async def show_facility(self) -> None:
        """Read the chosen facility's cluster options and the user's clusters there."""
        await self.load_options()
        await self.refresh()

    async def load_options(self) -> None:
        """Build the new-cluster form from the options the gateway offers."""
        if self.gateway is None:
            return
        try:
            options = await run_blocking(self.compute.options)
        except ConnectorError as exc:
            say(self.notice, f"{self.gateway.name}: {exc.reason}", "danger")
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
        self.option_inputs = widgets
        self._options.objects = list(widgets.values())

    def _selected(self) -> str | None:
        if not self.selection or not self.clusters:
            say(self.notice, "Select a cluster first.", "warning")
            return None
        return self.clusters[self.selection[0]]["name"]

    async def _gateway_call(self, func: Any, done: str) -> bool:
        try:
            note = await run_blocking(func)
        except ClusterError as exc:
            say(self.notice, str(exc), "warning")
            return False
        except ConnectorError as exc:
            say(self.notice, exc.reason, "danger")
            return False
        say(self.notice, done + (f" {note}" if isinstance(note, str) and note else ""))
        await self.refresh()
        return True

    async def start_cluster(self) -> None:
        """Ask the gateway for a cluster with the form's options, scaled to
        ``start_workers`` once it runs.

        When the gateway does not answer, it may still create the cluster:
        starting again waits until the list shows whether it did.
        """
        options = {field: w.value for field, w in self.option_inputs.items()}
        self._start_button.disabled = True
        try:
            name = await run_blocking(self.compute.start, options, self.start_workers)
        except UnconfirmedStartError as exc:
            say(self.notice, str(exc), "warning")
            self._refresher.keep(True)  # the list shows whether it made it
            return
        except ClusterError as exc:
            say(self.notice, str(exc), "warning")
            return
        except ConnectorError as exc:
            say(self.notice, exc.reason, "danger")
            return
        finally:
            self._start_button.disabled = self.compute.unconfirmed or self.gateway is None
        say(self.notice, f"Cluster {name[:8]} asked for; it starts in a few seconds and is "
            f"then scaled to {self.start_workers} worker(s).")
        await self.refresh()

    async def scale(self) -> None:
        """Scale the selected cluster to the chosen number of workers."""
        name = self._selected()
        if name:
            await self._gateway_call(lambda: self.compute.scale(name, self.workers),
                                     f"Scaling to {self.workers} workers.")

    async def adapt(self) -> None:
        """Make the selected cluster adaptive within the chosen limits."""
        name = self._selected()
        if name:
            await self._gateway_call(
                lambda: self.compute.adapt(name, self.adapt_min, self.adapt_max),
                f"Adaptive between {self.adapt_min} and {self.adapt_max} workers.")

    async def stop_cluster(self) -> None:
        """Stop the selected cluster."""
        name = self._selected()
        if name:
            await self._gateway_call(lambda: self.compute.stop(name), "Stopping.")

    async def refresh(self) -> None:
        """Read the user's clusters again (refreshed while one changes)."""
        if self.gateway is None:
            return
        try:
            clusters, said = await run_blocking(self.compute.listing)
        except ConnectorError as exc:  # the gateway did not answer: keep the last list
            self.gateway_down = True
            say(self.notice, f"{self.gateway.name} is down: {exc.reason}"
                ". The job history is kept.", "warning")
            self._refresher.keep(True)
            return
        if self.gateway_down:
            self.gateway_down = False
            say(self.notice, f"{self.gateway.name} answers again.")
        for sentence, level in said:
            say(self.notice, sentence, level)
        self._start_button.disabled = self.compute.unconfirmed
        self.clusters = [{**c, "started": _ms(c["start_time"])} for c in clusters]
        running = {f"{c['name'][:8]} ({c['worker_cores']} cores/worker)": c["name"]
                   for c in self.clusters if c["status"] == "RUNNING"}
        self.param.run_on.objects = running
        if self.run_on not in running.values():
            self.run_on = next(iter(running.values()), None)
        self._clusters.value = pd.DataFrame(
            [{**c, "name": c["name"][:8]} for c in self.clusters], columns=CLUSTER_COLUMNS)
        # The time to the first worker stays next to the clusters (the message line
        # is for what happens next).
        batch = self.batch_description
        self._dashboards.object = "".join(
            f'<p>Dask dashboard of {html.escape(c["name"][:8])}: <a href="'
            f'{html.escape(c["dashboard"])}" target="_blank" rel="noopener noreferrer">'
            f"{html.escape(c['dashboard'])}</a></p>" for c in self.clusters if c["dashboard"]
        ) + (f"<p>First worker {self.first_worker_s:.1f} s after “Start cluster”.</p>"
             if self.first_worker_s is not None else "") + (
            f"<p>{html.escape(batch)}</p>" if batch else "")
        self._refresher.keep(self.compute.changing(clusters))
