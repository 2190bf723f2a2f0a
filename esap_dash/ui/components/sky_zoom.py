"""Zooming a sky map to a named target or coordinates, and back to the whole sky."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import panel as pn
import param

from connectors.exceptions import ConnectorError
from connectors.resolver import NameResolver

from ...core.fanout import run_blocking
from .actions import action_buttons
from .sky_map import SkyMap
from .style import Notice, say

__all__ = ["SkyZoom"]


class SkyZoom(pn.viewable.Viewer):
    """Go to a name or coordinates on a :class:`SkyMap`, and back to the whole sky.

    Parameters
    ----------
    skymap : SkyMap
        The map zoomed (to a field in the orthographic projection centred on the
        target, see :meth:`SkyMap.zoom_to`).
    resolver : callable
        The name resolver to use (blocking calls run off the event loop).
    notice : Notice
        Where it says where the target is, or why it could not go there.
    """

    target = param.String(default="", doc="Name or coordinates to zoom to.")
    fov = param.Number(default=2.0, bounds=(0.001, 180), label="Field of view (deg)",
                       doc="Width of the zoomed window, degrees of sky.")

    def __init__(self, skymap: SkyMap, resolver: Callable[[], NameResolver], notice: Notice,
                 **params: Any) -> None:
        super().__init__(**params)
        self.map, self._resolver, self.notice = skymap, resolver, notice
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
        """Centre the map on the target, :attr:`fov` degrees wide."""
        if not self.target.strip():
            say(self.notice, "Type a name or coordinates to zoom to.", "warning")
            return
        try:
            position = await run_blocking(self._resolver().resolve, self.target, "icrs")
        except ConnectorError as exc:
            say(self.notice, exc.reason, "danger")
            return
        self.map.zoom_to(position.ra, position.dec, self.fov)
        say(self.notice, f"{self.target.strip()} → RA {position.ra:.5f}°, "
            f"Dec {position.dec:+.5f}° ({position.source})")

    async def whole_sky(self) -> None:
        """Back to the whole sky (also after zooming with the mouse)."""
        self.map.whole_sky()
