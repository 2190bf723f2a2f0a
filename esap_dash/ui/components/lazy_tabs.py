"""Tabs whose content is built when first shown or first used."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import panel as pn

__all__ = ["LazyTabs"]


class LazyTabs(pn.viewable.Viewer):
    """Tabs after the first are built when first shown (or first asked for): a
    session that never opens them does not pay for them.

    Parameters
    ----------
    title : str
        The first tab's title.
    first : Viewable
        The first tab's content (built already).
    """

    def __init__(self, title: str, first: pn.viewable.Viewable, **params: Any) -> None:
        super().__init__(**params)
        self.tabs = pn.Tabs((title, first), dynamic=True, sizing_mode="stretch_width")
        self._titles = [title]
        self._builders: dict[str, Callable[[], Any]] = {}
        self._built: dict[str, Any] = {title: first}
        self.tabs.param.watch(lambda event: self.tab(self._titles[event.new]), "active")

    def __panel__(self) -> pn.viewable.Viewable:
        return self.tabs

    def add(self, title: str, build: Callable[[], Any]) -> None:
        """A tab whose content ``build()`` makes when first needed."""
        self._builders[title] = build
        self._titles.append(title)
        self.tabs.append((title, pn.Column(sizing_mode="stretch_width")))

    def tab(self, title: str) -> Any:
        """The content of tab ``title``, built on first use; None without that tab."""
        if title not in self._built:
            if title not in self._builders:
                return None
            self._built[title] = self._builders[title]()
            self.tabs[self._titles.index(title)].objects = [self._built[title]]
        return self._built[title]

    def built(self, title: str) -> Any:
        """The content of tab ``title`` if it was built already, else None."""
        return self._built.get(title)

    def show(self, title: str) -> None:
        """Make tab ``title`` the one shown."""
        self.tabs.active = self._titles.index(title)
