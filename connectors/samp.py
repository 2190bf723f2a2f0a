"""SAMP: send tables to TOPCAT or Aladin through a hub, and receive tables from them.

Uses pyvo.samp (astropy.samp moved there).  The dashboard registers as a
SAMP client of the hub named by the standard profile (``SAMP_HUB`` or
``~/.samp``) or of a hub given explicitly.  Tables travel as VOTable files
referenced by URL, as ``table.load.votable`` asks.
"""

from __future__ import annotations

import io
import tempfile
import urllib.request
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from astropy.table import Table

from .exceptions import ConnectorError, FormatError, ServiceUnavailableError

__all__ = ["SampLink"]

MTYPE = "table.load.votable"


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
        Seconds to wait for a recipient's reply.
    """

    def __init__(self, name: str = "esap-dash", *, hub: Any = None, timeout: float = 10) -> None:
        from pyvo.samp import SAMPIntegratedClient

        self.name, self.timeout = name, timeout
        self._client = SAMPIntegratedClient(name=name, description="esap-dash cart")
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
        """Clients that accept tables: id -> name."""
        ids = self._client.get_subscribed_clients(MTYPE)
        return {cid: self._client.get_metadata(cid).get("samp.name", cid) for cid in ids}

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
                table = _read_votable(params["url"])
                callback(table, params.get("name", "table"), sender_name)
            except (ConnectorError, OSError, ValueError, KeyError) as exc:
                self._client.reply(msg_id, {"samp.status": "samp.error",
                                            "samp.error": {"samp.errortxt": str(exc)}})
                return
            self._client.reply(msg_id, {"samp.status": "samp.ok", "samp.result": {}})

        self._client.bind_receive_call(MTYPE, receive)
        self._client.bind_receive_notification(
            MTYPE, lambda key, sender, mtype, params, extra: callback(
                _read_votable(params["url"]), params.get("name", "table"), sender))


def _read_votable(url: str) -> Table:
    if not url.startswith(("file://", "http://", "https://")):
        raise FormatError(f"cannot read a table from {url!r}")
    with urllib.request.urlopen(url, timeout=30) as resp:
        data = resp.read()
    try:
        return Table.read(io.BytesIO(data), format="votable")
    except (ValueError, IndexError, KeyError) as exc:
        raise FormatError(f"not a readable VOTable: {exc}", url) from exc
