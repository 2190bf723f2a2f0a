"""The notebook and script client of a deployment's HTTP API (its public path; the code
is :mod:`esap_dash.http.client`)."""

from .http.client import (
    TOKEN_VARIABLE,
    URL_VARIABLE,
    ApiError,
    Client,
    RemoteCart,
    UnreachableError,
    current_token,
)

__all__ = ["TOKEN_VARIABLE", "URL_VARIABLE", "ApiError", "Client", "RemoteCart",  # noqa: F822
           "TokenAuth", "UnreachableError", "current_token", "run_workflow"]


def __getattr__(name: str) -> object:
    # These import Dask and the workflows: only when they are asked for.
    if name == "TokenAuth":
        from .http.gateway_auth import TokenAuth

        return TokenAuth
    if name == "run_workflow":
        from .http.workbench import run_workflow

        return run_workflow
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
