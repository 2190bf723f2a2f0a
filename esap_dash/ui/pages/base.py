"""What every page has: the deployment profile and a title."""

from __future__ import annotations

from typing import ClassVar

import panel as pn
import param
from astropy.table import Table

from connectors.base import ServiceConnector
from connectors.resolver import NameResolver

from ...core.actor import Actor
from ...core.cart import Cart, CartError
from ...core.config import Profile, load_profile
from ...core.fanout import run_blocking
from ...core.store import Store

__all__ = ["Page"]


class Page(pn.viewable.Viewer):
    """Base of the pages.

    A page is built once per browser session (or notebook cell) and builds
    its layout in ``__init__``; what it does as the user goes through its
    :attr:`actor`.

    Parameters
    ----------
    profile : Profile, optional
        The deployment profile; by default the one :func:`load_profile` finds
        (``ESAP_DASH_PROFILE``, else ``local``).
    """

    title: ClassVar[str] = ""
    #: Other pages of the session this page is given (by URL key), e.g. ``("discovery",)``.
    uses: ClassVar[tuple[str, ...]] = ()
    profile = param.ClassSelector(class_=Profile, doc="The deployment profile.")

    def __init__(self, **params) -> None:
        if params.get("profile") is None:
            params["profile"] = load_profile()
        super().__init__(**params)
        # Who the session belongs to, read once while building it: Panel's
        # session state is not visible from the worker threads pages use.
        if self.profile.users == "single":
            user, display = "local", "single local user (no login configured)"
        else:
            if not pn.state.user:
                raise PermissionError("not logged in")
            info = pn.state.user_info or {}
            user = str(pn.state.user)
            display = str(info.get("name") or info.get("email") or user)
        #: The session's user, as every action of the page acts.
        self.actor = Actor(self.profile, user, display)

    @property
    def user(self) -> str:
        """The identity whose records this page shows (``local`` without login)."""
        return self.actor.user

    @property
    def display_name(self) -> str:
        """How the header names the user (their ``name`` or ``email`` claim)."""
        return self.actor.name

    async def shown(self) -> None:
        """Called each time the dashboard shows this page again: read again what
        may have changed elsewhere meanwhile (another page, another session)."""

    def open_cart(self, name: str, *, create: bool = True) -> Cart:
        """The user's cart ``name`` (blocking: call it from a worker thread)."""
        return self.actor.open_cart(name, create=create)

    async def add_rows_to_cart(self, name: str, rows: Table, kind: str = "row"
                               ) -> tuple[str, str]:
        """Add ``rows`` to the user's cart ``name`` (off the event loop).

        Returns
        -------
        tuple of str
            What happened, and its level for a notice (``info``, or ``danger`` when
            the cart refused them).
        """
        try:
            added = await run_blocking(lambda: self.open_cart(name).add_rows(rows, kind=kind))
        except CartError as exc:
            return str(exc), "danger"
        known = len(rows) - added
        noun = "row" if kind == "row" else "item"
        return (f"Added {added} {noun}{'s' * (added != 1)} to cart {name!r}"
                + (f" ({known} were already in it)." if known else "."), "info")

    def cart_names(self) -> list[str]:
        """Names of the user's carts (blocking)."""
        return self.actor.cart_names()

    def user_connector(self, role: str) -> ServiceConnector | None:
        """The first ``role`` service acting as the user (see :meth:`Actor.connector`)."""
        return self.actor.connector(role)

    def resolver(self) -> NameResolver:
        """The name resolver configured by the profile (offline catalogues, or Sesame)."""
        return self.actor.resolver()

    @property
    def store(self) -> Store:
        """The deployment's database of per-user records."""
        return self.actor.store
