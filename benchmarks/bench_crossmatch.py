"""Cross-match on the Dask Gateway vs STILTS ``tmatch2`` vs astropy, same inputs, same run.

    .venv/bin/python benchmarks/bench_crossmatch.py [--positions 10000] [--radius 1.0]

Inputs: N positions (Hipparcos-2 stars moved by ~0.5 arcsec, and a third as
many random sky positions) against the whole of Hipparcos-2 (117,955 stars)
served by the local DaCHS TAP service.

- esap-dash: the ``crossmatch`` workflow on a fresh cluster of two one-core
  workers on each gateway of the profile (``local``: local processes, and
  Slurm jobs of the user); "cold" includes reading the reference over TAP on a
  worker, "warm" are five more runs (the cluster keeps the reference it read, and
  each run's tasks use it wherever they land).  With
  ``--scaling``, the cold run again on 1, 2 and 4 Slurm workers (the node has
  2 CPUs shared by up to 4 jobs: 4 workers are over-subscribed).
- STILTS ``tmatch2 matcher=sky find=best1`` (Debian package ``stilts``),
  reading the positions from a VOTable file and the reference once from the
  same TAP service (as the workers do) and once from a local file.
- astropy ``match_to_catalog_sky`` in this process, reference in memory.
- esap-dash matching in the archive: the positions uploaded to the TAP
  service (an async job) and joined with Hipparcos-2 there.

The match sets (position, reference star) are compared.  Also reported, per
gateway: the time from "start cluster" to the first worker.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import Table

from esap_dash.core.config import load_profile
from esap_dash.work.workflows import GatewayEngine, Run, load_workflows


def inputs(hip: Table, n: int) -> Table:
    rng = np.random.default_rng(2026)
    pick = rng.choice(len(hip), n - n // 4, replace=False)
    ra = np.concatenate([np.asarray(hip["ra"])[pick] + rng.normal(0, 1.5e-4, len(pick)),
                         rng.uniform(0, 360, n // 4)])
    dec = np.concatenate([np.asarray(hip["dec"])[pick],
                          np.degrees(np.arcsin(rng.uniform(-1, 1, n // 4)))])
    return Table({"item_id": [f"p{i}" for i in range(n)], "ra": ra, "dec": dec,
                  "archive": ["bench"] * n, "title": [""] * n, "kind": ["row"] * n})


def stilts(positions: Path, reference: str, radius: float, out: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["stilts", "tmatch2", f"in1={positions}", "ifmt1=votable",
                    f"in2={reference}", "ifmt2=votable", "matcher=sky",
                    "values1=ra dec", "values2=ra_icrs de_icrs", f"params={radius}",
                    "find=best1", "join=1and2", f"out={out}", "ofmt=votable"],
                   check=True, capture_output=True)
    return time.perf_counter() - start


def on_gateway(gateway: Any, flow: Any, items: Table, profile: Any, radius: float, *,
               workers: int, runs: int) -> tuple[float, list[float], set[tuple[str, str]]]:
    """A fresh cluster of ``workers`` one-core workers on ``gateway``: the seconds from
    asking to the first worker, each run's seconds, and the match set."""
    asked = time.perf_counter()
    name = gateway.start_cluster(worker_cores=1, worker_memory=1.0)
    try:
        while gateway.cluster(name)["status"] != "RUNNING":
            time.sleep(0.1)
        gateway.scale(name, workers)
        while not gateway.task_counts(name).get("workers"):
            time.sleep(0.1)
        first_worker = time.perf_counter() - asked
        client = GatewayEngine(gateway, name).client()
        try:
            client.wait_for_workers(workers, timeout=120)
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                result = flow.func(items, Run(client, profile), radius_arcsec=radius,
                                   chunk_size=max(100, len(items) // 8)).table
                times.append(time.perf_counter() - start)
        finally:
            client.close()
    finally:
        gateway.stop_cluster(name)
    pairs = set(zip(result["item_id"], np.asarray(result["ref_id"]).astype(str), strict=True))
    return first_worker, times, pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--positions", type=int, default=10_000)
    parser.add_argument("--radius", type=float, default=1.0, help="arcsec")
    parser.add_argument("--scaling", action="store_true",
                        help="also 1, 2 and 4 workers on the Slurm-backed gateway")
    args = parser.parse_args()
    profile = load_profile("local")
    tap = profile.service("dachs-tap").connector()
    hip = tap.positions("hipparcos.main", "ra_icrs", "de_icrs", "hip")
    items = inputs(hip, args.positions)
    flow = load_workflows()[0]["crossmatch"]
    engines = {}
    for svc in profile.by_role("gateway"):
        engines[svc.placement.get("engine", svc.id)] = on_gateway(
            svc.connector(), flow, items, profile, args.radius, workers=2, runs=6)
    scaling = {}
    if args.scaling:
        slurm = next(s for s in profile.by_role("gateway") if s.placement.get("engine") == "slurm")
        for workers in (1, 2, 4):
            scaling[workers] = on_gateway(slurm.connector(), flow, items, profile, args.radius,
                                          workers=workers, runs=1)
    first_worker, times, ours = next(iter(engines.values()))
    start = time.perf_counter()
    uploaded = flow.func(items, Run(None, profile), radius_arcsec=args.radius,
                         match_on="archive").table
    archive_s = time.perf_counter() - start
    in_archive = set(zip(uploaded["item_id"], np.asarray(uploaded["ref_id"]).astype(str),
                         strict=True))

    with tempfile.TemporaryDirectory() as tmp:
        positions = Path(tmp, "positions.xml")
        items["item_id", "ra", "dec"].write(positions, format="votable")
        adql = "SELECT hip, ra_icrs, de_icrs FROM hipparcos.main"
        sync = tap.url + "/sync?" + urllib.parse.urlencode(
            {"REQUEST": "doQuery", "LANG": "ADQL", "QUERY": adql, "MAXREC": 2_000_000})
        local_ref = Path(tmp, "hipparcos.xml")
        subprocess.run(["stilts", "tcopy", f"in={sync}", "ifmt=votable", f"out={local_ref}",
                        "ofmt=votable"], check=True, capture_output=True)
        out = Path(tmp, "matched.xml")
        stilts_tap = stilts(positions, sync, args.radius, out)
        stilts_file = stilts(positions, local_ref, args.radius, out)
        matched = Table.read(out, format="votable")
    theirs = set(zip(np.asarray(matched["item_id"]).astype(str),
                     np.asarray(matched["hip"]).astype(str), strict=True))

    start = time.perf_counter()
    ref = SkyCoord(np.asarray(hip["ra"]), np.asarray(hip["dec"]), unit="deg")
    nearest, sep, _ = SkyCoord(items["ra"], items["dec"], unit="deg").match_to_catalog_sky(ref)
    astropy_s = time.perf_counter() - start
    hit = sep.arcsec <= args.radius
    plain = set(zip(np.asarray(items["item_id"])[hit],
                    np.asarray(hip["id"]).astype(str)[nearest[hit]], strict=True))

    print(f"{args.positions} positions vs {len(hip)} Hipparcos-2 stars, radius "
          f"{args.radius} arcsec, clusters of 2 one-core workers")
    local_first = first_worker
    for engine, (first, runs, pairs) in engines.items():
        print(f"  [{engine}] first worker after start cluster: {first:.1f} s"
              f" ({first / local_first:.2f} x the first gateway's)")
        print(f"  [{engine}] esap-dash cold (workers read the reference by TAP): {runs[0]:.2f} s"
              f" ({runs[0] / stilts_tap:.2f} x STILTS by TAP); warm ({len(runs) - 1} runs): "
              f"median {np.median(runs[1:]):.2f} s, slowest {max(runs[1:]):.2f} s "
              f"({max(runs[1:]) / runs[0]:.2f} x cold); same pairs as the first gateway: "
              f"{pairs == ours}")
    for workers, (_, runs, pairs) in scaling.items():
        print(f"  [slurm, {workers} worker(s)] cold {runs[0]:.2f} s "
              f"({runs[0] / stilts_tap:.2f} x STILTS by TAP); same pairs: {pairs == ours}")
    print(f"  STILTS tmatch2, reference by TAP:                   {stilts_tap:.2f} s")
    print(f"  STILTS tmatch2, reference from a local file:        {stilts_file:.2f} s")
    print(f"  astropy match_to_catalog_sky, in memory:            {astropy_s:.2f} s")
    print(f"  esap-dash in the archive (TAP upload, async job):   {archive_s:.2f} s; "
          f"ratio / STILTS (TAP) {archive_s / stilts_tap:.2f}; same pairs as the workers: "
          f"{in_archive == ours}")
    print(f"  ratio cold / STILTS (TAP):  {times[0] / stilts_tap:.2f}")
    print(f"  ratio warm / STILTS (file): {times[1] / stilts_file:.2f}")
    print(f"  matches: esap-dash {len(ours)}, STILTS {len(theirs)}, astropy {len(plain)}; "
          f"identical: {ours == theirs == plain}")
    if not ours == theirs == plain:
        print(f"  only esap-dash: {sorted(ours - theirs)[:5]}, "
              f"only STILTS: {sorted(theirs - ours)[:5]}")


if __name__ == "__main__":
    main()
