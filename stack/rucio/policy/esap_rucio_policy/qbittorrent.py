"""The stack's qBittorrent driver for Rucio's bittorrent transfer tool.

Rucio 41's own driver (``qbittorrent``) reports a transfer DONE once its torrent
is complete at the destination and SUBMITTED in every other case: a qBittorrent
that is down or hung, a torrent gone or in error, a torrent no peer feeds any
more, all leave the transfer SUBMITTED and the rule REPLICATING for ever, and a
hung qBittorrent hangs the poller (its calls have no timeout).

This driver (``bittorrent_driver = esap-qbittorrent`` on an RSE) reports such a
transfer FAILED with the reason.  A qBittorrent that cannot be reached when a
transfer is handed over does not fail the submission (Rucio would keep only
"SUBMISSION_FAILED" of it): the destination's poll says what is wrong (it does
not answer; no peer sends data).  Rucio then retries it (three times), and
marks the lock and the rule STUCK with that reason once the retries are spent;
a STUCK rule is tried again by ``rucio-judge-repairer`` when its owner boosts
it (esap-dash's *Retry*).  The destination's copy of a failed torrent is
removed (its partial file stays) so that the retry starts from a fresh torrent.

It is registered with the transfer tool when this module is imported:
``python -m esap_rucio_policy.daemon`` does so before it runs a daemon.
"""

from __future__ import annotations

import logging
import time
from typing import Any, ClassVar

import qbittorrentapi
from rucio.common.config import config_get_int
from rucio.db.sqla.constants import RequestState
from rucio.transfertool import bittorrent
from rucio.transfertool.bittorrent_driver_qbittorrent import (
    QBittorrentDriver,
    QBittorrentTransferStatusReport,
)

#: The RSE attribute ``bittorrent_driver`` that selects this driver.
NAME = "esap-qbittorrent"
#: Seconds to connect to and to hear from a qBittorrent's Web API.
TIMEOUT = (3.05, 10)
#: States of a torrent that will not finish by themselves.
BROKEN = {"error": "is in error", "missingFiles": "has lost its files"}
#: States of a torrent that waits for data from its peers.
WAITING = {"downloading", "stalledDL", "metaDL", "forcedDL"}


def _why(exc: Exception) -> str:
    """A connection error in a few words."""
    text = str(exc)
    for needle, words in (("refused", "connection refused"), ("timed out", "no answer in time"),
                          ("Name or service", "unknown host")):
        if needle in text:
            return words
    return type(exc).__name__


def stall_seconds() -> int:
    """Seconds without a byte from any peer after which a transfer has failed
    (``[conveyor] bittorrent_stall_seconds``; 60 by default)."""
    return config_get_int("conveyor", "bittorrent_stall_seconds", raise_exception=False,
                          default=60)


class Report(QBittorrentTransferStatusReport):
    """Rucio's qBittorrent report, which can also say FAILED, with the reason."""

    supported_db_fields: ClassVar[list[str]] = ["state", "external_id", "err_msg"]

    def __init__(self, request_id: str, external_id: str,
                 info: qbittorrentapi.TorrentDictionary | None, reason: str = "") -> None:
        super().__init__(request_id, external_id, info)
        self.err_msg = None
        if reason:
            self.state = RequestState.FAILED
            self.external_id = external_id
            self.err_msg = reason[:250]


class Driver(QBittorrentDriver):
    """:class:`QBittorrentDriver` with timeouts, and failures said."""

    external_name = NAME

    def __init__(self, address: str, username: str, password: str,
                 token: str | None = None, logger: Any = logging.log) -> None:
        super().__init__(address, username, password, token, logger)
        self.client = qbittorrentapi.Client(
            host=address, username=username, password=password,
            EXTRA_HEADERS={"Authorization": "Bearer " + token} if token else None,
            FORCE_SCHEME_FROM_HOST=True, REQUESTS_ARGS={"timeout": TIMEOUT})

    def listen_addr(self) -> tuple[str, int] | None:  # type: ignore[override]
        """This qBittorrent's peer address; None when it does not answer."""
        try:
            return super().listen_addr()
        except qbittorrentapi.APIError as exc:
            self.logger(logging.WARNING, f"{self.client.host} did not answer ({_why(exc)})")
            return None

    def add_peers(self, torrent_id: str, peers: Any) -> None:
        """Tell this qBittorrent where the other ends are (those that answered)."""
        try:
            super().add_peers(torrent_id, [p for p in peers if p is not None])
        except qbittorrentapi.APIError as exc:
            self.logger(logging.WARNING, f"{self.client.host} did not answer ({_why(exc)})")

    def add_torrent(self, file_name: str, file_content: bytes, download_location: str,
                    seed_mode: bool = False) -> None:
        """Hand a torrent to this qBittorrent; if it does not answer, the
        destination's poll finds out (and says why)."""
        try:
            super().add_torrent(file_name, file_content, download_location, seed_mode)
        except qbittorrentapi.APIError as exc:
            self.logger(logging.WARNING, f"{self.client.host} did not answer ({_why(exc)})")

    def get_status(self, request_id: str, torrent_id: str) -> Report:
        """The transfer's state at its destination; FAILED, with the reason, when
        its qBittorrent does not answer, or its torrent is gone, broken or starved."""
        where = f"qBittorrent at {self.client.host}"
        try:
            found = self.client.torrents_info(torrent_hashes=[torrent_id])
        except qbittorrentapi.APIError as exc:
            return Report(request_id, torrent_id, None, f"{where} did not answer ({_why(exc)})")
        if not found:
            return Report(request_id, torrent_id, None,
                          f"the torrent is not in {where} any more")
        info = found[0]
        reason = ""
        if info.state in BROKEN:
            reason = f"the torrent {BROKEN[info.state]} in {where}"
        elif info.state in WAITING:
            idle = time.time() - max(info.last_activity or 0, info.added_on or 0)
            if idle > stall_seconds():
                reason = (f"no peer has sent data to {where} for {idle:.0f} s "
                          f"({info.progress:.0%} done); is the source's qBittorrent down?")
        if reason:
            try:
                self.client.torrents_delete(delete_files=False, torrent_hashes=[torrent_id])
            except qbittorrentapi.APIError as exc:
                self.logger(logging.WARNING, f"could not remove a failed torrent: {exc}")
        return Report(request_id, torrent_id, info, reason)


bittorrent.DRIVER_CLASSES_BY_NAME[NAME] = Driver
