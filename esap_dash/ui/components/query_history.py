"""The user's past searches, to look at again and re-run with one click."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pandas as pd
import panel as pn

from ...core.fanout import run_blocking
from ...core.store import Store

__all__ = ["QueryHistory"]


class QueryHistory(pn.viewable.Viewer):
    """A table of the user's searches (newest first) with a re-run button.

    Parameters
    ----------
    store : Store
        Where the history is kept.
    user : str
        Whose history.
    on_rerun : callable
        Awaited with the recorded entry when the user re-runs it.
    """

    def __init__(self, store: Store, user: str,
                 on_rerun: Callable[[dict[str, Any]], Awaitable[None]], **params: Any) -> None:
        super().__init__(**params)
        self.store, self.user, self._on_rerun = store, user, on_rerun
        self.entries: list[dict[str, Any]] = []
        rerun = pn.widgets.Button(label="Re-run the selected search", color="primary", width=240)
        pn.bind(self._rerun_clicked, rerun.param.clicks, watch=True)
        self._table = pn.widgets.Tabulator(
            self._frame(), show_index=False, disabled=True, selectable=1, max_height=320,
            sizing_mode="stretch_width", pagination="local", page_size=15,
            formatters={c: {"type": "plaintext"} for c in ("target", "keywords", "archives")})
        self._layout = pn.Column(rerun, self._table, sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    def _frame(self) -> pd.DataFrame:
        rows = [{
            "when (UTC)": e["created"].strftime("%Y-%m-%d %H:%M:%S"),
            "target": e["query"].get("target", ""),
            "radius (deg)": e["query"].get("radius"),
            "keywords": " ".join(e["query"].get("keywords", [])),
            "waveband": e["query"].get("waveband") or "",
            "product": e["query"].get("product_type") or "",
            "archives": ", ".join(e["archives"]),
            "rows": sum(e["row_counts"].values()),
        } for e in self.entries]
        return pd.DataFrame(rows, columns=["when (UTC)", "target", "radius (deg)", "keywords",
                                           "waveband", "product", "archives", "rows"])

    async def reload(self) -> None:
        """Read the history again from the store."""
        self.entries = await run_blocking(self.store.history, self.user)
        self._table.value = self._frame()

    async def _rerun_clicked(self, _clicks: int) -> None:
        if self._table.selection:
            await self._on_rerun(self.entries[self._table.selection[0]])
