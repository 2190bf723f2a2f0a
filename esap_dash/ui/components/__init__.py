"""Reusable views; each works on a page and alone in a notebook cell."""

from .fits_preview import FitsPreview
from .service_status import ServiceStatus
from .sky_map import SkyMap

__all__ = ["FitsPreview", "ServiceStatus", "SkyMap"]
