"""Permissions: Rucio's generic ones, users' scopes kept to their owners, and a
rule's owner may ask for its STUCK transfers to be tried again (``boost_rule``)."""

from __future__ import annotations

from typing import Any

from rucio.common.exception import RuleNotFound
from rucio.core.account import has_account_attribute
from rucio.core.permission import generic
from rucio.core.rule import get_rule


def _foreign_user_scope(issuer: Any, dids: list[dict[str, Any]]) -> bool:
    """Whether any of ``dids`` is in the ``user.<name>`` scope of another account."""
    scopes = {str(getattr(d["scope"], "external", d["scope"])) for d in dids}
    return any(s.startswith("user.") and s != f"user.{issuer.external}" for s in scopes)


def _own_boost(issuer: Any, kwargs: dict[str, Any], session: Any) -> bool:
    """Whether this is the owner of a rule asking for nothing but a retry of it."""
    if set(kwargs.get("options") or {}) != {"boost_rule"}:
        return False
    try:
        return get_rule(kwargs["rule_id"], session=session)["account"] == issuer
    except RuleNotFound:
        return False


def has_permission(issuer: Any, action: str, kwargs: dict[str, Any], session: Any) -> bool:
    """Rucio's generic permission, refusing rules on another user's scope."""
    if (action == "add_rule" and issuer.external != "root"
            and _foreign_user_scope(issuer, kwargs.get("dids") or [])
            and not has_account_attribute(account=issuer, key="admin", session=session)):
        return False
    if action == "update_rule" and _own_boost(issuer, kwargs, session):
        return True
    return generic.has_permission(issuer, action, kwargs, session)
