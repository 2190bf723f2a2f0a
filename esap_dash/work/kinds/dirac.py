"""Batch jobs on DIRAC (through DiracX) built from a cart, followed with every other job."""

from __future__ import annotations

import re
from typing import Any

from astropy.table import Table

from connectors.diracx import DiracXConnector
from connectors.exceptions import ConnectorError

from ...core.actor import Actor, NoAccountError
from ...core.cart import CartError
from ...core.provenance import Provenance, Service, now
from ...core.runtime import current_runtime
from ..dirac import BatchSpec, Plan, PlanError, make_plan, names, render_jdl
from ..jobs import JobError, JobKind, JobResult, service_of

__all__ = ["DiracJobs", "dirac_of"]

#: What a job's list row says when the server runs nothing.
DUMMY_NOTE = ("the local DiracX runs a dummy executor: jobs go to Done and nothing "
              "executes")


def dirac_of(actor: Actor) -> DiracXConnector:
    """The deployment's DIRAC, acting as the user.

    Raises
    ------
    JobError
        The deployment has no DIRAC, or the user no DIRAC account in it.
    """
    dirac = service_of(actor, "dirac", "This deployment has no DIRAC (DiracX) service.")
    dirac.tokens = current_runtime().part("diracx-tokens", dict)  # exchanges shared
    return dirac


class DiracJobs(JobKind):
    """A DIRAC job of the user's, built from one of their carts (or a kept JDL)."""

    name = "dirac"
    label = "DIRAC job"
    batched = True
    #: DIRAC states a job leaves only when rescheduled, which esap-dash does not do.
    ends = frozenset({"DONE", "FAILED", "KILLED", "DELETED"})

    def plan(self, actor: Actor, *, cart: str, **spec: Any) -> Plan:
        """The job ``spec`` (:class:`~esap_dash.work.dirac.BatchSpec` fields) makes of cart
        ``cart``, for the user to read before submitting it (blocking).

        Raises
        ------
        JobError
            The request is wrong or the cart gives no input for it (the message says
            which).
        """
        try:
            items = actor.open_cart(cart, create=False).to_table()
            try:
                lake = actor.connector("rucio")
            except NoAccountError:
                lake = None
            return make_plan(items, BatchSpec(**spec), lake, cart=cart)
        except (PlanError, CartError) as exc:
            raise JobError(str(exc)) from None

    def submit(self, actor: Actor, *, cart: str = "", jdl: str = "", executable: str = "",
               arguments: str = "", cpu_time: int = 3600,
               sites: tuple[str, ...] | str = (), tags: tuple[str, ...] | str = (),
               per_item: bool = False, name: str = "") -> int:
        """Submit the job the :class:`~esap_dash.work.dirac.BatchSpec` fields make of cart
        ``cart`` (see :meth:`plan`), or the kept description ``jdl`` as it is; the id of
        the (first) job's record.

        A job per data-lake file makes one record per DIRAC job.
        """
        spec = {"executable": executable, "arguments": arguments, "cpu_time": cpu_time,
                "sites": names(sites), "tags": names(tags), "per_item": per_item,
                "name": name}
        dirac = dirac_of(actor)
        detail: dict[str, Any] = {"cart": cart, "dirac_user": dirac.username}
        if jdl:
            detail.update(spec={}, items=[], lfns=[])
        else:
            plan = self.plan(actor, cart=cart, **spec)
            sandbox = dirac.upload_sandbox(plan.sandbox)
            jdl = render_jdl(plan, sandbox)
            detail.update(spec=spec, sandbox=sandbox, items=list(plan.items),
                          lfns=list(plan.lfns))
        made = dirac.submit(jdl)
        ids = [m["job_id"] for m in made]
        records = []
        for index, job in enumerate(made):
            one = {**detail, "jdl": jdl, "bulk": ids, "index": index,
                   "submitted": job["time"] or now()}
            if len(made) > 1 and index < len(detail["lfns"]):
                one["parameter"] = detail["lfns"][index]
            records.append(actor.store.add_job(actor.user, self.name, dirac.name,
                                               str(job["job_id"]), one))
        return records[0]

    def request(self, record: dict[str, Any]) -> dict[str, Any]:
        """The description of this one DIRAC job (a parametric job's member gets its
        own parameter), to submit again."""
        detail = record["detail"]
        jdl = str(detail["jdl"])
        if "parameter" in detail:
            width = len(str(len(detail.get("bulk") or [0]) - 1))
            jdl = re.sub(r"\n\s*Parameters = \{[^}]*\};", "", jdl)
            jdl = jdl.replace("%s", str(detail["parameter"])).replace(
                "%n", str(detail.get("index", 0)).zfill(width))
        return {"jdl": jdl, "cart": str(detail.get("cart", ""))}

    def describe(self, record: dict[str, Any]) -> str:
        detail = record["detail"]
        spec = detail.get("spec") or {}
        what = " ".join(str(spec.get(k, "")) for k in ("executable", "arguments")).strip()
        bulk = detail.get("bulk") or []
        part = (f"; job {detail.get('index', 0) + 1} of {len(bulk)}: {detail['parameter']}"
                if "parameter" in detail else "")
        inputs = len(detail.get("lfns") or [])
        origin = (f"cart {detail.get('cart')!r}, {inputs} input files" if detail.get("cart")
                  else "a kept job description")
        return f"DIRAC job {record['ref']}: {what or 'as described'} ({origin}{part})"

    def state(self, actor: Actor, record: dict[str, Any]) -> dict[str, Any]:
        return self.states(actor, [record])[record["id"]]

    def states(self, actor: Actor, records: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
        """The jobs' DIRAC states, from one search of the user's jobs."""
        found = {int(row["job_id"]): row
                 for row in dirac_of(actor).jobs([int(r["ref"]) for r in records])}
        return {r["id"]: _dirac_state(found[int(r["ref"])]) if int(r["ref"]) in found
                else {"state": "UNKNOWN",
                      "error": f"DIRAC does not show job {r['ref']} to you (deleted?)"}
                for r in records}

    def caveat(self, actor: Actor) -> str:
        try:
            dummy = dirac_of(actor).dummy_executor
        except JobError:
            return ""
        return (f"DIRAC jobs: {DUMMY_NOTE} (no pilots or computing elements here), and "
                "produce no output sandbox." if dummy else "")

    def history(self, actor: Actor, record: dict[str, Any]) -> Table:
        """The DIRAC job's status history, oldest first (blocking)."""
        return dirac_of(actor).history(int(record["ref"]))

    def abort(self, actor: Actor, record: dict[str, Any]) -> None:
        refused = dirac_of(actor).kill([int(record["ref"])])
        if refused:
            raise JobError(f"DIRAC did not kill job {record['ref']}: "
                           f"{next(iter(refused.values()))}", status=409)

    def delete(self, actor: Actor, record: dict[str, Any]) -> None:
        try:
            dirac_of(actor).delete([int(record["ref"])])
        except ConnectorError as exc:
            if getattr(exc, "status", None) not in (403, 404):
                raise

    def result(self, actor: Actor, record: dict[str, Any]) -> JobResult:
        """The job's sandboxes: the input one (the cart it was given) and the output one
        DIRAC holds once the job ended (or why there is none)."""
        dirac = dirac_of(actor)
        ref = int(record["ref"])
        boxes = dirac.sandboxes(ref)
        inputs = boxes["input"] or ([record["detail"]["sandbox"]]
                                    if record["detail"].get("sandbox") else [])
        rows: list[tuple[str, str, int, str]] = []
        files: dict[str, bytes] = {}
        for which, pfns in (("input", inputs), ("output", boxes["output"])):
            for pfn in pfns:
                try:
                    content = dirac.read_sandbox(pfn)
                except ConnectorError as exc:
                    rows.append((which, f"(cannot be read: {exc.reason})", 0, pfn))
                    continue
                for name, data in sorted(content.items()):
                    rows.append((which, name, len(data), pfn))
                    files[f"{which}/{name}"] = data
        table = Table(rows=rows or None, names=("sandbox", "file", "bytes", "pfn"),
                      dtype=(str, str, int, str))
        table.meta["dirac_job"] = ref
        if boxes["output"]:
            count = sum(1 for which in table["sandbox"] if which == "output")
            note = f"DIRAC job {ref}: an output sandbox of {count} files."
        else:
            status = dirac.jobs([ref])
            state = str(status["status"][0]) if len(status) else "unknown"
            note = (f"DIRAC job {ref} ({state}) has no output sandbox"
                    + (f": {DUMMY_NOTE}, so it produces none." if dirac.dummy_executor
                       else "." if state in ("Done", "Failed", "Killed")
                       else " yet: it comes when the job ends."))
        history = dirac.history(ref)
        if len(history):
            steps = " → ".join(f"{row['status']} ({str(row['time'])[11:19]})"
                               for row in history)
            note += f" Status history (UTC): {steps}."
        return JobResult(table, note=note, files=files)

    def provenance(self, record: dict[str, Any], result: JobResult) -> Provenance:
        detail = record["detail"]
        return Provenance(
            "result", at=now(), user=record["user"],
            services=(Service(record["service"], "diracx", asked=str(detail.get("jdl", ""))),),
            query={"dirac_job": record["ref"], "cart": detail.get("cart"),
                   "spec": detail.get("spec"), "jdl": detail.get("jdl"),
                   "input_data": detail.get("lfns")},
            job=record["id"], inputs=tuple(detail.get("items") or ()))

    def cart_rows(self, record: dict[str, Any], result: JobResult) -> Table:
        """The output sandbox's files as cart rows (the input sandbox is the cart)."""
        outputs = result.table[result.table["sandbox"] == "output"]
        if not len(outputs):
            raise JobError(f"DIRAC job {record['ref']} has no output files to add.", status=409)
        outputs = Table(outputs, copy=True)
        outputs["title"] = [f"{f} (DIRAC job {record['ref']})" for f in outputs["file"]]
        outputs["item_id"] = [f"dirac:{record['ref']}:{f}" for f in outputs["file"]]
        rows = super().cart_rows(record, JobResult(outputs, note=result.note))
        rows["archive"] = [f"DIRAC job {record['ref']}"] * len(rows)
        rows["product_type"] = ["DIRAC output"] * len(rows)
        return rows


def _dirac_state(job: Any) -> dict[str, Any]:
    """A job's row of :meth:`DiracXConnector.jobs` as the job list's live state."""
    status, minor, app = (str(job["status"]), str(job["minor_status"]),
                          str(job["application_status"]))
    said = app not in ("", "Unknown")
    note = " · ".join(x for x in (minor, f"site {job['site']}" if job["site"] else "",
                                  f"application: {app}" if said else "") if x)
    failed = status in ("Failed", "Killed", "Stalled")
    return {"state": status.upper(), "note": note,
            "error": (f"{status}: {minor}" + (f"; {app}" if said else "")) if failed else "",
            "ended": job["ended"] if status in ("Done", "Failed", "Killed") else "",
            "site": str(job["site"]), "minor_status": minor}
