"""Discovery figures, as ratios against raw pyvo measured in the same run.

Run against the local stack (``stack/esap-stack start``)::

    .venv/bin/python benchmarks/bench_discovery.py [--repeat 10]

1. Fan-out: one search over N=6 archives of the local stack (ObsCore TAP,
   OpenNGC and Hipparcos cone searches, SIA v2, and TAP on the OpenNGC and
   Hipparcos tables) against the slowest and the sum of the same six calls
   made with raw pyvo one after the other.
2. Per-query overhead of the page (resolve excluded) over raw pyvo for the
   same cone search.
3. A result table of 100,000 rows: building the common table and the first
   page of the remote-paginated table, against serialising all rows.
"""

from __future__ import annotations

import argparse
import asyncio
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import panel as pn
import pyvo
from timing import median_seconds

from connectors.query import SkyQuery, common_table
from esap_dash.config import ServiceConfig, load_profile
from esap_dash.pages.discovery import SHOWN, DiscoveryPage
from esap_dash.search import merge, search_archives

CENTRE = (83.633, 22.0145)
RADIUS = 3.0


def six_archives() -> list[ServiceConfig]:
    profile = load_profile("local")
    tap = profile.service("dachs-tap")
    return [*profile.by_role("archive"),
            replace(tap, id="ongc-tap", name="OpenNGC (TAP)",
                    options={**tap.options, "table": "ongc.main",
                             "columns": {"ra": "raj2000", "dec": "dej2000", "id": "name"}}),
            replace(tap, id="hip-tap", name="Hipparcos (TAP)",
                    options={**tap.options, "table": "hipparcos.main",
                             "columns": {"ra": "ra_icrs", "dec": "de_icrs", "id": "hip"}})]


def raw_calls(services: list[ServiceConfig], query: SkyQuery) -> dict[str, Callable[[], object]]:
    """The same six requests with plain pyvo (no connector)."""
    calls: dict[str, Callable[[], object]] = {}
    for svc in services:
        if svc.kind == "conesearch":
            scs = pyvo.dal.SCSService(svc.url)
            calls[svc.name] = lambda s=scs: s.search((query.ra, query.dec), query.radius,
                                                     verbosity=2).to_table()
        elif svc.kind == "sia2":
            sia = pyvo.dal.SIA2Service(svc.url, check_baseurl=False)
            calls[svc.name] = lambda s=sia: s.search(
                pos=(query.ra, query.dec, query.radius)).to_table()
        else:
            adql = svc.connector().sky_adql(query)
            tap = pyvo.dal.TAPService(svc.url)
            calls[svc.name] = lambda t=tap, q=adql: t.run_sync(q).to_table()
    return calls


def bench_fan_out(repeat: int) -> None:
    services = six_archives()
    query = SkyQuery(*CENTRE, RADIUS)
    connectors = {s.name: s.connector() for s in services}
    raw = raw_calls(services, query)

    async def ours() -> list[object]:
        return [r async for r in search_archives(connectors, query)]

    singles = {name: median_seconds(call, repeat) for name, call in raw.items()}
    slowest = max(singles.values())
    fan = median_seconds(lambda: asyncio.run(ours()), repeat)

    def raw_threads() -> None:
        with ThreadPoolExecutor(len(raw)) as pool:
            list(pool.map(lambda call: call(), raw.values()))

    threads = median_seconds(raw_threads, repeat)
    rows = sum(len(r.table) for r in asyncio.run(ours()))
    print(f"1. Fan-out over N={len(services)} archives, cone {RADIUS} deg, {rows} rows "
          f"({repeat} repeats, medians)")
    for name, seconds in singles.items():
        print(f"     raw pyvo {name:<28} {seconds * 1000:8.1f} ms")
    total = sum(singles.values())
    print(f"   slowest single raw call {slowest * 1000:8.1f} ms, sum {total * 1000:8.1f} ms; "
          f"esap-dash fan-out {fan * 1000:8.1f} ms")
    print(f"   ratio fan-out / slowest = {fan / slowest:.2f}  (goal <= 1.25); "
          f"fan-out / sum = {fan / total:.2f}")
    print(f"   the same six raw pyvo calls in six threads: {threads * 1000:.1f} ms, ratio to "
          f"slowest {threads / slowest:.2f}: the one DaCHS process serving five of the six "
          f"archives bounds the concurrency; esap-dash / raw threads = {fan / threads:.2f}")


def bench_overhead(repeat: int) -> None:
    profile = load_profile("local")
    svc = profile.service("hipparcos")
    page = DiscoveryPage(profile=replace(profile, services=(svc,), resolver={}),
                         target=f"{CENTRE[0]} {CENTRE[1]}", radius=RADIUS)
    scs = pyvo.dal.SCSService(svc.url)
    raw = median_seconds(lambda: scs.search(CENTRE, RADIUS, verbosity=2).to_table(), repeat)
    ours = median_seconds(lambda: asyncio.run(page.search()), repeat)
    print(f"2. Page search vs raw pyvo, one cone search ({len(page.merged)} rows): raw "
          f"{raw * 1000:.1f} ms, page {ours * 1000:.1f} ms (resolve, fan-out, mapping, merge, "
          f"table, history): ratio {ours / raw:.2f}, overhead {(ours - raw) * 1000:+.1f} ms "
          "(goal <= 1.1x + 50 ms)")


def bench_large_table(repeat: int) -> None:
    tap = load_profile("local").service("dachs-tap").connector()
    raw = tap.run_sync("SELECT TOP 100000 * FROM hipparcos.main", maxrec=100000)
    mapping = {"id": "hip", "title": "hip", "ra": "ra_icrs", "dec": "de_icrs"}
    build = median_seconds(lambda: merge_table(raw, mapping), max(1, repeat // 3))
    frame = merge_table(raw, mapping)[SHOWN].to_pandas()

    def first_page() -> None:
        pn.widgets.Tabulator(frame, pagination="remote", page_size=25).get_root()

    def all_rows() -> None:
        pn.widgets.Tabulator(frame, pagination=None).get_root()

    paged = median_seconds(first_page, repeat)
    full = median_seconds(all_rows, max(1, repeat // 3))
    print(f"3. {len(raw):,} rows: common columns + merge {build * 1000:.0f} ms; first page of "
          f"the remote-paginated table {paged * 1000:.0f} ms vs all rows in the browser "
          f"{full * 1000:.0f} ms (ratio {paged / full:.2f})")


def merge_table(raw, mapping):
    from esap_dash.search import ArchiveResult

    table = common_table(raw, "Hipparcos", mapping, query=SkyQuery(*CENTRE, RADIUS))
    return merge([ArchiveResult("Hipparcos", "done", table, 0.0)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    bench_fan_out(args.repeat)
    bench_overhead(args.repeat)
    bench_large_table(args.repeat)


if __name__ == "__main__":
    main()
