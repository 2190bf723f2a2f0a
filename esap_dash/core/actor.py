"""Who acts: one user of a deployment, with their accounts at its services (no UI here).

The dashboard's pages, the job kinds and any other client act through an
:class:`Actor`: it opens the user's carts, reaches the services as the user
(never as the deployment's service account) and names the user in records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from connectors.base import ServiceConnector
from connectors.resolver import NameResolver

from .cart import Cart
from .config import Profile
from .errors import EsapError
from .store import Store, store_for

if TYPE_CHECKING:
    from ..work.workflows import Engine

__all__ = ["Actor", "NoAccountError"]


class NoAccountError(EsapError, PermissionError):
    """The user has no account at a service that needs one."""

    status = 403


@dataclass
class Actor:
    """A user of a deployment.

    Parameters
    ----------
    profile : Profile
        The deployment.
    user : str
        The identity whose records are used (the OIDC ``sub``; ``local``
        without logins).
    display : str, optional
        How to name the user in messages.
    engine : callable, optional
        Where workflow runs of this actor go (see
        :func:`esap_dash.work.kinds.workflow.default_engine` when not given).
    """

    profile: Profile
    user: str = "local"
    display: str = ""
    engine: Callable[[], Engine] | None = field(default=None, repr=False)

    @property
    def store(self) -> Store:
        """The deployment's database of per-user records."""
        return store_for(self.profile.database)

    @property
    def name(self) -> str:
        """The user as messages name them."""
        return self.display or self.user

    def open_cart(self, name: str, *, create: bool = True) -> Cart:
        """The user's cart ``name`` (blocking)."""
        return Cart.open_as(self.user, name, profile=self.profile, create=create)

    def cart_names(self) -> list[str]:
        """Names of the user's carts (blocking)."""
        return Cart.names_of(self.user, profile=self.profile)

    def connector(self, role: str, service_id: str | None = None) -> ServiceConnector | None:
        """A ``role`` service (``rucio``, ``gateway``), acting as the user.

        Without logins it is the profile's configured account.  With logins
        it is the user's own account from the profile's ``[[accounts]]``;
        never the deployment's service account.

        Parameters
        ----------
        role : str
            The services' role.
        service_id : str, optional
            Which of them (a gateway of ``[[gateways]]``); the first by default.

        Returns
        -------
        ServiceConnector or None
            None when the deployment has no such service.

        Raises
        ------
        NoAccountError
            The user has no account there (the message says so).
        KeyError
            No ``role`` service has the id ``service_id``.
        """
        services = self.profile.by_role(role)
        if not services:
            return None
        svc = services[0] if service_id is None else next(
            (s for s in services if s.id == service_id), None)
        if svc is None:
            raise KeyError(f"this deployment has no {role} {service_id!r}; it has "
                           f"{', '.join(s.id for s in services)}")
        if self.profile.users == "single":
            return svc.connector()
        account = self.profile.accounts.get(self.user)
        overrides = account.overrides(role) if account else None
        allowed = svc.placement.get("users")
        if overrides is not None and allowed is not None \
                and overrides.get("username") not in allowed:
            overrides = None
        if overrides is None:
            raise NoAccountError(
                f"You ({self.name}) have no account at {svc.name} in this "
                "deployment; ask its operators to map your identity to one.")
        return svc.connector(**overrides)

    def archive(self, name: str) -> Any:
        """The connector of the profile's archive ``name``, or None when there is none."""
        svc = next((s for s in self.profile.by_role("archive") if s.name == name), None)
        return svc.connector() if svc is not None else None

    def resolver(self) -> NameResolver:
        """The name resolver configured by the profile (offline catalogues, or Sesame)."""
        cfg = self.profile.resolver
        timeout = float(cfg.get("timeout", 10))
        tap = (self.profile.service(cfg["tap"]).connector(timeout=timeout)
               if cfg.get("tap") else None)
        return NameResolver(tap, sesame_url=cfg.get("sesame") or None, timeout=timeout)
