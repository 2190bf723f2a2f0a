"""DIRAC jobs through esap-dash against the same calls made to DiracX directly.

    .venv/bin/python benchmarks/bench_dirac.py [--jobs 20] [--repeat 5]

The stack's DiracX (``local`` profile, a fresh database of per-user records).
Two figures, each a ratio in the same run:

* submitting a job per data-lake file of a cart (two files): esap-dash's
  DIRAC job kind (the files listed in Rucio, the cart packed and stored as the
  input sandbox, the JDL made, submitted, its jobs confirmed and recorded)
  against posting the same JDL to DiracX and confirming its jobs, with a token
  already in hand;
* following ``--jobs`` DIRAC jobs in the one job list (``follow``: every job's
  live state, with the other kinds') against one DiracX search for those jobs.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from dataclasses import replace
from datetime import UTC, datetime

import requests
from astropy.table import Table
from timing import median_seconds

from esap_dash.core.actor import Actor
from esap_dash.core.cart import Cart
from esap_dash.core.config import load_profile
from esap_dash.work.jobs import follow, kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp()
    profile = replace(load_profile("local"), database=f"sqlite:///{tmp}/bench.db")
    Cart.open("bench", profile=profile).add_rows(
        Table({"archive": ["Rucio data lake"], "id": ["esap:crab_images"],
               "title": ["crab_images"], "product_type": ["dataset"]}), kind="did")
    actor = Actor(profile)
    kind = kinds()["dirac"]
    dirac = profile.service("dirac").connector()
    request = {"cart": "bench", "executable": "fitsinfo", "arguments": "%s",
               "per_item": True}
    first = kind.submit(actor, **request)
    jdl = actor.store.job(actor.user, first)["detail"]["jdl"]
    token = dirac._token()  # the raw client's token, in hand before timing
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}"}

    def raw_submit() -> None:
        made = session.post(f"{dirac.url}/api/jobs/jdl", json=[jdl], headers=headers,
                            timeout=30).json()
        now = datetime.now(UTC).isoformat()
        session.patch(f"{dirac.url}/api/jobs/status", headers=headers, timeout=30,
                      json={str(j["JobID"]): {now: {"Status": "Received"}} for j in made})

    ours = median_seconds(lambda: kind.submit(actor, **request), args.repeat)
    raw = median_seconds(raw_submit, args.repeat)
    print(f"submit a job per file (2 jobs): esap-dash {ours * 1e3:.0f} ms, raw DiracX "
          f"{raw * 1e3:.0f} ms: {ours / raw:.2f} x")

    while len(actor.store.jobs(actor.user, "dirac")) < args.jobs:
        kind.submit(actor, **request)
    refs = [int(r["ref"]) for r in actor.store.jobs(actor.user, "dirac")][:args.jobs]
    for record in actor.store.jobs(actor.user, "dirac")[args.jobs:]:
        actor.store.forget_job(actor.user, record["id"])
    body = {"parameters": ["JobID", "Status", "MinorStatus", "Site", "ApplicationStatus"],
            "search": [{"parameter": "JobID", "operator": "in", "values": refs}]}

    def raw_search() -> None:
        session.post(f"{dirac.url}/api/jobs/search", json=body, headers=headers,
                     timeout=30).raise_for_status()

    ours = median_seconds(lambda: asyncio.run(follow(actor, "dirac")), args.repeat)
    raw = median_seconds(raw_search, args.repeat)
    print(f"follow {len(refs)} DIRAC jobs: esap-dash {ours * 1e3:.0f} ms, one raw DiracX "
          f"search {raw * 1e3:.0f} ms: {ours / raw:.2f} x")


if __name__ == "__main__":
    main()
