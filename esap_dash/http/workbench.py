"""The deployment's workflows run in a notebook, on your own Dask cluster, with the
result brought back to your cart.

A notebook server of the deployment (a JupyterHub logged in through its
provider) reaches the cart through the HTTP API and a Dask Gateway as the
same person (:class:`esap_dash.client.TokenAuth`).  :func:`run_workflow` runs
one of the workflows the dashboard offers on the cart's items, on the
cluster you give, and adds the result to the cart.  The provenance of the
added rows names this notebook session as the activity: the notebook, the
server, the cluster, the parameters and the cart items it used.

    >>> from dask_gateway import Gateway  # doctest: +SKIP
    >>> from esap_dash import Cart  # doctest: +SKIP
    >>> from esap_dash.client import run_workflow  # doctest: +SKIP
    >>> cart = Cart.open("Pleiades")  # doctest: +SKIP
    >>> with Gateway().new_cluster() as cluster:  # doctest: +SKIP
    ...     cluster.scale(1)
    ...     outcome = run_workflow(cart, "crossmatch", cluster, radius_arcsec=2.0)
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from connectors.tap import TAPConnector

from ..core.provenance import Provenance, Service
from ..work.flows import result_rows
from ..work.workflows import Outcome, Run, WorkflowError, load_workflows, select_inputs
from .client import RemoteCart

__all__ = ["run_workflow", "session"]


def session() -> dict[str, str]:
    """This notebook session as a provenance record names it: the notebook (as
    Jupyter tells its kernel), the user's server and the machine."""
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "")
    return {"notebook": os.environ.get("JPY_SESSION_NAME", ""),
            "server": f"{prefix} on {socket.gethostname()}" if prefix
            else socket.gethostname()}


def run_workflow(cart: RemoteCart, workflow: str, cluster: Any, *, add: bool = True,
                 **parameters: Any) -> Outcome:
    """Run one of the deployment's workflows on the cart's items, here, on ``cluster``.

    Parameters
    ----------
    cart : RemoteCart
        Your cart (``esap_dash.Cart.open(name)``), read as it is now.
    workflow : str
        The workflow's name (``Client.workflows()`` lists them), e.g. ``crossmatch``.
    cluster : dask_gateway.GatewayCluster or distributed.Client
        Where the tasks run: a cluster of yours (its client is made and closed
        here), or a client you hold.
    add : bool
        Add the result to the cart (with its provenance: this session).
    **parameters
        The workflow's parameters (its defaults for the others).

    Returns
    -------
    Outcome
        The result table (``table``), an image where the workflow makes one,
        and its one-line ``note``; ``table.meta["added"]``: rows new in the cart.

    Raises
    ------
    esap_dash.work.workflows.WorkflowError
        Unknown workflow, wrong parameters, or no items it can work on.
    esap_dash.client.ApiError
        The deployment refused a call (the cart, adding the rows).
    """
    flows, _ = load_workflows()
    if workflow not in flows:
        raise WorkflowError(f"no workflow {workflow!r} here; known: {', '.join(flows)}")
    flow = flows[workflow]
    values = flow.check(parameters)
    items = select_inputs(cart.to_table(), flow.inputs)
    if not len(items):
        raise WorkflowError(f"{flow.title} needs {flow.inputs} in the cart; "
                            f"cart {cart.name!r} has none")
    url = cart.client.reference_tap()
    tap = TAPConnector(url, name="reference TAP service") if url else None
    owned = hasattr(cluster, "get_client")
    client = cluster.get_client() if owned else cluster
    try:
        result = flow.func(items, Run(client, None, tap=tap), **values)
    finally:
        if owned:
            client.close()
    outcome = result if isinstance(result, Outcome) else Outcome(result)
    where = session()
    name = getattr(cluster, "name", "") or str(getattr(client, "scheduler", ""))
    record = Provenance(
        "notebook", services=(
            Service(f"Dask cluster {name[:8]}", "dask",
                    str(getattr(cluster, "dashboard_link", "") or "")),
            *((Service(tap.name, "tap", tap.url, table=values.get("reference")),)
              if tap is not None and "reference" in values else ())),
        query={"workflow": flow.name, "title": flow.title, "parameters": values,
               "cart": cart.name, **where},
        inputs=tuple(str(k) for k in items["key"]))
    outcome.table.meta["added"] = (
        cart.add_rows(result_rows(outcome.table, record,
                                  archive=f"notebook {Path(where['notebook']).name}"
                                  if where["notebook"] else f"notebook {flow.name}",
                                  product_type="notebook result"))
        if add and len(outcome.table) else 0)
    return outcome
