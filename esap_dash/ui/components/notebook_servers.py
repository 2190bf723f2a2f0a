"""Your JupyterLab servers at the deployment's JupyterHubs: their state, when they
started, what runs them (local processes, a Slurm job), and a stop.

A thin view over :mod:`esap_dash.work.servers`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import panel as pn

from ...core.actor import Actor
from ...core.fanout import run_blocking
from ...work.jobs import JobError
from ...work.servers import HubServers, NotebookServer, notebook_servers, stop_notebook_server
from .actions import action_buttons
from .style import notice, say

__all__ = ["NotebookServers"]

COLUMNS = ["hub", "server", "state", "started (UTC)", "runs on", "last activity (UTC)"]


def _time(text: str) -> str:
    return text[:19].replace("T", " ")


class NotebookServers(pn.viewable.Viewer):
    """The user's servers at each JupyterHub that shows them.

    Parameters
    ----------
    actor : Actor
        Whose servers, as whom.
    """

    def __init__(self, actor: Actor, **params: Any) -> None:
        super().__init__(**params)
        self.actor = actor
        #: The servers as last listed, in the table's order.
        self.servers: list[NotebookServer] = []
        self.notice = notice()
        self._table = pn.widgets.Tabulator(
            pd.DataFrame(columns=COLUMNS), show_index=False, disabled=True, selectable=1,
            sizing_mode="stretch_width", formatters={c: {"type": "plaintext"} for c in COLUMNS})
        buttons = action_buttons((("Refresh servers", self.refresh, "default"),
                                  ("Stop server", self.stop, "danger")), width=150)
        self._layout = pn.Column(
            pn.pane.Markdown("Your JupyterLab servers at this deployment's JupyterHubs (a "
                             "cart opens there from the Cart page): what runs each one, "
                             "since when, and a stop. Your notebooks stay in your home."),
            pn.Row(buttons["Refresh servers"], buttons["Stop server"]), self.notice,
            self._table, sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    async def refresh(self) -> None:
        """Ask each hub for the user's servers."""
        say(self.notice, "Asking the hubs for your servers …")
        hubs: list[HubServers] = await run_blocking(notebook_servers, self.actor)
        self.servers = [s for h in hubs for s in h.servers]
        self._table.value = pd.DataFrame([{
            "hub": s.facility, "server": s.name or "default", "state": s.state,
            "started (UTC)": _time(s.started), "runs on": s.engine,
            "last activity (UTC)": _time(s.last_activity)} for s in self.servers],
            columns=COLUMNS)
        problems = [h.problem for h in hubs if h.problem] + [
            f"your last start at {h.facility.name} failed: {h.failure}" for h in hubs
            if h.failure]
        problems += [f"{s.facility}: {s.note}" for s in self.servers if s.note]
        count = len(self.servers)
        say(self.notice, ("No JupyterHub of this deployment shows servers." if not hubs else
                          f"{count} server{'s' * (count != 1)} of yours at {len(hubs)} "
                          f"hub{'s' * (len(hubs) != 1)}.")
            + "".join(f" {p[0].upper()}{p[1:].rstrip('.')}." for p in problems),
            "warning" if problems else "info")

    async def stop(self) -> None:
        """Stop the chosen server (its hub stops it; the list follows)."""
        if not self.servers or not self._table.selection:
            say(self.notice, "Pick one of your servers first.", "warning")
            return
        server = self.servers[self._table.selection[0]]
        try:
            await run_blocking(stop_notebook_server, self.actor, server.facility_id,
                               server.name)
        except JobError as exc:
            say(self.notice, str(exc), "danger")
            return
        await self.refresh()
        say(self.notice, f"{server.facility} is stopping your server "
                         f"{server.name or '(default)'}; your notebooks stay in your home.")
