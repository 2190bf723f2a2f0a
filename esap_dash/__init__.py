"""esap-dash: a science analysis platform dashboard.

Discover data across archives, see it on the sky, collect it in a cart and
compute next to the data.  ``esap_dash.pages`` holds the pages (each usable
alone in a notebook cell), ``esap_dash.config`` the deployment profiles.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
