"""What every page has: the deployment profile and a title."""

from __future__ import annotations

from typing import ClassVar

import panel as pn
import param

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

    @property
    def store(self) -> Store:
        """The deployment's database of per-user records."""
        return store_for(self.profile.database)
