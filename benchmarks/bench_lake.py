"""Replication in the data lake against copying the same bytes with ``cp``; a
notebook's download through esap-dash against Rucio's own download client.

    .venv/bin/python benchmarks/bench_lake.py [--mib 200] [--files 20] [--file-mib 10]

The stack's Rucio (``local`` profile, account ``root``): random bytes are
uploaded to ``LOCAL_A`` in the scope ``user.root``, then a
replication rule asks for them at ``LOCAL_B`` and the time until Rucio says
OK is taken — the conveyor submits each file to LOCAL_B's qBittorrent, which
fetches it from LOCAL_A's, the poller and finisher mark it done.  The
baseline, in the same run, is ``cp`` of the same files to the same disk.  Two
cases: one file of ``--mib`` MiB, and a dataset of ``--files`` files of
``--file-mib`` MiB.  The difference is the transfer tool's own overhead
(submission, BitTorrent's hashing and the daemons' polling).

Then the same files are fetched as a notebook fetches them, through a served
esap-dash (``Client.download``: ``GET /api/v1/lake/content``, each checked
against its Adler-32), against Rucio's ``DownloadClient`` (what ``rucio
download`` runs; it checks the checksums too) reading the same replicas.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench_soak import served

from esap_dash.client import Client
from esap_dash.core.config import load_profile


def _files(folder: Path, stem: str, count: int, mib: int) -> list[Path]:
    paths = []
    for i in range(count):
        path = folder / f"{stem}-{i:02d}.bin"
        with path.open("wb") as out:
            for _ in range(mib):
                out.write(os.urandom(1 << 20))
        paths.append(path)
    return paths


def _cp(paths: list[Path], dest: Path) -> float:
    dest.mkdir()
    start = time.perf_counter()
    subprocess.run(["cp", *map(str, paths), str(dest)], check=True)
    os.sync()
    return time.perf_counter() - start


def _replicate(lake, dids: list[str], container: str | None) -> float:
    """Seconds from asking for a rule at LOCAL_B until Rucio says OK."""
    scope, _, name = (container or dids[0]).partition(":")
    start = time.perf_counter()
    rule = lake.add_rule(scope, name, "LOCAL_B", comment="bench_lake")
    while (info := lake.rule(rule))["state"] == "REPLICATING":
        time.sleep(0.2)
    seconds = time.perf_counter() - start
    if info["state"] != "OK":
        raise SystemExit(f"rule {rule} ended {info['state']}: {info['error']}")
    return seconds


def case(lake, label: str, count: int, mib: int, work: Path) -> str:
    """Upload ``count`` files of ``mib`` MiB and replicate them; the data identifier."""
    stem = f"bench-{int(time.time())}-{label}"
    paths = _files(work, stem, count, mib)
    copy = _cp(paths, work / f"{stem}-copy")
    dids = [lake.upload(p, "LOCAL_A")["did"] for p in paths]
    container = None
    if count > 1:
        container = f"user.{lake.account}:{stem}"
        lake.client.add_dataset(f"user.{lake.account}", stem)
        lake.client.attach_dids(f"user.{lake.account}", stem,
                                [{"scope": d.partition(":")[0], "name": d.partition(":")[2]}
                                 for d in dids])
    rule = _replicate(lake, dids, container)
    total = count * mib
    print(f"{label}: {count} × {mib} MiB ({total} MiB): rule to OK {rule:.1f} s "
          f"({total / rule:.1f} MiB/s) vs cp {copy:.2f} s: the transfer tool's overhead "
          f"{rule - copy:.1f} s, ratio {rule / copy:.1f}")
    return container or dids[0]


def _download(lake, url: str, did: str, work: Path, label: str, total: int) -> None:
    """Seconds to fetch ``did`` through esap-dash, and with Rucio's download client."""
    from rucio.client.downloadclient import DownloadClient

    start = time.perf_counter()
    Client(url).download(did, work / f"{label}-esap-dash")
    ours = time.perf_counter() - start
    start = time.perf_counter()
    DownloadClient(client=lake.client, logger=logging.getLogger("rucio-download")).download_dids(
        [{"did": did, "base_dir": str(work / f"{label}-rucio"), "force_scheme": "file"}])
    theirs = time.perf_counter() - start
    print(f"{label}: download of {total} MiB through esap-dash {ours:.2f} s "
          f"({total / ours:.0f} MiB/s) vs Rucio's download client {theirs:.2f} s "
          f"({total / theirs:.0f} MiB/s): ratio {ours / theirs:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=200)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--file-mib", type=int, default=10)
    args = parser.parse_args()
    service = load_profile("local").service("rucio")
    lake = service.connector(timeout=120)
    work = Path(tempfile.mkdtemp(prefix="bench-lake-", dir=Path(__file__).parent.parent / "var"))
    # Rucio's download client reads a rucio.cfg, as a user has one.
    config = work / "rucio.cfg"
    config.write_text(f"[common]\n[client]\nrucio_host = {service.url}\nauth_host = "
                      f"{service.url}\nauth_type = userpass\naccount = "
                      f"{service.options['account']}\nusername = {service.options['username']}"
                      f"\npassword = {service.options['password']}\n")
    config.chmod(0o600)
    os.environ["RUCIO_CONFIG"] = str(config)
    try:
        cases = {"one-file": (case(lake, "one-file", 1, args.mib, work), args.mib),
                 "dataset": (case(lake, "dataset", args.files, args.file_mib, work),
                             args.files * args.file_mib)}
        database = f"sqlite:///{work}/lake.db"
        with served("local", database, work) as (url, _):
            for label, (did, total) in cases.items():
                _download(lake, url, did, work, label, total)
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
