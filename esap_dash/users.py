"""Who is asking: identities from OpenID Connect access tokens (no Panel here).

The served dashboard gets the user from Panel's login (the ``sub`` claim);
code outside it (a notebook, a script) proves who it is with an access token
of the same provider, checked at its userinfo endpoint.
"""

from __future__ import annotations

import os

from connectors.exceptions import ConnectorError, ServiceError
from connectors.http import make_session, request

from .config import Profile

__all__ = ["TOKEN_VARIABLE", "identity"]

#: Environment variable a notebook server may set to the user's access token.
TOKEN_VARIABLE = "ESAP_DASH_TOKEN"


def identity(profile: Profile, user: str | None = None, token: str | None = None) -> str:
    """The identity whose records a caller may use.

    Parameters
    ----------
    profile : Profile
        The deployment.
    user : str, optional
        In a single-user deployment, whose records (default ``local``).  In
        a deployment with logins only a token says who the caller is.
    token : str, optional
        An OIDC access token (default: ``$ESAP_DASH_TOKEN``); its ``sub``
        claim, as the provider's userinfo endpoint returns it.

    Raises
    ------
    PermissionError
        The deployment has users and no valid token was given, or ``user``
        was.
    """
    if profile.users == "single":
        return user or "local"
    if user is not None:
        raise PermissionError("this deployment has users: who you are comes from your token "
                              "(token=<your access token>), not from user=")
    token = token or os.environ.get(TOKEN_VARIABLE)
    if not token:
        raise PermissionError("this deployment has users: pass token=<your access token> "
                              f"(or set {TOKEN_VARIABLE}) to open your carts")
    url = profile.oidc["userinfo_url"]
    try:
        resp = request(make_session(timeout=10), "GET", url,
                       headers={"Authorization": f"Bearer {token}"})
    except ServiceError as exc:
        if exc.status in (400, 401, 403):
            raise PermissionError("the login provider refused the token (expired or not "
                                  "issued by it)") from None
        raise PermissionError(f"the login provider could not check the token: "
                              f"{exc.reason}") from None
    except ConnectorError as exc:
        raise PermissionError(f"the login provider could not check the token: "
                              f"{exc.reason}") from None
    sub = resp.json().get("sub")
    if not sub:
        raise PermissionError("the login provider's answer names no subject (sub)")
    return str(sub)
