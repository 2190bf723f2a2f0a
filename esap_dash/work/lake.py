"""Results back to the data lake: what a job made, or a table the user made elsewhere (a
notebook, through the HTTP API), uploaded to the user's own Rucio scope
(``user.<account>``) with its provenance, and put in a cart as a data-lake item that can
be replicated like any other."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from astropy.table import Table

from connectors.exceptions import QueryError

from ..core.actor import Actor
from ..core.cart import record_rows
from ..core.errors import EsapError
from ..core.lineage import result_document
from ..core.provenance import Provenance
from ..core.votable import write_votable
from .jobs import kind_of, service_of

__all__ = ["LakeUpload", "NameTakenError", "result_to_lake", "upload_to_lake"]


class NameTakenError(EsapError):
    """The user's scope has a file of that name already (the message says which)."""

    status = 409


@dataclass(frozen=True)
class LakeUpload:
    """A table uploaded to the data lake and put in a cart."""

    #: The data identifier (``user.alice:job-12-20261205T101500.vot``).
    did: str
    #: The storage element that holds it.
    rse: str
    #: Its size in bytes.
    bytes: int
    #: The cart it was put in, and whether it was new there.
    cart: str
    added: bool


def result_to_lake(actor: Actor, record: dict[str, Any], *, cart: str) -> LakeUpload:
    """Upload the result table of one of the user's jobs to their scope of the data
    lake (once: asked again, the file there is taken) and put it in ``cart``.

    The file is a VOTable whose resource carries the result's W3C provenance;
    Rucio keeps the job's id and kind and the same PROV-JSON as the file's
    metadata (``esap_dash_job``, ``esap_dash_kind``, ``prov_json``).

    Raises
    ------
    JobError
        The job has no result with a provenance, or the user no data lake.
    ConnectorError
        The data lake refused or failed.
    """
    kind = kind_of(record)
    result = kind.result(actor, record)
    provenance = kind.provenance(record, result)
    # Named by the job and when it was asked: job ids of another deployment (or of
    # this one's database made again) cannot take its place.
    digits = re.sub(r"\D", "", str(record["created"]))  # a datetime, or its text
    name = f"job-{record['id']}-{digits[:8]}T{digits[8:14]}.vot"
    return _upload(actor, result.table, name, provenance, cart=cart,
                   meta={"esap_dash_job": int(record["id"]), "esap_dash_kind": record["kind"]},
                   again=True)


def upload_to_lake(actor: Actor, content: Table | bytes, name: str, *, cart: str,
                   note: str = "") -> LakeUpload:
    """Upload what the user made elsewhere (a notebook's table or file, sent through the
    HTTP API) to their scope of the data lake as ``name``, and put it in ``cart``.

    A table is written as a VOTable whose resource carries its provenance; a file's
    bytes are kept as they are.  The provenance is the upload (activity ``upload``:
    who sent it, when, the name and ``note``, as the sender describes what made it),
    kept as Rucio metadata (``esap_dash_kind = "upload"``, ``prov_json``) and in the
    cart.

    Raises
    ------
    NameTakenError
        The user's scope has a file of that name (a file of the data lake is never
        replaced: choose another name).
    ConnectorError
        The data lake refused (a name Rucio does not take) or failed.
    """
    provenance = Provenance(activity="upload", user=actor.user,
                            query={"name": name, **({"note": note} if note else {})})
    return _upload(actor, content, name, provenance, cart=cart,
                   meta={"esap_dash_kind": "upload"}, again=False)


def _upload(actor: Actor, content: Table | bytes, name: str, provenance: Provenance, *,
            cart: str, meta: dict[str, Any], again: bool) -> LakeUpload:
    """Upload ``content`` (a table as a VOTable with its provenance, or bytes); a file of
    that name already there is taken when ``again`` (the same result asked for twice),
    refused otherwise."""
    lake = service_of(actor, "rucio", "This deployment has no Rucio data lake.")
    prov = result_document(provenance, name).serialize(format="json")
    with tempfile.TemporaryDirectory(prefix="esap-dash-upload-") as folder:
        path = Path(folder) / name
        if isinstance(content, Table):
            write_votable(content, path, resource=name, provenance=prov)
        else:
            path.write_bytes(content)
        try:
            done = lake.upload(path, meta={**meta, "prov_json": prov})
        except QueryError as exc:
            if "already" not in exc.reason:
                raise
            if not again:
                raise NameTakenError(f"{exc.reason}: a file of the data lake is never "
                                     "replaced; choose another name.") from None
            scope = f"user.{lake.account}"
            files = lake.list_dids(scope, name, did_type="file")
            done = {"did": f"{scope}:{name}", "scope": scope, "name": name,
                    "rse": lake.upload_rse, "bytes": int(files["bytes"][0])}
    rows = record_rows(lake.name, lake.url, [{**done, "did_type": "FILE"}], id="did",
                       title="name", product_type="did_type", size="bytes",
                       service_kind="rucio")
    rows["query"] = [provenance.to_json()]
    added = actor.open_cart(cart).add_rows(rows, kind="did")
    return LakeUpload(done["did"], str(done["rse"]), int(done["bytes"]), cart, bool(added))
