"""Dask Gateway server configuration of the esap-dash local stack.

Read by ``dask-gateway-server -f``; values come from the environment that
``stack/esap-stack`` sets.  Users log in with a shared password
(``SimpleAuthenticator``).  ``ESAP_DASH_GATEWAY_BACKEND`` chooses where
clusters run:

``local``
    as local processes of the server (``UnsafeLocalBackend``: the
    ``LocalBackend`` needs to switch users, which fails when the server runs
    as root), in the project's environment;
``slurm``
    as Slurm jobs of the user (``SlurmBackend``): the server submits them with
    ``sudo -nHu <user> dask-gateway-jobqueue-launcher``, so every gateway user
    is a Unix account, and scheduler and workers run in an environment every
    user can read (``ESAP_DASH_GATEWAY_BIN``, under /opt).

Who may use it (:class:`TokenOrPassword`):

* a person, with their own access token of the login provider
  (``Authorization: Bearer``; a notebook of the stack's JupyterHub sends the
  token its hub keeps fresh): the provider's ``userinfo``
  (``ESAP_DASH_GATEWAY_USERINFO``) says who, and only the deployment's users
  with a Unix account here (``ESAP_DASH_GATEWAY_TOKEN_USERS``) are let in.  No
  password is in any user's environment;
* the esap-dash server, which acts for its users, with the gateway's own
  password (Basic, ``ESAP_DASH_GATEWAY_PASSWORD``), kept by the stack in a
  0600 file of root's.
"""

import base64
import hmac
import os

import aiohttp
from aiohttp import web
from dask_gateway_server.auth import Authenticator, unauthorized
from dask_gateway_server.models import User
from dask_gateway_server.options import Float, Integer, Options

c = get_config()  # noqa: F821 - provided by traitlets when the file is loaded

port = os.environ.get("ESAP_DASH_GATEWAY_PORT", "8093")
bindir = os.environ["ESAP_DASH_GATEWAY_BIN"]
state = os.environ["ESAP_DASH_GATEWAY_STATE"]

backend = os.environ.get("ESAP_DASH_GATEWAY_BACKEND", "local")

c.DaskGateway.address = f"127.0.0.1:{int(port) + 2}"
c.Proxy.address = f"127.0.0.1:{port}"


class TokenOrPassword(Authenticator):
    """A person by their access token of the login provider, or the esap-dash
    server by the gateway's password (see the module's notes)."""

    #: Seconds the provider may take to say who a token is.
    timeout = 5.0

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.password = os.environ["ESAP_DASH_GATEWAY_PASSWORD"]
        self.userinfo = os.environ.get("ESAP_DASH_GATEWAY_USERINFO", "")
        self.people = set(os.environ.get("ESAP_DASH_GATEWAY_TOKEN_USERS", "").split())

    async def setup(self, app):
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))

    async def cleanup(self):
        await self.session.close()

    async def authenticate(self, request):
        kind, _, key = request.headers.get("Authorization", "").partition(" ")
        if kind == "Bearer" and self.userinfo and key:
            return User(await self._person(key.strip()))
        if kind == "Basic":
            try:
                user, _, password = base64.b64decode(key).decode().partition(":")
            except ValueError:
                raise unauthorized("Basic") from None
            if user and hmac.compare_digest(password.encode(), self.password.encode()):
                return User(user)
        raise unauthorized("Bearer" if self.userinfo else "Basic")

    async def _person(self, token):
        """The user name of a token, as the provider says it."""
        try:
            async with self.session.get(self.userinfo,
                                        headers={"Authorization": f"Bearer {token}"}) as resp:
                if 400 <= resp.status < 500:  # RFC 6750 says 401; some providers 400
                    raise web.HTTPUnauthorized(
                        headers={"WWW-Authenticate": "Bearer"},
                        reason="The login provider does not accept this token "
                               "(expired or revoked): get a new one")
                resp.raise_for_status()
                claims = await resp.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise web.HTTPServiceUnavailable(
                reason=f"The login provider does not answer ({type(exc).__name__}): "
                       "tokens cannot be checked now") from None
        name = str(claims.get("preferred_username") or "")
        if name not in self.people:
            raise web.HTTPForbidden(reason=f"{name or claims.get('sub')!r} has no account "
                                           "on this gateway")
        return name


c.DaskGateway.authenticator_class = TokenOrPassword
if backend == "slurm":
    c.DaskGateway.backend_class = (
        "dask_gateway_server.backends.jobqueue.slurm.SlurmBackend")
    c.SlurmBackend.dask_gateway_jobqueue_launcher = f"{bindir}/dask-gateway-jobqueue-launcher"
    c.SlurmClusterConfig.partition = os.environ.get("ESAP_DASH_SLURM_PARTITION", "esap")
    # How often the server asks squeue about its jobs: a worker whose job was
    # cancelled is noticed within this many seconds.
    c.SlurmBackend.cluster_status_period = 5.0
    c.SlurmBackend.worker_status_period = 5.0
else:
    c.DaskGateway.backend_class = (
        "dask_gateway_server.backends.local.UnsafeLocalBackend")
    c.LocalBackend.cluster_state_directory = state
c.DBBackendBase.db_url = f"sqlite:///{state}/gateway.sqlite"
c.DBBackendBase.db_encrypt_keys = [os.environ["ESAP_DASH_GATEWAY_DB_KEY"]]

# The scheduler unpickles each task graph, importing the modules of its
# functions: it imports the workflows' modules when it starts, not while the
# first run waits (0.8 s measured here).
c.ClusterConfig.scheduler_cmd = [f"{bindir}/dask", "scheduler", "--preload", "esap_dash.flows"]
# Workers import the workflows' modules (astropy, pyvo) when they start, not
# during the first task a user is waiting for.
c.ClusterConfig.worker_cmd = [f"{bindir}/dask", "worker", "--preload", "esap_dash.flows"]
c.ClusterConfig.cluster_max_workers = 4
c.ClusterConfig.idle_timeout = 3600

MAX_CORES = 2
MAX_MEMORY_GIB = 4


def _options_handler(options):
    return {
        "worker_cores": options.worker_cores,
        "worker_memory": int(options.worker_memory * 2**30),
    }


c.Backend.cluster_options = Options(
    Integer("worker_cores", default=1, min=1, max=MAX_CORES,
            label="Worker cores"),
    Float("worker_memory", default=1, min=0.5, max=MAX_MEMORY_GIB,
          label="Worker memory (GiB)"),
    handler=_options_handler,
)
