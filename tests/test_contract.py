"""The HTTP API's OpenAPI document is its contract: clients that know nothing but the
served document work from it.  An OpenAPI fuzzer (schemathesis: every check, the
stateful phase too) finds no server error, undocumented status or answer off its
schema; a client generated from it (openapi-python-client) searches, reads the rows,
runs a TAP job and reads its result."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from secrets import token_urlsafe

import pytest
from astropy.io.votable import parse_single_table

from .browser.conftest import serve
from .conftest import ALICE, oidc_token

BIN = Path(sys.executable).parent
HIPPARCOS = "Hipparcos-2 (cone search)"
#: openapi-python-client reads media types it knows only: say what the document's are.
GENERATOR_CONFIG = """content_type_overrides:
  application/x-votable+xml: application/octet-stream
  text/provenance-notation: application/octet-stream
  text/csv: application/octet-stream
  text/plain: application/octet-stream
  application/x-ipynb+json: application/json
"""


@pytest.fixture(scope="module")
def contract(local_stack, tmp_path_factory) -> Iterator[tuple[str, str]]:
    """A served deployment with logins and its own database: its API root, and a token
    of alice's."""
    from esap_dash.core.config import load_profile

    database = f"sqlite:///{tmp_path_factory.mktemp('contract')}/contract.db"
    with serve("local-oidc", "server-contract.log",
               {"ESAP_DASH_COOKIE_SECRET": token_urlsafe(32)},
               ("--set", f"deployment.database={database}",
                "--set", "api.rate_per_minute=100000")) as url:
        yield url + "api/v1", oidc_token(load_profile("local-oidc"), ALICE)


def test_an_openapi_fuzzer_finds_nothing_off_the_contract(contract, tmp_path) -> None:
    root, token = contract
    # Left out: starting Dask clusters (each a real one); the check that every request
    # valid by the schema is accepted, which no schema can promise for a name that
    # resolves nowhere or a body that is no VOTable (both are 400 problems).
    run = subprocess.run(
        [str(BIN / "schemathesis"), "run", f"{root}/openapi.json", "--url", root,
         "--header", f"Authorization: Bearer {token}", "--checks", "all",
         "--exclude-checks", "positive_data_acceptance", "--exclude-path-regex", "^/clusters",
         "--max-examples", "10", "--seed", "1", "--request-timeout", "60",
         "--phases", "examples,coverage,fuzzing,stateful"],
        capture_output=True, text=True, timeout=900, env={**os.environ, "NO_COLOR": "1"},
        cwd=tmp_path)  # its cache folder goes there
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failures" not in run.stdout.split("SUMMARY")[-1]


def test_a_client_generated_from_the_document_reads_search_rows_and_job_results(
        contract, tmp_path) -> None:
    import requests

    root, token = contract
    (tmp_path / "openapi.json").write_bytes(requests.get(f"{root}/openapi.json",
                                                         timeout=30).content)
    (tmp_path / "config.yaml").write_text(GENERATOR_CONFIG)
    made = subprocess.run(
        [str(BIN / "openapi-python-client"), "generate", "--path", "openapi.json", "--meta",
         "none", "--config", "config.yaml", "--output-path", "client"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"})
    assert made.returncode == 0, made.stdout + made.stderr
    assert "warning" not in (made.stdout + made.stderr).lower(), made.stdout + made.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        from client import AuthenticatedClient
        from client.api.default import (
            get_jobs_id,
            get_jobs_id_result,
            get_searches_id_rows,
            post_jobs,
            post_searches,
        )
        from client.models import (
            PostSearchesBody,
            PostSearchesBodyArchivesItem,
            TapJobRequest,
            TapJobRequestKind,
        )
    finally:
        sys.path.remove(str(tmp_path))
    api = AuthenticatedClient(base_url=root, token=token, timeout=120)
    found = post_searches.sync_detailed(client=api, body=PostSearchesBody(
        target="M45", radius=1.0, archives=[PostSearchesBodyArchivesItem(HIPPARCOS)],
        maxrec=20))
    assert found.status_code == 201, found.content
    assert found.parsed.archives[0].state == "done"  # a typed Search
    rows = get_searches_id_rows.sync_detailed(id=found.parsed.id, client=api)
    table = parse_single_table(rows.parsed.payload).to_table()
    assert len(table) == 20 and set(table["archive"]) == {HIPPARCOS}
    body = TapJobRequest(kind=TapJobRequestKind("tap"), service="Local DaCHS ObsCore (TAP)",
                         adql="SELECT TOP 4 hip FROM hipparcos.main")  # typed per kind
    started = post_jobs.sync_detailed(client=api, body=body)
    assert started.status_code == 201, started.content
    job = started.parsed  # a typed Job: the document says what a job is
    deadline = time.monotonic() + 60
    while not job.final and time.monotonic() < deadline:
        time.sleep(0.5)
        job = get_jobs_id.sync_detailed(id=job.id, client=api).parsed
    assert job.state == "COMPLETED" and job.kind == "tap", job
    result = get_jobs_id_result.sync_detailed(id=job.id, client=api)
    assert len(parse_single_table(result.parsed.payload).to_table()) == 4
