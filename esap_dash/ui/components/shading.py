"""Images of many points, shaded for the window a plot shows and put straight into
the drawn plot: a zoom or pan costs Datashader's aggregation and nothing of
HoloViews' re-evaluation of the plot.

Shared by the sky map and the column plots.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import panel as pn
from panel.io.document import unlocked

__all__ = ["Deferred", "put_image", "rgba", "window_of"]

#: A plot's window: ``((x0, x1), (y0, y1))``, each pair increasing.
Window = tuple[tuple[float, float], tuple[float, float]]


class Deferred:
    """A drawing run once for a burst of requests: in a server session on the
    document's next tick (where the document may be changed, and sent to the
    browser at once, as HoloViews' own updates are), elsewhere at once.

    Parameters
    ----------
    draw : callable
        The drawing, without arguments.
    """

    def __init__(self, draw: Callable[[], None]) -> None:
        self._draw = draw
        self._due = False

    def __call__(self) -> None:
        document = pn.state.curdoc
        if document is None or document.session_context is None:
            self._draw()
        elif not self._due:
            self._due = True
            document.add_next_tick_callback(self._run)

    def _run(self) -> None:
        self._due = False
        with unlocked():
            self._draw()


def window_of(x_range: Any, y_range: Any) -> Window:
    """A range stream's ranges as a window, each pair increasing (an inverted axis
    gives its range from high to low)."""
    return (tuple(sorted(x_range)), tuple(sorted(y_range)))


def put_image(source: Any, image: np.ndarray, window: Window) -> None:
    """Put an image (rows from the bottom up) covering ``window`` into the Bokeh
    data source of a drawn image layer."""
    (x0, x1), (y0, y1) = window
    source.data = {"image": [image], "x": [x0], "y": [y0], "dw": [x1 - x0], "dh": [y1 - y0]}


def rgba(image: Any, size: tuple[int, int]) -> np.ndarray:
    """A Datashader image (packed RGBA, rows from the bottom up) as a HoloViews RGB
    array of ``size`` (width, height), rows from the top down."""
    return np.asarray(image.data).view(np.uint8).reshape(size[1], size[0], 4)[::-1]
