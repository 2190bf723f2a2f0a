"""SAMP with a real hub and a real client on loopback (pyvo.samp)."""

from __future__ import annotations

import threading

import pytest
from astropy.table import Table

from connectors.exceptions import ConnectorError, ServiceUnavailableError
from connectors.samp import SampLink

from ..conftest import send_table_to_esap_dash


def test_send_a_table_to_a_receiving_client(samp_hub, topcat) -> None:
    _client, received = topcat
    table = Table({"hip": [32349, 30438], "ra": [101.29, 95.99]})
    with SampLink(hub=samp_hub) as link:
        assert "topcat-like" in link.table_clients().values()
        assert link.send_table(table, name="cart") == ["topcat-like"]
    assert list(received[0]["hip"]) == [32349, 30438]


def test_receive_a_table_sent_by_the_client(samp_hub, topcat, tmp_path) -> None:
    client, _ = topcat
    got: list[tuple[Table, str, str]] = []
    done = threading.Event()
    sent = tmp_path / "sent.xml"
    Table({"name": ["NGC1952"], "ra": [83.633], "dec": [22.0145]}).write(sent,
                                                                          format="votable")
    with SampLink(hub=samp_hub) as link:
        link.on_table(lambda t, name, sender: (got.append((t, name, sender)), done.set()))
        reply = send_table_to_esap_dash(client, sent.as_uri(), "from topcat")
        assert reply["samp.status"] == "samp.ok"
        broken = tmp_path / "broken.xml"
        broken.write_text("<VOTABLE><RESOURCE><TABLE>")
        reply = send_table_to_esap_dash(client, broken.as_uri())
        assert reply["samp.status"] == "samp.error"
    assert done.wait(5)
    table, name, sender = got[0]
    assert list(table["name"]) == ["NGC1952"] and name == "from topcat"
    assert sender == "topcat-like"


def test_no_recipient_and_no_hub_are_clear(samp_hub, tmp_path, monkeypatch) -> None:
    with SampLink(hub=samp_hub) as link, pytest.raises(ConnectorError, match="no SAMP client"):
        link.send_table(Table({"a": [1]}))
    monkeypatch.setenv("SAMP_HUB", f"std-lockurl:file://{tmp_path}/none.lock")
    with pytest.raises(ServiceUnavailableError, match="no SAMP hub"):
        SampLink().connect()
