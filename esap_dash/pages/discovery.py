"""The Discovery page."""

from __future__ import annotations

from .planned import PlannedPage

__all__ = ["DiscoveryPage"]


class DiscoveryPage(PlannedPage):
    """The Discovery page (not built yet)."""

    title = "Discovery"
    purpose = (
        "search every configured archive at once (IVOA services, the registry, the Rucio "
        "data lake and software records), with a name resolver, ADQL with async jobs and "
        "a query history")
