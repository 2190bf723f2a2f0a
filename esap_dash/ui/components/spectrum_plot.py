"""Spectra drawn as flux against the spectral axis, with units, several at once.

Usable alone in a notebook cell::

    from esap_dash.ui.components.spectrum_plot import SpectrumPlot
    plot = SpectrumPlot()
    plot.show(load_spectra(rows, profile))
"""

from __future__ import annotations

import html
from typing import Any

import holoviews as hv
import numpy as np
import panel as pn
import param

from ...core.spectra import AXES, Spectrum, on_axis
from .style import html_pane

__all__ = ["SpectrumPlot"]

hv.renderer("bokeh")


def _label(column: Any, power: int = 0) -> str:
    """An axis label: the column's name, then its unit times ``10**power``."""
    unit = column.unit.to_string() if column.unit is not None else ""
    scale = f"10{str(power).translate(_SUPERSCRIPT)}" if power else ""
    unit = " ".join(filter(None, (scale, unit)))
    return f"{column.name} ({unit})" if unit else column.name


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _power_of_ten(columns: list[Any]) -> int:
    """The power of ten that brings the largest value of ``columns`` between 1 and
    1000 when it is outside 0.01 .. 10000 (flux densities of 1e-14 read as 1.2), else 0."""
    values = np.abs(np.concatenate([np.asarray(c, dtype=float) for c in columns] or [[]]))
    values = values[np.isfinite(values) & (values > 0)]
    if not len(values):
        return 0
    top = float(values.max())
    return 0 if 0.01 <= top < 1e4 else int(np.floor(np.log10(top)))


class SpectrumPlot(pn.viewable.Viewer):
    """Flux against the spectral axis of one or more spectra.

    Spectra whose flux is not in the first one's unit are listed, not drawn
    over it (their numbers would share an axis they do not belong on).
    """

    axis = param.Selector(objects=list(AXES), default="as served", label="Spectral axis",
                          doc="The spectral axis as served, as wavelength or as frequency.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.spectra: list[Spectrum] = []
        #: Titles of the spectra drawn.
        self.drawn: list[str] = []
        #: What is drawn (one curve per spectrum), None before anything is.
        self.overlay: hv.Overlay | None = None
        self._pane = pn.pane.HoloViews(None, sizing_mode="stretch_width", height=400)
        self._note = html_pane("")
        self._layout = pn.Column(
            pn.widgets.RadioButtonGroup.from_param(self.param.axis, width=330),
            self._note, self._pane, sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    def show(self, spectra: list[Spectrum]) -> None:
        """Draw ``spectra`` (those that could not be read are listed with why)."""
        self.spectra = list(spectra)
        self._draw()

    @param.depends("axis", watch=True)
    def _draw(self) -> None:
        readable = [s for s in self.spectra if not s.error and len(s.samples)]
        notes = [f"{html.escape(s.title)}: {html.escape(s.error)}"
                 for s in self.spectra if s.error]
        drawn, self.drawn = [], []
        flux_unit = readable[0].samples.columns[1].unit if readable else None
        for spectrum in readable:
            samples = on_axis(spectrum.samples, self.axis)
            spectral, flux = samples.columns[0], samples.columns[1]
            if flux.unit != flux_unit:
                notes.append(f"{html.escape(spectrum.title)}: flux in {flux.unit}, not drawn "
                             f"over {flux_unit}")
                continue
            drawn.append((spectrum.title, spectral, flux))
            self.drawn.append(spectrum.title)
        power = _power_of_ten([flux for _, _, flux in drawn])
        curves = []
        for title, spectral, flux in drawn:
            x = hv.Dimension("spectral", label=_label(drawn[0][1]))
            y = hv.Dimension("flux", label=_label(drawn[0][2], power))
            curves.append(hv.Curve(
                (np.asarray(spectral, dtype=float), np.asarray(flux, dtype=float) / 10.0 ** power),
                kdims=[x], vdims=[y], label=title).opts(tools=["hover"], line_width=1.2))
        self._note.object = "<br>".join(notes)
        self.overlay = hv.Overlay(curves).opts(
            responsive=True, height=380, show_grid=True, legend_position="top_right",
            title=f"{len(curves)} spectr{'um' if len(curves) == 1 else 'a'}") if curves else None
        self._pane.object = self.overlay
