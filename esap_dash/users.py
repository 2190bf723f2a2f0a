"""Who is asking: identities from OpenID Connect access tokens (no Panel here).

The served dashboard gets the user from Panel's login (the ``sub`` claim);
code outside it (a notebook, a script) proves who it is with an access token
of the same provider, checked at its userinfo endpoint.
"""

from __future__ import annotations

import os

from connectors.exceptions import ConnectorError, ServiceError
from connectors.http import make_session, request

from .client import TOKEN_VARIABLE
from .config import Profile

__all__ = ["TOKEN_VARIABLE", "identity"]


def identity(profile: Profile, user: str | None = None, token: str | None = None) -> str:
    """The identity whose records a caller may use.

    Code that calls this holds the deployment's database credentials: it is
    an operator's (the served dashboard, its API, an operator's script).
    Users reach their records through the HTTP API with their token.

    Parameters
    ----------
    profile : Profile
        The deployment.
    user : str, optional
        In a single-user deployment, whose records (default ``local``).  In
        a deployment with logins refused, unless the profile's
        ``[api] operator_user`` allows operators to name any user; a token
        always decides instead when there is one.
    token : str, optional
        An OIDC access token (default: ``$ESAP_DASH_TOKEN``); its ``sub``
        claim, as the provider's userinfo endpoint returns it.

    Raises
    ------
    PermissionError
        The deployment has users and no valid token was given, or ``user``
        was and operators may not name users, or ``user`` is not the token's.
    """
    if profile.users == "single":
        return user or "local"
    token = token or os.environ.get(TOKEN_VARIABLE)
    if not token:
        if user is not None and profile.api.get("operator_user"):
            return user
        if user is not None:
            raise PermissionError("this deployment has users: who you are comes from your "
                                  "token (token=<your access token>), not from user= (which "
                                  "only its operators may allow: [api] operator_user)")
        raise PermissionError("this deployment has users: pass token=<your access token> "
                              f"(or set {TOKEN_VARIABLE}) to open your carts")
    sub = _subject(profile, token)
    if user is not None and user != sub:
        raise PermissionError(f"your token is {sub!r}'s: user={user!r} names someone else")
    return sub


def _subject(profile: Profile, token: str) -> str:
    """The ``sub`` of an access token, from the provider's userinfo endpoint."""
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
