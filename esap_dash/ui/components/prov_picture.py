"""A provenance graph as a picture to read: at its natural size (Graphviz's text
at 14 pt), scrolled within its place, with a zoom and the SVG to download."""

from __future__ import annotations

import base64
import io
import re

import panel as pn
import param

from .style import html_pane

__all__ = ["ProvenancePicture"]

#: CSS pixels per point (Graphviz sizes its drawings in points).
PX_PER_PT = 96 / 72
#: A new drawing is first shown at most this wide (px), by zooming out, but never
#: below :data:`SMALLEST_FIRST_ZOOM` % (Graphviz's 14 pt text stays 11 px or more).
FIRST_WIDTH, SMALLEST_FIRST_ZOOM = 1200, 60


class ProvenancePicture(pn.viewable.Viewer):
    """A drawing of a provenance graph (SVG from :func:`esap_dash.core.lineage.picture`).

    Shown as an image (names from archives in it are text, never markup) at
    ``zoom`` percent of its natural size, in a box that scrolls both ways.
    """

    svg = param.String(default="", doc="The drawing, as Graphviz writes it (sized in pt).")
    zoom = param.Integer(default=100, bounds=(20, 300), step=10, label="Zoom (%)")

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        self._image = html_pane("")
        download = pn.widgets.FileDownload(callback=self._file, filename="provenance.svg",
                                           label="Download SVG", width=150)
        self._layout = pn.Column(
            pn.Row(pn.widgets.IntSlider.from_param(self.param.zoom, width=220), download),
            self._image, visible=False, sizing_mode="stretch_width")
        self._show()

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    @property
    def natural_px(self) -> tuple[float, float]:
        """Width and height of the drawing at 100 %, in CSS pixels (0, 0 without one)."""
        found = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', self.svg)
        if found is None:
            return 0.0, 0.0
        return float(found.group(1)) * PX_PER_PT, float(found.group(2)) * PX_PER_PT

    @property
    def size_px(self) -> tuple[float, float]:
        """Width and height shown, in CSS pixels."""
        width, height = self.natural_px
        return width * self.zoom / 100, height * self.zoom / 100

    @param.depends("svg", watch=True, on_init=True)
    def _first_zoom(self) -> None:
        width = self.natural_px[0]
        fits = int(FIRST_WIDTH / width * 10) * 10 if width else 100
        self.zoom = max(SMALLEST_FIRST_ZOOM, min(100, fits))

    @param.depends("svg", "zoom", watch=True)
    def _show(self) -> None:
        self._layout.visible = bool(self.svg)
        if not self.svg:
            self._image.object = ""
            return
        width, height = self.size_px
        data = base64.b64encode(self.svg.encode()).decode()
        self._image.object = (
            '<div style="overflow:auto;max-height:70vh;border:1px solid #ddd">'
            f'<img alt="Provenance graph" width="{width:.0f}" height="{height:.0f}" '
            f'style="max-width:none" src="data:image/svg+xml;base64,{data}"></div>')

    def _file(self) -> io.BytesIO:
        return io.BytesIO(self.svg.encode())
