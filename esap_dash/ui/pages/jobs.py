"""The Jobs page: Dask Gateway clusters, workflow runs on carts, and one live view of
every job of the user."""

from __future__ import annotations

import html
from typing import Any

import panel as pn
import param

from connectors.exceptions import ConnectorError

from ...core.actor import NoAccountError
from ...core.fanout import run_blocking
from ...work.jobs import JobError, kinds
from ...work.kinds.workflow import WorkflowRuns
from ...work.servers import server_facilities
from ...work.workflows import GatewayEngine, LocalEngine, WorkflowError, load_workflows
from ..components.actions import action_buttons, lazy_card, offer_what_is_set
from ..components.cluster_panel import ClusterPanel
from ..components.dirac_job import DiracJobForm
from ..components.job_list import JobList
from ..components.notebook_servers import NotebookServers
from ..components.style import html_pane, notice, say
from ..components.where_to_run import WhereToRun
from .base import Page

__all__ = ["JobsPage"]


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
    refresh_period = param.Number(default=5.0, bounds=(0, None),
                                  doc="Seconds between refreshes while something runs.")
    workflow = param.Selector(objects=[], doc="The workflow to run.")
    cart_name = param.Selector(objects=["default"], default="default", label="Cart",
                               check_on_set=False,
                               doc="The cart whose items the workflow works on.")
    run_progress = param.Integer(default=0, bounds=(0, 100), precedence=-1,
                                 doc="Per cent done of the latest workflow run.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        offer_what_is_set(self, "cart_name")
        self.no_account: dict[str, str] = {}
        self.notice = notice()
        #: The user's Dask clusters (where workflow runs go when there is a gateway).
        self.cluster_panel = ClusterPanel(self.actor, notice_line=self.notice,
                                          refresh_period=self.refresh_period)
        self.cluster_panel.param.watch(self._on_facility, "facility")
        self.lake = self._as_user("rucio")
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
        # Workflow runs (started here, or retried from the list) go where the form says.
        self.actor.engine = self._engine
        #: Every job of the user, whatever runs it.
        self.job_list = JobList(self.actor, message=self.notice,
                                refresh_period=self.refresh_period)
        self.job_list.param.watch(self._show_progress, "jobs")
        buttons = action_buttons((("Run workflow", self.run_workflow, "primary"),), width=140)
        self._run_button = buttons["Run workflow"]
        self._on_facility()
        gateway = self.cluster_panel.gateway
        #: Where workflow runs go, as the page says it.
        self.runs_where = (
            "Workflows run on one of your running clusters (start one above)."
            if gateway else
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
        #: The user's JupyterLab servers (None without a hub that shows them; built when
        #: first opened).
        self.servers_card = self._servers_card() if server_facilities(self.actor) else None
        self._layout = pn.Column(
            pn.pane.Markdown("## Jobs"), self.notice, self.cluster_panel,
            pn.Card(self._where,
                    pn.Row(pn.widgets.Select.from_param(self.param.workflow, width=320),
                           pn.widgets.Select.from_param(self.param.cart_name, width=200),
                           *([pn.widgets.Select.from_param(self.cluster_panel.param.run_on,
                                                           width=220)]
                             if gateway else [])),
                    self._describe, self._form,
                    pn.Row(buttons["Run workflow"], self._progress), self._progress_text,
                    title="Run a workflow on a cart", sizing_mode="stretch_width"),
            self.placement_card,
            *([self.dirac_card] if self.dirac_card is not None else []),
            *([self.servers_card] if self.servers_card is not None else []),
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
                                           on_submitted=submitted, cart_name=self.cart_name)
            return self.dirac_form

        #: The DIRAC job form (None until its card is opened).
        self.dirac_form: DiracJobForm | None = None
        return lazy_card("Batch job on DIRAC", build)

    def _servers_card(self) -> pn.Card:
        """The user's JupyterLab servers, listed when the card is first opened."""
        def build() -> NotebookServers:
            self.notebook_servers = NotebookServers(self.actor)
            if pn.state.curdoc is not None:
                pn.state.execute(self.notebook_servers.refresh)
            return self.notebook_servers

        #: The servers' list (None until its card is opened).
        self.notebook_servers: NotebookServers | None = None
        return lazy_card("Notebook servers", build)

    def _as_user(self, role: str, service_id: str | None = None) -> Any:
        self.no_account.pop(role, None)
        try:
            return self.actor.connector(role, service_id)
        except NoAccountError as exc:
            self.no_account[role] = str(exc)
            return None

    def _on_facility(self, *_: Any) -> None:
        """Workflows run at the facility chosen, if the user has an account there."""
        self.no_account.pop("gateway", None)
        if self.cluster_panel.no_account:
            self.no_account["gateway"] = self.cluster_panel.no_account
        self._run_button.disabled = "gateway" in self.no_account

    async def _on_load(self) -> None:
        await self.cluster_panel.load_options()
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
        self.param.cart_name.objects = sorted({*names, self.cart_name})

    def _engine(self) -> Any:
        if "gateway" in self.no_account:
            raise WorkflowError(self.no_account["gateway"])
        clusters = self.cluster_panel
        if clusters.gateway is None:
            return LocalEngine()
        if not clusters.run_on:
            raise WorkflowError("Start a cluster (Dask clusters, above) and wait until it "
                                "runs; workflows run on one of your running clusters.")
        return GatewayEngine(clusters.gateway, clusters.run_on)

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
        if self.cluster_panel.gateway is not None and not self.cluster_panel.run_on:
            await self.cluster_panel.refresh()  # one may have come up since the last look
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

    async def refresh(self) -> None:
        """Read clusters and jobs again, with their live states."""
        await self.cluster_panel.refresh()
        await self.job_list.refresh()

    @property
    def following(self) -> bool:
        """Whether the page refreshes by itself (a job or cluster changes, or a service
        did not answer and is asked again)."""
        return self.cluster_panel.following or self.job_list.following
