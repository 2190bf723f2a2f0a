"""Deployment profiles: which services a deployment offers, and its branding.

A profile is a TOML (or YAML) file.  Each research infrastructure writes its
own; ``local`` (the local science stack) and ``public`` (real public
endpoints, needs internet) ship with the package.  Settings are resolved
with this precedence, highest first:

1. command-line overrides (``esap-dash serve --set rucio.url=...``),
2. the environment (``ESAP_DASH__RUCIO__URL=...``;
   ``ESAP_DASH__ARCHIVES__<ID>__URL`` for one archive; ``SURVEYS`` and
   ``GATEWAYS`` likewise),
3. the profile file,
4. the defaults below.

String values may refer to ``${NAME}`` or ``${NAME:-default}``, looked up in
the environment, then in the profile's ``secrets_file`` (``KEY=VALUE``
lines).  Every error names the key and the file it was looked for in.
"""

from __future__ import annotations

import inspect
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import connectors
from connectors.base import ServiceConnector
from connectors.exceptions import ConnectorError

from .errors import EsapError

__all__ = [
    "ASSETS",
    "PROFILE_DIR",
    "PROJECT_ROOT",
    "Account",
    "Profile",
    "ProfileError",
    "ServiceConfig",
    "available_profiles",
    "load_profile",
]

PACKAGE_DIR = Path(__file__).resolve().parents[1]
PROJECT_ROOT = PACKAGE_DIR.parent
PROFILE_DIR = PACKAGE_DIR / "profiles"
ASSETS = PROJECT_ROOT / "assets"
ENV_PREFIX = "ESAP_DASH__"

#: The single-service sections and the connector kind each one takes.
SECTIONS = {"registry": "registry", "rucio": "rucio", "gateway": "dask-gateway",
            "software": "zenodo", "dirac": "diracx"}
DEFAULTS: dict[str, Any] = {
    "deployment": {
        "title": "esap-dash",
        "description": "",
        "logo": "logo.svg",
        "secrets_file": "",
        "health_period": 30,
        "users": "single",
        "database": "sqlite:///${ESAP_DASH_VAR}/esap-dash.db",
        "public_url": "",
    },
}
FACILITY_KINDS = ("binderhub", "jupyterhub")
#: What a place work runs declares besides how to reach it: ``engine`` (what
#: runs the work, e.g. "local processes", "slurm"), ``rses`` (the Rucio RSEs
#: it reads locally), ``cores`` and ``memory_gib`` (its limits for one user),
#: ``queue`` (a batch system's partition), ``users`` (the only users with an
#: account there; everyone with a gateway account when not given).
PLACEMENT_KEYS = {"engine": str, "rses": list, "cores": int, "memory_gib": float,
                  "queue": str, "users": list}
#: ``[samp]``: the server's own SAMP link (single-user deployments only).
SAMP_DEFAULTS: dict[str, Any] = {"local_urls": False, "max_mb": 20, "max_rows": 100_000,
                                 "timeout": 10}
#: ``[api]``: limits of the HTTP API, and whether in-process code may act as any user.
API_DEFAULTS: dict[str, Any] = {"rate_per_minute": 600, "max_body_mb": 20, "deadline": 60,
                                "operator_user": False}
SERVICE_DEFAULTS: dict[str, Any] = {"timeout": 30.0, "enabled": True}
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ProfileError(EsapError, ValueError):
    """A profile is missing, unreadable or has an invalid setting."""

    status = 500


@dataclass(frozen=True)
class ServiceConfig:
    """One configured service.

    Attributes
    ----------
    id : str
        Key of the service in the profile (``dachs-tap``, ``rucio`` ...).
    kind : str
        Connector kind (an entry point of ``esap_dash.connectors``).
    name : str
        What the pages call it.
    url : str
        Its base address.
    role : str
        ``archive``, ``registry``, ``rucio``, ``gateway`` or ``software``.
    options : dict
        Keyword arguments for the connector (timeout, maxrec, credentials ...).
    placement : dict
        For a place work runs (a gateway): what it is and what it reads
        without moving data (see :data:`PLACEMENT_KEYS`), e.g. ``engine``,
        ``rses``, ``cores``, ``memory_gib``, ``queue``, ``users``.
    """

    id: str
    kind: str
    name: str
    url: str
    role: str
    options: Mapping[str, Any] = field(default_factory=dict, repr=False)
    placement: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"ServiceConfig(id={self.id!r}, kind={self.kind!r}, url={self.url!r}, "
                f"options={self.public_options()!r})")

    def connector(self, **overrides: Any) -> ServiceConnector:
        """Build a new connector for this service (one per user session).

        Parameters
        ----------
        **overrides
            Options replacing the profile's, e.g. a user's own credentials.
        """
        cls = connectors.connector_class(self.kind)
        return cls(self.url, name=self.name, **{**self.options, **overrides})

    def public_options(self) -> dict[str, Any]:
        """The options without secrets, for display and logs."""
        return {k: ("***" if _is_secret(k) else v) for k, v in self.options.items()}


@dataclass(frozen=True)
class Facility:
    """A BinderHub or JupyterHub where a cart can be opened.

    Attributes
    ----------
    id, name : str
        Key in the profile and what the page calls it.
    kind : str
        ``binderhub`` or ``jupyterhub``.
    url : str
        The hub's base address.
    repo, ref : str
        For a BinderHub: the git repository (and branch/tag) of the
        environment.
    file : str
        The notebook opened first, relative to the environment's home.
    engine : str
        For a JupyterHub: what runs its users' servers (``local processes``,
        ``slurm`` ...), as pages say it.
    user : str
        For a JupyterHub of a deployment without logins: the hub user whose
        servers are the deployment's (with logins, each account's ``hub_user``).
    api_token : str
        For a JupyterHub: esap-dash's token as a service of the hub (scopes
        ``read:users:name``, ``servers``, ``admin:server_state``), to show and stop
        its users' servers; without one, pages only link to the hub.
    """

    id: str
    name: str
    kind: str
    url: str
    repo: str = ""
    ref: str = "HEAD"
    file: str = ""
    engine: str = ""
    user: str = ""
    api_token: str = field(default="", repr=False)


@dataclass(frozen=True)
class Account:
    """Who a logged-in user is at the services that have accounts of their own.

    Attributes
    ----------
    sub : str
        The user's OIDC subject.
    rucio_account, rucio_username, rucio_password : str
        The Rucio account and its userpass identity (empty: no Rucio access).
    gateway_user : str
        The Dask Gateway user the clusters are created and listed as.
    dirac_user : str
        The DIRAC user (of the ``[dirac]`` service's VO) the user's batch jobs are
        submitted and listed as.
    hub_user : str
        The user's name at the deployment's JupyterHubs (their servers are shown
        and stopped as this user's).
    """

    sub: str
    rucio_account: str = ""
    rucio_username: str = ""
    rucio_password: str = field(default="", repr=False)
    gateway_user: str = ""
    dirac_user: str = ""
    hub_user: str = ""

    def overrides(self, role: str) -> dict[str, str] | None:
        """Connector settings acting as this user at a ``rucio``, ``gateway`` or
        ``dirac`` service; None when the user has no account there."""
        if role == "rucio":
            return ({"account": self.rucio_account, "username": self.rucio_username,
                     "password": self.rucio_password} if self.rucio_account else None)
        if role == "gateway":
            return {"username": self.gateway_user} if self.gateway_user else None
        if role == "dirac":
            return {"username": self.dirac_user} if self.dirac_user else None
        return {}


OIDC_REQUIRED = ("authorize_url", "token_url", "userinfo_url", "client_id", "client_secret")
OIDC_OPTIONAL = ("logout_url", "scope")
ACCOUNT_KEYS = {"sub", "rucio_account", "rucio_username", "rucio_password", "gateway_user",
                "dirac_user", "hub_user"}


@dataclass(frozen=True)
class Profile:
    """A loaded deployment profile.

    Attributes
    ----------
    name : str
        Profile name (file stem).
    path : Path
        The file it was read from.
    title, description : str
        Branding shown in the header.
    logo : Path
        The logo file.
    health_period : float
        Seconds between two refreshes of the service health view.
    users : str
        ``single`` (one local user, no login) or ``oidc``.
    services : tuple of ServiceConfig
        Archives first, then registry, Rucio and gateway.
    database : str
        SQLAlchemy URL of the per-user records (history, jobs, carts).
    resolver : dict
        ``tap`` (id of the archive whose TAP serves the catalogues names are
        resolved in), ``sesame`` (a Sesame URL, needs internet), ``timeout``.
    facilities : tuple of Facility
        BinderHubs and JupyterHubs a cart can be opened in.
    public_url : str
        The dashboard's address as others reach it (for shared cart links);
        empty: the address the browser used.
    oidc : dict
        With ``users = "oidc"``: the OpenID Connect provider
        (``authorize_url``, ``token_url``, ``userinfo_url``, ``client_id``,
        ``client_secret``, optional ``logout_url``, ``scope``).
    accounts : dict
        Identity (the ``sub`` claim) to :class:`Account`: who each user is
        at the Rucio server and the Dask Gateway.
    samp : dict
        The server's SAMP link, empty when it is off (always with logins:
        a hub the server sees is not the user's desktop): ``local_urls``
        (accept ``file://`` and loopback tables), ``max_mb``, ``max_rows``,
        ``timeout``.
    api : dict
        The HTTP API's limits: ``rate_per_minute`` (calls per user),
        ``max_body_mb`` (request size), ``deadline`` (seconds a search may
        take); ``operator_user``: whether code holding the database
        credentials may open another user's carts with ``user=`` in a
        deployment with logins (an operator's scripts; off by default).
    """

    name: str
    path: Path
    title: str
    description: str
    logo: Path
    health_period: float
    users: str
    services: tuple[ServiceConfig, ...]
    resolver: Mapping[str, Any] = field(default_factory=dict)
    database: str = ""
    facilities: tuple[Facility, ...] = ()
    public_url: str = ""
    oidc: Mapping[str, str] = field(default_factory=dict, repr=False)
    accounts: Mapping[str, Account] = field(default_factory=dict)
    samp: Mapping[str, Any] = field(default_factory=dict)
    api: Mapping[str, Any] = field(default_factory=lambda: dict(API_DEFAULTS))

    def service(self, service_id: str) -> ServiceConfig:
        """Return the service with this id.

        Raises
        ------
        KeyError
            With the ids the profile has.
        """
        for svc in self.services:
            if svc.id == service_id:
                return svc
        raise KeyError(f"profile {self.name!r} has no service {service_id!r}; "
                       f"it has {', '.join(s.id for s in self.services)}")

    def by_role(self, role: str) -> list[ServiceConfig]:
        """The services of one role (``archive``, ``registry``, ``rucio``, ``gateway``)."""
        return [s for s in self.services if s.role == role]

    def serves(self, url: str) -> bool:
        """Whether ``url`` is at one of the deployment's own services (same scheme, host
        and port as a service's URL): the server may fetch it wherever that service
        is, on this machine too; any other address only if it is public."""
        wanted = _origin(url)
        return wanted is not None and any(_origin(s.url) == wanted for s in self.services)


def _origin(url: str) -> tuple[str, str, int] | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    return parts.scheme, parts.hostname.lower(), port


def _is_secret(key: str) -> bool:
    return any(word in key.lower() for word in ("password", "secret", "token", "key"))


def available_profiles() -> list[str]:
    """Names of the profiles shipped with the package."""
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


def _locate(name_or_path: str) -> Path:
    candidate = Path(name_or_path).expanduser()
    if candidate.suffix in {".toml", ".yaml", ".yml"} or candidate.exists():
        if not candidate.is_file():
            raise ProfileError(f"profile file {candidate} does not exist")
        return candidate.resolve()
    shipped = PROFILE_DIR / f"{name_or_path}.toml"
    if not shipped.is_file():
        raise ProfileError(f"no profile named {name_or_path!r} in {PROFILE_DIR} "
                           f"(available: {', '.join(available_profiles())}); "
                           "give a file path for your own profile")
    return shipped


def _read(path: Path) -> dict[str, Any]:
    try:
        if path.suffix in {".yaml", ".yml"}:
            import yaml

            data = yaml.safe_load(path.read_text()) or {}
        else:
            data = tomllib.loads(path.read_text())
    except (OSError, ValueError) as exc:  # TOMLDecodeError and YAMLError are ValueErrors
        raise ProfileError(f"cannot read profile {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ProfileError(f"profile {path} must be a table of settings")
    base = data.pop("extends", None)
    if base is None:
        return data
    if not isinstance(base, str) or _locate(base) == path:
        raise ProfileError(f"{path}: extends must name another profile")
    return _merge(_read(_locate(base)), data, f"{path}: ")


#: Lists of tables that a profile extending another merges entry by entry,
#: and the key that names an entry.
LIST_KEYS = {"archives": "id", "surveys": "id", "gateways": "id", "facilities": "id",
             "accounts": "sub"}


def _merge(base: dict[str, Any], data: dict[str, Any], where: str = "") -> dict[str, Any]:
    """``data`` over ``base``: tables merged key by key; the lists of
    :data:`LIST_KEYS` merged entry by entry; everything else replaced."""
    merged = dict(base)
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value, where)
        elif key in LIST_KEYS and isinstance(value, list) and isinstance(merged.get(key), list):
            merged[key] = _merge_list(merged[key], value, LIST_KEYS[key], f"{where}[[{key}]]")
        else:
            merged[key] = value
    return merged


def _merge_list(base: list[Any], data: list[Any], name: str, where: str) -> list[Any]:
    """Entries of ``data`` change the ``base`` entry with the same ``name``
    key by key (``remove = true`` drops it) or are appended."""
    merged = [dict(e) if isinstance(e, dict) else e for e in base]
    for i, entry in enumerate(data):
        if not isinstance(entry, dict):
            raise ProfileError(f"{where} #{i + 1} must be a table of settings")
        key = entry.get(name)
        at = next((j for j, e in enumerate(merged)
                   if isinstance(e, dict) and key is not None and e.get(name) == key), None)
        remove = entry.get("remove", False)
        if not isinstance(remove, bool):
            raise ProfileError(f"{where} #{i + 1}: remove: must be true or false")
        if remove:
            if at is None:
                raise ProfileError(f"{where} #{i + 1}: remove: the base profile has no entry "
                                   f"with {name} = {key!r}")
            del merged[at]
        elif at is None:
            merged.append(entry)
        else:
            merged[at] = _merge(merged[at], entry, where)
    return merged


def _read_secrets(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    values = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            values[key.strip()] = value.strip()
    return values


def _expand(value: Any, lookup: Mapping[str, str], where: str) -> Any:
    if isinstance(value, dict):
        return {k: _expand(v, lookup, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, lookup, f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def repl(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in lookup:
            return lookup[name]
        if default is not None:
            return default
        raise ProfileError(f"{where}: ${{{name}}} is not set (looked in the environment "
                           "and the profile's secrets_file)")

    return _VAR.sub(repl, value)


def _coerce(text: str) -> Any:
    """Turn an override string into a TOML value where it parses as one."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _set_path(data: dict[str, Any], path: list[str], value: Any, origin: str) -> None:
    if path[0] in ("archives", "surveys", "gateways"):
        what = path[0][:-1]
        if len(path) != 3:
            raise ProfileError(f"{origin}: {what} settings are {path[0]}.<id>.<key>")
        for entry in data.get(path[0], []):
            if entry.get("id", "").lower().replace("-", "_") == path[1].lower().replace("-", "_"):
                entry[path[2]] = value
                return
        raise ProfileError(f"{origin}: the profile has no {what} {path[1]!r}")
    node = data
    for part in path[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ProfileError(f"{origin}: {part} is not a section")
    node[path[-1]] = value


def _apply_overrides(data: dict[str, Any], env: Mapping[str, str],
                     overrides: Mapping[str, str]) -> None:
    for key, value in sorted(env.items()):
        if key.startswith(ENV_PREFIX):
            path = [p.lower() for p in key[len(ENV_PREFIX):].split("__")]
            _set_path(data, path, _coerce(value), f"environment variable {key}")
    for key, value in overrides.items():
        _set_path(data, key.split("."), _coerce(value), f"override {key}")


def _check_options(cfg: ServiceConfig, where: str) -> None:
    try:
        cls = connectors.connector_class(cfg.kind)
    except ConnectorError as exc:
        raise ProfileError(f"{where}: kind: {exc.reason}") from exc
    accepted: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            accepted |= set(inspect.signature(init).parameters)
    unknown = sorted(set(cfg.options) - accepted)
    if unknown:
        raise ProfileError(f"{where}: unknown setting(s) {', '.join(unknown)} for a "
                           f"{cfg.kind!r} service")


def _service(entry: Any, role: str, default_id: str, default_kind: str | None,
             where: str) -> ServiceConfig | None:
    if not isinstance(entry, dict):
        raise ProfileError(f"{where} must be a table of settings")
    entry = {**SERVICE_DEFAULTS, **entry}
    if not entry.pop("enabled"):
        return None
    sid = str(entry.pop("id", default_id))
    kind = entry.pop("kind", default_kind)
    if not kind:
        kinds = ", ".join(connectors.available_kinds())
        raise ProfileError(f"{where}: kind: missing (one of {kinds})")
    url = entry.pop("url", None)
    if not url:
        raise ProfileError(f"{where}: url: missing")
    name = str(entry.pop("name", sid))
    placement = _placement({k: entry.pop(k) for k in list(entry) if k in PLACEMENT_KEYS}, where)
    if placement and role not in ("gateway", "dirac"):
        raise ProfileError(f"{where}: {', '.join(sorted(placement))}: only places work runs "
                           "([gateway], [[gateways]], [dirac]) declare these")
    cfg = ServiceConfig(sid, str(kind), name, str(url), role, entry, placement)
    _check_options(cfg, where)
    return cfg


def _placement(values: dict[str, Any], where: str) -> dict[str, Any]:
    """Check the :data:`PLACEMENT_KEYS` of a gateway entry."""
    for key, value in values.items():
        wanted = PLACEMENT_KEYS[key]
        if wanted is list:
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise ProfileError(f"{where}: {key}: {value!r} is not a list of names")
        elif wanted is str:
            if not isinstance(value, str):
                raise ProfileError(f"{where}: {key}: {value!r} is not text")
        elif isinstance(value, bool) or not isinstance(value, int | float) or value <= 0 \
                or (wanted is int and not float(value).is_integer()):
            raise ProfileError(f"{where}: {key}: {value!r} is not a positive "
                               + ("whole number" if wanted is int else "number"))
        else:
            values[key] = wanted(value)
    return values


def load_profile(name_or_path: str | None = None, *, overrides: Mapping[str, str] | None = None,
                 environ: Mapping[str, str] | None = None) -> Profile:
    """Load a profile, applying environment and command-line overrides.

    Parameters
    ----------
    name_or_path : str, optional
        A shipped profile's name or a file path.  Defaults to the
        ``ESAP_DASH_PROFILE`` environment variable, then ``local``.
    overrides : mapping, optional
        ``"section.key" -> value`` from the command line (highest precedence).
    environ : mapping, optional
        The environment to read (default ``os.environ``).

    Returns
    -------
    Profile

    Raises
    ------
    ProfileError
        Naming the file and the key that is missing or wrong.
    """
    env = dict(os.environ if environ is None else environ)
    env.setdefault("ESAP_DASH_VAR", str(PROJECT_ROOT / "var"))
    path = _locate(name_or_path or env.get("ESAP_DASH_PROFILE") or "local")
    data = _read(path)
    _apply_overrides(data, env, overrides or {})
    deployment = {**DEFAULTS["deployment"], **data.get("deployment", {})}
    unknown = sorted(set(deployment) - set(DEFAULTS["deployment"]))
    if unknown:
        raise ProfileError(f"{path}: [deployment] unknown setting(s) {', '.join(unknown)}")
    secrets_file = _expand(deployment["secrets_file"], env, f"{path}: [deployment] secrets_file")
    lookup = {**_read_secrets(Path(secrets_file)), **env} if secrets_file else env
    deployment = _expand(deployment, lookup, f"{path}: [deployment]")

    services: list[ServiceConfig] = []
    # [[archives]] are searched; [[surveys]] (HiPS) are drawn behind the sky map;
    # [[gateways]] are places work runs besides [gateway] (which stays the first).
    lists = {key: (role, kind) for key, role, kind in (
        ("archives", "archive", None), ("surveys", "survey", "hips"),
        ("gateways", "gateway", "dask-gateway"))}
    for key in ("archives", "surveys", *SECTIONS, "gateways"):
        if key in SECTIONS:
            if key in data:
                where = f"{path}: [{key}]"
                cfg = _service(_expand(data[key], lookup, where), key, key, SECTIONS[key], where)
                if cfg:
                    services.append(cfg)
            continue
        role, kind = lists[key]
        entries = data.get(key, [])
        if not isinstance(entries, list):
            raise ProfileError(f"{path}: {key} must be a list of [[{key}]] tables")
        for i, entry in enumerate(entries):
            where = f"{path}: [[{key}]] #{i + 1}"
            cfg = _service(_expand(entry, lookup, where), role, f"{role}-{i + 1}", kind, where)
            if cfg:
                services.append(cfg)
    ids = [s.id for s in services]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ProfileError(f"{path}: service id(s) used twice: {', '.join(duplicates)}")
    users = str(deployment["users"])
    if users not in {"single", "oidc"}:
        raise ProfileError(f"{path}: [deployment] users: {users!r} is not 'single' or 'oidc'")
    logo, period = _check_deployment(deployment, f"{path}: [deployment]")
    for cfg in services:
        _check_service_values(cfg, f"{path}: service {cfg.id!r}")
    resolver = _expand(data.get("resolver", {}), lookup, f"{path}: [resolver]")
    unknown = sorted(set(resolver) - {"tap", "sesame", "timeout"})
    if unknown:
        raise ProfileError(f"{path}: [resolver] unknown setting(s) {', '.join(unknown)}")
    if resolver.get("tap"):
        if resolver["tap"] not in ids:
            raise ProfileError(f"{path}: [resolver] tap: no service {resolver['tap']!r} "
                               f"(services: {', '.join(ids)})")
        kind = next(s.kind for s in services if s.id == resolver["tap"])
        if kind != "tap":
            raise ProfileError(f"{path}: [resolver] tap: {resolver['tap']!r} is a {kind!r} "
                               "service; names are resolved through a TAP service")
    facilities = tuple(_facility(_expand(entry, lookup, f"{path}: [[facilities]] #{i + 1}"),
                                 f"{path}: [[facilities]] #{i + 1}")
                       for i, entry in enumerate(data.get("facilities", [])))
    oidc = {k: str(v) for k, v in _expand(data.get("oidc", {}), lookup,
                                           f"{path}: [oidc]").items()}
    unknown = sorted(set(oidc) - set(OIDC_REQUIRED) - set(OIDC_OPTIONAL))
    if unknown:
        raise ProfileError(f"{path}: [oidc] unknown setting(s) {', '.join(unknown)}")
    missing = [k for k in OIDC_REQUIRED if not oidc.get(k)]
    if users == "oidc" and missing:
        raise ProfileError(f"{path}: users = 'oidc' needs [oidc] {', '.join(missing)}")
    accounts = {}
    for i, entry in enumerate(data.get("accounts", [])):
        where = f"{path}: [[accounts]] #{i + 1}"
        entry = _expand(entry, lookup, where)
        unknown = sorted(set(entry) - ACCOUNT_KEYS)
        if unknown or not entry.get("sub"):
            raise ProfileError(f"{where}: needs sub" + (
                f"; unknown setting(s) {', '.join(unknown)}" if unknown else ""))
        account = Account(**{k: str(v) for k, v in entry.items()})
        if account.rucio_account and not (account.rucio_username and account.rucio_password):
            raise ProfileError(f"{where}: rucio_account needs rucio_username and "
                               "rucio_password")
        accounts[account.sub] = account
    samp = _samp(data.get("samp", {}), users, f"{path}: [samp]")
    api = _api(_expand(data.get("api", {}), lookup, f"{path}: [api]"), f"{path}: [api]")
    return Profile(path.stem, path, str(deployment["title"]), str(deployment["description"]),
                   logo, period, users, tuple(services), resolver, str(deployment["database"]),
                   facilities, str(deployment["public_url"]).rstrip("/"), oidc, accounts,
                   samp, api)


def _api(entry: Any, where: str) -> dict[str, Any]:
    """The ``[api]`` settings over :data:`API_DEFAULTS`."""
    if not isinstance(entry, dict):
        raise ProfileError(f"{where} must be a table of settings")
    unknown = sorted(set(entry) - set(API_DEFAULTS))
    if unknown:
        raise ProfileError(f"{where} unknown setting(s) {', '.join(unknown)}")
    api = {**API_DEFAULTS, **entry}
    if not isinstance(api["operator_user"], bool):
        raise ProfileError(f"{where} operator_user: must be true or false")
    _positive(api, ("rate_per_minute", "max_body_mb", "deadline"), where)
    return api


def _samp(entry: Any, users: str, where: str) -> dict[str, Any]:
    """The ``[samp]`` settings, or {} where the server's SAMP link is off."""
    if not isinstance(entry, dict):
        raise ProfileError(f"{where} must be a table of settings")
    unknown = sorted(set(entry) - set(SAMP_DEFAULTS) - {"enabled"})
    if unknown:
        raise ProfileError(f"{where} unknown setting(s) {', '.join(unknown)}")
    enabled = entry.get("enabled", users == "single")
    if enabled and users != "single":
        raise ProfileError(f"{where} enabled: the server's SAMP hub is not the users' desktop; "
                           "it cannot be on in a deployment with logins")
    if not enabled:
        return {}
    samp = {**SAMP_DEFAULTS, **entry}
    samp.pop("enabled", None)
    if not isinstance(samp["local_urls"], bool):
        raise ProfileError(f"{where} local_urls: must be true or false")
    _positive(samp, ("max_mb", "max_rows", "timeout"), where)
    return samp


def _positive(settings: Mapping[str, Any], keys: tuple[str, ...], where: str) -> None:
    """Check that the settings ``keys`` are positive numbers."""
    for key in keys:
        value = settings[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ProfileError(f"{where} {key}: {value!r} is not a positive number")


LOGO_SUFFIXES = {".svg", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".ico"}


def _check_deployment(deployment: Mapping[str, Any], where: str) -> tuple[Path, float]:
    """Validate ``[deployment]``; return the logo file and the health period."""
    for key in ("title", "description"):
        text = deployment[key]
        if not isinstance(text, str) or len(text) > {"title": 200}.get(key, 2000) \
                or any(ord(c) < 32 and c not in "\t\n" for c in text):
            raise ProfileError(f"{where} {key}: must be plain text of at most "
                               f"{ {'title': 200}.get(key, 2000)} characters")
    logo = Path(str(deployment["logo"]))
    if not logo.is_absolute():
        logo = (ASSETS / logo).resolve()
        if not logo.is_relative_to(ASSETS.resolve()):
            raise ProfileError(f"{where} logo: {deployment['logo']!r} leaves the assets folder "
                               f"{ASSETS}; give a file in it or an absolute path")
    if logo.suffix.lower() not in LOGO_SUFFIXES:
        raise ProfileError(f"{where} logo: {deployment['logo']!r} is not an image file "
                           f"({', '.join(sorted(LOGO_SUFFIXES))})")
    try:
        period = float(deployment["health_period"])
    except (TypeError, ValueError) as exc:
        raise ProfileError(f"{where} health_period: not a number") from exc
    if not 5 <= period <= 86400:
        raise ProfileError(f"{where} health_period: {period:g} s is not between 5 s and a day")
    database = str(deployment["database"])
    try:
        from sqlalchemy.engine import make_url

        make_url(database)
    except Exception as exc:
        raise ProfileError(f"{where} database: {database!r} is not a database URL "
                           "(e.g. sqlite:///path/esap-dash.db or "
                           "postgresql+psycopg://user@host/db)") from exc
    public_url = str(deployment["public_url"])
    if public_url and not public_url.startswith(("http://", "https://")):
        raise ProfileError(f"{where} public_url: {public_url!r} is not an http(s) address")
    return logo, period


def _check_service_values(cfg: ServiceConfig, where: str) -> None:
    """Values every service shares: an http(s) URL, positive limits."""
    if not cfg.url.startswith(("http://", "https://")):
        raise ProfileError(f"{where}: url: {cfg.url!r} is not an http(s) address")
    for key in ("timeout", "maxrec"):
        if key not in cfg.options:
            continue
        value = cfg.options[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0 \
                or (key == "maxrec" and not float(value).is_integer()):
            raise ProfileError(f"{where}: {key}: {value!r} is not a positive "
                               + ("whole number" if key == "maxrec" else "number of seconds"))
        if key == "timeout" and value > 3600:
            raise ProfileError(f"{where}: timeout: {value!r} s is more than an hour")


def _facility(entry: Any, where: str) -> Facility:
    if not isinstance(entry, dict):
        raise ProfileError(f"{where} must be a table of settings")
    known = {f.name for f in fields(Facility)}
    unknown = sorted(set(entry) - known)
    if unknown:
        raise ProfileError(f"{where}: unknown setting(s) {', '.join(unknown)}")
    for key in ("id", "kind", "url"):
        if not entry.get(key):
            raise ProfileError(f"{where}: {key}: missing")
    if entry["kind"] not in FACILITY_KINDS:
        raise ProfileError(f"{where}: kind: {entry['kind']!r} is not one of "
                           f"{', '.join(FACILITY_KINDS)}")
    if entry["kind"] == "binderhub" and not entry.get("repo"):
        raise ProfileError(f"{where}: repo: a BinderHub needs the repository to launch")
    if not str(entry["url"]).startswith(("http://", "https://")):
        raise ProfileError(f"{where}: url: {entry['url']!r} is not an http(s) address")
    return Facility(**{"name": entry["id"], **{k: str(v) for k, v in entry.items()}})
