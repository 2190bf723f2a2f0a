"""Who is asking: identities from OpenID Connect access tokens (no Panel here).

The served dashboard gets the user from Panel's login (the ``sub`` claim);
code outside it (a notebook, a script) proves who it is with an access token
of the same provider, checked at its userinfo endpoint.  A token's answer is
kept for :data:`TOKEN_CACHE_SECONDS` by each server process (keyed by the
token's SHA-256), so a client's calls do not each wait for the provider; the
stack's provider issues opaque access tokens, which only it can check.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import OrderedDict

from connectors.exceptions import ConnectorError, ServiceError
from connectors.http import make_session, request

from . import TOKEN_VARIABLE
from .config import Profile
from .errors import EsapError
from .runtime import current_runtime

__all__ = ["TOKEN_CACHE_SECONDS", "TOKEN_VARIABLE", "LoginProviderError", "identity"]

#: Seconds a token's identity (or its refusal) is kept without asking the provider.
TOKEN_CACHE_SECONDS = 60.0
#: Seconds the provider has to answer a token check.
PROVIDER_TIMEOUT = 5.0
_MAX_CACHED = 10_000


class LoginProviderError(EsapError, RuntimeError):
    """The login provider could not check a token (it is down, hung or answered
    nonsense): the token may be fine, so this is not a refusal."""

    status = 503


class TokenAnswers:
    """What the provider said of tokens, for a while (bounded, oldest out first); a
    part of the process's runtime."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: OrderedDict[str, tuple[float, str | None, str]] = OrderedDict()

    def get(self, key: str) -> tuple[str | None, str] | None:
        with self._lock:
            kept = self._kept.get(key)
            if kept is None or kept[0] < time.monotonic():
                return None
            return kept[1], kept[2]

    def put(self, key: str, sub: str | None, refusal: str = "") -> None:
        with self._lock:
            self._kept[key] = (time.monotonic() + TOKEN_CACHE_SECONDS, sub, refusal)
            self._kept.move_to_end(key)
            while len(self._kept) > _MAX_CACHED:
                self._kept.popitem(last=False)



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
    LoginProviderError
        The provider could not check the token.
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
    """The ``sub`` of an access token: kept from a recent answer, or from the
    provider's userinfo endpoint."""
    url = profile.oidc["userinfo_url"]
    key = hashlib.sha256(f"{url} {token}".encode()).hexdigest()
    answers = current_runtime().part("token-answers", TokenAnswers)
    kept = answers.get(key)
    if kept is not None:
        sub, refusal = kept
        if sub is None:
            raise PermissionError(refusal)
        return sub
    try:
        resp = request(make_session(timeout=PROVIDER_TIMEOUT, retries=0), "GET", url,
                       headers={"Authorization": f"Bearer {token}"})
        answer = resp.json()
    except ServiceError as exc:
        if exc.status in (400, 401, 403):
            refusal = "the login provider refused the token (expired or not issued by it)"
            answers.put(key, None, refusal)
            raise PermissionError(refusal) from None
        raise LoginProviderError(f"the login provider could not check the token: "
                                 f"{exc.reason}") from None
    except ConnectorError as exc:
        raise LoginProviderError(f"the login provider could not check the token: "
                                 f"{exc.reason}") from None
    except ValueError:  # a cut or garbled answer
        raise LoginProviderError("the login provider's answer to a token check is not "
                                 "JSON") from None
    sub = answer.get("sub") if isinstance(answer, dict) else None
    if not sub:
        raise LoginProviderError("the login provider's answer names no subject (sub)")
    answers.put(key, str(sub))
    return str(sub)
