"""What every page has: the deployment profile and a title."""

from __future__ import annotations

from typing import ClassVar

import panel as pn
import param

from connectors.resolver import NameResolver

from ..config import Profile, load_profile
from ..store import Store, store_for

__all__ = ["Page"]


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

    @property
    def user(self) -> str:
        """The identity whose records this page shows (``local`` without login)."""
        if self.profile.users == "single":
            return "local"
        if not pn.state.user:
            raise PermissionError("not logged in")
        return str(pn.state.user)

    def resolver(self) -> NameResolver:
        """The name resolver configured by the profile (offline catalogues, or Sesame)."""
        cfg = self.profile.resolver
        tap = self.profile.service(cfg["tap"]).connector() if cfg.get("tap") else None
        return NameResolver(tap, sesame_url=cfg.get("sesame") or None,
                            timeout=float(cfg.get("timeout", 10)))

    @property
    def store(self) -> Store:
        """The deployment's database of per-user records."""
        return store_for(self.profile.database)
