"""esap-dash: a science analysis platform dashboard.

Discover data across archives, see it on the sky, collect it in a cart and
compute next to the data.  ``esap_dash.ui.pages`` holds the pages (each usable
alone in a notebook cell), ``esap_dash.core.config`` the deployment profiles.
"""

__version__ = "0.1.0"

__all__ = ["Cart", "__version__"]


def __getattr__(name: str) -> object:
    # ``from esap_dash import Cart`` without importing the database layer
    # (or Panel) for every other use of the package.
    if name == "Cart":
        from .core.cart import Cart

        return Cart
    raise AttributeError(f"module 'esap_dash' has no attribute {name!r}")
