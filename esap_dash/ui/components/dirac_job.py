"""A DIRAC batch job built from a cart: the form, the job description it makes, and
its submission.

A thin view over :class:`esap_dash.work.kinds.dirac.DiracJobs`: the description shown
is the one submitted (with the input sandbox's address filled in at submission),
and the submitted jobs follow in the one job list.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from typing import Any

import panel as pn
import param

from connectors.exceptions import ConnectorError

from ...core.actor import Actor
from ...core.fanout import run_blocking
from ...work.dirac import MAX_CPU_TIME, MAX_JOBS
from ...work.jobs import JobError, kinds
from ...work.kinds.dirac import DiracJobs, dirac_of
from .actions import action_buttons
from .style import html_pane, notice, say

__all__ = ["DiracJobForm"]


class DiracJobForm(pn.viewable.Viewer):
    """The form of a DIRAC job over one of the user's carts.

    Parameters
    ----------
    actor : Actor
        Who submits (as their own DIRAC user).
    carts : list of str
        The user's carts to choose from.
    on_submitted : callable, optional
        Awaited with the first new job record's id.
    """

    cart_name = param.Selector(objects=["default"], default="default", check_on_set=False,
                               label="Cart for the job", doc="The cart the job works on.")
    executable = param.String(default="", doc="The program the job runs.")
    arguments = param.String(default="", doc="Its arguments (%s: the job's file, in a job "
                                              "per data-lake file).")
    cpu_time = param.Integer(default=3600, bounds=(1, MAX_CPU_TIME), label="CPU time (s)",
                             doc="The CPU time the job needs.")
    sites = param.String(default="", label="Sites (comma-separated; any if empty)",
                         doc="Sites the job may run at.")
    tags = param.String(default="", label="Tags (comma-separated)",
                        doc="What a site must offer (GPU, MultiProcessor ...).")
    per_item = param.Boolean(default=False, label="One job per data-lake file",
                             doc=f"A parametric job: one job per file (at most {MAX_JOBS}).")
    jdl = param.String(default="", doc="The job description last made from the form.")

    def __init__(self, actor: Actor, carts: list[str],
                 on_submitted: Callable[[int], Awaitable[None]] | None = None,
                 **params: Any) -> None:
        super().__init__(**params)
        self.actor, self._on_submitted = actor, on_submitted
        if "cart_name" in params:  # the current cart, first offered
            self.param.cart_name.objects = sorted({*carts, self.cart_name})
        else:
            self.param.cart_name.objects = carts or ["default"]
            self.cart_name = self.param.cart_name.objects[0]
        self._kind: DiracJobs = kinds()["dirac"]  # type: ignore[assignment]
        self.notice = notice()
        try:
            dirac = dirac_of(actor)
            about = (f"Runs on {html.escape(dirac.name)} as DIRAC user "
                     f"<b>{html.escape(dirac.username)}</b> of VO "
                     f"<b>{html.escape(dirac.vo)}</b>, with a token DiracX gives this "
                     "deployment for you by its token exchange (not your own DiracX "
                     "login).")
            if dirac.dummy_executor:
                about += (" <b>Nothing really executes here:</b> this DiracX has no pilots "
                          "or computing elements, and its dummy executor walks every job "
                          "Waiting → Running → Done without running it (no output sandbox).")
            self.available = True
        except JobError as exc:
            about, self.available = html.escape(str(exc)), False
        self._about = html_pane(f"<p>{about}</p>")
        self._jdl = html_pane("")
        buttons = action_buttons((("Show the job description", self.preview, "default"),
                                  ("Submit to DIRAC", self.submit, "primary")), width=200)
        for button in buttons.values():
            button.disabled = not self.available
        self._layout = pn.Column(
            self._about,
            pn.pane.Markdown(
                "The cart's data-lake files are the job's input data (their DIRAC names, "
                "`/scope/name`); the whole cart travels in its input sandbox as "
                "`cart.ecsv`. With *one job per data-lake file*, `%s` in the arguments is "
                "each job's file."),
            pn.Row(pn.widgets.Select.from_param(self.param.cart_name, width=200),
                   pn.widgets.TextInput.from_param(self.param.executable, width=200),
                   pn.widgets.TextInput.from_param(self.param.arguments, width=260),
                   pn.widgets.IntInput.from_param(self.param.cpu_time, width=120)),
            pn.Row(pn.widgets.TextInput.from_param(self.param.sites, width=260),
                   pn.widgets.TextInput.from_param(self.param.tags, width=200),
                   pn.widgets.Checkbox.from_param(self.param.per_item)),
            pn.Row(*buttons.values()), self.notice, self._jdl,
            sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    def _spec(self) -> dict[str, Any]:
        return {"executable": self.executable, "arguments": self.arguments,
                "cpu_time": self.cpu_time, "sites": self.sites, "tags": self.tags,
                "per_item": self.per_item}

    async def preview(self) -> None:
        """Make the job description from the form and show it (nothing is submitted)."""
        cart, spec = self.cart_name, self._spec()
        try:
            plan = await run_blocking(
                lambda: self._kind.plan(self.actor, cart=cart, **spec))
        except JobError as exc:
            self.jdl = ""
            self._jdl.object = ""
            say(self.notice, str(exc), "warning")
            return
        self.jdl = plan.jdl
        jobs = f"{plan.jobs} jobs" if plan.jobs > 1 else "one job"
        self._jdl.object = (
            f"<p>The job description ({jobs}, {len(plan.lfns)} input files; the input "
            "sandbox's address is filled in when it is stored at submission):</p>"
            f"<pre class='jdl'>{html.escape(plan.jdl)}</pre>"
            + "".join(f"<p>{html.escape(n)}</p>" for n in plan.notes))
        say(self.notice, "")

    async def submit(self) -> int | None:
        """Submit the job the form describes; the first new job record's id."""
        cart, spec = self.cart_name, self._spec()
        try:
            record = await run_blocking(
                lambda: self._kind.submit(self.actor, cart=cart, **spec))
        except JobError as exc:
            say(self.notice, str(exc), "warning")
            return None
        except ConnectorError as exc:
            say(self.notice, f"DIRAC did not take the job: {exc.reason}", "danger")
            return None
        job = await run_blocking(self.actor.store.job, self.actor.user, record)
        count = len(job["detail"].get("bulk") or [1])
        self.jdl = str(job["detail"]["jdl"])
        self._jdl.object = (f"<p>Submitted ({'DIRAC jobs ' if count > 1 else 'DIRAC job '}"
                            f"{html.escape(', '.join(map(str, job['detail']['bulk'])))}):</p>"
                            f"<pre class='jdl'>{html.escape(self.jdl)}</pre>")
        say(self.notice, f"Submitted to DIRAC: {count} job{'s' if count > 1 else ''}; "
            "follow them in the job list.")
        if self._on_submitted is not None:
            await self._on_submitted(record)
        return record
