"""The Services page: live health of the deployment's services and its profile."""

from __future__ import annotations

import functools
import html

import panel as pn

from ...core.config import ServiceConfig
from ..components.service_status import ServiceStatus
from ..components.style import html_pane
from .base import Page

__all__ = ["ServicesPage"]


class ServicesPage(Page):
    """Every configured service with its live health, and where it is configured."""

    title = "Services"

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self.status = ServiceStatus(self.profile.services, period=self.profile.health_period)

    @functools.cached_property
    def _layout(self) -> pn.Column:
        # Made when first shown (every session has this page for its status).
        return pn.Column(
            pn.pane.Markdown("## Services"),
            pn.pane.Markdown(
                "Every service this deployment is configured with, checked now and every "
                f"{self.profile.health_period:g} s while this page is open."),
            self.status,
            pn.pane.Markdown("### Profile"),
            html_pane(self._profile_html()),
            sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    def _profile_html(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(s.id)}</td><td>{html.escape(s.role)}</td>"
            f"<td>{html.escape(s.kind)}</td><td class='url'>{html.escape(s.url)}</td>"
            f"<td class='wrap'>{html.escape(_settings(s))}</td></tr>"
            for s in self.profile.services)
        return (f"<p>Profile <b>{html.escape(self.profile.name)}</b> from "
                f"<code>{html.escape(str(self.profile.path))}</code></p>"
                '<table class="esap-status-table"><thead><tr><th>Id</th><th>Role</th>'
                "<th>Kind</th><th>Address</th><th>Settings</th></tr></thead>"
                f"<tbody>{rows}</tbody></table>")


def _settings(service: ServiceConfig) -> str:
    return ", ".join(f"{k}={v}" for k, v in service.public_options().items())
