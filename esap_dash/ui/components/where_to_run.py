"""“Where can this run?”: the places work runs, ranked for a cart, with the reasons,
and the two ways on from there (run here, make the data available here).

A thin view over :mod:`esap_dash.work.placement`.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import pandas as pd
import panel as pn
import param
from astropy.table import Table

from ...core.actor import Actor
from ...core.fanout import run_blocking
from ...work.jobs import JobError
from ...work.placement import Place, make_available_here, rank_places, run_here
from ...work.workflows import load_workflows
from .actions import action_buttons
from .style import notice, say

__all__ = ["WhereToRun"]

COLUMNS = ["rank", "place", "engine", "account", "data here", "to move", "free cores",
           "reasons"]


class WhereToRun(pn.viewable.Viewer):
    """The places a cart's work could run, best first.

    Parameters
    ----------
    actor : Actor
        Whose cart, acting as whom.
    cart : callable
        Returns the name of the cart to place.
    on_started : callable, optional
        Called (a coroutine function) with a started job's id.
    on_rules : callable, optional
        Called (a coroutine function) once replication rules were asked for.
    on_open : callable, optional
        Called (a coroutine function) with a JupyterHub's id to open the cart there;
        returns the address that opens it.
    """

    workflow = param.Selector(objects=[], doc="The workflow to run.")

    def __init__(self, actor: Actor, cart: Callable[[], str],
                 on_started: Callable[[int], Any] | None = None,
                 on_rules: Callable[[], Any] | None = None,
                 on_open: Callable[[str], Any] | None = None, **params: Any) -> None:
        super().__init__(**params)
        self.actor, self._cart, self._on_started = actor, cart, on_started
        self._on_rules, self._on_open = on_rules, on_open
        #: The places, best first, as last ranked.
        self.places: list[Place] = []
        flows, _ = load_workflows()
        self.param.workflow.objects = list(flows)
        self.param.workflow.names = {f.title: k for k, f in flows.items()}
        if flows:
            self.workflow = next(iter(flows))
        self._items = Table()
        self.notice = notice()
        self._table = pn.widgets.Tabulator(
            pd.DataFrame(columns=COLUMNS), show_index=False, disabled=True, selectable=1,
            max_height=500, sizing_mode="stretch_width",
            widths={"rank": 50, "place": 180, "engine": 120, "account": 75, "data here": 95,
                    "to move": 85, "free cores": 90, "reasons": 360},
            formatters={**{c: {"type": "plaintext"} for c in ("place", "engine")},
                        "reasons": {"type": "textarea"}})
        buttons = action_buttons((("Where can this run?", self.rank, "primary"),
                                  ("Run here", self.run, "primary"),
                                  ("Make available here", self.make_available, "default")),
                                 width=190)
        self._layout = pn.Column(
            pn.pane.Markdown(
                "The places work runs, for this cart: first those where you have an account, "
                "then by the data they already hold (data-lake files at their storage; "
                "archive items are downloaded wherever the work runs), then by free cores. "
                "*Run here* runs the workflow on your running cluster there (starting one if "
                "you have none); *Make available here* asks Rucio for the data-lake files "
                "at its storage (the rules and their progress show in the Data lake card "
                "and the jobs list). A DIRAC place runs batch "
                "jobs built from the cart (Jobs > Batch job on DIRAC), not workflows; at a "
                "JupyterHub, *Run here* opens the cart as a notebook in your own JupyterLab "
                "(its server's state is in the reasons)."),
            pn.Row(buttons["Where can this run?"],
                   pn.widgets.Select.from_param(self.param.workflow, width=260),
                   buttons["Run here"], buttons["Make available here"]),
            self.notice, self._table, sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    def _read(self) -> tuple[list[Place], Any]:
        self._items = self.actor.open_cart(self._cart()).to_table()
        return rank_places(self.actor, self._items)

    async def rank(self) -> None:
        """Rank the places for the cart's items (asks the data lake and each gateway)."""
        say(self.notice, f"Looking where cart {self._cart()!r} could run …")
        places, data = await run_blocking(self._read)
        self.places = places
        self._table.value = pd.DataFrame([{
            "rank": i + 1, "place": p.name, "engine": p.engine,
            "account": "yes" if p.account else "no",
            "data here": f"{p.local_files} files", "to move": f"{p.moved_files} files",
            "free cores": "" if p.free_cores is None else p.free_cores,
            "reasons": "; ".join(p.reasons)} for i, p in enumerate(places)], columns=COLUMNS)
        if places:
            self._table.selection = [0]
        problems = f" Not listed: {'; '.join(data.problems)}." if data.problems else ""
        say(self.notice, (f"{len(places)} places for {len(self._items)} items; best: "
                            f"{places[0].name}." if places else
                            "This deployment has no place to run work.") + problems,
            "warning" if problems or not places else "info")

    def _chosen(self) -> Place | None:
        if not self.places or not self._table.selection:
            say(self.notice, "Ask where the cart can run, and pick a place first.",
                "warning")
            return None
        return self.places[self._table.selection[0]]

    async def run(self) -> int | None:
        """Run the chosen workflow on the cart at the chosen place; the job's id (at a
        JupyterHub: open the cart there as a notebook, and no job)."""
        place = self._chosen()
        if place is not None and place.runs == "notebooks":
            await self._open_at(place)
            return None
        if place is None or not self.workflow:
            return None
        cart, flow = self._cart(), self.workflow
        say(self.notice, f"Starting {flow} on {place.name} (a cluster is started first "
            "if you have none running there) …")
        try:
            job = await run_blocking(lambda: run_here(self.actor, place.id, workflow=flow,
                                                      cart=cart))
        except JobError as exc:
            say(self.notice, str(exc), "danger")
            return None
        say(self.notice, f"Job {job} started: {flow} on cart {cart!r} at {place.name}.")
        if self._on_started is not None:
            await self._on_started(job)
        return job

    async def _open_at(self, place: Place) -> None:
        if self._on_open is None:
            say(self.notice, f"Open the cart in {place.name} from the Cart page.", "warning")
            return
        say(self.notice, f"Making the address that opens cart {self._cart()!r} in "
                         f"{place.name} …")
        launch = await self._on_open(place.id)
        say(self.notice, f"Cart {self._cart()!r} opens in your JupyterLab at {place.name} "
                         f"(started if it does not run): {launch} (also under Open in "
                         "Binder / JupyterHub).")

    async def make_available(self) -> None:
        """Ask Rucio for the cart's data-lake items at the chosen place's storage."""
        place = self._chosen()
        if place is None:
            return
        cart = self._cart()
        try:
            made, refused = await run_blocking(lambda: make_available_here(
                self.actor, place, self._items, cart=cart))
        except JobError as exc:
            say(self.notice, str(exc), "danger")
            return
        say(self.notice, (f"Asked Rucio for {len(made)} data-lake item(s) at "
                            f"{html.escape(place.rses[0])} (jobs {', '.join(map(str, made))})."
                            if made else "No data-lake items to move.")
            + (" Refused: " + "; ".join(refused) if refused else ""),
            "danger" if refused else "info")
        if made and self._on_rules is not None:
            await self._on_rules()
