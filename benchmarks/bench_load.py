"""The HTTP API under load: many users at once, one server worker against two.

    .venv/bin/python benchmarks/bench_load.py [--users 20] [--seconds 60] [--items 2000]

A real server (``esap-dash serve``, ``local`` profile, fresh database; the API
answers loopback calls without a token), first with one worker, then with two
behind the proxy (same machine, same run).  Each simulated user, as a locust
user would, loops over a mix of calls with no pause: its jobs (50 finished ones,
recorded), its carts, a page of 100 items of a cart of ``--items`` items, the
history of its searches, and every fifth call a search of every archive around
one of four targets.  Reported per call and per worker count: calls, p50 and p95
latency, errors (any answer other than 2xx, or no answer in 120 s); and the
throughput ratio of two workers against one.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import threading
import time
import warnings
from collections import Counter, defaultdict
from pathlib import Path

import requests
from bench_nowait import fill
from bench_soak import pct, served

from esap_dash.core.config import load_profile
from esap_dash.core.store import store_for

TARGETS = ["M 1", "M 45", "M 42", "M 13"]
USER = "local"  # the loopback caller of the API without a token


def calls(root: str) -> list[tuple[str, str, str, dict]]:
    """The mix one user loops over: (name, method, url, request keywords)."""
    return [("GET /jobs", "GET", f"{root}/jobs", {}),
            ("GET /carts", "GET", f"{root}/carts", {}),
            ("GET cart items", "GET", f"{root}/carts/a big cart/items", {"params": {"limit": 100}}),
            ("GET /searches", "GET", f"{root}/searches", {"params": {"limit": 20}}),
            ("POST /searches", "POST", f"{root}/searches", {})]  # the target: see load()


def load(url: str, users: int, seconds: float) -> tuple[dict[str, list[float]], Counter[str],
                                                        float]:
    """``users`` threads calling the mix for ``seconds``: latencies by call, errors,
    and calls per second."""
    root = url.rstrip("/") + "/api/v1"
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: Counter[str] = Counter()
    lock = threading.Lock()
    end = time.monotonic() + seconds
    targets = itertools.cycle(TARGETS)

    def user() -> None:
        http = requests.Session()
        for name, method, address, kwargs in itertools.cycle(calls(root)):
            if time.monotonic() > end:
                return
            if name == "POST /searches":
                kwargs = {"json": {"target": next(targets), "radius": 0.5}}
            start = time.perf_counter()
            try:
                answer = http.request(method, address, timeout=120, **kwargs)
                error = None if answer.ok else f"{name} {answer.status_code}"
            except requests.RequestException as exc:
                error = f"{name} {type(exc).__name__}"
            took = time.perf_counter() - start
            with lock:
                latencies[name].append(took)
                if error:
                    errors[error] += 1

    threads = [threading.Thread(target=user) for _ in range(users)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - start
    return latencies, errors, sum(map(len, latencies.values())) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--items", type=int, default=2000)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    throughput = {}
    for workers in (1, 2):
        workdir = Path(tempfile.mkdtemp(prefix="esap-load-"))
        database = f"sqlite:///{workdir}/load.db"
        profile = load_profile("local", overrides={"deployment.database": database})
        fill(profile, args.items)
        store = store_for(database)
        for n in range(50):  # finished jobs: listed from their records
            store.add_job(USER, "dask", "local processes", f"run-{n}",
                          {"state": "COMPLETED", "done": 1, "total": 1, "title": "Cross-match",
                           "cart": "a big cart", "inputs": 1, "engine": "local processes",
                           "ended": "2026-01-01T00:00:00+00:00"})
        # The simulated users are one identity (the loopback caller): its cap of
        # calls a minute is lifted, or the load would measure the cap.
        with served("local", database, workdir, workers=workers,
                    env={"ESAP_DASH__API__RATE_PER_MINUTE": "10000000"}) as (url, _):
            load(url, 2, 5)  # warm-up: caches of the services and the resolver
            listed = len(requests.get(f"{url}api/v1/jobs", timeout=120).json()["jobs"])
            latencies, errors, rate = load(url, args.users, args.seconds)
        throughput[workers] = rate
        print(f"{workers} worker(s), {args.users} users for {args.seconds:g} s: "
              f"{rate:.1f} calls/s, errors {sum(errors.values())} {dict(errors)} "
              f"({listed} jobs listed)")
        for name, times in sorted(latencies.items()):
            print(f"  {name:15s} {len(times):5d} calls  p50 {pct(times, 50):.3f} s  "
                  f"p95 {pct(times, 95):.3f} s")
    print(f"throughput, two workers / one: {throughput[2] / throughput[1]:.2f}")


if __name__ == "__main__":
    main()
