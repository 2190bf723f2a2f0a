"""Run a Rucio daemon of the stack: ``python -m esap_rucio_policy.daemon NAME [ARGS]``.

``NAME`` is the daemon's script without ``rucio-`` (``conveyor-poller``); the
stack's qBittorrent driver (:mod:`esap_rucio_policy.qbittorrent`) is registered
with Rucio's bittorrent transfer tool first.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

from . import qbittorrent  # noqa: F401  (registers the driver)


def main(argv: list[str]) -> None:
    """Run the daemon ``rucio-<argv[0]>`` of this environment with ``argv[1:]``."""
    script = Path(sys.executable).parent / f"rucio-{argv[0] if argv else ''}"
    if not argv or not script.is_file():
        sys.exit(f"usage: python -m esap_rucio_policy.daemon NAME [ARGS] (no {script})")
    sys.argv = [str(script), *argv[1:]]
    runpy.run_path(str(script), run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
