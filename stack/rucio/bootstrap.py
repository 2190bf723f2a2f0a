"""Create and fill the local Rucio data lake.

Run with the Rucio server's own virtual environment and ``RUCIO_CONFIG`` set.

``bootstrap.py database``
    create the SQLite schema (WAL mode), the base VO and the root account,
    once; a database that exists is left alone.
``bootstrap.py populate IMAGES_DIR``
    through the running server: two POSIX RSEs on local directories with
    distances between them and a storage class each (:data:`QOS`), the
    ``esap`` scope, the real FITS images of ``IMAGES_DIR`` uploaded to
    ``LOCAL_A`` and grouped in datasets with metadata, and the user accounts
    of :data:`USERS` (userpass identities with the passwords of
    ``ESAP_DASH_RUCIO_<NAME>_PASSWORD``, a quota on each RSE, their own
    ``user.<name>`` scope).  Idempotent: what exists is kept.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import sys
from pathlib import Path

SCOPE = "esap"
RSES = ("LOCAL_A", "LOCAL_B")
#: Each RSE's storage class (attribute ``QOS``, as ESCAPE's data lake named them):
#: a rule may ask for a class (``QOS=FAST``) instead of an RSE.
QOS = {"LOCAL_A": "SAFE", "LOCAL_B": "FAST"}
#: Accounts of the people who log in to esap-dash (mapped from their OIDC
#: identity in the local-oidc profile); each may use 10 GB per RSE.
USERS = ("alice", "bob")
USER_QUOTA = 10 * 10**9
# dataset name -> (files, metadata).  On SQLite Rucio manages only its
# column metadata (project, datatype, campaign, bytes ...); free-form keys
# need a database with JSON support.
DATASETS = {
    "crab_images": (["ukidss_crab_k.fits", "poss_m1.fits"],
                    {"project": "esap-dash", "datatype": "image",
                     "campaign": "crab"}),
    "radio_20cm": (["magpis_g10.5_20cm.fits", "first_j105007p304037.fits"],
                   {"project": "esap-dash", "datatype": "image",
                    "campaign": "radio"}),
    "optical_plates": (["poss_m1.fits", "dss_14.29.56-62.41.05.fits", "m13.fits"],
                       {"project": "esap-dash", "datatype": "image",
                        "campaign": "plates"}),
}


def database() -> None:
    """Create the Rucio schema, base VO and root account once."""
    from rucio.common.config import config_get
    from rucio.db.sqla.util import build_database, create_base_vo, create_root_account

    url = config_get("database", "default")
    path = Path(url.removeprefix("sqlite:///"))
    if path.exists():
        print(f"rucio database exists: {path}")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as con:
        con.execute("PRAGMA journal_mode=WAL")
    build_database()
    create_base_vo()
    create_root_account()
    print(f"rucio database created: {path}")


class _Logger:
    """The upload client calls its logger and also uses ``.log``."""

    def __init__(self) -> None:
        self._log = logging.getLogger("esap-stack.rucio")

    def __call__(self, level: int, msg: str, *args: object) -> None:
        self._log.log(level, msg, *args)

    def log(self, level: int, msg: str, *args: object) -> None:
        self._log.log(level, msg, *args)


def populate(images_dir: Path, rse_root: Path) -> None:
    """Create RSEs, scope, files and datasets through the running server."""
    from rucio.client import Client
    from rucio.client.uploadclient import UploadClient
    from rucio.common.exception import (
        DataIdentifierAlreadyExists,
        Duplicate,
        FileAlreadyExists,
        RSEProtocolPriorityError,
    )

    client = Client()
    existing = {r["rse"] for r in client.list_rses()}
    for rse in RSES:
        prefix = rse_root / rse
        prefix.mkdir(parents=True, exist_ok=True)
        if rse not in existing:
            client.add_rse(rse, deterministic=True, rse_type="DISK")
        with contextlib.suppress(Duplicate, RSEProtocolPriorityError):
            client.add_protocol(rse, {
                "scheme": "file", "hostname": "localhost", "port": 0,
                "prefix": str(prefix) + "/",
                "impl": "rucio.rse.protocols.posix.Default",
                "domains": {
                    "lan": {"read": 1, "write": 1, "delete": 1},
                    "wan": {"read": 1, "write": 1, "delete": 1,
                            "third_party_copy_read": 1,
                            "third_party_copy_write": 1}}})
        client.add_rse_attribute(rse, "site", rse)
        client.add_rse_attribute(rse, "fts", "mock://localhost")
        client.add_rse_attribute(rse, "QOS", QOS[rse])
        client.set_local_account_limit("root", rse, -1)
    for src in RSES:
        for dst in RSES:
            if src == dst:
                continue
            with contextlib.suppress(Duplicate):
                client.add_distance(src, dst, {"distance": 1})
    with contextlib.suppress(Duplicate):
        client.add_scope("root", SCOPE)

    uploader = UploadClient(client, logger=_Logger())
    have = set(client.list_dids(SCOPE, {"name": "*"}, did_type="file"))
    files = sorted({f for names, _ in DATASETS.values() for f in names})
    todo = [{"path": str(images_dir / f), "rse": RSES[0], "did_scope": SCOPE,
             "did_name": f, "register_after_upload": True}
            for f in files if f not in have]
    if todo:
        with contextlib.suppress(FileAlreadyExists):
            uploader.upload(todo)
    for name, (members, meta) in DATASETS.items():
        with contextlib.suppress(DataIdentifierAlreadyExists):
            client.add_dataset(SCOPE, name)
        attached = {c["name"] for c in client.list_content(SCOPE, name)}
        new = [{"scope": SCOPE, "name": f} for f in members if f not in attached]
        if new:
            client.attach_dids(SCOPE, name, new)
        for key, value in meta.items():
            client.set_metadata(SCOPE, name, key, value)
    for user in USERS:
        with contextlib.suppress(Duplicate):
            client.add_account(user, "USER", f"{user}@esapdash.local")
        password = os.environ[f"ESAP_DASH_RUCIO_{user.upper()}_PASSWORD"]
        with contextlib.suppress(Duplicate):
            client.add_identity(user, user, "USERPASS", f"{user}@esapdash.local",
                                password=password)
        with contextlib.suppress(Duplicate):
            client.add_scope(user, f"user.{user}")
        for rse in RSES:
            client.set_local_account_limit(user, rse, USER_QUOTA)
    print(f"rucio populated: {len(RSES)} RSEs, {len(files)} files, "
          f"{len(DATASETS)} datasets in scope {SCOPE!r}")


def main(argv: list[str]) -> int:
    """Dispatch ``database`` or ``populate IMAGES_DIR RSE_ROOT``."""
    logging.basicConfig(level=logging.WARNING)
    if argv[1:2] == ["database"]:
        database()
    elif argv[1:2] == ["populate"] and len(argv) == 4:
        populate(Path(argv[2]), Path(argv[3]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    os.environ.setdefault("RUCIO_CLIENT_MODE", "1")
    sys.exit(main(sys.argv))
