"""The HTTP API against the same work done in-process, and VOTable against JSON.

    .venv/bin/python benchmarks/bench_api.py [--items 100000] [--repeat 5]

A real server (``esap-dash serve``, ``local`` profile, fresh database; its API
answers loopback calls without a token).  Three figures, each a ratio in the
same run:

* a search of every archive (four targets) through ``POST /api/v1/searches``
  (resolve, fan out, merge, keep the rows) against the same model code run
  in this process (``SearchResults.run``), and against raw pyvo calls of the
  same services one after the other;
* a cart of ``--items`` items read whole with the client
  (``RemoteCart.to_table``: pages of 1,000 as VOTables) against
  ``Cart.to_table`` on the database;
* the bytes of one page of 1,000 items as JSON against the same page as a
  VOTable (ESAP's JSON was 17 times its VOTable).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import warnings
from pathlib import Path

import pyvo
import requests
from bench_nowait import fill
from bench_soak import served
from timing import median_seconds

from connectors.query import SkyQuery
from esap_dash.core.actor import Actor
from esap_dash.core.cart import Cart
from esap_dash.core.config import load_profile
from esap_dash.core.search import SearchResults, sky_archives
from esap_dash.http.client import Client

TARGETS = ["M 1", "M 45", "M 42", "M 13"]
RADIUS = 0.5


def in_process(profile, target: str) -> int:
    """The Discovery page's search of every archive, in this process; rows found."""
    sky = sky_archives(profile)
    position = Actor(profile).resolver().resolve(target)
    query = SkyQuery(ra=position.ra, dec=position.dec, radius=RADIUS, target=target)
    results = SearchResults(sky)

    async def run() -> None:
        async for _ in results.run({n: s.connector() for n, s in sky.items()}, query):
            pass

    asyncio.run(run())
    return len(results.merged)


def raw_pyvo(profile, target: str) -> int:
    """The same services asked with pyvo, one after the other; rows found."""
    position = Actor(profile).resolver().resolve(target)
    rows = 0
    for service in sky_archives(profile).values():
        if service.kind == "tap":
            table = service.options.get("table", "ivoa.obscore")
            rows += len(pyvo.dal.TAPService(service.url).run_sync(
                f"SELECT * FROM {table} WHERE 1=CONTAINS(POINT('ICRS', s_ra, s_dec), "
                f"CIRCLE('ICRS', {position.ra}, {position.dec}, {RADIUS}))"))
        elif service.kind == "conesearch":
            rows += len(pyvo.dal.SCSService(service.url).search(
                (position.ra, position.dec), RADIUS))
        elif service.kind == "sia2":
            rows += len(pyvo.dal.SIA2Service(service.url, check_baseurl=False).search(
                pos=(position.ra, position.dec, RADIUS)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    workdir = Path(tempfile.mkdtemp(prefix="esap-api-"))
    database = f"sqlite:///{workdir}/api.db"
    profile = load_profile("local", overrides={"deployment.database": database})
    fill(profile, args.items)
    cart = Cart.open("a big cart", profile=profile)
    with served("local", database, workdir) as (url, _):
        api = Client(url)
        for target in TARGETS:  # warm-up: caches of the services and the resolver
            api.search(target, radius=RADIUS)
            in_process(profile, target)

        def each(call) -> float:
            return statistics.median(median_seconds(lambda t=t: call(t), args.repeat)
                                     for t in TARGETS)

        through_api = each(lambda t: api.search(t, radius=RADIUS))
        here = each(lambda t: in_process(profile, t))
        pyvo_alone = each(lambda t: raw_pyvo(profile, t))
        print(f"search of every archive: API {through_api:.3f} s, in-process "
              f"{here:.3f} s, raw pyvo one by one {pyvo_alone:.3f} s; API / in-process "
              f"{through_api / here:.2f}, API / raw pyvo {through_api / pyvo_alone:.2f}")

        remote = api.cart("a big cart", create=False)
        read, local = len(remote.to_table()), len(cart.to_table())  # warm-up
        # one read each is noise on two busy cores: the median of --repeat reads
        client_seconds = median_seconds(remote.to_table, args.repeat)
        db_seconds = median_seconds(cart.to_table, args.repeat)
        print(f"whole cart of {read:,} items: client {client_seconds:.2f} s, database "
              f"{db_seconds:.2f} s ({local:,} items); ratio {client_seconds / db_seconds:.2f} "
              f"(median of {args.repeat})")

        page = f"{url}api/v1/carts/a big cart/items"
        as_json = requests.get(page, params={"limit": 1000}, timeout=120).content
        as_votable = requests.get(page, params={"limit": 1000, "format": "votable"},
                                  timeout=120).content
        print(f"a page of 1,000 items: JSON {len(as_json):,} bytes, VOTable "
              f"{len(as_votable):,} bytes (with each item's record and provenance); "
              f"JSON / VOTable {len(as_json) / len(as_votable):.2f}")


if __name__ == "__main__":
    main()
