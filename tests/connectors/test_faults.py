"""Services that misbehave: HTTP 500, an error VOTable, a malformed VOTable.

A small HTTP server on loopback plays the faulty service (the faults
themselves, not a stand-in for a service that runs here).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from connectors.exceptions import (
    ConnectorError,
    FormatError,
    QueryError,
    ServiceError,
    ServiceUnavailableError,
)
from connectors.query import SkyQuery
from connectors.scs import ConeSearchConnector
from connectors.tap import TAPConnector

from ..conftest import FaultyProxy

ERROR_VOTABLE = b"""<?xml version="1.0" encoding="utf-8"?>
<VOTABLE version="1.3" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">
<RESOURCE type="results">
<INFO name="QUERY_STATUS" value="ERROR"
>Query Error: column 'magnitude' not found at line 1, column 8</INFO>
</RESOURCE></VOTABLE>"""
SCS_ERROR = b"""<?xml version="1.0" encoding="utf-8"?>
<VOTABLE version="1.3" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">
<RESOURCE type="results">
<INFO ID="Error" name="Error" value="SR: magnitude of the radius out of range"/>
</RESOURCE></VOTABLE>"""
MALFORMED = b"""<?xml version="1.0"?><VOTABLE version="1.3" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">
<RESOURCE type="results"><TABLE><FIELD name="a" datatype="int"/><DATA><TABLEDATA><TR><TD>1"""


class Faulty(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        kind = self.path.strip("/").split("/")[0]
        if kind == "http500":
            self.send_response(500)
            body = b"Internal Server Error: the database went away"
        else:
            self.send_response(200)
            bodies = {"errvot": ERROR_VOTABLE, "scserr": SCS_ERROR}
            body = bodies.get(kind, MALFORMED)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def faulty() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Faulty)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_500_is_a_service_error_with_its_message(faulty: str) -> None:
    with pytest.raises(ServiceError) as err:
        TAPConnector(faulty + "/http500/tap", timeout=5).run_sync("SELECT 1 FROM t")
    assert err.value.status == 500 or "500" in err.value.reason
    with pytest.raises(ServiceError):
        ConeSearchConnector(faulty + "/http500/scs", timeout=5).search(1.0, 2.0, 0.1)


def test_error_votable_is_a_query_error_with_the_services_text(faulty: str) -> None:
    with pytest.raises(QueryError, match="column 'magnitude' not found"):
        TAPConnector(faulty + "/errvot/tap", timeout=5).run_sync("SELECT magnitude FROM t")
    with pytest.raises(QueryError, match="radius out of range"):
        ConeSearchConnector(faulty + "/scserr/scs", timeout=5).search(1.0, 2.0, 0.1)


def test_malformed_votable_is_a_format_error(faulty: str) -> None:
    with pytest.raises(FormatError, match="malformed"):
        TAPConnector(faulty + "/broken/tap", timeout=5).run_sync("SELECT 1 FROM t")
    with pytest.raises(FormatError):
        ConeSearchConnector(faulty + "/broken/scs", timeout=5).search_sky(
            SkyQuery(1.0, 2.0, 0.1))


@pytest.mark.parametrize("after_headers", [None, 0, 5])
def test_an_answer_cut_mid_way_is_a_clear_connector_error(profile, after_headers) -> None:
    real = profile.service("dachs-tap").connector()
    with FaultyProxy(real.url.removesuffix("/tap"), "cut", after_headers) as proxy:
        tap = TAPConnector(proxy.url + "/tap", timeout=5)
        with pytest.raises(ServiceUnavailableError, match="closed the connection before"):
            tap.run_sync("SELECT TOP 1 name FROM ongc.main")
        try:
            job = tap.submit_async("SELECT TOP 1 name FROM ongc.main")
        except ServiceUnavailableError as exc:
            assert "closed the connection before" in exc.reason
        else:  # the cut fell after what names the job (a redirect's body): a real job
            assert real.job_status(job)["phase"] in {"QUEUED", "EXECUTING", "COMPLETED"}
            real.delete_job(job)


@pytest.mark.parametrize("after_headers", [None, 0, 5])
def test_rucio_cut_mid_way_while_asking_for_a_rule_is_a_connector_error(
        profile, after_headers) -> None:
    rucio = profile.service("rucio")
    with FaultyProxy(rucio.url, "cut", after_headers) as proxy:
        lake = replace(rucio, url=proxy.url).connector()
        with pytest.raises(ConnectorError) as err:
            lake.add_rule("esap", "crab_images", "LOCAL_B")
    assert any(words in err.value.reason for words in (
        "cannot reach Rucio", "closed the connection before", "answer was incomplete"))
