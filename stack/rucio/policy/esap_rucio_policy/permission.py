"""Permissions: Rucio's generic ones, and users' scopes kept to their owners."""

from __future__ import annotations

from typing import Any

from rucio.core.account import has_account_attribute
from rucio.core.permission import generic


def _foreign_user_scope(issuer: Any, dids: list[dict[str, Any]]) -> bool:
    """Whether any of ``dids`` is in the ``user.<name>`` scope of another account."""
    scopes = {str(getattr(d["scope"], "external", d["scope"])) for d in dids}
    return any(s.startswith("user.") and s != f"user.{issuer.external}" for s in scopes)


def has_permission(issuer: Any, action: str, kwargs: dict[str, Any], session: Any) -> bool:
    """Rucio's generic permission, refusing rules on another user's scope."""
    if (action == "add_rule" and issuer.external != "root"
            and _foreign_user_scope(issuer, kwargs.get("dids") or [])
            and not has_account_attribute(account=issuer, key="admin", session=session)):
        return False
    return generic.has_permission(issuer, action, kwargs, session)
