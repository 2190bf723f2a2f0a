"""DIRAC through DiracX, its HTTP API: batch jobs described in JDL, and their sandboxes.

Every call goes through the project's HTTP door (a timeout on each) with a
DiracX access token of the user the connector acts as.  The token comes from
DiracX's token exchange (``/api/auth/legacy-exchange``) under a key the
deployment holds: DiracX mints it for the named user of the VO and group, and
it only ever carries that user's rights (their jobs, their sandboxes).  It is
not the user's own login at DiracX; a deployment whose users log in to DiracX
themselves (DiracX's OAuth2 flows, chained to the VO's identity provider)
passes their tokens instead.

    >>> dirac = DiracXConnector("http://127.0.0.1:8101", username="alice",
    ...                         exchange_key="...")  # doctest: +SKIP
    >>> [job] = dirac.submit('[Executable = "echo"; Arguments = "hello";]')  # doctest: +SKIP
    >>> dirac.jobs([job["job_id"]])["status"][0]  # doctest: +SKIP
    'Received'
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import time
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import requests
from astropy.table import Table

from .base import ServiceConnector
from .exceptions import (
    ConfigurationError,
    FormatError,
    QueryError,
    ServiceError,
    ServiceUnavailableError,
)
from .http import TRANSPORT_ERRORS, transport_error
from .jdl import check_jdl

__all__ = ["DIRAC_FINAL", "JOB_COLUMNS", "DiracXConnector"]

#: DIRAC job states after which a job no longer changes by itself.
DIRAC_FINAL = frozenset({"Done", "Completed", "Failed", "Killed", "Deleted", "Stalled"})
#: The columns of :meth:`DiracXConnector.jobs`, and the DIRAC parameters they hold.
JOB_COLUMNS = {"job_id": "JobID", "name": "JobName", "status": "Status",
               "minor_status": "MinorStatus", "application_status": "ApplicationStatus",
               "site": "Site", "owner": "Owner", "group": "OwnerGroup",
               "submitted": "SubmissionTime", "updated": "LastUpdateTime",
               "ended": "EndExecTime"}
#: Largest sandbox read back into memory (DIRAC's own sandbox limit is 10 MB).
MAX_SANDBOX_BYTES = 50 * 2**20



class DiracXConnector(ServiceConnector):
    """A DiracX server, acting as one DIRAC user of one VO and group.

    Parameters
    ----------
    url : str
        The DiracX server.
    username : str
        The DIRAC user the calls act as (their ``preferred_username`` in the VO).
    vo : str
        The virtual organisation.
    group : str, optional
        The user's DIRAC group (``<vo>_user`` when not given).
    exchange_key : str
        The deployment's key for DiracX's token exchange.
    dummy_executor : bool
        The server runs DiracX's dummy job executor: jobs reach Done but nothing
        executes (pages say so).
    tokens : MutableMapping, optional
        Where access tokens are kept by (server, user, group) until shortly
        before they expire; give connectors one mapping to share the exchanges
        (one per user and process, not one per call).  Its own by default.
    **kwargs
        See :class:`~connectors.base.ServiceConnector`.
    """

    kind: ClassVar[str] = "diracx"
    capabilities: ClassVar[frozenset[str]] = frozenset({"batch"})

    def __init__(self, url: str, *, username: str = "", vo: str = "", group: str = "",
                 exchange_key: str = "", dummy_executor: bool = False,
                 tokens: MutableMapping[tuple[str, str, str], tuple[str, float]] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.dummy_executor = dummy_executor
        self.username = username
        self.vo = vo
        self.group = group or (f"{vo}_user" if vo else "")
        self._exchange_key = exchange_key
        self.tokens = {} if tokens is None else tokens

    def __repr__(self) -> str:
        return (f"DiracXConnector(name={self.name!r}, url={self.url!r}, "
                f"username={self.username!r}, group={self.group!r})")

    @property
    def health_url(self) -> str:
        """The address :meth:`health` asks."""
        return f"{self.url}/api/health/ready"

    def _probe(self) -> str:
        said = self._send("GET", "/api/health/ready", auth=False)
        return f"DiracX {said.get('status', 'ready')}"

    # ------------------------------------------------------------ transport
    def _send(self, method: str, path: str, *, auth: bool = True,
              **kwargs: Any) -> Any:
        """One call; its JSON answer.  Refused requests raise with DiracX's own words."""
        url = f"{self.url}{path}"
        for attempt in (0, 1):
            headers = {"Authorization": f"Bearer {self._token(fresh=attempt > 0)}"} if auth else {}
            try:
                resp = self.session.request(method, url, headers=headers, **kwargs)
            except TRANSPORT_ERRORS as exc:
                raise transport_error(exc, url, self.timeout) from exc
            if resp.status_code == 401 and auth and attempt == 0:
                continue
            break
        if resp.status_code >= 400:
            raise _refusal(resp, url)
        if resp.status_code == 204 or not resp.content:
            return None
        try:
            return resp.json()
        except ValueError as exc:
            raise FormatError(f"DiracX answered {resp.status_code} without JSON", url) from exc

    def _token(self, *, fresh: bool = False) -> str:
        if not self.username or not self._exchange_key or not self.vo:
            raise ConfigurationError("a DiracX connector needs username, vo and exchange_key",
                                     self.url)
        key = (self.url, self.username, self.group)
        token, until = self.tokens.get(key, ("", 0.0))
        if token and not fresh and time.time() < until:
            return token
        url = f"{self.url}/api/auth/legacy-exchange"
        raw = base64.urlsafe_b64encode(self._exchange_key.encode()).decode()
        try:
            resp = self.session.get(url, params={
                "preferred_username": self.username,
                "scope": f"vo:{self.vo} group:{self.group}"},
                headers={"Authorization": f"Bearer diracx:legacy:{raw}"})
        except TRANSPORT_ERRORS as exc:
            raise transport_error(exc, url, self.timeout) from exc
        if resp.status_code >= 400:
            refusal = _refusal(resp, url)
            raise ServiceError(f"DiracX gives no token to {self.username!r} of VO "
                               f"{self.vo!r}, group {self.group!r}: {refusal.reason}", url,
                               status=resp.status_code)
        try:
            answer = resp.json()
            token, lifetime = str(answer["access_token"]), float(answer["expires_in"])
        except (ValueError, KeyError, TypeError) as exc:
            raise FormatError("DiracX's token answer is not a token", url) from exc
        self.tokens[key] = (token, time.time() + max(0.0, lifetime - 60))
        return token

    # ----------------------------------------------------------------- jobs
    def submit(self, jdl: str) -> list[dict[str, Any]]:
        """Submit one job description (a parametric one makes several jobs).

        Parameters
        ----------
        jdl : str
            The job in DIRAC's JDL.

        Returns
        -------
        list of dict
            Per job made: ``job_id``, ``status``, ``minor_status``, ``time``.

        Raises
        ------
        QueryError
            DiracX refused the description (its message), or it does not read under
            the strict grammar of :mod:`connectors.jdl` (DiracX's own reader hangs on
            some descriptions), and was not sent.
        """
        _check_jdl(jdl, f"{self.url}/api/jobs/jdl")
        made = self._send("POST", "/api/jobs/jdl", json=[jdl])
        try:
            jobs = [{"job_id": int(j["JobID"]), "status": str(j["Status"]),
                     "minor_status": str(j["MinorStatus"]), "time": str(j["TimeStamp"])}
                    for j in made]
        except (KeyError, TypeError, ValueError) as exc:
            raise FormatError("DiracX's answer to a submission lists no jobs",
                              f"{self.url}/api/jobs/jdl") from exc
        # The jobs of a parametric job wait in Submitting for the submitter's
        # confirmation, which DIRAC's own client sends at once.
        waiting = [j["job_id"] for j in jobs if j["status"] == "Submitting"]
        if waiting:
            refused = self.set_status(waiting, "Received", "Job accepted")
            for job in jobs:
                if job["job_id"] in waiting and job["job_id"] not in refused:
                    job.update(status="Received", minor_status="Job accepted")
        return jobs

    def jobs(self, job_ids: list[int] | None = None) -> Table:
        """The user's jobs (those numbered ``job_ids`` when given), newest first.

        Returns
        -------
        astropy.table.Table
            The columns of :data:`JOB_COLUMNS`; another user's job is never in it
            (even where the VO lets its users see each other's).
        """
        search = self._own()
        if job_ids is not None:
            if not job_ids:
                return _job_table([])
            search.append({"parameter": "JobID", "operator": "in",
                           "values": [int(j) for j in job_ids]})
        body = {"parameters": list(JOB_COLUMNS.values()), "search": search,
                "sort": [{"parameter": "JobID", "direction": "desc"}]}
        return _job_table(self._send("POST", "/api/jobs/search", json=body) or [])

    def _own(self) -> list[dict[str, Any]]:
        """The filter to the user's own jobs: DIRAC shows every job of the VO to its
        users unless the VO's ``GlobalJobsInfo`` is off."""
        return [{"parameter": "Owner", "operator": "eq", "value": self.username},
                {"parameter": "VO", "operator": "eq", "value": self.vo}]

    def history(self, job_id: int) -> Table:
        """The job's status history, oldest first: ``time``, ``status``, ``minor_status``,
        ``application_status``, ``source``."""
        body = {"parameters": ["JobID", "LoggingInfo"],
                "search": [*self._own(),
                           {"parameter": "JobID", "operator": "eq", "value": int(job_id)}]}
        found = self._send("POST", "/api/jobs/search", json=body) or []
        records = found[0].get("LoggingInfo", []) if found else []
        rows = [(str(r.get("StatusTime", "")), str(r.get("Status", "")),
                 str(r.get("MinorStatus", "")), str(r.get("ApplicationStatus", "")),
                 str(r.get("Source", ""))) for r in records]
        rows.sort(key=lambda r: r[0])
        return Table(rows=rows or None, names=("time", "status", "minor_status",
                                               "application_status", "source"),
                     dtype=(str,) * 5)

    def summary(self) -> Table:
        """How many of the user's jobs are in each status: ``status``, ``count``."""
        found = self._send("POST", "/api/jobs/summary",
                           json={"grouping": ["Status"], "search": self._own()}) or []
        return Table(rows=[(str(r["Status"]), int(r["count"])) for r in found] or None,
                     names=("status", "count"), dtype=(str, int))

    def set_status(self, job_ids: list[int], status: str, minor_status: str = "",
                   application_status: str = "") -> dict[int, str]:
        """Set the jobs' status (as their owner may: ``Killed``, ``Deleted``; and as a
        job reports its own end, ``Failed`` or ``Done``).

        Returns
        -------
        dict
            Job id -> why DiracX did not apply it, for the jobs it did not change (a
            job already final cannot be killed).
        """
        now = datetime.now(UTC).isoformat()
        update = {"Status": status, "Source": "esap-dash"}
        if minor_status:
            update["MinorStatus"] = minor_status
        if application_status:
            update["ApplicationStatus"] = application_status
        said = self._send("PATCH", "/api/jobs/status",
                          json={str(int(j)): {now: update} for j in job_ids}) or {}
        refused = {int(j): str(why) for j, why in (said.get("failed") or {}).items()}
        for j, applied in (said.get("success") or {}).items():
            if applied.get("Status") is None and status:
                refused[int(j)] = f"DIRAC does not move this job to {status} now"
        return refused

    def kill(self, job_ids: list[int]) -> dict[int, str]:
        """Kill the jobs (see :meth:`set_status` for what is returned)."""
        return self.set_status(job_ids, "Killed", "Marked for termination")

    def delete(self, job_ids: list[int]) -> dict[int, str]:
        """Delete the jobs (see :meth:`set_status` for what is returned)."""
        return self.set_status(job_ids, "Deleted", "Checking accounting")

    def reschedule(self, job_ids: list[int]) -> dict[int, str]:
        """Ask DIRAC to run the jobs again; job id -> why not, for those it refused."""
        said = self._send("POST", "/api/jobs/reschedule",
                          json={"job_ids": [int(j) for j in job_ids]}) or {}
        return {int(j): str(why) for j, why in (said.get("failed") or {}).items()}

    # ------------------------------------------------------------ sandboxes
    def upload_sandbox(self, files: dict[str, bytes]) -> str:
        """Pack ``files`` (name -> content) as a sandbox and store it.

        Returns
        -------
        str
            The sandbox's PFN, for a JDL's ``InputSandbox``.
        """
        if not files:
            raise QueryError("a sandbox needs at least one file", self.url)
        packed = io.BytesIO()
        with tarfile.open(fileobj=packed, mode="w:bz2") as tar:
            for name, content in sorted(files.items()):
                info = tarfile.TarInfo(name)
                # no time in it: the same files are the same sandbox (DiracX keeps one)
                info.size, info.mtime, info.mode = len(content), 0, 0o644
                tar.addfile(info, io.BytesIO(content))
        data = packed.getvalue()
        said = self._send("POST", "/api/jobs/sandbox", json={
            "checksum_algorithm": "sha256", "checksum": hashlib.sha256(data).hexdigest(),
            "size": len(data), "format": "tar.bz2"})
        if said.get("url"):
            url = said["url"]
            try:
                resp = self.session.post(url, data=said.get("fields") or {},
                                         files={"file": ("file", data)})
            except TRANSPORT_ERRORS as exc:
                raise transport_error(exc, url, self.timeout) from exc
            if resp.status_code >= 300:
                raise ServiceError(f"the sandbox store refused the upload "
                                   f"(HTTP {resp.status_code})", url, status=resp.status_code)
        return str(said["pfn"])

    def sandboxes(self, job_id: int) -> dict[str, list[str]]:
        """The sandboxes DIRAC has for the job: ``{"input": [pfn ...], "output": [...]}``."""
        said = self._send("GET", f"/api/jobs/{int(job_id)}/sandbox") or {}
        return {"input": [str(p) for p in said.get("Input") or []],
                "output": [str(p) for p in said.get("Output") or []]}

    def assign_output_sandbox(self, job_id: int, pfn: str) -> None:
        """Record ``pfn`` as the job's output sandbox (what a job's pilot does at its end)."""
        self._send("PATCH", f"/api/jobs/{int(job_id)}/sandbox/output", json=pfn)

    def read_sandbox(self, pfn: str) -> dict[str, bytes]:
        """The files of a sandbox (name -> content).

        Raises
        ------
        ServiceError
            Not the user's sandbox, gone from the store, or larger than
            :data:`MAX_SANDBOX_BYTES`.
        FormatError
            Not a tar archive.
        """
        said = self._send("GET", "/api/jobs/sandbox", params={"pfn": pfn})
        url = str(said["url"])
        try:
            resp = self.session.get(url, stream=True)
            if resp.status_code >= 400:
                raise ServiceError(f"the sandbox store has no {pfn.rsplit('/', 1)[-1]} "
                                   f"(HTTP {resp.status_code})", url, status=resp.status_code)
            data = b""
            for chunk in resp.iter_content(1 << 16):
                data += chunk
                if len(data) > MAX_SANDBOX_BYTES:
                    raise ServiceError(f"the sandbox is larger than "
                                       f"{MAX_SANDBOX_BYTES // 2**20} MB", url)
        except TRANSPORT_ERRORS as exc:
            raise transport_error(exc, url, self.timeout) from exc
        if data.startswith(b"\x28\xb5\x2f\xfd"):
            raise FormatError("the sandbox is compressed with zstandard, which this server "
                              "does not read", url)
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
                return {m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
                        for m in tar.getmembers() if m.isfile()}
        except tarfile.TarError as exc:
            raise FormatError("the sandbox is not a tar archive", url) from exc


def _check_jdl(jdl: str, url: str) -> None:
    """Send only what reads under the strict grammar of :mod:`connectors.jdl` (DIRAC's
    own reader loops forever, and its server with it, on some descriptions)."""
    try:
        check_jdl(jdl)
    except ValueError as exc:
        raise QueryError(f"{exc} (the description was not sent)", url) from None


def _refusal(resp: requests.Response, url: str) -> ServiceError:
    """DiracX's error answer as a connector error, in its own words."""
    try:
        detail = resp.json().get("detail", "")
    except (ValueError, AttributeError):
        detail = ""
    if isinstance(detail, list):  # FastAPI's validation errors
        detail = "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d)
                           for d in detail)
    detail = str(detail or resp.text.strip()[:300] or resp.reason)
    if resp.status_code in (502, 503, 504):
        return ServiceUnavailableError(f"DiracX is not available: {detail}", url)
    if resp.status_code in (400, 422):
        return QueryError(detail, url, status=resp.status_code)
    if resp.status_code == 403:
        return ServiceError(f"DiracX does not allow this to this user ({detail})", url,
                            status=403)
    return ServiceError(f"HTTP {resp.status_code}: {detail}", url, status=resp.status_code)


def _job_table(found: list[dict[str, Any]]) -> Table:
    rows = [tuple(int(j.get(p) or 0) if c == "job_id" else str(j.get(p) or "")
                  for c, p in JOB_COLUMNS.items()) for j in found]
    return Table(rows=rows or None, names=tuple(JOB_COLUMNS),
                 dtype=(int,) + (str,) * (len(JOB_COLUMNS) - 1))
