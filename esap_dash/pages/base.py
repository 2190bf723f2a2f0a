"""What every page has: the deployment profile and a title."""

from __future__ import annotations

from typing import ClassVar

import panel as pn
import param

from connectors.base import ServiceConnector
from connectors.resolver import NameResolver

from ..cart import Cart
from ..config import Profile, load_profile
from ..store import Store, store_for

__all__ = ["NoAccountError", "Page"]


class NoAccountError(PermissionError):
    """The logged-in user has no account at a service that needs one."""


class Page(pn.viewable.Viewer):
    """Base of the pages.

    A page is built once per browser session (or notebook cell) and builds
    its layout in ``__init__``.

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
            self._user, self._display = "local", "single local user (no login configured)"
        else:
            if not pn.state.user:
                raise PermissionError("not logged in")
            info = pn.state.user_info or {}
            self._user = str(pn.state.user)
            self._display = str(info.get("name") or info.get("email") or self._user)

    @property
    def user(self) -> str:
        """The identity whose records this page shows (``local`` without login)."""
        return self._user

    @property
    def display_name(self) -> str:
        """How the header names the user (their ``name`` or ``email`` claim)."""
        return self._display

    async def shown(self) -> None:
        """Called each time the dashboard shows this page again: read again what
        may have changed elsewhere meanwhile (another page, another session)."""

    def open_cart(self, name: str, *, create: bool = True) -> Cart:
        """The user's cart ``name`` (blocking: call it from a worker thread)."""
        return Cart.open_as(self.user, name, profile=self.profile, create=create)

    def cart_names(self) -> list[str]:
        """Names of the user's carts (blocking)."""
        return Cart.names_of(self.user, profile=self.profile)

    def user_connector(self, role: str) -> ServiceConnector | None:
        """The first ``role`` service (``rucio``, ``gateway``), acting as the user.

        Without logins it is the profile's configured account.  With logins
        it is the user's own account from the profile's ``[[accounts]]``;
        never the deployment's service account.

        Returns
        -------
        ServiceConnector or None
            None when the deployment has no such service.

        Raises
        ------
        NoAccountError
            The logged-in user has no account there (the message says so).
        """
        services = self.profile.by_role(role)
        if not services:
            return None
        if self.profile.users == "single":
            return services[0].connector()
        account = self.profile.accounts.get(self.user)
        overrides = account.overrides(role) if account else None
        if overrides is None:
            raise NoAccountError(
                f"You ({self.display_name}) have no account at {services[0].name} in this "
                "deployment; ask its operators to map your identity to one.")
        return services[0].connector(**overrides)

    def resolver(self) -> NameResolver:
        """The name resolver configured by the profile (offline catalogues, or Sesame)."""
        cfg = self.profile.resolver
        timeout = float(cfg.get("timeout", 10))
        tap = (self.profile.service(cfg["tap"]).connector(timeout=timeout)
               if cfg.get("tap") else None)
        return NameResolver(tap, sesame_url=cfg.get("sesame") or None, timeout=timeout)

    @property
    def store(self) -> Store:
        """The deployment's database of per-user records."""
        return store_for(self.profile.database)
