"""JupyterHub of the local stack: logins through the stack's OpenID Connect provider
(the dashboard's users), each user's server started as that user's Unix account by
sudospawner, or as a Slurm job of the user by batchspawner (the hub itself runs as
the unprivileged ``esap-hub``).

Read by ``stack/esap-stack start hub`` from its environment:

ESAP_DASH_HUB_SPAWNER        ``sudo`` (local processes) or ``slurm``
ESAP_DASH_HUB_PORT           public port (the proxy); the proxy's API and the hub
                             itself listen on the next two
ESAP_DASH_HUB_BASE           the hub's path under that port ("" or e.g. ``/slurm``)
ESAP_DASH_HUB_ENV            the environment of the hub and of the users' servers
ESAP_DASH_HUB_PROXY          configurable-http-proxy's command
ESAP_DASH_HUB_STATE          the hub's database and cookie secret (the hub's own, 0700)
ESAP_DASH_HUB_USERS          the users who may log in (Unix accounts), space-separated
ESAP_DASH_HUB_GATEWAY        the Dask Gateway of the users' notebooks
ESAP_DASH_HUB_API_TOKEN      esap-dash's token as a service of the hub
ESAP_DASH_OIDC_URL           the provider
ESAP_DASH_OIDC_CLIENT_SECRET the client secret (the stack's provider registers none)
JUPYTERHUB_CRYPT_KEY         encrypts the users' tokens in the hub's database

Each user's server reaches esap-dash's HTTP API, the Dask Gateway and Rucio as
that user, with the user's own access token of the provider (the first two
check it at the provider, Rucio checks its signature, audience and scope; no
password is in the server's environment):

* the server's token of the hub may read its user's login state, where the hub
  keeps the current access token (``esap_dash.client.current_token`` asks for
  it); the hub exchanges the refresh token for a new access token when the old
  one has less than :data:`RENEW_BEFORE` seconds left, so a session longer than
  a token's life (an hour here) keeps working;
* ``$ESAP_DASH_TOKEN`` of the server and ``$BEARER_TOKEN_FILE`` hold the current
  token (``esap_hub_token``, a server extension), for clients that read only
  those: rucio-jupyterlab's data-lake panel and Rucio's clients;
* ``dask_gateway.Gateway()`` reaches ``$ESAP_DASH_HUB_GATEWAY`` with that token
  (``esap_dash.client.TokenAuth``).
"""

import inspect
import os
import pwd
import time

c = get_config()  # noqa: F821  (given by JupyterHub when it reads this file)

port = int(os.environ["ESAP_DASH_HUB_PORT"])
base = os.environ.get("ESAP_DASH_HUB_BASE", "").rstrip("/")
env = os.environ["ESAP_DASH_HUB_ENV"]
state = os.environ["ESAP_DASH_HUB_STATE"]
provider = os.environ["ESAP_DASH_OIDC_URL"].rstrip("/")
public = f"http://127.0.0.1:{port}{base}"

c.JupyterHub.base_url = f"{base}/"
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = port
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = port + 2
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{port + 1}"
c.ConfigurableHTTPProxy.command = [os.environ["ESAP_DASH_HUB_PROXY"]]
c.ConfigurableHTTPProxy.pid_file = f"{state}/proxy.pid"
c.JupyterHub.db_url = f"sqlite:///{state}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = f"{state}/jupyterhub_cookie_secret"

c.JupyterHub.authenticator_class = "generic-oauth"
c.GenericOAuthenticator.client_id = "esap-hub"
c.GenericOAuthenticator.client_secret = os.environ["ESAP_DASH_OIDC_CLIENT_SECRET"]
c.GenericOAuthenticator.oauth_callback_url = f"{public}/hub/oauth_callback"
c.GenericOAuthenticator.authorize_url = f"{provider}/oauth2/authorize"
c.GenericOAuthenticator.token_url = f"{provider}/oauth2/token"
c.GenericOAuthenticator.userdata_url = f"{provider}/userinfo"
c.GenericOAuthenticator.scope = ["openid", "profile", "email"]
c.GenericOAuthenticator.username_claim = "preferred_username"
c.GenericOAuthenticator.login_service = "esap-dash (OpenID Connect)"
# Only users with a Unix account here: a server runs as its user.
c.GenericOAuthenticator.allowed_users = set(os.environ["ESAP_DASH_HUB_USERS"].split())
c.GenericOAuthenticator.enable_auth_state = True
c.GenericOAuthenticator.refresh_pre_spawn = True
c.GenericOAuthenticator.auth_refresh_age = 300
#: Seconds of life a token has left when the hub renews it: more than the refresh
#: age, so the token a server is given has at least five minutes left.
RENEW_BEFORE = 600


def _stamped(auth_state):
    """``auth_state`` with the time its access token expires."""
    life = (auth_state.get("token_response") or {}).get("expires_in")
    if life:
        auth_state["expires_at"] = time.time() + float(life)
    return auth_state


async def _maybe(value):
    return await value if inspect.isawaitable(value) else value


def stamp_expiry(authenticator, auth_state):
    """Note when a new login's access token expires."""
    return _stamped(auth_state)


async def renew_early(authenticator, user, auth_state):
    """Exchange the refresh token for a new access token before the old one expires
    (OAuthenticator itself renews only a token that no longer works)."""
    if not auth_state or not auth_state.get("refresh_token") \
            or auth_state.get("expires_at", 0) - time.time() > RENEW_BEFORE:
        return None  # OAuthenticator's own check
    refresh = auth_state["refresh_token"]
    try:
        token_info = await authenticator.get_token_info(
            None, authenticator.build_refresh_token_request_params(refresh))
        token_info.setdefault("refresh_token", refresh)
        user_info = await authenticator.token_to_user(token_info)
    except Exception as exc:  # the provider refused or is away: its own check decides
        authenticator.log.warning("renewing %s's token failed: %s", user.name, exc)
        return None
    state = await _maybe(authenticator.build_auth_state_dict(token_info, user_info))
    return {"name": user.name, "auth_state": _stamped(state)}


c.GenericOAuthenticator.modify_auth_state_hook = stamp_expiry
c.GenericOAuthenticator.refresh_user_hook = renew_early

# A server may read its own user's login state (the current access token); esap-dash,
# a service of the hub, sees its users' servers (with their batch jobs) and stops them.
c.JupyterHub.load_roles = [
    {"name": "user", "scopes": ["self", "admin:auth_state!user"]},
    {"name": "esap-dash", "services": ["esap-dash"],
     "scopes": ["read:users:name", "servers", "admin:server_state"]}]
c.JupyterHub.services = [{"name": "esap-dash",
                          "api_token": os.environ["ESAP_DASH_HUB_API_TOKEN"]}]
c.Spawner.server_token_scopes = ["access:servers!server", "users:activity!user",
                                 "read:users:name!user", "admin:auth_state!user"]


def pass_token(spawner, auth_state):
    """The user's access token at the spawn, for their server."""
    if auth_state and auth_state.get("access_token"):
        spawner.environment = {**spawner.environment,
                               "ESAP_DASH_TOKEN": auth_state["access_token"]}


c.Spawner.auth_state_hook = pass_token


def in_home(*path):
    """The environment value ``~/<path>`` of the spawner's user."""
    return lambda spawner: os.path.join(pwd.getpwnam(spawner.user.name).pw_dir, *path)


c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 60
c.Spawner.environment = {"PATH": f"{env}/bin:/usr/local/bin:/usr/bin:/bin",
                         "DASK_GATEWAY__ADDRESS": os.environ["ESAP_DASH_HUB_GATEWAY"],
                         "DASK_GATEWAY__AUTH__TYPE": "esap_dash.client.TokenAuth",
                         # rucio-jupyterlab's cache and login choice (a password, if
                         # she chooses userpass), in her 0700 folder: in any hub's
                         # server it would keep them in /tmp/.rucio_jupyterlab, one
                         # folder for every user of the machine, made 0755
                         "RUCIO_CACHE_DIR": in_home(".jupyterhub", "rucio_jupyterlab"),
                         # the user's current access token (esap_hub_token), where
                         # Rucio's clients look for one (WLCG bearer token discovery),
                         # and their configuration ($RUCIO_HOME/etc/rucio.cfg)
                         "BEARER_TOKEN_FILE": in_home(".jupyterhub", "bearer_token"),
                         "RUCIO_HOME": env}
if os.environ["ESAP_DASH_HUB_SPAWNER"] == "slurm":
    # The user's server is a Slurm job of the user (sbatch through sudo, as the user),
    # one core and 2 GiB on the stack's partition, for at most a day.
    c.JupyterHub.spawner_class = "batchspawner.SlurmSpawner"
    c.SlurmSpawner.exec_prefix = "sudo -E -u {username}"
    c.SlurmSpawner.batch_submit_cmd = "/usr/bin/sbatch --parsable"
    c.SlurmSpawner.batch_query_cmd = "/usr/bin/squeue -h -j {job_id} -o '%T %B'"
    c.SlurmSpawner.batch_cancel_cmd = "/usr/bin/scancel {job_id}"
    c.SlurmSpawner.batchspawner_singleuser_cmd = f"{env}/bin/batchspawner-singleuser"
    c.SlurmSpawner.cmd = [f"{env}/bin/jupyterhub-singleuser"]
    c.SlurmSpawner.req_partition = "esap"
    c.SlurmSpawner.req_nprocs = "1"
    c.SlurmSpawner.req_memory = "2G"
    c.SlurmSpawner.req_runtime = "24:00:00"
    c.SlurmSpawner.ip = "127.0.0.1"
    # The job's log goes to a folder of the user's that the stack makes for each of its
    # users (~/.jupyterhub, 0700), not one file per start in her home.
    from batchspawner import SlurmSpawner

    c.SlurmSpawner.batch_script = SlurmSpawner.class_traits()["batch_script"].default_value \
        .replace("{{homedir}}/jupyterhub_slurmspawner_%j.log",
                 "{{homedir}}/.jupyterhub/slurm-%j.log")
    # The partition's one node is this machine: its name (esap-node) is Slurm's only.
    c.SlurmSpawner.state_exechost_re = r"^(.*)$"
    c.SlurmSpawner.state_exechost_exp = "127.0.0.1"
else:
    c.JupyterHub.spawner_class = "sudospawner.SudoSpawner"
    c.SudoSpawner.sudospawner_path = f"{env}/bin/sudospawner"
