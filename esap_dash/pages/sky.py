"""The Sky page."""

from __future__ import annotations

from .planned import PlannedPage

__all__ = ["SkyPage"]


class SkyPage(PlannedPage):
    """The Sky page (not built yet)."""

    title = "Sky"
    purpose = (
        "see search results, footprints and coverage maps (MOCs) on an all-sky map, "
        "select on the sky and preview FITS images")
