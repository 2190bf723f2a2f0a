"""Overhead of the connectors over raw pyvo, and of the health round over its slowest check.

Run against the local stack (``stack/esap-stack start``)::

    .venv/bin/python benchmarks/bench_connectors.py [--repeat 30]

Prints ratios measured in this run, never absolute targets: each pair runs
the same query against the same server, interleaved, and the median of the
repeats is compared.
"""

from __future__ import annotations

import argparse
import warnings

import pyvo
from timing import median_seconds

from esap_dash.core.config import load_profile
from esap_dash.core.health import check, check_all

QUERIES = {
    "small (OpenNGC cone, ~1 row)":
        "SELECT * FROM ongc.main WHERE 1=CONTAINS(POINT('ICRS', raj2000, dej2000), "
        "CIRCLE('ICRS', 83.633, 22.014, 0.1))",
    "large (Hipparcos, 20,000 rows)": "SELECT TOP 20000 * FROM hipparcos.main",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    profile = load_profile("local")
    tap_cfg = profile.service("dachs-tap")
    connector = tap_cfg.connector()
    raw = pyvo.dal.TAPService(tap_cfg.url)
    print(f"TAP query through TAPConnector vs raw pyvo ({args.repeat} repeats, medians)")
    for label, adql in QUERIES.items():
        raw_t = median_seconds(lambda q=adql: raw.run_sync(q, maxrec=20000).to_table(),
                               args.repeat)
        ours_t = median_seconds(lambda q=adql: connector.run_sync(q, maxrec=20000),
                                args.repeat)
        print(f"  {label:<32} raw {raw_t * 1000:8.1f} ms  ours {ours_t * 1000:8.1f} ms  "
              f"ratio {ours_t / raw_t:5.2f}  overhead {(ours_t - raw_t) * 1000:+6.1f} ms")
    slowest = max(median_seconds(lambda s=s: check(s), args.repeat) for s in profile.services)
    total = median_seconds(lambda: check_all(profile.services), args.repeat)
    serial = sum(median_seconds(lambda s=s: check(s), args.repeat) for s in profile.services)
    print(f"Health round of {len(profile.services)} services: concurrent {total * 1000:.1f} ms, "
          f"slowest single {slowest * 1000:.1f} ms (ratio {total / slowest:.2f}), "
          f"serial sum {serial * 1000:.1f} ms")


if __name__ == "__main__":
    main()
