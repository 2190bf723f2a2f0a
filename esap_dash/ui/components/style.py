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

from ...core.config import ASSETS

__all__ = ["POSITION_FORMAT", "html_pane", "notice", "say", "stylesheet", "whole_bytes"]

#: Tabulator formatters of RA and Dec in degrees: six decimals (0.004 arcsec), not
#: every digit of a float.
POSITION_FORMAT = {c: {"type": "money", "decimal": ".", "thousand": "", "precision": 6}
                   for c in ("ra", "dec")}


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


def notice() -> pn.pane.Alert:
    """A message line, hidden until something is said in it (see :func:`say`)."""
    return pn.pane.Alert("", alert_type="info", visible=False, sizing_mode="stretch_width")


def say(alert: pn.pane.Alert, text: str, kind: str = "info") -> None:
    """Show ``text`` (escaped) in a :func:`notice`; an empty text hides it.

    Parameters
    ----------
    alert : panel.pane.Alert
        The notice.
    text : str
        Plain text, possibly from a service: it is escaped.
    kind : str
        ``info``, ``warning`` or ``danger``.
    """
    alert.alert_type = kind
    alert.object = html.escape(text)
    alert.visible = bool(text)


def whole_bytes(sizes: pd.Series) -> pd.Series:
    """Sizes in bytes as whole numbers, an unknown one (missing, or -1) as none (not
    ``-1.0`` or ``NaN``)."""
    numbers = pd.to_numeric(sizes, errors="coerce")
    known = numbers.notna() & (numbers >= 0)
    return pd.Series([int(n) if k else None for n, k in zip(numbers, known, strict=True)],
                     index=sizes.index, dtype=object)
