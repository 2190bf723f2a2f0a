"""Run a Rucio daemon of the stack: ``python -m esap_rucio_policy.daemon NAME [ARGS]``.

``NAME`` is the daemon's script without ``rucio-`` (``conveyor-poller``); the
stack's qBittorrent driver (:mod:`esap_rucio_policy.qbittorrent`) is registered
with Rucio's bittorrent transfer tool first.

The daemon runs in a child process that is started again 5 s after it ends:
Rucio's daemons end when their database goes away for a moment (a restarted
PostgreSQL: the heartbeat's query fails and the daemon exits), and a rule
would otherwise wait for someone to start them again.  SIGTERM stops the child,
then this process.

The poller looks again at a transfer it has polled after ``[conveyor]
poll_again_seconds`` (5 by default).  Rucio's own poller waits 600 s (the
``processed_at_delay`` of ``get_and_mark_next``, which no option sets): a
transfer not done at its first poll, a few seconds after it was handed over,
waited ten minutes more to be seen done.
"""

from __future__ import annotations

import functools
import runpy
import signal
import subprocess
import sys
import time
from pathlib import Path

from . import qbittorrent  # noqa: F401  (registers the driver)


def _poll_again_after(seconds: int) -> None:
    """Let the poller look again at a transfer ``seconds`` after its last poll."""
    from rucio.core import request

    request.get_and_mark_next = functools.partial(request.get_and_mark_next,
                                                  processed_at_delay=seconds)


def supervise(argv: list[str]) -> None:
    """Run :func:`main` on ``argv`` in a child process, again 5 s after each end, until
    SIGTERM (or SIGINT), which is passed on to the child."""
    child: subprocess.Popen[bytes] | None = None

    def stop(signum: int, frame: object) -> None:
        if child is not None and child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=25)
            except subprocess.TimeoutExpired:
                child.kill()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        child = subprocess.Popen([sys.executable, "-m", "esap_rucio_policy.daemon",
                                  "--child", *argv])
        code = child.wait()
        print(f"esap_rucio_policy.daemon: rucio-{argv[0] if argv else '?'} ended "
              f"(exit {code}); started again in 5 s", file=sys.stderr, flush=True)
        time.sleep(5)


def main(argv: list[str]) -> None:
    """Run the daemon ``rucio-<argv[0]>`` of this environment with ``argv[1:]``."""
    script = Path(sys.executable).parent / f"rucio-{argv[0] if argv else ''}"
    if not argv or not script.is_file():
        sys.exit(f"usage: python -m esap_rucio_policy.daemon NAME [ARGS] (no {script})")
    if argv[0] == "conveyor-poller":
        from rucio.common.config import config_get_int

        _poll_again_after(config_get_int("conveyor", "poll_again_seconds",
                                         raise_exception=False, default=5))
    sys.argv = [str(script), *argv[1:]]
    runpy.run_path(str(script), run_name="__main__")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        main(sys.argv[2:])
    else:
        supervise(sys.argv[1:])
