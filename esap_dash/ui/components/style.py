"""The dashboard's stylesheet, for the components that render HTML.

Panel renders each component in its own shadow root, so page-wide CSS does
not reach into it: HTML panes carry the stylesheet themselves.
"""

from __future__ import annotations

import html
from functools import cache
from typing import Any

import pandas as pd
import panel as pn
import param
from bokeh.models.widgets.tables import NumberFormatter

from ...core.config import ASSETS

__all__ = ["BYTES", "MUTED", "POSITION_FORMAT", "Notice", "html_pane", "notice", "number_format",
           "say", "stylesheet", "whole_bytes"]

#: Tabulator formatters of RA and Dec in degrees: six decimals (0.004 arcsec), not
#: every digit of a float.
POSITION_FORMAT = {c: {"type": "money", "decimal": ".", "thousand": "", "precision": 6}
                   for c in ("ra", "dec")}


#: The colour of secondary text, readable in the light and the dark theme alike
#: (the theme's text colour, faded; CSS class ``esap-muted`` in HTML panes).
MUTED = "color-mix(in srgb, var(--panel-on-background-color, #212529) 72%, transparent)"

#: :func:`number_format` pattern of sizes in bytes: readable binary units (``1.5 MiB``).
BYTES = "0.0 b"


def number_format(pattern: str) -> NumberFormatter:
    """A table formatter of numbers by a numbro ``pattern`` (:data:`BYTES`, or
    ``0.0[000]``: at most four decimals), blank when a value is missing; the
    column stays numeric, so it sorts by value.  (A new one for each table: a
    Bokeh model belongs to one session's document.)"""
    return NumberFormatter(format=pattern, nan_format="", null_format="")


@cache
def stylesheet() -> str:
    """The text of ``assets/esap_dash.css``."""
    return (ASSETS / "esap_dash.css").read_text()


def html_pane(obj: Any = "", **params: Any) -> pn.pane.HTML:
    """An HTML pane with the dashboard's stylesheet.

    Parameters
    ----------
    obj : str or callable
        The HTML (already escaped where it holds outside text), or a bound
        function returning it.
    **params
        Passed to ``pn.pane.HTML``.
    """
    params.setdefault("sizing_mode", "stretch_width")
    return pn.pane.HTML(obj, stylesheets=[stylesheet()], **params)


#: Routine news is a quiet line; warnings and errors keep the alert's box.
#: (Important: a stylesheet of the page around the line, Bootstrap's, styles
#: ``.alert-info`` too, and of two normal rules the outer one would win.)
_QUIET_INFO = (":host(.alert-info) { padding: 2px 10px !important; margin: 4px 0 !important; "
               "color: inherit !important; background-color: transparent !important; "
               "border: none !important; border-left: 3px solid #6c9bd2 !important; "
               "border-radius: 0 !important; } "
               ":host(.alert-info) p { margin: 0.25em 0; }")


class Notice(pn.viewable.Viewer):
    """A message line: the last sentence said to the user, and how; hidden while it
    is empty.  The sentence is plain text (it may come from a service) and is shown
    escaped; news is a quiet line, a warning or an error a coloured box."""

    text = param.String(default="", doc="The last sentence said (plain text).")
    kind = param.Selector(objects=["info", "warning", "danger"], default="info",
                          doc="How it is said.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._alert = pn.pane.Alert(
            pn.bind(html.escape, self.param.text), alert_type=self.param.kind,
            visible=self.param.text.rx.bool(), sizing_mode="stretch_width",
            stylesheets=[_QUIET_INFO])

    def __panel__(self) -> pn.viewable.Viewable:
        return self._alert

    def say(self, text: str, kind: str = "info") -> None:
        """Say ``text`` (an empty text hides the line)."""
        self.param.update(text=text, kind=kind)


def notice() -> Notice:
    """A message line, hidden until something is said in it (see :func:`say`)."""
    return Notice()


def say(line: Notice, text: str, kind: str = "info") -> None:
    """Say ``text`` in a :func:`notice`; an empty text hides it.

    Parameters
    ----------
    line : Notice
        The notice.
    text : str
        Plain text, possibly from a service: it is shown escaped.
    kind : str
        ``info``, ``warning`` or ``danger``.
    """
    line.say(text, kind)


def whole_bytes(sizes: pd.Series) -> pd.Series:
    """Sizes in bytes as whole numbers, an unknown one (missing, or -1) as none (not
    ``-1.0`` or ``NaN``)."""
    numbers = pd.to_numeric(sizes, errors="coerce")
    known = numbers.notna() & (numbers >= 0)
    return pd.Series([int(n) if k else None for n, k in zip(numbers, known, strict=True)],
                     index=sizes.index, dtype=object)
