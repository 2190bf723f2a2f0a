"""No user waits for another: one session opens a 500,000-item cart while another searches.

    .venv/bin/python benchmarks/bench_nowait.py [--items 500000] [--rounds 5]

A real server (``esap-dash serve``, ``local`` profile, fresh database) whose
user has a cart of ``--items`` items (Hipparcos-2 rows from the local TAP,
repeated under several archive names).  The other session's page action is
a Discovery round as a browser makes it (page, search of every archive to
results, two rows to a cart), timed alone and then while other tabs keep
opening the Cart page of the big cart (each reads and lists all its items).
The figure is the ratio of the two medians, in the same run (budget 1.5).
Bokeh's Python client prints ``KeyError: 'events'`` for Panel messages it does
not know; the sessions are not affected.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import requests
from astropy.table import Column, vstack
from bench_session import open_tab
from bench_soak import one_round, served

from connectors.query import SkyQuery, common_table
from esap_dash.core.cart import Cart
from esap_dash.core.config import load_profile

TARGETS = ["M 1", "M 45", "M 42", "M 13"]


def fill(profile, items: int) -> None:
    """The user's first cart, ``items`` items long."""
    raw = profile.service("dachs-tap").connector().run_sync(
        "SELECT * FROM hipparcos.main", maxrec=200_000)
    rows = common_table(raw, "Hipparcos", {"id": "hip", "title": "hip", "ra": "ra_icrs",
                                           "dec": "de_icrs"}, query=SkyQuery(0.0, 0.0, 1.0))
    copies = []
    for k in range(-(-items // len(rows))):
        part = rows.copy()
        part.replace_column("archive", Column([f"Hipparcos copy {k}"] * len(part)))
        copies.append(part)
    Cart.open("a big cart", profile=profile).add_rows(vstack(copies)[:items])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=500_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    workdir = Path(tempfile.mkdtemp(prefix="esap-nowait-"))
    database = f"sqlite:///{workdir}/nowait.db"
    profile = load_profile("local", overrides={"deployment.database": database})
    start = time.perf_counter()
    fill(profile, args.items)
    print(f"cart of {args.items:,} items made in {time.perf_counter() - start:.0f} s")
    with served("local", database, workdir) as (url, _):
        http = requests.Session()
        one_round(url, http, "M 1")  # warm-up
        alone = [one_round(url, http, TARGETS[i % len(TARGETS)])[0]
                 for i in range(args.rounds)]
        opened: list[float] = []
        stop = threading.Event()

        shown = f"{args.items} items"

        def open_big_carts() -> None:
            while not stop.is_set():
                began = time.perf_counter()
                tab = open_tab(url, "cart", cart="a big cart")
                try:
                    if not tab.wait_for(lambda t=tab: shown in t.texts(), 300):
                        raise RuntimeError("the big cart did not show in 300 s")
                finally:
                    tab.close()
                opened.append(time.perf_counter() - began)

        opener = threading.Thread(target=open_big_carts)
        opener.start()
        time.sleep(1.0)
        busy = [one_round(url, http, TARGETS[i % len(TARGETS)])[0]
                for i in range(args.rounds)]
        stop.set()
        opener.join()
    a, b = statistics.median(alone), statistics.median(busy)
    print(f"the big cart's page opened {len(opened)} times meanwhile, "
          f"median {statistics.median(opened) if opened else float('nan'):.1f} s")
    print(f"another session's search round: alone median {a:.2f} s, while the big cart "
          f"opens {b:.2f} s (max {max(busy):.2f} s); ratio {b / a:.2f} (budget 1.5)")
    print(f"  rounds alone {np.round(alone, 2).tolist()}, meanwhile {np.round(busy, 2).tolist()}")


if __name__ == "__main__":
    main()
