"""Dask Gateway authentication with your access token of a deployment's login provider
(a module of its own: it imports ``dask_gateway``, which the HTTP client does not need)."""

from __future__ import annotations

from typing import Any

from dask_gateway.auth import GatewayAuth

from .client import TOKEN_VARIABLE, current_token

__all__ = ["TokenAuth"]


class TokenAuth(GatewayAuth):
    """Dask Gateway authentication with your access token (``Authorization: Bearer``),
    for a gateway that asks the login provider who a token is.

    The token is :func:`current_token`'s unless one is given.  In the stack's
    JupyterHub servers it is the default of ``dask_gateway.Gateway()``
    (``DASK_GATEWAY__AUTH__TYPE=esap_dash.client.TokenAuth``).

    Parameters
    ----------
    token : str, optional
        A token to use instead.
    """

    def __init__(self, token: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.token = token

    def pre_request(self, resp: Any) -> tuple[dict[str, str], None]:
        """The ``Authorization`` header, after the gateway asked who is calling."""
        token = self.token or current_token()
        if not token:
            raise ValueError(f"no access token here: set {TOKEN_VARIABLE} or log in through "
                             "a JupyterHub of the deployment")
        return {"Authorization": f"Bearer {token}"}, None

    def post_response(self, resp: Any, context: None) -> None:
        """Say in words why the gateway refused the token (a refused call otherwise ends
        in a bare HTTP status).

        Raises
        ------
        PermissionError
            The token is not accepted (expired, revoked), or its user has no account
            at the gateway.
        ConnectionError
            The gateway cannot check tokens now (its login provider does not answer).
        """
        gateway = f"{resp.url.scheme}://{resp.url.host}:{resp.url.port}"
        if resp.status == 401:
            raise PermissionError(f"the Dask Gateway at {gateway} does not accept your token "
                                  "(expired or revoked): log in again")
        if resp.status == 403:
            raise PermissionError(f"you have no account at the Dask Gateway at {gateway}")
        if resp.status == 503:
            raise ConnectionError(f"the Dask Gateway at {gateway} cannot check tokens now: "
                                  "its login provider does not answer")
