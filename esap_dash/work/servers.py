"""The user's notebook servers at the deployment's JupyterHubs: seen and stopped.

A JupyterHub facility with esap-dash's token as a service of the hub
(``api_token``) shows its user's servers (state, start, last activity, what
runs them: local processes, or the Slurm job) on the Jobs page and in "Where
can this run?", and lets the user stop them.  The hub's user is the account's
``hub_user`` (with logins) or the facility's ``user`` (without).  Each hub is
asked at once, within its timeout: a hub that is down or hung costs its own
row.

What the hub does not say is said too: why the user's last start there failed
(the hub keeps it until the next start; sudospawner's own failures, such as sudo
refusing the hub, are said in words), that a server the hub counts as running
does not answer (its process has ended or hangs: the hub notices only at its
next poll), and, for servers that are Slurm jobs, why a job waits (a drained
node) or that it has ended.
"""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from connectors.exceptions import ConnectorError, ServiceUnavailableError
from connectors.hubs import server_answers, spawn_failure, stop_user_server, user_servers
from connectors.slurm import SlurmQueue

from ..core.actor import Actor
from ..core.config import Facility
from .jobs import JobError

__all__ = ["HUB_TIMEOUT", "HubServers", "NotebookServer", "hub_user", "notebook_servers",
           "server_facilities", "servers_at", "stop_notebook_server"]

#: Seconds a hub may take to list or stop a user's servers.
HUB_TIMEOUT = 10.0
#: Seconds a running server may take to answer before it is said to hang.
PROBE_TIMEOUT = 5.0
#: How sudospawner's failures read at the hub (its helper, run through sudo as the
#: user, said nothing: sudo refused, or the helper failed).
SUDOSPAWNER_FAILURE = re.compile(r"substring not found|sudospawner|from mediator")
#: The states of a batch job that may still hold a live server.
LIVE_JOB_STATES = frozenset({"RUNNING", "COMPLETING", "CONFIGURING", "SUSPENDED",
                             "PENDING"})

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NotebookServer:
    """One of the user's servers at a JupyterHub.

    Attributes
    ----------
    facility_id, facility : str
        The hub's id in the profile and its name.
    name : str
        The server's name (``""``: the user's default server).
    state : str
        ``running``, ``starting`` or ``stopping``.
    started, last_activity : str
        ISO 8601 times as the hub says them (``""`` where it does not).
    engine : str
        What runs it: the facility's engine, with the batch job where there is one.
    url : str
        Its address.
    note : str
        What the hub does not say: that the server does not answer, or what its
        batch job says (why it waits, or that it has ended); ``""``: nothing to say.
    """

    facility_id: str
    facility: str
    name: str
    state: str
    started: str
    last_activity: str
    engine: str
    url: str
    note: str = ""


@dataclass(frozen=True)
class HubServers:
    """One hub's answer: the user's servers there, or why they are not known; and why
    the last start of the user's server there failed, where it did."""

    facility: Facility
    servers: tuple[NotebookServer, ...] = ()
    problem: str = ""
    failure: str = ""


def server_facilities(actor: Actor) -> list[Facility]:
    """The deployment's JupyterHubs where esap-dash can see its users' servers (without
    logins, those that name the deployment's hub user)."""
    return [f for f in actor.profile.facilities if f.kind == "jupyterhub" and f.api_token
            and (f.user or actor.profile.users != "single")]


def hub_user(actor: Actor, facility: Facility) -> str:
    """The user's name at ``facility`` (``""``: none)."""
    if actor.profile.users == "single":
        return facility.user
    account = actor.profile.accounts.get(actor.user)
    return account.hub_user if account else ""


def servers_at(actor: Actor, facility: Facility) -> HubServers:
    """The user's servers at ``facility``, or why they are not known (blocking)."""
    user = hub_user(actor, facility)
    if not user:
        return HubServers(facility, problem=f"you ({actor.name}) have no account at "
                                            f"{facility.name}")
    try:
        found = user_servers(facility.url, facility.api_token, user, HUB_TIMEOUT)
    except ServiceUnavailableError as exc:
        return HubServers(facility, problem=f"{facility.name} does not answer: {exc.reason}")
    except ConnectorError as exc:
        return HubServers(facility, problem=f"{facility.name} refused to list your servers: "
                                            f"{exc.reason}")
    failure = ""
    if not any(s["name"] == "" for s in found):  # the default server: did it fail to start?
        try:
            failure = _explained(spawn_failure(facility.url, facility.api_token, user, "",
                                               HUB_TIMEOUT).rstrip("."), facility)
        except ConnectorError as exc:
            log.warning("%s did not say how your last start went: %s", facility.name,
                        exc.reason)
    notes = _batch_notes(user, found) if facility.engine == "slurm" else {}
    origin = "/".join(facility.url.split("/", 3)[:3])
    servers = []
    for s in found:
        url = origin + s["url"] if s["url"].startswith("/") else s["url"]
        note = notes.get(s["name"], "")
        if not note and s["state"] == "running":
            note = _silence(url)
        servers.append(NotebookServer(
            facility.id, facility.name, s["name"], s["state"], s["started"],
            s["last_activity"], facility.engine + (f" (job {s['job']})" if s["job"] else ""),
            url, note))
    return HubServers(facility, tuple(servers), failure=failure)


def _silence(url: str) -> str:
    """That the server at ``url``, running for its hub, does not answer, and what to
    do (``""``: it answers)."""
    try:
        server_answers(url, PROBE_TIMEOUT)
    except ConnectorError as exc:
        status = getattr(exc, "status", None)
        why = f"HTTP {status} through the hub's proxy" if status else exc.reason
        return (f"it does not answer ({why}): its process has ended or hangs, and the hub "
                "notices only at its next check; stop it here, then open the cart again "
                "(the cart keeps everything)")
    return ""


def _explained(failure: str, facility: Facility) -> str:
    """The hub's sentence for a failed start, with what it means where the hub's words
    are sudospawner's own."""
    if failure and facility.engine != "slurm" and SUDOSPAWNER_FAILURE.search(failure):
        return (f"{failure} (the hub got no answer from the helper it starts as your Unix "
                "account through sudo: most often its sudo rules do not name your account; "
                "the hub's log says more)")
    return failure


def _batch_notes(user: str, servers: list[dict[str, str]]) -> dict[str, str]:
    """What Slurm says of the servers' jobs that the hub does not: why one waits, or
    that one has ended (the hub notices only at its next poll); by server name."""
    jobs = {s["name"]: s["job"] for s in servers if s["job"] and s["state"] != "stopping"}
    if not jobs:
        return {}
    try:
        queue = {str(j["job_id"]): (str(j["state"]), str(j["reason"]))
                 for j in SlurmQueue(timeout=HUB_TIMEOUT).jobs(user=user)}
    except ConnectorError as exc:
        return {name: f"Slurm's queue was not read: {exc.reason}" for name in jobs}
    notes = {}
    for name, job in jobs.items():
        state, reason = queue.get(job, ("", ""))
        if state == "PENDING":
            reason = reason.strip("()")
            notes[name] = f"Slurm job {job} waits: {reason}" + (
                " (the hub gives up after its start timeout unless a node comes back)"
                if re.search(r"DOWN|DRAIN|ReqNodeNotAvail", reason) else "")
        elif state not in LIVE_JOB_STATES:
            notes[name] = (f"its Slurm job {job} has ended"
                           + (f" ({state})" if state else "")
                           + ": the server is gone (the hub notices at its next check); "
                             "opening the cart again starts a new one")
    return notes


def notebook_servers(actor: Actor) -> list[HubServers]:
    """The user's servers at each hub that shows them, in the profile's order (each
    hub asked at once; blocking: call it off the event loop)."""
    hubs = server_facilities(actor)
    if not hubs:
        return []
    with ThreadPoolExecutor(len(hubs), thread_name_prefix="hub") as pool:
        return list(pool.map(lambda f: servers_at(actor, f), hubs))


def stop_notebook_server(actor: Actor, facility_id: str, name: str = "") -> None:
    """Ask the hub ``facility_id`` to stop the user's server ``name`` (blocking).

    Raises
    ------
    JobError
        No such hub, no account there, no such server of the user's there, or the hub
        refused or does not answer.
    """
    facility = next((f for f in server_facilities(actor) if f.id == facility_id), None)
    if facility is None:
        raise JobError(f"This deployment shows no servers at {facility_id!r}.", status=404)
    user = hub_user(actor, facility)
    if not user:
        raise JobError(f"You ({actor.name}) have no account at {facility.name}.", status=403)
    try:
        if not any(s["name"] == name for s in user_servers(facility.url, facility.api_token,
                                                            user, HUB_TIMEOUT)):
            raise JobError(f"No server of yours{' named ' + repr(name) if name else ''} runs "
                           f"at {facility.name}.", status=409)
        stop_user_server(facility.url, facility.api_token, user, name, HUB_TIMEOUT)
    except ConnectorError as exc:
        status = getattr(exc, "status", None)
        raise JobError(f"{facility.name} did not stop your server: {exc.reason}",
                       status=409 if status in (400, 404) else 502) from None

