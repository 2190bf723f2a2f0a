"""Reusable views; each works on a page and alone in a notebook cell."""

from .service_status import ServiceStatus

__all__ = ["ServiceStatus"]
