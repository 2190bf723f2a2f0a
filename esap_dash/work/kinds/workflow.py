"""Workflow runs as jobs: a cart's items worked on next to the data, on Dask."""

from __future__ import annotations

from typing import Any

from astropy.table import Table

from ...core.actor import Actor, NoAccountError
from ...core.cart import CartError
from ...core.provenance import Provenance, Service, now
from ..jobs import JobError, JobKind, JobResult
from ..workflows import (
    INPUTS,
    Engine,
    GatewayEngine,
    LocalEngine,
    Runner,
    WorkflowError,
    load_workflows,
)

__all__ = ["WorkflowRuns", "default_engine"]


def default_engine(actor: Actor) -> Engine:
    """Where the actor's runs go unless told: the user's first running Dask Gateway
    cluster, or a local Dask cluster when the deployment has no gateway.

    Raises
    ------
    JobError
        The user has no gateway account, or no running cluster.
    """
    try:
        gateway = actor.connector("gateway")
    except NoAccountError as exc:
        raise JobError(str(exc)) from None
    if gateway is None:
        return LocalEngine()
    running = [c["name"] for c in gateway.clusters() if c["status"] == "RUNNING"]
    if not running:
        raise JobError("Start a cluster (Jobs > Dask clusters) and wait until it runs; "
                       "workflows run on one of your running clusters.")
    return GatewayEngine(gateway, running[0])


class WorkflowRuns(JobKind):
    """A run of an installed workflow on the items of one of the user's carts."""

    name = "dask"
    label = "workflow run"

    def submit(self, actor: Actor, *, workflow: str, cart: str,
               values: dict[str, Any] | None = None) -> int:
        """Run ``workflow`` on cart ``cart`` with ``values`` (its defaults if not given)."""
        flow = load_workflows()[0].get(workflow)
        if flow is None:
            raise JobError(f"No workflow {workflow!r} is installed.")
        try:
            items = actor.open_cart(cart, create=False).to_table()
            engine = actor.engine() if actor.engine is not None else default_engine(actor)
            try:
                lake = actor.connector("rucio")
            except NoAccountError:
                lake = None
            return Runner.shared().start(
                actor.store, actor.user, flow, items,
                flow.defaults() if values is None else values, engine, actor.profile,
                resolve=actor.resolver().resolve, lake=lake, cart=cart)
        except (WorkflowError, CartError) as exc:
            raise JobError(str(exc)) from None

    def request(self, record: dict[str, Any]) -> dict[str, Any]:
        detail = record["detail"]
        return {"workflow": detail["workflow"], "values": detail["parameters"],
                "cart": detail["cart"]}

    def describe(self, record: dict[str, Any]) -> str:
        detail = record["detail"]
        return (f"{detail.get('title')} on cart {detail.get('cart')!r} "
                f"({detail.get('inputs')} items; {detail.get('engine')})")

    def state(self, actor: Actor, record: dict[str, Any]) -> dict[str, Any]:
        return Runner.shared().status(record)

    def abort(self, actor: Actor, record: dict[str, Any]) -> None:
        if not Runner.shared().abort(actor.store, actor.user, record["id"]):
            raise JobError(f"Job {record['id']} is not running.", status=409)

    def delete(self, actor: Actor, record: dict[str, Any]) -> None:
        Runner.shared().abort(actor.store, actor.user, record["id"])  # if it still runs

    def result(self, actor: Actor, record: dict[str, Any]) -> JobResult:
        kept = actor.store.result(actor.user, record["id"])
        if kept is None:
            state = record["detail"].get("state", "")
            raise JobError(f"Job {record['id']} has no result ({state}).", status=409)
        return JobResult(Table.read(kept["table_ecsv"].decode(), format="ascii.ecsv"),
                         kept["image_fits"], str(record["detail"].get("note") or ""))

    def provenance(self, record: dict[str, Any], result: JobResult) -> Provenance:
        detail = record["detail"]
        return Provenance(
            "result", at=str(detail.get("ended") or now()), user=record["user"],
            services=(Service(str(detail.get("engine", "")), "dask"),),
            query={k: detail.get(k) for k in ("workflow", "title", "parameters", "cart")},
            job=record["id"], inputs=tuple(result.table.meta.get(INPUTS, ())))
