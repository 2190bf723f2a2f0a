"""Live health of every configured service, refreshed periodically."""

from __future__ import annotations

import asyncio
import functools
import html
from collections.abc import Sequence
from datetime import UTC, datetime

import panel as pn
import param

from connectors.base import Health

from ...core.config import ServiceConfig
from ...core.health import shared_health
from .actions import Every
from .style import MUTED, html_pane

__all__ = ["ServiceStatus"]


class ServiceStatus(pn.viewable.Viewer):
    """A table of services with their state, response time and message.

    The first check runs once the page has appeared; then every ``period``
    seconds while the page is open.  A service that is down shows the error
    it gave (connection refused, timeout, HTTP status ...).

    Parameters
    ----------
    services : sequence of ServiceConfig
        What to watch.
    """

    period = param.Number(default=30.0, bounds=(0, None),
                          doc="Seconds between two automatic checks; 0 stops them.")
    checking = param.Boolean(default=False, doc="A round of checks is running.")
    summary = param.String(default="checking services…",
                           doc="One line saying how many services are up.")
    n_up = param.Integer(default=0, doc="Services up after the last check.")
    table = param.String(default="", doc="Every service's state as an HTML table "
                         "(outside text escaped); rendered once the view is shown.")
    checked = param.String(default="", doc="When the last round of checks ended.")

    def __init__(self, services: Sequence[ServiceConfig], **params) -> None:
        super().__init__(**params)
        self._services = list(services)
        self._auto = False
        self._health: dict[str, Health | None] = {s.name: None for s in self._services}
        self._callback: Every | None = None
        self._auto = self._auto_start()

    @functools.cached_property
    def _layout(self) -> pn.Column:
        # Made when first shown: every page's header follows the summary, few
        # sessions open the table (it is rendered only once they do).
        self.table = self._render()
        button = pn.widgets.Button(label="Check now", color="primary", width=120)
        pn.bind(self._on_click, button.param.clicks, watch=True)
        checked = pn.pane.Str(self.param.checked, styles={"color": MUTED, "font-size": "12px"})
        return pn.Column(pn.Row(button, checked), html_pane(self.param.table),
                         sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    @property
    def health(self) -> dict[str, Health | None]:
        """The last known health per service name (None: not checked yet)."""
        return dict(self._health)

    def _auto_start(self) -> bool:
        """Check once the view is shown: after page load when served, at once
        in a notebook.  Plain Python calls :meth:`refresh` itself (returns False)."""
        if pn.state.curdoc is not None:
            pn.state.onload(self._start)
            return True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.summary = "services not checked yet"
            return False
        self._start_task = loop.create_task(self._start())
        return True

    async def _on_click(self, _clicks: int) -> None:
        await self.refresh(max_age=0)

    async def _start(self) -> None:
        await self.refresh()
        self._schedule()

    @param.depends("period", watch=True)
    def _schedule(self) -> None:
        if self._callback is not None:
            self._callback.stop()
            self._callback = None
        if self.period > 0:
            self._callback = Every(self.period, self.refresh)

    async def refresh(self, max_age: float | None = None) -> None:
        """Check every service, updating each row as its answer arrives.

        Answers younger than ``max_age`` seconds (default: half the period)
        that another session of the server got are reused.
        """
        if self.checking:
            return
        self.checking = True
        try:
            async for health in shared_health(
                    self._services, self.period / 2 if max_age is None else max_age):
                self._health[health.name] = health
                self._show_table()
            known = [h.checked_at for h in self._health.values() if h is not None]
            stamp = min(known, default=datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S UTC")
            self.checked = f"last checked {stamp}"
        finally:
            self.checking = False
            self._show_table()
            known = [h for h in self._health.values() if h is not None]
            self.n_up = sum(h.up for h in known)
            self.summary = f"{self.n_up}/{len(self._services)} services up"

    def _show_table(self) -> None:
        """Render the table again, where it is shown (a session that never opens it
        keeps only the summary)."""
        if "_layout" in self.__dict__:
            self.table = self._render()

    def _render(self) -> str:
        rows = []
        for svc in self._services:
            health = self._health.get(svc.name)
            if health is None:
                state = "checking" if self.checking or self._auto else "not checked"
                cls, seconds, detail = "checking", "", ""
            else:
                state = "up" if health.up else "down"
                cls = state
                seconds = f"{health.seconds * 1000:.0f} ms"
                detail = health.detail
            rows.append(
                "<tr>"
                f"<td>{html.escape(svc.name)}</td>"
                f"<td>{html.escape(svc.kind)}</td>"
                f'<td><span class="esap-state {cls}">{state}</span></td>'
                f'<td class="num">{seconds}</td>'
                f"<td>{html.escape(detail)}</td>"
                f'<td class="url">{html.escape(health.url if health else svc.url)}</td>'
                "</tr>")
        return ('<table class="esap-status-table"><thead><tr><th>Service</th><th>Kind</th>'
                "<th>State</th><th>Response</th><th>Message</th><th>Checked address</th>"
                "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
