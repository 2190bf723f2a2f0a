"""A cart of 100,000 items: add, reopen, export, first page.

    .venv/bin/python benchmarks/bench_cart.py [--items 100000]

Uses real rows (Hipparcos-2 from the local TAP) and a fresh SQLite database;
prints each figure with the issue's budget, and the raw astropy VOTable write
of the same table as the baseline of the export.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path

import panel as pn
from astropy.table import Table

from connectors.query import SkyQuery, common_table
from esap_dash.core.cart import Cart
from esap_dash.core.config import load_profile
from esap_dash.ui.pages.cart import SHOWN, CartPage


def timed(func):
    start = time.perf_counter()
    value = func()
    return value, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    profile = load_profile("local")
    raw = profile.service("dachs-tap").connector().run_sync(
        f"SELECT TOP {args.items} * FROM hipparcos.main", maxrec=args.items)
    rows = common_table(raw, "Hipparcos", {"id": "hip", "title": "hip", "ra": "ra_icrs",
                                           "dec": "de_icrs"}, query=SkyQuery(0.0, 0.0, 1.0))
    with tempfile.TemporaryDirectory() as tmp:
        private = replace(profile, database=f"sqlite:///{tmp}/bench.db")
        cart = Cart.open("big", profile=private)
        added, add_s = timed(lambda: cart.add_rows(rows))
        _, again_s = timed(lambda: cart.add_rows(rows))
        def reopen() -> None:  # what the Cart page reads: its columns and the summary
            again = Cart.open("big", profile=private)
            again.listing(SHOWN)
            again.summary()

        _, reopen_s = timed(reopen)
        table, whole_s = timed(lambda: Cart.open("big", profile=private).to_table())
        _, export_s = timed(lambda: cart.export(Path(tmp) / "cart.xml"))
        _, raw_s = timed(lambda: Table(table).write(Path(tmp) / "raw.xml", format="votable",
                                                    tabledata_format="binary2"))
        _, page_s = timed(lambda: pn.panel(CartPage(profile=private)).get_root())
    print(f"{added:,} items added in {add_s:.2f} s (budget 2 s); adding them again "
          f"(all duplicates) {again_s:.2f} s")
    print(f"reopen for the Cart page: {reopen_s:.2f} s (budget 0.5 s); read all "
          f"{len(table):,} items with their records: {whole_s:.2f} s")
    print(f"VOTable export {export_s:.2f} s (budget 2 s); astropy writing the same table "
          f"{raw_s:.2f} s (ratio {export_s / raw_s:.2f})")
    print(f"Cart page with the first rows: {page_s:.2f} s (budget 1 s)")


if __name__ == "__main__":
    main()
