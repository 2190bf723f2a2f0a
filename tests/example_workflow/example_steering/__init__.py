"""An installed package's workflow, found through the esap_dash.workflows entry point.

Like an ESAP steering file: the user's own analysis, with typed parameters,
run on the deployment's cluster over the cart's items.
"""

from __future__ import annotations

import time

import numpy as np
from astropy.table import Table


def _band_counts(dec: np.ndarray, width: float) -> dict[float, int]:
    bands, counts = np.unique(np.floor(np.asarray(dec) / width) * width, return_counts=True)
    return {float(b): int(c) for b, c in zip(bands, counts, strict=True)}


def declination_bands(items: Table, run, width_deg: float = 10.0) -> Table:
    """Count the cart's positions per declination band, one task per archive."""
    archives = sorted(set(items["archive"]))
    parts = run.map(_band_counts, [items["dec"][items["archive"] == a] for a in archives],
                    [width_deg] * len(archives))
    rows = [(a, band, n) for a, part in zip(archives, parts, strict=True)
            for band, n in sorted(part.items())]
    return Table(rows=rows, names=("archive", "dec_band", "count"))


def pause(items: Table, run, tasks: int = 60, seconds: float = 1.0) -> Table:
    """Wait on the cluster, task by task (a long analysis, as far as its progress goes)."""
    run.map(time.sleep, [seconds] * tasks)
    return Table({"items": [len(items)], "waited_s": [tasks * seconds]})
