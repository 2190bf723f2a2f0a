"""The Jobs page."""

from __future__ import annotations

from .planned import PlannedPage

__all__ = ["JobsPage"]


class JobsPage(PlannedPage):
    """The Jobs page (not built yet)."""

    title = "Jobs"
    purpose = (
        "run workflows on Dask Gateway clusters next to the data and follow every job "
        "(Dask runs, async TAP jobs, Rucio rules) in one view")
