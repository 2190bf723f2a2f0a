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
    with SampLink(hub=samp_hub, local_urls=True) as link:
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


def test_a_table_never_reaches_another_dashboard_session(samp_hub, topcat) -> None:
    _client, received = topcat
    got: list[Table] = []
    with SampLink(hub=samp_hub) as other_session, SampLink(hub=samp_hub) as link:
        other_session.on_table(lambda t, name, sender: got.append(t))
        assert list(link.table_clients().values()) == ["topcat-like"]
        assert link.send_table(Table({"a": [1, 2]})) == ["topcat-like"]
    assert len(received) == 1 and got == []


def test_received_tables_come_only_from_allowed_addresses(samp_hub, topcat, tmp_path,
                                                          profile) -> None:
    client, _ = topcat
    loopback = profile.service("dachs-tap").url + "/tables"
    secret = tmp_path / "server-file.xml"
    Table({"a": [1]}).write(secret, format="votable")
    with SampLink(hub=samp_hub) as link:
        link.on_table(lambda t, name, sender: None)
        for url in (secret.as_uri(), loopback, "ftp://example.org/t.xml"):
            reply = send_table_to_esap_dash(client, url)
            assert reply["samp.status"] == "samp.error", url
        text = [send_table_to_esap_dash(client, u)["samp.error"]["samp.errortxt"]
                for u in (secret.as_uri(), loopback)]
        assert "only http(s)" in text[0] and "local or private address" in text[1]


def test_received_tables_have_size_and_row_limits(samp_hub, tmp_path) -> None:
    big = tmp_path / "big.xml"
    Table({"a": list(range(5000))}).write(big, format="votable")
    with SampLink(hub=samp_hub, local_urls=True, max_bytes=10_000) as link, \
            pytest.raises(ConnectorError, match="larger than 10,000 bytes"):
        link.read_table(big.as_uri())
    with SampLink(hub=samp_hub, local_urls=True, max_rows=100) as link, \
            pytest.raises(ConnectorError, match="5,000 rows; at most 100"):
        link.read_table(big.as_uri())
    with SampLink(hub=samp_hub, local_urls=True) as link:
        assert len(link.read_table(big.as_uri())) == 5000
