"""What every page has: the deployment profile and a title."""

from __future__ import annotations

from typing import ClassVar

import panel as pn
import param

from ..config import Profile, load_profile

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
