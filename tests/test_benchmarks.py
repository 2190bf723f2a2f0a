"""Every benchmark of ``benchmarks/`` runs to its end on the local stack (a smoke run,
with small sizes: what it measures is not judged here)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from esap_dash.core.config import PROJECT_ROOT

SMALL = {
    "bench_api.py": ["--items", "1000", "--repeat", "1"],
    "bench_cart.py": ["--items", "1000"],
    "bench_connectors.py": ["--repeat", "1"],
    "bench_crossmatch.py": ["--positions", "200"],
    "bench_dirac.py": ["--jobs", "2", "--repeat", "1"],
    "bench_hub.py": ["--repeat", "1", "--facility", "local"],
    "bench_load.py": ["--users", "2", "--seconds", "3", "--items", "200"],
    "bench_lake.py": ["--mib", "2", "--files", "2", "--file-mib", "1"],
    "bench_discovery.py": ["--repeat", "1"],
    "bench_nowait.py": ["--items", "2000", "--rounds", "1"],
    "bench_pages.py": ["--repeat", "1"],
    "bench_session.py": ["--sessions", "2", "--settle", "2", "--idle", "2"],
    "bench_sky.py": ["--points", "10000", "--big", "20000", "--catalogue", "hipparcos",
                     "--repeat", "1"],
    "bench_soak.py": ["--users", "2", "--seconds", "5", "--single-rounds", "1", "--waves", "1",
                      "--workers", "1", "--settle", "2"],
}


def test_every_benchmark_has_a_smoke_run() -> None:
    assert set(SMALL) == {p.name for p in (PROJECT_ROOT / "benchmarks").glob("bench_*.py")}


@pytest.mark.parametrize("bench", sorted(SMALL))
def test_a_benchmark_runs_to_its_end(local_stack, bench: str) -> None:
    run = subprocess.run([sys.executable, str(PROJECT_ROOT / "benchmarks" / bench),
                          *SMALL[bench]], capture_output=True, text=True, timeout=900,
                         cwd=PROJECT_ROOT)
    assert run.returncode == 0, (run.stdout[-3000:], run.stderr[-3000:])
    assert "Traceback" not in run.stderr
