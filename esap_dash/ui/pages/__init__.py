"""The dashboard's pages; each is a Viewer built per session or notebook cell."""

from .cart import CartPage
from .discovery import DiscoveryPage
from .jobs import JobsPage
from .services import ServicesPage
from .sky import SkyPage

__all__ = ["CartPage", "DiscoveryPage", "JobsPage", "ServicesPage", "SkyPage"]
