"""Create and fill the local Rucio data lake.

Run with the Rucio server's own virtual environment and ``RUCIO_CONFIG`` set.

``bootstrap.py database``
    create the Rucio schema in its PostgreSQL database, the base VO and the
    root account, once; a database that has them is left alone if it was made
    for this stack's ``var/``.  PostgreSQL is the machine's, ``var/`` (and the
    passwords in it) the checkout's: a database whose root identity does not
    take this stack's password was made for another ``var/`` (another clone
    of the project on this machine, or an earlier ``var/``), and is emptied
    and made again.
``bootstrap.py qbittorrent-conf PROFILE_DIR WEBUI_PORT``
    write the configuration of one RSE's qBittorrent (its Web API on
    127.0.0.1 with the user ``rucio`` and the password of
    ``ESAP_DASH_QBITTORRENT_PASSWORD``, stored as qBittorrent's PBKDF2 hash).
``bootstrap.py populate IMAGES_DIR RSE_ROOT``
    through the running server: the POSIX RSEs of :data:`RSES` on local
    directories, each with a ``magnet`` protocol on the same files served by
    its own qBittorrent (Rucio's bittorrent transfer tool moves the bytes),
    distances between them and a storage class each (:data:`QOS`), the
    ``esap`` scope, the real FITS images of ``IMAGES_DIR`` uploaded to
    ``LOCAL_A`` with their BitTorrent v2 metadata and grouped in datasets with
    metadata, and the user accounts of :data:`USERS` (userpass identities
    with the passwords of ``ESAP_DASH_RUCIO_<NAME>_PASSWORD``; OIDC identities
    ``SUB=<sub>, ISS=<issuer>`` of the stack's provider, ``ESAP_DASH_OIDC_URL``,
    with the subjects of its users, ``ESAP_DASH_OIDC_USERS``; a quota on each
    RSE, their own ``user.<name>`` scope).  Idempotent: what exists is kept.

The qBittorrent ports come from ``ESAP_DASH_QBITTORRENT_PORT`` (Web API of
the first RSE, the next ones for the others) and ``ESAP_DASH_TORRENT_PORT``
(peer port of the first RSE, likewise).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import os
import sys
from pathlib import Path

SCOPE = "esap"
RSES = ("LOCAL_A", "LOCAL_B", "LOCAL_SCRATCHDISK")
#: Each RSE's storage class (attribute ``QOS``, as ESCAPE's data lake named them):
#: a rule may ask for a class (``QOS=FAST``) instead of an RSE.  Users upload
#: their results to the scratch disk: Rucio's generic policy lets every account
#: register replicas on a ``*SCRATCHDISK`` RSE (and only root elsewhere).
QOS = {"LOCAL_A": "SAFE", "LOCAL_B": "FAST", "LOCAL_SCRATCHDISK": "CHEAP-ANALYSIS"}
#: Accounts of the people who log in to esap-dash (mapped from their OIDC
#: identity in the local-oidc profile); each may use 10 GB per RSE.
USERS = ("alice", "bob")
USER_QUOTA = 10 * 10**9
#: The Web API user of every RSE's qBittorrent (Rucio's credentials for it
#: are in ``rse-accounts.cfg``).
QBITTORRENT_USER = "rucio"
# dataset name -> (files, metadata)
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
    """Create the Rucio schema, base VO and root account once for this ``var/``."""
    import sqlalchemy as sa
    from rucio.common.config import config_get
    from rucio.db.sqla.util import build_database, create_base_vo, create_root_account

    identity = config_get("bootstrap", "userpass_identity")
    password = config_get("bootstrap", "userpass_pwd").encode()
    root = sa.text("SELECT salt, password FROM identities "
                   "WHERE identity = :identity AND identity_type = 'USERPASS'")
    engine = sa.create_engine(config_get("database", "default"))
    with engine.begin() as con:
        ready = sa.inspect(con).has_table("accounts")
        if ready:
            row = con.execute(root, {"identity": identity}).first()
            digest = row and hashlib.sha256(bytes(row.salt) + password).hexdigest()
            if row is None or digest != row.password:
                print("rucio database of another stack (its root password is not this "
                      "one's): made again")
                con.execute(sa.text("DROP OWNED BY CURRENT_USER"))
                ready = False
    engine.dispose()
    if ready:
        print("rucio database exists")
        return
    build_database()
    create_base_vo()
    create_root_account()
    print("rucio database created")


def _ports(rse: str) -> tuple[int, int]:
    """The Web API and peer ports of an RSE's qBittorrent."""
    i = RSES.index(rse)
    return (int(os.environ["ESAP_DASH_QBITTORRENT_PORT"]) + i,
            int(os.environ["ESAP_DASH_TORRENT_PORT"]) + i)


def qbittorrent_conf(profile: Path, webui_port: int) -> None:
    """Write one qBittorrent's configuration (mode 600: it holds the password hash)."""
    password = os.environ["ESAP_DASH_QBITTORRENT_PASSWORD"]
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, 100_000, 64)
    ba = f"{base64.b64encode(salt).decode()}:{base64.b64encode(digest).decode()}"
    conf = profile / "qBittorrent" / "config" / "qBittorrent.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    profile.chmod(0o700)
    conf.write_text(
        "[LegalNotice]\nAccepted=true\n\n"
        "[Preferences]\n"
        "WebUI\\Address=127.0.0.1\n"
        f"WebUI\\Port={webui_port}\n"
        f"WebUI\\Username={QBITTORRENT_USER}\n"
        f'WebUI\\Password_PBKDF2="@ByteArray({ba})"\n'
        "WebUI\\LocalHostAuth=true\n"
        "WebUI\\UseUPnP=false\n"
        "Connection\\UPnP=false\n")
    conf.chmod(0o600)


def _qbittorrent_prepare(rse: str) -> None:
    """Peer-to-peer settings of an RSE's qBittorrent for a data lake on one host.

    Every peer is on 127.0.0.1, so connections from the same address must be
    allowed (or transfers stall for minutes); no DHT, peer exchange, local
    discovery or UPnP (there is no outside network); no queue (Rucio decides
    what moves); files are written in place under their own name; peers talk
    TCP only (uTP between two processes of one host crawls at a few hundred
    kB/s: a 200 MiB file took ten minutes).
    """
    import qbittorrentapi

    web, peer = _ports(rse)
    qbt = qbittorrentapi.Client(host=f"http://127.0.0.1:{web}", username=QBITTORRENT_USER,
                                password=os.environ["ESAP_DASH_QBITTORRENT_PASSWORD"],
                                REQUESTS_ARGS={"timeout": 10})
    qbt.app_set_preferences({
        "enable_multi_connections_from_same_ip": True,
        "listen_port": peer, "random_port": False, "upnp": False,
        "dht": False, "pex": False, "lsd": False,
        "queueing_enabled": False, "incomplete_files_ext": False, "bittorrent_protocol": 1,
        "temp_path_enabled": False, "preallocate_all": False,
        "max_connec": 500, "max_connec_per_torrent": 100,
    })


def _credentials(client: object, path: Path) -> None:
    """Rucio's credentials for every RSE's qBittorrent, keyed by RSE id (mode 600)."""
    password = os.environ["ESAP_DASH_QBITTORRENT_PASSWORD"]
    creds = {client.get_rse(rse)["id"]: {"qbittorrent_username": QBITTORRENT_USER,
                                         "qbittorrent_password": password}
             for rse in RSES}
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(json.dumps(creds, indent=1))


def _bittorrent_meta(client: object, path: Path, name: str) -> None:
    """Register a file's BitTorrent v2 merkle metadata (what the transfer tool needs)."""
    from rucio.common.bittorrent import bittorrent_v2_merkle_sha256

    meta = client.get_metadata(SCOPE, name, plugin="ALL")
    if meta.get("bittorrent_pieces_root"):
        return
    root, layers, piece_length = bittorrent_v2_merkle_sha256(str(path))
    client.set_metadata_bulk(SCOPE, name, {
        "bittorrent_pieces_root": base64.b64encode(root).decode(),
        "bittorrent_pieces_layers": base64.b64encode(layers).decode(),
        "bittorrent_piece_length": piece_length})


class _Logger:
    """The upload client calls its logger and also uses ``.log``."""

    def __init__(self) -> None:
        self._log = logging.getLogger("esap-stack.rucio")

    def __call__(self, level: int, msg: str, *args: object) -> None:
        self._log.log(level, msg, *args)

    def log(self, level: int, msg: str, *args: object) -> None:
        self._log.log(level, msg, *args)


def _add_rse(client: object, rse: str, prefix: Path) -> None:
    """One RSE: files read and written in place, copied between RSEs by BitTorrent."""
    from rucio.common.exception import Duplicate, RSEProtocolPriorityError

    web, peer = _ports(rse)
    prefix.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(Duplicate):
        client.add_rse(rse, deterministic=True, rse_type="DISK")
    kept = [p["prefix"] for p in client.get_protocols(rse, scheme="file")["protocols"]
            if p["scheme"] == "file"]
    if kept and kept[0] != f"{prefix}/":
        print(f"{rse} keeps its files in {kept[0]}, where an earlier stack put them, not in "
              f"{prefix}/ (the users' notebooks cannot read them there); a new Rucio "
              "database puts them in the new place")
    # The files themselves; no third-party copy with this scheme ...
    with contextlib.suppress(Duplicate, RSEProtocolPriorityError):
        client.add_protocol(rse, {
            "scheme": "file", "hostname": "localhost", "port": 0,
            "prefix": str(prefix) + "/",
            "impl": "rucio.rse.protocols.posix.Default",
            "domains": {"lan": {"read": 1, "write": 1, "delete": 1},
                        "wan": {"read": 1, "write": 1, "delete": 1}}})
    # ... the same files as torrents of this RSE's qBittorrent: transfers only.
    with contextlib.suppress(Duplicate, RSEProtocolPriorityError):
        client.add_protocol(rse, {
            "scheme": "magnet", "hostname": "127.0.0.1", "port": peer,
            "prefix": str(prefix) + "/",
            "impl": "rucio.rse.protocols.bittorrent.Default",
            # (an operation left out is not offered; 0 would be the first choice)
            "domains": {"wan": {"third_party_copy_read": 1,
                                "third_party_copy_write": 1}}})
    # (the stack's driver, esap_rucio_policy.qbittorrent: Rucio's, with failures said)
    for key, value in {"site": rse, "QOS": QOS[rse], "bittorrent_driver": "esap-qbittorrent",
                       "qbittorrent_management_address": f"http://127.0.0.1:{web}/"}.items():
        client.add_rse_attribute(rse, key, value)
    client.set_local_account_limit("root", rse, -1)


def populate(images_dir: Path, rse_root: Path) -> None:
    """Create RSEs, scope, files and datasets through the running server."""
    from rucio.client import Client
    from rucio.client.uploadclient import UploadClient
    from rucio.common.exception import DataIdentifierAlreadyExists, Duplicate, FileAlreadyExists

    client = Client()
    for rse in RSES:
        _add_rse(client, rse, rse_root / rse)
        _qbittorrent_prepare(rse)
    _credentials(client, Path(os.environ["RUCIO_HOME"]) / "etc" / "rse-accounts.cfg")
    for src in RSES:
        for dst in RSES:
            if src != dst:
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
    for f in files:
        _bittorrent_meta(client, images_dir / f, f)
    for name, (members, meta) in DATASETS.items():
        with contextlib.suppress(DataIdentifierAlreadyExists):
            client.add_dataset(SCOPE, name)
        attached = {c["name"] for c in client.list_content(SCOPE, name)}
        new = [{"scope": SCOPE, "name": f} for f in members if f not in attached]
        if new:
            client.attach_dids(SCOPE, name, new)
        client.set_metadata_bulk(SCOPE, name, meta)
    # Who each user is at the stack's provider: her tokens are her account's.
    issuer = os.environ["ESAP_DASH_OIDC_URL"].rstrip("/")
    subjects = {u["preferred_username"]: u["sub"]
                for u in json.loads(Path(os.environ["ESAP_DASH_OIDC_USERS"]).read_text())}
    for user in USERS:
        with contextlib.suppress(Duplicate):
            client.add_account(user, "USER", f"{user}@esapdash.local")
        password = os.environ[f"ESAP_DASH_RUCIO_{user.upper()}_PASSWORD"]
        with contextlib.suppress(Duplicate):
            client.add_identity(user, user, "USERPASS", f"{user}@esapdash.local",
                                password=password)
        with contextlib.suppress(Duplicate):
            client.add_identity(user, f"SUB={subjects[user]}, ISS={issuer}", "OIDC",
                                f"{user}@esapdash.local", default=True)
        with contextlib.suppress(Duplicate):
            client.add_scope(user, f"user.{user}")
        for rse in RSES:
            client.set_local_account_limit(user, rse, USER_QUOTA)
    print(f"rucio populated: {len(RSES)} RSEs, {len(files)} files, "
          f"{len(DATASETS)} datasets in scope {SCOPE!r}")


def main(argv: list[str]) -> int:
    """Dispatch ``database``, ``qbittorrent-conf`` or ``populate``."""
    logging.basicConfig(level=logging.WARNING)
    if argv[1:2] == ["database"]:
        database()
    elif argv[1:2] == ["qbittorrent-conf"] and len(argv) == 4:
        qbittorrent_conf(Path(argv[2]), int(argv[3]))
    elif argv[1:2] == ["populate"] and len(argv) == 4:
        populate(Path(argv[2]), Path(argv[3]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    os.environ.setdefault("RUCIO_CLIENT_MODE", "1")
    sys.exit(main(sys.argv))
