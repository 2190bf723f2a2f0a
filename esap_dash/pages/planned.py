"""A page whose capability is not built yet, and says so."""

from __future__ import annotations

from typing import ClassVar

import panel as pn

from ..components.style import html_pane
from .base import Page

__all__ = ["PlannedPage"]


class PlannedPage(Page):
    """Base of pages that are not built yet: a title and a plain statement."""

    purpose: ClassVar[str] = ""

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._layout = pn.Column(
            pn.pane.Markdown(f"## {self.title}"),
            html_pane('<div class="esap-notice"><b>Not built yet.</b> '
                      f"This page will let you {self.purpose}. Nothing on it works today.</div>"),
            sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
