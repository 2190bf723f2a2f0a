"""How much two coverage layers of a sky map overlap."""

from __future__ import annotations

import time
from typing import Any

import panel as pn
import param

from ...core import sky
from .sky_map import SkyMap
from .style import html_pane

__all__ = ["CoverageOverlap"]


#: Layer B before one is chosen.
NONE = "(choose a layer)"


class CoverageOverlap(pn.viewable.Viewer):
    """The areas of two of a map's coverage layers and of their intersection.

    Parameters
    ----------
    skymap : SkyMap
        The map whose layers are compared.
    """

    overlap_a = param.Selector(objects=[], label="Layer A", doc="First coverage layer.")
    overlap_b = param.Selector(objects=[NONE], default=NONE, label="Layer B",
                               doc="Second coverage layer (none: no overlap worked out).")

    def __init__(self, skymap: SkyMap, **params: Any) -> None:
        super().__init__(**params)
        self.map = skymap
        #: The area of A ∩ B in square degrees (None without two layers).
        self.overlap: float | None = None
        self._text = html_pane("")
        self._layout = pn.Column(pn.widgets.Select.from_param(self.param.overlap_a, width=280),
                                 pn.widgets.Select.from_param(self.param.overlap_b, width=280),
                                 self._text)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    def layers_changed(self) -> None:
        """Offer the map's layers: A the results by default, B none until chosen
        (no overlap is worked out unasked)."""
        names = list(self.map.layers)
        self.param.overlap_a.objects = names
        self.param.overlap_b.objects = [NONE, *names]
        first = "results" if "results" in names else (names[0] if names else None)
        a = self.overlap_a if self.overlap_a in names else first
        b = self.overlap_b if self.overlap_b in names else NONE
        self.param.update(overlap_a=a, overlap_b=b)
        self._show()

    @param.depends("overlap_a", "overlap_b", watch=True)
    def _show(self) -> None:
        a, b = self.map.layers.get(self.overlap_a), self.map.layers.get(self.overlap_b)
        if a is None or b is None:
            self.overlap, self._text.object = None, ""
            return
        started = time.perf_counter()
        both = a.intersection(b)
        spent = (time.perf_counter() - started) * 1000
        area_a, area_b, area = (sky.area_deg2(m) for m in (a, b, both))
        share = f" ({100 * area / area_a:.1f} % of A)" if area_a else ""
        self.overlap = area
        self._text.object = (f"<p style='font-size:12px'>A: {area_a:,.3f} deg², B: "
                             f"{area_b:,.3f} deg²<br>A ∩ B: <b>{area:,.3f} deg²</b>{share}"
                             f" <span style='color:#888'>({spent:.1f} ms)</span></p>")
