"""Replication in the data lake against copying the same bytes with ``cp``.

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
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

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


def case(lake, label: str, count: int, mib: int, work: Path) -> None:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=200)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--file-mib", type=int, default=10)
    args = parser.parse_args()
    lake = load_profile("local").service("rucio").connector(timeout=120)
    work = Path(tempfile.mkdtemp(prefix="bench-lake-", dir=Path(__file__).parent.parent / "var"))
    try:
        case(lake, "one-file", 1, args.mib, work)
        case(lake, "dataset", args.files, args.file_mib, work)
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
