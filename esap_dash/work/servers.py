"""The user's notebook servers at the deployment's JupyterHubs: seen and stopped.

A JupyterHub facility with esap-dash's token as a service of the hub
(``api_token``) shows its user's servers (state, start, last activity, what
runs them: local processes, or the Slurm job) on the Jobs page and in "Where
can this run?", and lets the user stop them.  The hub's user is the account's
``hub_user`` (with logins) or the facility's ``user`` (without).  Each hub is
asked at once, within its timeout: a hub that is down or hung costs its own
row.

What the hub does not say is said too: why the user's last start there failed
(the hub keeps it until the next start), and, for servers that are Slurm jobs,
why a job waits (a drained node) or that it has ended under a server the hub
still counts (the hub notices only at its next poll).
"""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from connectors.exceptions import ConnectorError, ServiceUnavailableError
from connectors.hubs import spawn_failure, stop_user_server, user_servers
from connectors.slurm import SlurmQueue

from ..core.actor import Actor
from ..core.config import Facility
from .jobs import JobError

__all__ = ["HUB_TIMEOUT", "HubServers", "NotebookServer", "hub_user", "notebook_servers",
           "server_facilities", "servers_at", "stop_notebook_server"]

#: Seconds a hub may take to list or stop a user's servers.
HUB_TIMEOUT = 10.0
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
        What its batch job says where the hub cannot: why it waits, or that it has
        ended under a server the hub still counts (``""``: nothing to say).
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
            failure = spawn_failure(facility.url, facility.api_token, user, "",
                                    HUB_TIMEOUT).rstrip(".")
        except ConnectorError as exc:
            log.warning("%s did not say how your last start went: %s", facility.name,
                        exc.reason)
    notes = _batch_notes(user, found) if facility.engine == "slurm" else {}
    base = facility.url.split("/", 3)
    origin = "/".join(base[:3])
    return HubServers(facility, tuple(NotebookServer(
        facility.id, facility.name, s["name"], s["state"], s["started"], s["last_activity"],
        facility.engine + (f" (job {s['job']})" if s["job"] else ""),
        origin + s["url"] if s["url"].startswith("/") else s["url"], notes.get(s["name"], ""))
        for s in found), failure=failure)


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
        No such hub, no account there, or the hub refused or does not answer.
    """
    facility = next((f for f in server_facilities(actor) if f.id == facility_id), None)
    if facility is None:
        raise JobError(f"This deployment shows no servers at {facility_id!r}.", status=404)
    user = hub_user(actor, facility)
    if not user:
        raise JobError(f"You ({actor.name}) have no account at {facility.name}.", status=403)
    try:
        stop_user_server(facility.url, facility.api_token, user, name, HUB_TIMEOUT)
    except ConnectorError as exc:
        status = getattr(exc, "status", None)
        raise JobError(f"{facility.name} did not stop your server: {exc.reason}",
                       status=409 if status in (400, 404) else 502) from None

