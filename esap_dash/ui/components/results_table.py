"""A search's results: each archive's state, the merged rows with their range
filters, and each archive's own columns."""

from __future__ import annotations

import functools
import html
import json
from typing import Any

import pandas as pd
import panel as pn
import param
from astropy.table import Table

# The table's browser model, known before a page lists its scripts: a page whose first
# view has no table yet (they are made on the first rows) must still carry them.
from panel.models import tabulator  # noqa: F401

from ...core.fanout import run_blocking
from ...core.search import SearchResults
from .style import BYTES, MUTED, POSITION_FORMAT, html_pane, number_format, whole_bytes

__all__ = ["ArchiveStatus", "ResultsTable"]

#: Columns of the merged table shown (``record`` is kept for the cart).
SHOWN = ["archive", "id", "title", "mag", "band", "ra", "dec", "distance", "product_type",
         "access_url", "size", "s_region", "also_in"]
TEXT_COLUMNS = ("archive", "id", "title", "band", "product_type", "access_url", "s_region",
                "also_in")
#: What each shown column holds (its header's tooltip).
DESCRIPTIONS = {
    "archive": "The archive that answered", "id": "The archive's identifier of the row",
    "title": "The row's title; for a source, the other names the archive gives it",
    "mag": "The source's main magnitude, as the archive marks it (UCD phot.mag)",
    "band": "The band of the magnitude (or the archive's column holding it)",
    "ra": "Right ascension (ICRS), degrees", "dec": "Declination (ICRS), degrees",
    "distance": "Angular distance from the search centre, degrees",
    "product_type": "The kind of data product (image, spectrum, cube, source, ...)",
    "access_url": "Where the data is fetched from", "size": "The product's size",
    "s_region": "The footprint on the sky (an STC-S region)",
    "also_in": "Other archives that returned the same product"}
#: Numeric columns filtered by a range (a slider whose limits follow the results).
RANGE_COLUMNS = {"ra": "RA (deg)", "dec": "Dec (deg)", "distance": "Distance (deg)",
                 "size": "Size (bytes)"}


class ArchiveStatus(pn.viewable.Viewer):
    """Each archive's state in a search: not asked, waiting, running, its rows and
    time, or the service's error.

    Parameters
    ----------
    found : SearchResults
        The search shown.
    """

    def __init__(self, found: SearchResults, **params: Any) -> None:
        super().__init__(**params)
        self.found = found
        #: One ``(archive, state, message)`` per archive offered, as shown.
        self.rows: list[tuple[str, str, str]] = []
        #: The line under the table once a search is over (empty before).
        self.summary = ""
        self._pane = html_pane("")

    def __panel__(self) -> pn.viewable.Viewable:
        return self._pane

    def show(self, offered: list[str], asked: list[str], *, running: bool = False,
             total: float | None = None) -> None:
        """Show the state of each ``offered`` archive; ``total`` is the search's
        time once it is over."""
        results = self.found.results
        rows, classes = [], []
        for name in offered:
            if name not in asked:
                state, cls, detail = "not asked", "checking", ""
            elif name in results:
                res = results[name]
                if res.state == "done":
                    n = len(res.table)
                    state, cls = f"{n} row{'' if n == 1 else 's'} in {res.seconds:.2f} s", "up"
                else:
                    state, cls = res.state, "down"
                detail = res.message
            else:
                state = ("running" if running else "waiting" if self.found.query is not None
                         else "ready")  # before any search
                cls, detail = "checking", ""
            rows.append((name, state, detail))
            classes.append(cls)
        found = sum(len(r.table) for r in results.values())
        merged = len(self.found.merged)
        grouped = (f"; {found - merged} more were the same products from another archive "
                   "(see Also in)" if found > merged else "")
        self.rows = rows
        self.summary = (f"{merged} rows from {len(results)} archives in {total:.2f} s{grouped}"
                        if total is not None else "")
        body = "".join(f"<tr><td>{html.escape(name)}</td><td><span class=\"esap-state {cls}\">"
                       f"{html.escape(state)}</span></td><td>{html.escape(detail)}</td></tr>"
                       for (name, state, detail), cls in zip(rows, classes, strict=True))
        self._pane.object = (
            '<table class="esap-status-table"><thead><tr><th>Archive</th><th>State</th>'
            f"<th>Message</th></tr></thead><tbody>{body}</tbody></table>"
            + (f"<p>{html.escape(self.summary)}</p>" if self.summary else ""))


class ResultsTable(pn.viewable.Viewer):
    """The merged rows of a search, filtered by text and by numeric ranges, with
    each archive's own columns on demand.

    Parameters
    ----------
    found : SearchResults
        The search shown.
    """

    selection = param.List(default=[], item_type=int,
                           doc="Rows chosen in the table (their indices), as ticked there.")
    own_columns = param.Selector(objects=[], doc="Show every column of this archive's rows.")
    range_version = param.Integer(default=0, precedence=-1,
                                  doc="Counts the user's changes of the range filters.")

    def __init__(self, found: SearchResults, **params: Any) -> None:
        super().__init__(**params)
        self.found = found
        # Filtering follows what the user sets (a released handle), not the limits
        # fitted to each result set: those leave the table as it is.
        self._user_ranges: dict[str, tuple[float, float]] = {}
        #: The archive whose own rows the own-columns table holds.
        self._own_shown: str | None = None
        #: The merged rows the table shows, and the frame made of them.
        self._shown: tuple[Table | None, pd.DataFrame | None] = (None, None)
        # The tables and filters are made when first needed (the first search): a
        # session that never searches does not pay for them.
        self._layout = pn.Column(
            html_pane("<p>The rows every archive returns appear here.</p>",
                      styles={"color": MUTED}),
            sizing_mode="stretch_width")

    @functools.cached_property
    def _made(self) -> tuple[dict[str, pn.widgets.RangeSlider], pn.widgets.Tabulator,
                             pn.widgets.Tabulator, pn.Card]:
        """The range filters, the table, and the table of one archive's own columns in
        its card, put in the layout (at the first search: drawn while the archives
        answer)."""
        filters = {c: pn.widgets.RangeSlider(label=label, start=0, end=1, value=(0, 1),
                                             width=250, format="0[.]00[0]", margin=(5, 18),
                                             visible=False)
                   for c, label in RANGE_COLUMNS.items()}
        for column, slider in filters.items():
            slider.param.watch(functools.partial(self._on_range, column), "value_throttled")
        own = pn.widgets.Tabulator(None, show_index=False, disabled=True,
                                   pagination="remote", page_size=20,
                                   sizing_mode="stretch_width")
        table = pn.widgets.Tabulator(
            _no_rows(), pagination="remote", page_size=25, selectable="checkbox",
            show_index=False, disabled=True, sizing_mode="stretch_width",
            # Text columns: "contains" (case-insensitive); numbers: the range filters.
            header_filters={c: {"type": "input", "func": "like", "placeholder": "contains…"}
                            for c in TEXT_COLUMNS},
            formatters={**{c: {"type": "plaintext"} for c in TEXT_COLUMNS},
                        **POSITION_FORMAT, "distance": POSITION_FORMAT["ra"],
                        "size": number_format(BYTES), "mag": number_format("0.0[000]")},
            titles={"mag": "Mag", "band": "Band", "ra": "RA (deg)", "dec": "Dec (deg)",
                    "distance": "Dist. (deg)", "size": "Size", "product_type": "Product",
                    "s_region": "Footprint", "also_in": "Also in"},
            header_tooltips=DESCRIPTIONS,
            widths={"archive": 190, "id": 220, "title": 260, "mag": 80, "band": 90,
                    "access_url": 220, "s_region": 160},
            text_align={"size": "right", "mag": "right"})
        table.link(self, selection="selection", bidirectional=True)
        table.add_filter(pn.bind(self._in_ranges, self.param.range_version))
        # The archive's own rows are made when the card is open (or they are asked
        # for), not at every search: most searches never open it.
        card = pn.Card(pn.widgets.Select.from_param(self.param.own_columns, width=300,
                                                    label="Archive"),
                       own, title="Each archive's own columns", collapsed=True,
                       sizing_mode="stretch_width")
        card.param.watch(lambda _: self._fill_own(), "collapsed")
        self._layout.objects = [
            # A fixed height: fitting the filters never moves the table.
            pn.Row(*filters.values(), height=64, sizing_mode="stretch_width"),
            table, card]
        return filters, table, own, card

    @property
    def range_filters(self) -> dict[str, pn.widgets.RangeSlider]:
        """Column -> its range filter over the results (rows without a value stay)."""
        return self._made[0]

    @property
    def _table(self) -> pn.widgets.Tabulator:
        return self._made[1]

    @property
    def _own(self) -> pn.widgets.Tabulator:
        return self._made[2]

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    def frame(self, merged: Table | None = None) -> pd.DataFrame:
        """The rows as the table shows them: ``merged`` (default: the search's merged
        rows now; blocking for many rows)."""
        merged = self.found.merged if merged is None else merged
        if not len(merged):
            return _no_rows()
        # Searches kept before a column was added lack it: shown blank.
        frame = merged[[c for c in SHOWN if c in merged.colnames]].to_pandas()
        frame = frame.reindex(columns=SHOWN)
        frame["size"] = whole_bytes(frame["size"])
        return frame

    def show(self, frame: pd.DataFrame) -> None:
        """Show ``frame`` (made by :meth:`frame`)."""
        self._table.value = frame

    async def show_found(self) -> pd.DataFrame:
        """Show the search's rows as they are now (made off the event loop), unless
        the table shows them already; the rows shown."""
        merged = self.found.merged  # replaced, never changed, as answers arrive
        if merged is not self._shown[0]:
            frame = await run_blocking(self.frame, merged)
            self._shown = (merged, frame)
            self.show(frame)
        return self._shown[1]

    def fit_ranges(self, frame: pd.DataFrame | None) -> None:
        """Set each range filter to the span of ``frame`` (all rows shown); without
        a frame, no range filters (while archives answer)."""
        self._user_ranges = {}
        for column, slider in self.range_filters.items():
            if frame is None:  # hidden until the new rows' spans are known
                slider.visible = False
                continue
            values = _numbers(frame, column).dropna()
            low, high = (float(values.min()), float(values.max())) if len(values) else (0., 1.)
            high = max(high, low + 1e-9)
            # A filter shows once it has a span to filter (not "0 .. 1" before any rows).
            slider.param.update(start=low, end=high, value=(low, high),
                                step=(high - low) / 200, visible=len(values) > 1)
        if frame is not None:
            self.param.own_columns.objects = [n for n, r in self.found.results.items()
                                              if len(r.table)]
            self._show_own_columns()  # new rows, perhaps of the same archive

    def _on_range(self, column: str, event: param.parameterized.Event) -> None:
        self._user_ranges[column] = event.new
        self.range_version += 1

    def _in_ranges(self, _version: int, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows inside every range the user set (Tabulator passes the frame last);
        a row without a value stays."""
        keep = pd.Series(True, index=frame.index)
        for column, (low, high) in self._user_ranges.items():
            numbers = _numbers(frame, column)
            keep &= numbers.isna() | numbers.between(low, high)
        return frame[keep]

    @property
    def visible_rows(self) -> pd.DataFrame:
        """The rows the table shows now (after the range filters)."""
        return self._table.current_view

    def selected_rows(self) -> Table:
        """The ticked rows, with their provenance (see
        :meth:`SearchResults.with_provenance`)."""
        merged = self.found.merged
        chosen = [i for i in self.selection if i < len(merged)]
        return self.found.with_provenance(merged[chosen] if len(merged) else merged)

    @property
    def own_rows(self) -> pd.DataFrame | None:
        """The rows of the archive chosen in :attr:`own_columns`, with every column it
        gave (None before a choice, or when it gave no rows)."""
        self._fill_own(opened=False)
        return self._own.value

    @property
    def own_headers(self) -> dict[str, tuple[str, str]]:
        """Each shown column of :attr:`own_rows`: its header (the name, and the unit
        where the archive gave one) and the header's tooltip (description and UCD)."""
        self._fill_own(opened=False)
        if self._own.value is None:
            return {}
        return {name: (self._own.titles.get(name, name), self._own.header_tooltips.get(name, ""))
                for name in self._own.value.columns}

    @param.depends("own_columns", watch=True)
    def _show_own_columns(self) -> None:
        self._own_shown = None
        self._fill_own()

    def _fill_own(self, opened: bool = True) -> None:
        """Fill the own-columns table with the chosen archive's rows, unless it has
        them already or (``opened``) its card is closed."""
        if self._own_shown == self.own_columns or (opened and self._made[3].collapsed):
            return
        self._own_shown = self.own_columns
        result = self.found.results.get(self.own_columns)
        if result is None or not len(result.table):
            self._own.value = None
            return
        described = result.table.meta.get("columns", {}).get(self.own_columns, {})
        frame = pd.DataFrame([json.loads(r) for r in result.table["record"]])
        self._own.param.update(
            titles={name: f"{name} ({d['unit']})" for name, d in described.items()
                    if d.get("unit")},
            header_tooltips={name: " ".join(filter(None, (d.get("description"),
                                                        d.get("ucd") and f"[{d['ucd']}]")))
                             for name, d in described.items()},
            formatters={name: {"type": "plaintext"} for name in frame.columns
                        if frame[name].dtype == object},
            value=frame)


def _no_rows() -> pd.DataFrame:
    """The shown columns, without rows."""
    return pd.DataFrame({c: [] for c in SHOWN})


def _numbers(frame: pd.DataFrame, column: str) -> pd.Series:
    """A column as numbers; missing ones (and an unknown size, -1) as NaN."""
    numbers = pd.to_numeric(frame[column], errors="coerce")
    return numbers.where(numbers >= 0) if column == "size" else numbers
