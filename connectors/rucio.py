"""The Rucio data lake: scopes, data identifiers, replicas and rules.

Data calls go through the official ``rucio.client.Client``, created lazily
with every setting passed explicitly (no config file is needed) and a
timeout; the health check is a plain ``GET /ping`` through our own session.
The stock client caches its token in a directory per operating-system user
and Rucio account, so two connectors with different credentials for one
account would share a token: ours keeps each connector's token in a private
directory of its own.

A user's scope (``user.<account>``) is private here: the connector of another
account (other than ``root``) neither lists nor reads nor replicates it.
Rucio's catalogue itself is readable by every account; the local stack's
policy package also refuses other accounts' rules on it.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import shutil
import tempfile
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO, ClassVar
from urllib.parse import unquote, urlsplit

import numpy as np
from astropy.table import Table

from .base import ServiceConnector
from .exceptions import (
    ConfigurationError,
    ConnectorError,
    FormatError,
    QueryError,
    ServiceError,
    ServiceUnavailableError,
)
from .http import TRANSPORT_ERRORS, is_cut_off, request, transport_error

__all__ = ["OpenedFile", "RucioConnector", "size_text"]

#: The protocols of the replicas :meth:`RucioConnector.open_file` reads, best first.
READ_SCHEMES = ("file", "https", "http")
#: Collections of a listing whose size is counted from their files when the
#: server did not fill it in.
SIZED_COLLECTIONS = 200


@dataclass
class OpenedFile:
    """A file of the data lake being read.

    Attributes
    ----------
    stream : binary file
        Its bytes.
    size : int
        How many there are, as Rucio says.
    adler32 : str
        Their Adler-32 checksum in hexadecimal, as Rucio keeps it (``""``: none).
    """

    stream: BinaryIO
    size: int
    adler32: str

    def read(self, count: int) -> bytes:
        """Up to ``count`` further bytes (``b""`` at the end)."""
        return self.stream.read(count)

    def close(self) -> None:
        """Let go of the replica."""
        self.stream.close()


class RucioConnector(ServiceConnector):
    """A Rucio server, acting as one Rucio account.

    Parameters
    ----------
    url : str
        The Rucio server (``rucio_host``).
    auth_url : str, optional
        The authentication server; defaults to ``url``.
    account : str
        The Rucio account the calls act as.
    username, password : str, optional
        ``userpass`` credentials of that account.
    vo : str, optional
        The VO, for multi-VO servers.
    upload_rse : str, optional
        The storage element that takes the users' uploads (their results).
    bittorrent_meta : bool
        Register each uploaded file's BitTorrent v2 merkle metadata, which a
        data lake whose transfers go by BitTorrent needs (Rucio's client
        option ``register_bittorrent_meta``).
    **kwargs
        See :class:`~connectors.base.ServiceConnector`.
    """

    kind: ClassVar[str] = "rucio"
    capabilities: ClassVar[frozenset[str]] = frozenset({"datalake"})

    def __init__(self, url: str, *, auth_url: str | None = None, account: str | None = None,
                 username: str | None = None, password: str | None = None,
                 vo: str | None = None, upload_rse: str | None = None,
                 bittorrent_meta: bool = False, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.upload_rse, self.bittorrent_meta = upload_rse, bittorrent_meta
        self.auth_url = (auth_url or url).rstrip("/")
        self.account = account
        self._creds = {"username": username, "password": password}
        self.vo = vo
        self._client: Any = None

    def __repr__(self) -> str:
        return f"RucioConnector(name={self.name!r}, url={self.url!r}, account={self.account!r})"

    @property
    def health_url(self) -> str:
        """The unauthenticated ``/ping`` endpoint."""
        return self.url + "/ping"

    def _probe(self) -> str:
        resp = request(self.session, "GET", self.health_url)
        try:
            return f"Rucio {resp.json()['version']}"
        except (ValueError, KeyError) as exc:
            raise FormatError("/ping did not return a Rucio version", self.health_url) from exc

    @property
    def client(self) -> Any:
        """The authenticated ``rucio.client.Client`` (created on first use)."""
        if self._client is None:
            if not self.account or not self._creds["username"]:
                raise ConfigurationError(
                    "no Rucio account/credentials configured for this user", self.url)
            with self._errors():
                self._client = _private_token_client()(
                    rucio_host=self.url, auth_host=self.auth_url, account=self.account,
                    auth_type="userpass", creds=self._creds, vo=self.vo,
                    timeout=max(1, int(self.timeout)), user_agent="esap-dash")
        return self._client

    @contextmanager
    def _errors(self) -> Iterator[None]:
        from rucio.common import exception as rex

        try:
            yield
        except ConnectorError:
            raise
        except TRANSPORT_ERRORS as exc:
            raise transport_error(exc, self.url, f"{self.timeout:g}") from exc
        except (KeyError, ValueError) as exc:
            # The client reads headers and JSON it assumes are there: an answer
            # cut short (no X-Rucio-Auth-Token, half a JSON body) lands here.
            raise ServiceUnavailableError(
                f"Rucio's answer was incomplete ({type(exc).__name__}: {exc}); "
                "the connection was probably cut", self.url) from exc
        except (rex.ServerConnectionException, rex.RucioException) as exc:
            # Rucio's sentence and its details ("Cannot authenticate. Details: ...").
            msg = " ".join(str(exc).split())[:500]
            if isinstance(exc, rex.ServerConnectionException):
                if is_cut_off(exc):
                    raise transport_error(exc, self.url, f"{self.timeout:g}") from exc
                raise ServiceUnavailableError(f"cannot reach Rucio: {msg}", self.url) from exc
            if isinstance(exc, (rex.ScopeNotFound, rex.DataIdentifierNotFound)):
                raise QueryError(msg, self.url, status=404) from exc
            if isinstance(exc, (rex.InvalidObject, rex.InvalidMetadata, rex.InvalidType,
                                rex.UnsupportedOperation, rex.DuplicateRule,
                                rex.InvalidRSEExpression, rex.RuleNotFound,
                                rex.InsufficientAccountLimit)):
                raise QueryError(msg, self.url) from exc
            if isinstance(exc, rex.AccessDenied):
                raise ServiceError(f"Rucio refused: {msg}", self.url, status=403) from exc
            if isinstance(exc, rex.CannotAuthenticate):
                raise ServiceError(f"Rucio refused the credentials: {msg}", self.url,
                                   status=401) from exc
            raise ServiceError(msg, self.url) from exc

    def _readable(self, scope: str) -> None:
        """Refuse another account's ``user.<name>`` scope (see the module's docstring)."""
        if self.account != "root" and not _visible(scope, self.account):
            raise ServiceError(f"{scope} is the private scope of another account", self.url,
                               status=403)

    def list_scopes(self) -> list[str]:
        """Return the scopes this account may read, sorted."""
        with self._errors():
            scopes = self.client.list_scopes()
        return sorted(s for s in scopes if self.account == "root" or _visible(s, self.account))

    def list_dids(self, scope: str, pattern: str = "*", *, did_type: str = "collection",
                  filters: dict[str, Any] | None = None) -> Table:
        """List data identifiers of ``scope`` whose name matches ``pattern``.

        Parameters
        ----------
        scope : str
            The scope.
        pattern : str
            Name with ``*`` wildcards.
        did_type : str
            ``all``, ``collection``, ``container``, ``dataset`` or ``file``.
        filters : dict, optional
            Metadata filters, Rucio style (``{"bytes.gt": 1000, "datatype": "image"}``).

        Returns
        -------
        astropy.table.Table
            ``scope``, ``name``, ``did_type``, ``bytes``, ``length``.
        """
        self._readable(scope)
        query = {"name": pattern, **(filters or {})}
        with self._errors():
            dids = list(self.client.list_dids(scope, query, did_type=did_type, long=True))
            for did in dids[:SIZED_COLLECTIONS]:
                # A collection's bytes and length are filled in by a server daemon
                # (abacus) that not every deployment runs: count its files instead.
                if did["did_type"] != "FILE" and not did.get("length"):
                    files = list(self.client.list_files(did["scope"], did["name"]))
                    did["bytes"] = sum(f.get("bytes") or 0 for f in files)
                    did["length"] = len(files)
        return Table(rows=[(d["scope"], d["name"], d["did_type"], d.get("bytes") or 0,
                            d.get("length") or 0) for d in dids] or None,
                     names=("scope", "name", "did_type", "bytes", "length"),
                     dtype=(str, str, str, "i8", "i8"))

    def list_files(self, scope: str, name: str) -> Table:
        """List the files of a dataset or container.

        Returns
        -------
        astropy.table.Table
            ``scope``, ``name``, ``bytes``, ``adler32``.
        """
        self._readable(scope)
        with self._errors():
            files = list(self.client.list_files(scope, name))
        return Table(rows=[(f["scope"], f["name"], f.get("bytes") or 0, f.get("adler32") or "")
                           for f in files] or None,
                     names=("scope", "name", "bytes", "adler32"), dtype=(str, str, "i8", str))

    def list_replicas(self, scope: str, name: str) -> Table:
        """Where each file of ``scope:name`` is, one row per file and RSE.

        Returns
        -------
        astropy.table.Table
            ``scope``, ``name``, ``rse``, ``state``, ``pfn``, ``bytes`` (the
            file's size; -1 when Rucio does not know it).
        """
        self._readable(scope)
        with self._errors():
            replicas = list(self.client.list_replicas([{"scope": scope, "name": name}],
                                                      all_states=True))
        rows = []
        for rep in replicas:
            states = rep.get("states") or {}
            size = rep.get("bytes")
            for rse, pfns in (rep.get("rses") or {}).items():
                rows.append((rep["scope"], rep["name"], rse, states.get(rse, ""),
                             pfns[0] if pfns else "", -1 if size is None else int(size)))
        return Table(rows=rows or None,
                     names=("scope", "name", "rse", "state", "pfn", "bytes"),
                     dtype=(str,) * 5 + (np.int64,))

    def open_file(self, scope: str, name: str) -> OpenedFile:
        """The file ``scope:name`` opened for reading, from one of its available
        replicas that this machine can read: a local file (``file``), else over HTTP
        (``https``, ``http``; without credentials).  Close it after use.

        Raises
        ------
        connectors.exceptions.ServiceError
            Another account's private scope (status 403).
        connectors.exceptions.QueryError
            No such file (404), a collection and not a file, or no replica this machine
            can read (409).
        """
        self._readable(scope)
        with self._errors():
            found = list(self.client.list_replicas([{"scope": scope, "name": name}],
                                                   schemes=list(READ_SCHEMES)))
        if not found:
            raise QueryError(f"{scope}:{name} has no available replica (or is an empty "
                             "collection)", self.url, status=409)
        if len(found) > 1 or (found[0]["scope"], found[0]["name"]) != (scope, name):
            raise QueryError(f"{scope}:{name} is a collection of {len(found)} files, not "
                             "a file: read its files one by one", self.url, status=409)
        pfns = sorted((url for urls in (found[0].get("rses") or {}).values() for url in urls),
                      key=lambda url: READ_SCHEMES.index(urlsplit(url).scheme))
        size, adler32 = int(found[0].get("bytes") or 0), str(found[0].get("adler32") or "")
        why = []
        for pfn in pfns:
            parts = urlsplit(pfn)
            try:
                if parts.scheme == "file":
                    path = unquote(parts.path)
                    if ".." in path.split("/"):
                        raise FormatError("a file address that leaves its storage", pfn)
                    stream: BinaryIO = open(path, "rb")  # noqa: SIM115 (closed by its reader)
                else:
                    stream = request(self.session, "GET", pfn, stream=True).raw
                    stream.decode_content = True
                return OpenedFile(stream, size, adler32)
            except (OSError, ConnectorError) as exc:
                why.append(f"{pfn}: {getattr(exc, 'reason', None) or exc.strerror or exc}")
        raise QueryError(f"{scope}:{name} has no available replica this server can read "
                         f"(over {', '.join(READ_SCHEMES)})" + (f": {'; '.join(why)}" if why
                                                                 else ""),
                         self.url, status=409)

    def list_rses(self) -> list[str]:
        """Names of the storage elements (RSEs) this account can see, sorted."""
        with self._errors():
            return sorted(r["rse"] for r in self.client.list_rses())

    def add_rule(self, scope: str, name: str, rse: str, *, copies: int = 1,
                 lifetime: int | None = None, comment: str = "") -> str:
        """Ask for ``scope:name`` to be made available at ``rse`` (a replication rule).

        Parameters
        ----------
        scope, name : str
            The data identifier (file, dataset or container).
        rse : str
            The storage element (or an RSE expression) to hold the copy.
        copies : int
            How many copies the rule keeps.
        lifetime : int, optional
            Seconds after which the rule expires; never by default.
        comment : str
            Kept with the rule (esap-dash writes the cart it came from).

        Returns
        -------
        str
            The rule id; follow it with :meth:`rule`.
        """
        if copies < 1:
            raise QueryError("a rule keeps at least one copy", self.url)
        self._readable(scope)
        self._check_quota(scope, name, rse, copies)
        with self._errors():
            ids = self.client.add_replication_rule(
                [{"scope": scope, "name": name}], copies, rse, lifetime=lifetime,
                comment=comment or None)
        return str(ids[0])

    def upload(self, path: str | os.PathLike[str], rse: str | None = None, *,
               name: str | None = None, meta: dict[str, Any] | None = None) -> dict[str, Any]:
        """Upload a file to the account's own scope (``user.<account>``, made on the
        first upload) at ``rse``.

        Parameters
        ----------
        path : str or path-like
            The local file.
        rse : str, optional
            The storage element that receives it (one where the account may
            write: a scratch disk, in Rucio's generic policy); ``upload_rse``
            by default.
        name : str, optional
            The file's name in the data lake; the local file's name by default.
        meta : dict, optional
            Metadata kept with it (JSON values: provenance, the job it came from ...).

        Returns
        -------
        dict
            ``did`` (``scope:name``), ``scope``, ``name``, ``rse``, ``bytes``,
            ``adler32``.

        Raises
        ------
        QueryError
            A file of that name is in the scope already, or the RSE takes no uploads.
        """
        from rucio.common.checksum import adler32, md5
        from rucio.common.exception import FileReplicaAlreadyExists
        from rucio.rse import rsemanager

        _storage_config()
        rse = rse or self.upload_rse
        if not rse:
            raise ConfigurationError("this data lake names no storage element for uploads "
                                     "(upload_rse)", self.url)
        local = Path(path)
        scope, name = f"user.{self.account}", name or local.name
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.\-_]{0,249}", name):
            raise QueryError(f"{name!r} cannot name a file of the data lake: letters, digits, "
                             "'.', '-' and '_', starting with a letter or digit", self.url)
        file = {"scope": scope, "name": name, "filename": local.name,
                "bytes": local.stat().st_size, "adler32": adler32(local), "md5": md5(local)}
        with self._errors():
            if scope not in self.client.list_scopes_for_account(self.account):
                # (Rucio lets an account make its own scope: made on its first upload)
                self.client.add_scope(self.account, scope)
            if list(self.client.list_dids(scope, {"name": name}, did_type="file")):
                raise QueryError(f"{scope}:{name} is in the data lake already", self.url)
            # The RSE's own description (its protocols), as the upload client reads
            # it, but through this connector's authenticated client.
            settings = self.client.get_rse(rse)
            if not settings.get("availability_write", True):
                raise QueryError(f"{rse} takes no uploads now", self.url)
            try:
                rsemanager.upload(settings, [{**file, "filesize": file["bytes"]}],
                                  source_dir=str(local.parent), vo=self.client.vo,
                                  logger=logging.getLogger(__name__).log)
            except FileReplicaAlreadyExists:  # bytes of that name, not (yet) listed
                raise QueryError(f"{scope}:{name} is in the data lake already",
                                 self.url) from None
            self.client.add_replicas(rse, [{k: file[k] for k in
                                            ("scope", "name", "bytes", "adler32", "md5")}])
            extra = dict(meta or {})
            if self.bittorrent_meta:
                extra.update(_bittorrent_meta(local))
            if extra:
                self.client.set_metadata_bulk(scope, name, extra)
        return {"did": f"{scope}:{name}", "scope": scope, "name": name, "rse": rse,
                "bytes": file["bytes"], "adler32": file["adler32"]}

    def metadata(self, scope: str, name: str) -> dict[str, Any]:
        """All metadata of ``scope:name`` (Rucio's own and free-form keys)."""
        self._readable(scope)
        with self._errors():
            return dict(self.client.get_metadata(scope, name, plugin="ALL"))

    def qos_classes(self) -> dict[str, list[str]]:
        """The data lake's storage classes (RSE attribute ``QOS``: ``SAFE``, ``FAST``,
        ``CHEAP-ANALYSIS`` ...) and their RSEs; a rule asks for one as ``QOS=FAST``."""
        classes: dict[str, list[str]] = {}
        with self._errors():
            for rse in self.list_rses():
                qos = self.client.list_rse_attributes(rse).get("QOS")
                if qos:
                    classes.setdefault(str(qos), []).append(rse)
        return dict(sorted(classes.items()))

    def quotas(self) -> Table:
        """This account's storage quota at each RSE.

        Returns
        -------
        astropy.table.Table
            ``rse``; ``used`` (bytes the account's rules hold there), ``files``;
            ``limit`` and ``left`` in bytes, masked where the account has no limit.
            Only RSEs that exist (Rucio keeps the limits of deleted ones).
        """
        with self._errors():
            rses = set(self.list_rses())
            usage = sorted((u for u in self.client.get_local_account_usage(self.account)
                            if str(u["rse"]) in rses), key=lambda u: str(u["rse"]))
        limits = [float(u.get("bytes_limit") if u.get("bytes_limit") is not None else -1)
                  for u in usage]
        none = np.array([not 0 <= lim < float("inf") for lim in limits], bool)
        used = np.array([int(u.get("bytes") or 0) for u in usage], "i8")
        limit = np.array([0 if no else int(lim) for lim, no in zip(limits, none, strict=True)],
                         "i8")
        table = Table({"rse": [str(u["rse"]) for u in usage] or np.zeros(0, str), "used": used,
                       "files": np.array([int(u.get("files") or 0) for u in usage], "i8"),
                       "limit": np.ma.MaskedArray(limit, mask=none),
                       "left": np.ma.MaskedArray(np.maximum(limit - used, 0), mask=none)})
        return table

    def did_bytes(self, scope: str, name: str) -> int:
        """Bytes of the files of ``scope:name`` (a file's own, or a collection's)."""
        return int(self.list_files(scope, name)["bytes"].sum())

    def _check_quota(self, scope: str, name: str, rse: str, copies: int) -> None:
        """Refuse, before asking, a rule at an RSE whose quota the data would exceed
        (Rucio would refuse it too, in fewer words)."""
        quotas = self.quotas()
        row = next((r for r in quotas if r["rse"] == rse), None)
        if row is None or np.ma.is_masked(row["left"]) or any(
                r["rse"] == rse and r["account"] == self.account
                for r in self.did_rules(scope, name)):
            return  # no limit there, or the account's rule there holds the data already
        needed = self.did_bytes(scope, name) * copies
        if needed > int(row["left"]):
            raise QueryError(
                f"{scope}:{name} needs {size_text(needed)} at {rse}; the quota of account "
                f"{self.account} there has {size_text(int(row['left']))} left (of "
                f"{size_text(int(row['limit']))}): remove a rule or ask for more", self.url)

    def rule(self, rule_id: str) -> dict[str, Any]:
        """The state of a replication rule.

        Returns
        -------
        dict
            ``id``, ``did``, ``rse`` (the RSE expression asked for), ``account``,
            ``state`` (``REPLICATING``, ``OK``, ``STUCK``, ``SUSPENDED``),
            ``locks_ok``, ``locks_replicating``, ``locks_stuck``, ``created``,
            ``updated``, ``expires``, ``error``; ``rses``: the RSEs holding its
            copies (where a QoS class put them); ``bytes_ok`` and ``bytes``: the
            bytes of its files already at their RSE, and of all of them.
        """
        with self._errors():
            info = self.client.get_replication_rule(rule_id)
            locks = list(self.client.list_replica_locks(rule_id))
            size = {(f["scope"], f["name"]): int(f["bytes"] or 0)
                    for f in self.client.list_files(info["scope"], info["name"])}
        return {**_rule(info), "rses": sorted({str(lock["rse"]) for lock in locks}),
                "bytes_ok": sum(size.get((lock["scope"], lock["name"]), 0) for lock in locks
                                if str(lock["state"]) == "OK"),
                "bytes": sum(size.get((lock["scope"], lock["name"]), 0) for lock in locks)}

    def did_rules(self, scope: str, name: str) -> list[dict[str, Any]]:
        """The replication rules on ``scope:name`` (as :meth:`rule` describes them)."""
        with self._errors():
            return [_rule(r) for r in self.client.list_did_rules(scope, name)]

    def retry_rule(self, rule_id: str) -> None:
        """Ask for the failed transfers of a STUCK rule to be tried again now.

        Rucio retries a failed transfer three times, then marks its lock and the
        rule STUCK with the reason, and tries again by itself only hours later;
        this boosts the rule, so that the judge-repairer queues its transfers again
        at once (an account may boost its own rules; a rule that is not STUCK is
        left as it is).
        """
        with self._errors():
            self.client.update_replication_rule(rule_id, {"boost_rule": True})

    def delete_rule(self, rule_id: str) -> None:
        """Remove a replication rule.

        Rucio deletes softly: the rule expires an hour later (until then it
        is still listed, with ``expires`` set, and a new rule for the same
        DID and RSE is refused as a duplicate).
        """
        with self._errors():
            self.client.delete_replication_rule(rule_id, purge_replicas=None)


def _visible(scope: str, account: str | None) -> bool:
    """A scope any account reads, or the ``user.<account>`` scope of this one."""
    return not scope.startswith("user.") or scope == f"user.{account}"


@cache
def _storage_config() -> None:
    """Rucio's storage layer (``rucio.rse``) reads a configuration file even when
    every setting is passed to it; where there is none, it is given one of only
    defaults (``RUCIO_CONFIG``, in a private directory)."""
    from rucio.common.config import get_config_dirs

    if "RUCIO_CONFIG" in os.environ or any(Path(d, "rucio.cfg").exists()
                                           for d in get_config_dirs()):
        return
    path = Path(tempfile.mkdtemp(prefix="esap-dash-rucio-")) / "rucio.cfg"
    # (both sections: the client reads some options without catching a missing section)
    path.write_text("# Rucio's defaults (written by esap-dash's Rucio connector)\n"
                    "[common]\n[client]\n")
    os.environ["RUCIO_CONFIG"] = str(path)


def _bittorrent_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A file's BitTorrent v2 merkle metadata as Rucio keeps it."""
    from rucio.common.bittorrent import bittorrent_v2_merkle_sha256

    root, layers, piece_length = bittorrent_v2_merkle_sha256(os.fspath(path))
    return {"bittorrent_pieces_root": base64.b64encode(root).decode(),
            "bittorrent_pieces_layers": base64.b64encode(layers).decode(),
            "bittorrent_piece_length": piece_length}


def size_text(n: int) -> str:
    """Bytes as people read them: ``1.5 GB``, ``320.0 kB``, ``12 bytes``."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def _rule(info: dict[str, Any]) -> dict[str, Any]:
    """A rule as the Rucio client returns it, in plain words."""
    return {"id": info["id"], "did": f"{info['scope']}:{info['name']}",
            "rse": info["rse_expression"], "account": str(info.get("account") or ""),
            "state": str(info["state"]),
            "locks_ok": info.get("locks_ok_cnt", 0),
            "locks_replicating": info.get("locks_replicating_cnt", 0),
            "locks_stuck": info.get("locks_stuck_cnt", 0),
            "created": info.get("created_at"), "updated": info.get("updated_at"),
            "expires": info.get("expires_at"), "error": info.get("error") or ""}


@cache
def _private_token_client() -> type:
    """A ``rucio.client.Client`` that keeps its token in its own directory."""
    from rucio.client import Client

    class PrivateTokenClient(Client):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self._token_dir = tempfile.mkdtemp(prefix="esap-dash-rucio-")
            weakref.finalize(self, shutil.rmtree, self._token_dir, ignore_errors=True)
            super().__init__(*args, **kwargs)

        def _get_auth_tokens(self) -> tuple[None, str, str, str]:
            suffix = "for_account_" + (self.account or "default")
            return (None, f"{self._token_dir}/{self.TOKEN_EXP_PREFIX}{suffix}",
                    f"{self._token_dir}/{self.TOKEN_PREFIX}{suffix}", self._token_dir)

    return PrivateTokenClient
