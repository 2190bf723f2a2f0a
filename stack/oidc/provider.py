"""The stack's OpenID Connect provider: oidc-provider-mock (authorization code flow,
refresh tokens, id_token, userinfo, end_session) with the test users of ``users.json``,
whose access tokens are signed JWTs (RFC 9068) rather than random strings.

A JWT access token is what Rucio takes in place of its own token: it checks the
signature with the provider's published keys, the audience (``rucio``), the scope
(``openid profile``) and maps the subject to an account by its OIDC identity. The
services that ask the provider's ``userinfo`` (esap-dash's API, the Dask Gateways)
take these tokens as they took the random ones.

The signing key is kept in ``KEY_FILE`` (0600), so a restart of the provider
leaves the tokens it issued, and the key Rucio has cached, valid.

Usage: ``provider.py USERS_JSON KEY_FILE --host H --port P --token-max-age S
[--audience A ...]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import sys
import time
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import flask
import oidc_provider_mock
import uvicorn
from authlib import jose


def signing_key(path: Path) -> jose.RSAKey:
    """The provider's RSA key, made once and kept in ``path`` (mode 0600)."""
    if not path.exists():
        key = jose.RSAKey.generate_key(is_private=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(key.as_dict(is_private=True), out)
    os.chmod(path, 0o600)
    return jose.RSAKey.import_key(json.loads(path.read_text()))


def access_token_maker(key: jose.RSAKey, audiences: list[str], max_age: int):
    """Authlib's access-token generator: an RFC 9068 JWT for the client that asked and
    for ``audiences``, with the granted scope, signed with ``key``."""
    kid = key.as_dict().get("kid")

    def make(client, grant_type: str, user, scope: str) -> str:
        now = int(time.time())
        client_id = client.get_client_id()
        claims = {"iss": flask.request.host_url.rstrip("/"), "sub": user.sub,
                  "aud": [client_id, *[a for a in audiences if a != client_id]],
                  "client_id": client_id, "scope": scope or "", "iat": now,
                  "exp": now + max_age, "jti": uuid4().hex}
        header = {"alg": "RS256", "typ": "at+jwt", **({"kid": kid} if kid else {})}
        return jose.jwt.encode(header, claims, key).decode()

    return make


def main(argv: list[str]) -> int:
    """Serve the provider until stopped."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("users", type=Path, help="the test users: a JSON list of claims")
    parser.add_argument("key", type=Path, help="the signing key's file (made if missing)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token-max-age", type=int, default=3600)
    parser.add_argument("--audience", action="append", default=[],
                        help="a service the access tokens are also for (repeatable)")
    args = parser.parse_args(argv)

    users = [oidc_provider_mock.User(sub=u["sub"],
                                     claims={k: v for k, v in u.items() if k != "sub"})
             for u in json.loads(args.users.read_text())]
    key = signing_key(args.key)
    app = flask.Flask("oidc_provider_mock._app")  # the package's templates
    app.config["OAUTH2_ACCESS_TOKEN_GENERATOR"] = access_token_maker(
        key, args.audience, args.token_max_age)
    oidc_provider_mock.init_app(app, user_claims=users,
                                access_token_max_age=timedelta(seconds=args.token_max_age))
    app.debug = False
    app.secret_key = secrets.token_bytes(16)

    @app.before_request
    def use_the_kept_key() -> None:  # after the provider's own hook, which sets its storage
        flask.g.oidc_provider_mock_storage.jwk = key

    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"  # plain HTTP on 127.0.0.1
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    uvicorn.run(app, interface="wsgi", host=args.host, port=args.port, log_config=None)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
