"""The spectra among some rows, read and drawn in a card."""

from __future__ import annotations

from typing import Any

import panel as pn
from astropy.table import Table

from ...core.config import Profile
from ...core.fanout import run_blocking
from ...core.spectra import load_spectra, spectrum_rows
from .spectrum_plot import SpectrumPlot
from .style import Notice, say

__all__ = ["SpectraCard"]


class SpectraCard(pn.viewable.Viewer):
    """A card that reads the spectra among rows (SSA, ObsCore) and draws them; shown
    once asked.

    Parameters
    ----------
    profile : Profile
        The deployment (each archive's HTTP session).
    notice : Notice
        Where to say what happened.
    """

    def __init__(self, profile: Profile, notice: Notice, **params: Any) -> None:
        super().__init__(**params)
        self.profile, self.notice = profile, notice
        #: The plot, made when first asked for.
        self.plot: SpectrumPlot | None = None
        self._card = pn.Card(title="Spectra", collapsed=True, visible=False,
                             sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return self._card

    async def show(self, rows: Table) -> None:
        """Read the rows that are spectra (off the event loop) and draw them."""
        found = spectrum_rows(rows)
        if not found:
            say(self.notice, "Select rows that are spectra (product type spectrum, from "
                "an SSA service or ObsCore) first.", "warning")
            return
        say(self.notice, f"Reading {len(found)} spectr{'um' if len(found) == 1 else 'a'} …")
        spectra = await run_blocking(load_spectra, found, self.profile)
        if self.plot is None:
            self.plot = SpectrumPlot()
            self._card.objects = [self.plot]
        self.plot.show(spectra)
        self._card.param.update(visible=True, collapsed=False)
        failed = [s for s in spectra if s.error]
        drawn = len(self.plot.drawn)
        say(self.notice, f"{drawn} spectr{'um' if drawn == 1 else 'a'} drawn"
            + (f"; {len(failed)} could not be read (see below)" if failed else "") + ".",
            "warning" if failed else "info")
