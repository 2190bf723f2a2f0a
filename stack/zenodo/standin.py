"""A local stand-in for Zenodo's records API (Zenodo cannot run here).

Serves ``GET /api/records`` with ``q`` (words matched in title, description
and keywords), ``communities``, ``type``, ``size`` and ``page`` from
``records.json``, in Zenodo's answer shape.  The records describe real
software of the ESCAPE OSSR ecosystem (titles, licences, repositories); their
DOIs use the DataCite test prefix 10.5072, so none is mistaken for a real DOI.

Usage: ``python standin.py PORT``
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

RECORDS = json.loads((Path(__file__).with_name("records.json")).read_text())


def matches(record: dict, words: list[str], community: str, rtype: str) -> bool:
    meta = record["metadata"]
    text = " ".join([meta["title"], meta.get("description", ""),
                     " ".join(meta.get("keywords", []))]).lower()
    communities = {c["id"] for c in meta.get("communities", [])}
    return (all(w in text for w in words)
            and (not community or community in communities)
            and (not rtype or meta["resource_type"]["type"] == rtype))


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path.rstrip("/") != "/api/records":
            self.send_error(404, "not found")
            return
        args = {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            size = max(1, min(int(args.get("size", 10)), 100))
            page = max(1, int(args.get("page", 1)))
        except ValueError:
            self._json(400, {"status": 400, "message": "size and page must be integers"})
            return
        words = args.get("q", "").lower().split()
        hits = [r for r in RECORDS
                if matches(r, words, args.get("communities", ""), args.get("type", ""))]
        body = {"hits": {"hits": hits[(page - 1) * size: page * size], "total": len(hits)},
                "links": {"self": self.path}}
        self._json(200, body)

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt: str, *args: object) -> None:
        sys.stderr.write(f"{self.address_string()} - {fmt % args}\n")


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
