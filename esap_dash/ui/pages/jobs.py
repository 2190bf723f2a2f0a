"""The Jobs page: Dask Gateway clusters, and one live view of every job of the user."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import panel as pn
import param

from connectors.exceptions import ConnectorError

from ...core.actor import NoAccountError
from ...core.fanout import run_blocking
from ...work.clusters import ClusterError, Clusters, UnconfirmedStartError
from ...work.jobs import JobError, kinds
from ...work.kinds.workflow import WorkflowRuns
from ...work.workflows import GatewayEngine, LocalEngine, WorkflowError, load_workflows
from ..components.actions import Refresher, action_buttons, lazy_card
from ..components.dirac_job import DiracJobForm
from ..components.job_list import JobList
from ..components.style import html_pane, notice, say
from ..components.where_to_run import WhereToRun
from .base import Page

__all__ = ["JobsPage"]

CLUSTER_COLUMNS = ["name", "status", "workers", "cores", "tasks", "started", "worker_cores",
                   "worker_memory"]


def _facility_label(svc: Any) -> str:
    engine = svc.placement.get("engine")
    return f"{svc.name} ({engine})" if engine and engine not in svc.name.lower() else svc.name


def _ms(value: Any) -> str:
    if not value:
        return ""
    return datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


class JobsPage(Page):
    """Clusters on the deployment's Dask Gateway, and every job of the user.

    Workflows (see :mod:`esap_dash.work.workflows`) run on one of the user's
    gateway clusters, or on a local Dask cluster when the deployment has no
    gateway.  The jobs list gathers workflow runs, async TAP (UWS) jobs
    started from Discovery and Rucio replication rules asked for from the
    Cart; it refreshes by itself while something is still running and
    survives reloads and restarts (the records are in the deployment's
    database).
    """

    title = "Jobs"
    workers = param.Integer(default=2, bounds=(0, None), doc="Workers to scale the cluster to.")
    start_workers = param.Integer(default=1, bounds=(0, None), label="Workers at start",
                                  doc="Workers the new cluster is scaled to once it runs.")
    adapt_min = param.Integer(default=0, bounds=(0, None), label="Adaptive minimum",
                              doc="Fewest workers when adaptive.")
    adapt_max = param.Integer(default=2, bounds=(0, None), label="Adaptive maximum",
                              doc="Most workers when adaptive.")
    refresh_period = param.Number(default=5.0, bounds=(0, None),
                                  doc="Seconds between refreshes while something runs.")
    workflow = param.Selector(objects=[], doc="The workflow to run.")
    cart_name = param.Selector(objects=["default"], default="default", label="Cart",
                               doc="The cart whose items the workflow works on.")
    run_on = param.Selector(objects=[], label="Run on", doc="One of your running clusters.")
    run_progress = param.Integer(default=0, bounds=(0, 100), precedence=-1,
                                 doc="Per cent done of the latest workflow run.")
    selection = param.List(default=[], item_type=int,
                           doc="Clusters chosen in the list (their indices).")
    facility = param.Selector(objects=[], label="Where clusters run",
                              doc="The Dask Gateway (and the engine behind it) whose clusters "
                                  "are listed, started and run on.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.no_account: dict[str, str] = {}
        # The places the user has an account at (the first place when none, to say so).
        gateways = [g for g in self.profile.by_role("gateway") if self._has_account(g.id)] \
            or self.profile.by_role("gateway")[:1]
        self.param.facility.objects = [g.id for g in gateways]
        self.param.facility.names = {_facility_label(g): g.id for g in gateways}
        if gateways:
            with param.discard_events(self):  # the page is built below
                self.facility = gateways[0].id
        #: The user's clusters at the chosen facility.
        self.compute = self._clusters_at(self.facility)
        self.lake = self._as_user("rucio")
        self.clusters: list[dict[str, Any]] = []
        self.gateway_down = False
        #: The new-cluster form's inputs, by the gateway's option.
        self.option_inputs: dict[str, pn.widgets.Widget] = {}
        self.workflows, problems = load_workflows()
        self.param.workflow.objects = list(self.workflows)
        self.param.workflow.names = {w.title: k for k, w in self.workflows.items()}
        if self.workflows:
            self.workflow = next(iter(self.workflows))
        self.form: param.Parameterized | None = None
        self._form = pn.Column()
        self._progress = pn.indicators.Progress(value=self.param.run_progress, max=100,
                                                width=420, visible=False)
        self._progress_text = html_pane("")
        self._refresher = Refresher(self.refresh_clusters, lambda: self.refresh_period)
        self.notice = notice()
        # Workflow runs (started here, or retried from the list) go where the form says.
        self.actor.engine = self._engine
        #: Every job of the user, whatever runs it.
        self.job_list = JobList(self.actor, message=self.notice,
                                refresh_period=self.refresh_period)
        self.job_list.param.watch(self._show_progress, "jobs")
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
                ("Refresh", self.refresh, "default"),
                ("Run workflow", self.run_workflow, "primary")), width=140)
        self._start_button = buttons["Start cluster"]
        self._start_button.disabled = self.gateway is None
        # Without a gateway account there is nowhere to run a workflow.
        self._run_button = buttons["Run workflow"]
        self._run_button.disabled = "gateway" in self.no_account
        self._engine_note = html_pane(self._engine_text())
        #: Where workflow runs go, as the page says it.
        self.runs_where = (
            "Workflows run on one of your running clusters (start one above)."
            if self.gateway else
            f"Workflows run on {LocalEngine.description} (no Dask Gateway configured)."
            if "gateway" not in self.no_account else
            "Workflows run on Dask Gateway clusters, and you have no gateway account.")
        broken = "".join(f"<p>Workflow {html.escape(k)} could not be loaded: "
                         f"{html.escape(v)}</p>" for k, v in problems.items())
        self._where = html_pane(f"<p>{html.escape(self.runs_where)}</p>{broken}")
        self._describe = pn.pane.Markdown("")
        pn.bind(self._on_workflow, self.param.workflow, watch=True)
        self._on_workflow(self.workflow)
        #: “Where can this run?” (its content is built when it is first opened).
        self.placement_card = self._placement_card()
        #: A DIRAC job from a cart (None without DIRAC; built when first opened).
        self.dirac_card = self._dirac_card() if self.profile.by_role("dirac") else None
        self._layout = pn.Column(
            pn.pane.Markdown("## Jobs"), self.notice,
            pn.Card(*([pn.widgets.Select.from_param(self.param.facility, width=360)]
                      if len(gateways) > 1 else []),
                    self._engine_note, *self._cluster_controls(buttons),
                    title="Dask clusters", sizing_mode="stretch_width"),
            pn.Card(self._where,
                    pn.Row(pn.widgets.Select.from_param(self.param.workflow, width=320),
                           pn.widgets.Select.from_param(self.param.cart_name, width=200),
                           *([pn.widgets.Select.from_param(self.param.run_on, width=220)]
                             if self.gateway else [])),
                    self._describe, self._form,
                    pn.Row(buttons["Run workflow"], self._progress), self._progress_text,
                    title="Run a workflow on a cart", sizing_mode="stretch_width"),
            self.placement_card,
            *([self.dirac_card] if self.dirac_card is not None else []),
            pn.Card(pn.pane.Markdown(
                        "Every job of yours, whatever runs it: workflow runs, DIRAC batch "
                        "jobs, async TAP queries (started in Discovery > ADQL) and Rucio "
                        "replication rules (asked for on the Cart page)."),
                    self.job_list, title="All jobs", sizing_mode="stretch_width"),
            sizing_mode="stretch_width")
        if pn.state.curdoc is not None:
            pn.state.onload(self._on_load)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    def _placement_card(self) -> pn.Card:
        """“Where can this run?” for the form's cart, built when first opened."""
        async def started(job: int) -> None:
            await self.job_list.refresh()

        def build() -> WhereToRun:
            self.where_to_run = WhereToRun(self.actor, lambda: self.cart_name,
                                           on_started=started)
            return self.where_to_run

        #: The ranking of the places work runs (None until its card is opened).
        self.where_to_run: WhereToRun | None = None
        return lazy_card("Where can this run?", build)

    def _dirac_card(self) -> pn.Card:
        """A DIRAC job built from a cart, built when first opened."""
        async def submitted(_record: int) -> None:
            await self.job_list.refresh()

        def build() -> DiracJobForm:
            self.dirac_form = DiracJobForm(self.actor, list(self.param.cart_name.objects),
                                           on_submitted=submitted)
            return self.dirac_form

        #: The DIRAC job form (None until its card is opened).
        self.dirac_form: DiracJobForm | None = None
        return lazy_card("Batch job on DIRAC", build)

    def _has_account(self, gateway_id: str) -> bool:
        try:
            self.actor.connector("gateway", gateway_id)
        except NoAccountError:
            return False
        return True

    def _cluster_controls(self, buttons: dict[str, pn.widgets.Button]) -> list[Any]:
        """The cluster form, list and actions (none without a gateway to use)."""
        if self.gateway is None:
            return []
        return [pn.pane.Markdown("Options offered by the gateway for a new cluster:"),
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

    def _as_user(self, role: str, service_id: str | None = None) -> Any:
        self.no_account.pop(role, None)
        try:
            return self.actor.connector(role, service_id)
        except NoAccountError as exc:
            self.no_account[role] = str(exc)
            return None

    def _clusters_at(self, facility: str | None) -> Clusters:
        compute = Clusters(self.actor, facility)
        self.no_account.pop("gateway", None)
        if compute.no_account:
            self.no_account["gateway"] = compute.no_account
        return compute

    @property
    def gateway(self) -> Any:
        """The chosen facility's gateway as the user (None without one, or without an
        account there)."""
        return self.compute.gateway

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
        """Where the chosen facility's clusters run, as the page says it."""
        return self.compute.description

    @property
    def batch_description(self) -> str:
        """The clusters' Slurm jobs per cluster, as the page says them ("" off Slurm)."""
        return self.compute.batch_description

    def _engine_text(self) -> str:
        return f"<p>{html.escape(self.engine_description)}</p>"

    @param.depends("facility", watch=True)
    def _on_facility(self) -> None:
        """Show the clusters of the facility chosen, and run workflows there."""
        self.compute = self._clusters_at(self.facility)
        self.clusters = []
        self._start_button.disabled = self.gateway is None
        self._run_button.disabled = "gateway" in self.no_account
        self._engine_note.object = self._engine_text()
        self._clusters.value = pd.DataFrame(columns=CLUSTER_COLUMNS)
        self.param.run_on.objects, self.run_on = [], None
        self._options.objects = []
        if pn.state.curdoc is not None:
            pn.state.execute(self.show_facility)

    async def show_facility(self) -> None:
        """Read the chosen facility's cluster options and the user's clusters there."""
        await self.load_options()
        await self.refresh_clusters()

    async def _on_load(self) -> None:
        await self.load_options()
        await self.load_carts()
        await self.refresh()

    # ------------------------------------------------------------ workflows
    def _on_workflow(self, name: str | None) -> None:
        flow = self.workflows.get(name) if name else None
        if flow is None:
            self.form, self._form.objects = None, []
            self._describe.object = "No workflow is installed."
            return
        self.form = flow.parameters()
        self._describe.object = flow.description
        inputs = {name: pn.widgets.IntInput if isinstance(p, param.Integer)
                  else pn.widgets.FloatInput
                  for name, p in self.form.param.objects("existing").items()
                  if isinstance(p, param.Number) and name != "name"}
        self._form.objects = [pn.Param(self.form, show_name=False, width=420,
                                       widgets=inputs)]

    async def load_carts(self) -> None:
        """Offer the user's carts as inputs."""
        names = await run_blocking(lambda: self.cart_names())
        self.param.cart_name.objects = names or ["default"]
        if self.cart_name not in self.param.cart_name.objects:
            self.cart_name = self.param.cart_name.objects[0]

    def _engine(self) -> Any:
        if "gateway" in self.no_account:
            raise WorkflowError(self.no_account["gateway"])
        if self.gateway is None:
            return LocalEngine()
        if not self.run_on:
            raise WorkflowError("Start a cluster (Dask clusters, above) and wait until it "
                                "runs; workflows run on one of your running clusters.")
        return GatewayEngine(self.gateway, self.run_on)

    async def run_workflow(self, *, workflow: str | None = None,
                           values: dict[str, Any] | None = None,
                           cart: str | None = None) -> int | None:
        """Run a workflow on a cart's items (the form's, unless given); the job id."""
        name = workflow or self.workflow
        flow = self.workflows.get(name) if name else None
        if flow is None:
            say(self.notice, "Choose a workflow first.", "warning")
            return None
        if values is None:
            values = {k: getattr(self.form, k) for k in flow.defaults()}
        cart = cart or self.cart_name
        if self.gateway is not None and not self.run_on:
            await self.refresh_clusters()  # a cluster may have come up since the last look
        try:
            job_id = await run_blocking(lambda: kinds()[WorkflowRuns.name].submit(
                self.actor, workflow=flow.name, cart=cart, values=values))
        except (JobError, ConnectorError) as exc:
            say(self.notice, getattr(exc, "reason", str(exc)), "danger")
            return None
        say(self.notice, f"Job {job_id} started: {flow.title} on cart {cart!r}.")
        await self.job_list.refresh()
        return job_id

    @property
    def jobs(self) -> list[dict[str, Any]]:
        """Every job of the user, with its live state (see :class:`JobList`)."""
        return self.job_list.jobs

    def _show_progress(self, *_: Any) -> None:
        runs = [j for j in self.jobs if j["kind"] == WorkflowRuns.name]
        if not runs:
            return
        latest = runs[0]
        done, total = latest.get("done") or 0, latest.get("total") or 0
        self._progress.visible = True
        self.run_progress = int(100 * done / total) if total else (
            100 if latest["state"] == "COMPLETED" else 0)
        self._progress_text.object = (
            f"<p>Job {latest['id']} ({html.escape(latest['what'])}): "
            f"{html.escape(latest['state'])}, {done} of {total} tasks done "
            f"({self.run_progress} %).</p>")

    # ------------------------------------------------------------- clusters
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

    def _selected_cluster(self) -> str | None:
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
        name = self._selected_cluster()
        if name:
            await self._gateway_call(lambda: self.compute.scale(name, self.workers),
                                     f"Scaling to {self.workers} workers.")

    async def adapt(self) -> None:
        """Make the selected cluster adaptive within the chosen limits."""
        name = self._selected_cluster()
        if name:
            await self._gateway_call(
                lambda: self.compute.adapt(name, self.adapt_min, self.adapt_max),
                f"Adaptive between {self.adapt_min} and {self.adapt_max} workers.")

    async def stop_cluster(self) -> None:
        """Stop the selected cluster."""
        name = self._selected_cluster()
        if name:
            await self._gateway_call(lambda: self.compute.stop(name), "Stopping.")

    # ----------------------------------------------------------------- both
    async def refresh(self) -> None:
        """Read clusters and jobs again, with their live states."""
        await self.refresh_clusters()
        await self.job_list.refresh()

    async def refresh_clusters(self) -> None:
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
        self._dashboards.object = "".join(
            f'<p>Dask dashboard of {html.escape(c["name"][:8])}: <a href="'
            f'{html.escape(c["dashboard"])}" target="_blank" rel="noopener noreferrer">'
            f"{html.escape(c['dashboard'])}</a></p>" for c in self.clusters if c["dashboard"]
        ) + (f"<p>First worker {self.first_worker_s:.1f} s after “Start cluster”.</p>"
             if self.first_worker_s is not None else "") + self._batch_text()
        self._refresher.keep(self.compute.changing(clusters))

    def _batch_text(self) -> str:
        text = self.batch_description
        return f"<p>{html.escape(text)}</p>" if text else ""

    @property
    def following(self) -> bool:
        """Whether the page refreshes by itself (a job or cluster changes, or a service
        did not answer and is asked again)."""
        return self._refresher.active or self.job_list.following
