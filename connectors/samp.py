"""SAMP: send tables to TOPCAT or Aladin through a hub, and receive tables from them.

Uses pyvo.samp (astropy.samp moved there).  The dashboard registers as a
SAMP client of the hub named by the standard profile (``SAMP_HUB`` or
``~/.samp``) or of a hub given explicitly.  Tables travel as VOTable files
referenced by URL, as ``table.load.votable`` asks.

A table is never sent to another esap-dash client of the same hub (another
user's session); a table a client names is fetched only from the addresses
the link allows (by default public http(s) addresses, never the server's
own files or loopback), with a size and a time limit.
"""

from __future__ import annotations

import tempfile
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from astropy.table import Table

from .exceptions import ConnectorError, FormatError, ServiceUnavailableError
from .http import download

__all__ = ["SampLink"]

MTYPE = "table.load.votable"
#: Metadata key that marks the dashboard's own SAMP clients.
MARK = "esap-dash.session"


class SampLink:
    """The dashboard's connection to a SAMP hub.

    Parameters
    ----------
    name : str
        How the dashboard appears in the hub's client list.
    hub : object, optional
        A running ``pyvo.samp.SAMPHubServer``; by default the hub of the
        standard-profile lockfile.
    timeout : float
        Seconds to wait for a recipient's reply, and for a table to download.
    local_urls : bool
        Accept tables from ``file://`` and loopback or private addresses
        (only where the server runs on the user's own desktop).
    max_bytes : int
        Largest table received.
    max_rows : int
        Most rows received.
    """

    def __init__(self, name: str = "esap-dash", *, hub: Any = None, timeout: float = 10,
                 local_urls: bool = False, max_bytes: int = 20 * 2**20,
                 max_rows: int = 100_000) -> None:
        from pyvo.samp import SAMPIntegratedClient

        self.name, self.timeout = name, timeout
        self.local_urls, self.max_bytes, self.max_rows = local_urls, max_bytes, max_rows
        self._client = SAMPIntegratedClient(
            name=name, description="esap-dash cart", metadata={MARK: uuid.uuid4().hex})
        self._hub = hub
        self._dir = Path(tempfile.mkdtemp(prefix="esap-dash-samp-"))

    def connect(self) -> SampLink:
        """Register with the hub.

        Raises
        ------
        ServiceUnavailableError
            No hub is running (start TOPCAT, Aladin or a standalone hub).
        """
        from pyvo.samp import SAMPHubError

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._client.connect(hub=self._hub)
        except SAMPHubError as exc:
            raise ServiceUnavailableError(
                f"no SAMP hub to talk to ({exc}); start TOPCAT, Aladin or a SAMP hub") from exc
        return self

    def close(self) -> None:
        """Unregister from the hub."""
        if self._client.is_connected:
            self._client.disconnect()

    def __enter__(self) -> SampLink:
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def table_clients(self) -> dict[str, str]:
        """Clients that accept tables, other than esap-dash sessions: id -> name."""
        ids = self._client.get_subscribed_clients(MTYPE)
        clients = {}
        for cid in ids:
            meta = self._client.get_metadata(cid)
            if MARK not in meta:
                clients[cid] = meta.get("samp.name", cid)
        return clients

    def send_table(self, table: Table, *, name: str = "esap-dash cart",
                   recipient: str | None = None) -> list[str]:
        """Send ``table`` to one client, or to every client that takes tables.

        Returns
        -------
        list of str
            The names of the clients it went to.

        Raises
        ------
        ConnectorError
            No client accepts tables, or the recipient refused it.
        """
        clients = self.table_clients()
        if recipient is not None:
            clients = {k: v for k, v in clients.items() if recipient in (k, v)}
        if not clients:
            raise ConnectorError("no SAMP client that accepts tables is connected"
                                 + (f" under the name {recipient!r}" if recipient else ""))
        path = self._dir / f"{uuid.uuid4().hex}.xml"
        table.write(path, format="votable")
        message = {"samp.mtype": MTYPE,
                   "samp.params": {"url": path.as_uri(), "name": name,
                                   "table-id": path.stem}}
        for cid in clients:
            reply = self._client.call_and_wait(cid, message, str(int(self.timeout)))
            if reply.get("samp.status") == "samp.error":
                error = reply.get("samp.error", {}).get("samp.errortxt", "refused")
                raise ConnectorError(f"{clients[cid]} refused the table: {error}")
        return list(clients.values())

    def on_table(self, callback: Callable[[Table, str, str], None]) -> None:
        """Call ``callback(table, name, sender)`` for every table sent to the dashboard.

        Tables that cannot be read are answered with a SAMP error; the
        callback's own errors too.
        """
        def receive(private_key: str, sender: str, msg_id: str, mtype: str,
                    params: dict[str, Any], extra: dict[str, Any]) -> None:
            sender_name = self._client.get_metadata(sender).get("samp.name", sender)
            try:
                table = self.read_table(params["url"])
                callback(table, params.get("name", "table"), sender_name)
            except (ConnectorError, OSError, ValueError, KeyError) as exc:
                self._client.reply(msg_id, {"samp.status": "samp.error",
                                            "samp.error": {"samp.errortxt": str(exc)}})
                return
            self._client.reply(msg_id, {"samp.status": "samp.ok", "samp.result": {}})

        self._client.bind_receive_call(MTYPE, receive)

        def notified(private_key: str, sender: str, mtype: str, params: dict[str, Any],
                     extra: dict[str, Any]) -> None:
            try:
                table = self.read_table(params["url"])
            except (ConnectorError, OSError, ValueError, KeyError):
                return  # a notification has nobody to tell
            callback(table, params.get("name", "table"), sender)

        self._client.bind_receive_notification(MTYPE, notified)

    def read_table(self, url: str) -> Table:
        """Read the VOTable at ``url`` within this link's address, size and row limits.

        Raises
        ------
        ConnectorError
            An address not allowed, too large, too many rows, unreachable.
        FormatError
            Not a readable VOTable.
        """
        path = self._dir / f"in-{uuid.uuid4().hex}.xml"
        try:
            download(url, path, max_bytes=self.max_bytes, timeout=self.timeout,
                     allow_local=self.local_urls)
            try:
                table = Table.read(path, format="votable")
            except (ValueError, IndexError, KeyError, OSError) as exc:
                raise FormatError(f"not a readable VOTable: {str(exc)[:200]}", url) from exc
        finally:
            path.unlink(missing_ok=True)
        if len(table) > self.max_rows:
            raise ConnectorError(f"the table has {len(table):,} rows; at most "
                                 f"{self.max_rows:,} are taken here", url)
        return table
