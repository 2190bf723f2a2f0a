"""Search the IVOA registry and add found services to the session's archives."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import panel as pn
import param
from astropy.table import Table

from connectors.exceptions import ConnectorError
from connectors.registry import SERVICE_TYPES, RegistryConnector

from ...core.fanout import run_blocking
from .actions import on_click
from .style import notice, say

__all__ = ["RegistrySearch"]

ANY = "any"
#: Registry service type -> connector kind able to query it in the one-form search.
KIND_FOR = {"conesearch": "conesearch", "sia2": "sia2", "ssa": "ssa", "tap": "tap"}


class RegistrySearch(pn.viewable.Viewer):
    """Keywords, service type, data model and sky area against a RegTAP registry.

    Parameters
    ----------
    registry : RegistryConnector
        The registry to ask.
    on_add : callable, optional
        Called with ``(name, kind, access_url)`` when the user adds a service.
    """

    keywords = param.String(default="", doc="Words in title, description or subjects.")
    servicetype = param.Selector(objects=[ANY, *SERVICE_TYPES], default=ANY,
                                 doc="Kind of service.")
    datamodel = param.Selector(objects=[ANY, "obscore", "epntap", "regtap"], default=ANY,
                               doc="Data model the service's tables follow.")
    near_last_search = param.Boolean(default=False,
                                     doc="Only services whose coverage overlaps the cone of "
                                         "the last sky search.")
    selection = param.List(default=[], item_type=int,
                           doc="Rows chosen in the table (their indices), as ticked there.")

    def __init__(self, registry: RegistryConnector,
                 on_add: Callable[[str, str, str], str] | None = None,
                 cone: Callable[[], tuple[float, float, float] | None] | None = None,
                 **params: Any) -> None:
        super().__init__(**params)
        self.registry = registry
        self._on_add = on_add
        self._cone = cone
        self.results: Table | None = None
        search = pn.widgets.Button(label="Search the registry", color="primary", width=200)
        on_click(search, self.search)
        add = pn.widgets.Button(label="Add selected services to my archives", width=300)
        pn.bind(self._on_add_clicked, add.param.clicks, watch=True)
        self.notice = notice()
        self._table = pn.widgets.Tabulator(
            self._frame(), show_index=False, disabled=True, selectable="checkbox",
            sizing_mode="stretch_width", max_height=360, pagination="local", page_size=20,
            formatters={c: {"type": "plaintext"} for c in
                        ("title", "short_name", "servicetype", "access_url", "ivoid")},
            widths={"title": 300, "access_url": 320})
        self._table.link(self, selection="selection", bidirectional=True)
        self._layout = pn.Column(
            pn.Row(pn.widgets.TextInput.from_param(self.param.keywords, width=260,
                                                   placeholder="hipparcos, NGC, images"),
                   pn.widgets.Select.from_param(self.param.servicetype, width=130),
                   pn.widgets.Select.from_param(self.param.datamodel, width=130)),
            pn.widgets.Checkbox.from_param(self.param.near_last_search),
            pn.Row(search, add), self.notice, self._table, sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    def _frame(self) -> pd.DataFrame:
        cols = ["title", "servicetype", "access_url", "short_name", "ivoid"]
        if self.results is None or not len(self.results):
            return pd.DataFrame({c: [] for c in cols})
        return self.results[cols].to_pandas()

    def _say(self, text: str, kind: str = "info") -> None:
        say(self.notice, text, kind)

    async def search(self) -> None:
        """Run the search with the current constraints."""
        spatial = self._cone() if self._cone and self.near_last_search else None
        if self.near_last_search and spatial is None:
            self._say("Run a sky search first: its cone is the area searched.", "warning")
            return
        try:
            self.results = await run_blocking(
                lambda: self.registry.search(
                    keywords=self.keywords.split(),
                    servicetype=None if self.servicetype == ANY else self.servicetype,
                    datamodel=None if self.datamodel == ANY else self.datamodel,
                    spatial=spatial))
        except ConnectorError as exc:
            self._say(exc.reason, "danger")
            return
        self._table.value = self._frame()
        self._say(f"{len(self.results)} services found in {self.registry.name}.")

    def _on_add_clicked(self, _clicks: int) -> None:
        self.add_selected()

    def add_selected(self) -> list[str]:
        """Add the ticked services to the session's archives; return what was said."""
        if self.results is None or not self._table.selection:
            self._say("Tick the services to add first.", "warning")
            return []
        said = []
        for index in self._table.selection:
            row = self.results[index]
            kind = KIND_FOR.get(str(row["servicetype"]))
            if kind is None or self._on_add is None:
                said.append(f"{row['title']}: a {row['servicetype']} service cannot be "
                            "searched from the form")
                continue
            said.append(self._on_add(str(row["title"]), kind, str(row["access_url"])))
        self._say(" ".join(said))
        return said
