"""Zooming a sky map to a named target, with the TAN field around it beside the map."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import panel as pn
import param
from astropy.table import Table

from connectors.exceptions import ConnectorError
from connectors.resolver import NameResolver

from ...core.fanout import run_blocking
from .actions import action_buttons
from .sky_map import SkyMap, field_view
from .style import Notice, say

__all__ = ["SkyZoom"]


class SkyZoom(pn.viewable.Viewer):
    """Go to a name or coordinates on a :class:`SkyMap`, and back to the whole sky.

    Parameters
    ----------
    skymap : SkyMap
        The map zoomed.
    rows : callable
        The rows drawn now (for the TAN field).
    resolver : callable
        The name resolver to use (blocking calls run off the event loop).
    notice : Notice
        Where it says where the target is, or why it could not go there.
    """

    target = param.String(default="", doc="Name or coordinates to zoom to.")
    fov = param.Number(default=2.0, bounds=(0.001, 180), label="Field of view (deg)",
                       doc="Width of the zoomed window and of the TAN inset.")

    def __init__(self, skymap: SkyMap, rows: Callable[[], Table],
                 resolver: Callable[[], NameResolver], notice: Notice, **params: Any) -> None:
        super().__init__(**params)
        self.map, self._rows, self._resolver, self.notice = skymap, rows, resolver, notice
        #: The TAN field around the target, put in and taken out of this box
        #: (toggling a HoloViews pane's visibility breaks its Bokeh stylesheets).
        self.inset = pn.Column(width=430)
        buttons = action_buttons((("Zoom to target", self.zoom, "primary"),
                                  ("Whole sky", self.whole_sky, "default")), width=180)
        self._controls = pn.Column(
            pn.pane.Markdown("**Zoom**"),
            pn.widgets.TextInput.from_param(self.param.target, placeholder="M 1, 83.63 22.01",
                                            width=280),
            pn.widgets.FloatInput.from_param(self.param.fov, width=180),
            pn.Row(*buttons.values(), width=300))

    def __panel__(self) -> pn.viewable.Viewable:
        return self._controls

    async def zoom(self) -> None:
        """Centre the map on the target and show the TAN field around it."""
        if not self.target.strip():
            say(self.notice, "Type a name or coordinates to zoom to.", "warning")
            return
        try:
            position = await run_blocking(self._resolver().resolve, self.target, "icrs")
        except ConnectorError as exc:
            say(self.notice, exc.reason, "danger")
            return
        self.map.zoom_to(position.ra, position.dec, self.fov)
        self.inset.objects = [pn.pane.HoloViews(
            field_view(self._rows(), position.ra, position.dec, self.fov, cone=self.map.cone,
                       colours=self.map.colours),
            width=420, height=390)]
        say(self.notice, f"{self.target.strip()} → RA {position.ra:.5f}°, "
            f"Dec {position.dec:+.5f}° ({position.source})")

    @property
    def field_shown(self) -> bool:
        """The TAN field around the zoom target is shown beside the map."""
        return bool(self.inset.objects)

    async def whole_sky(self) -> None:
        """Back to the whole sky (also after zooming with the mouse)."""
        self.map.whole_sky()
        self.inset.objects = []
