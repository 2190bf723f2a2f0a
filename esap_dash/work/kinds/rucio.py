"""Rucio replication rules as jobs: data made available at an RSE of the data lake."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from connectors.exceptions import ConnectorError, QueryError

from ...core.actor import Actor
from ..jobs import JobError, JobKind, service_of

__all__ = ["RucioRules"]


class RucioRules(JobKind):
    """A replication rule of the user's Rucio account for one data identifier."""

    name = "rucio-rule"
    label = "replication rule"
    #: A rule that is OK keeps its copies until its lifetime ends (recorded with it:
    #: see :meth:`ended`) or it is removed through this dashboard.
    ends = frozenset({"OK"})

    @staticmethod
    def _lake(actor: Actor) -> Any:
        return service_of(actor, "rucio", "This deployment has no Rucio data lake.")

    def submit(self, actor: Actor, *, did: str, rse: str, cart: str = "",
               lifetime_days: int = 0) -> int:
        """Ask for ``did`` (``scope:name``) at ``rse`` (an RSE, or a storage class:
        ``QOS=FAST``) for ``lifetime_days`` (0: until the rule is removed); the
        account's existing rule for them is taken, not duplicated."""
        scope, sep, name = did.partition(":")
        if not sep or not scope or not name:
            raise JobError(f"{did!r} is not a data identifier (scope:name).")
        if not isinstance(lifetime_days, int) or lifetime_days < 0:
            raise JobError("lifetime_days is a whole number of days (0: until removed).",
                           status=400)
        lake = self._lake(actor)
        try:
            rule = lake.add_rule(scope, name, rse, comment=f"esap-dash cart {cart}",
                                 lifetime=lifetime_days * 86400 or None)
        except QueryError as exc:
            if "duplicate" not in exc.reason.lower():
                raise
            rule = next(r["id"] for r in lake.did_rules(scope, name)
                        if r["rse"] == rse and r["account"] == lake.account)
        known = next((r["id"] for r in actor.store.jobs(actor.user, self.name)
                      if r["ref"] == rule), None)
        if known is not None:
            return known
        return actor.store.add_job(actor.user, self.name, lake.name, rule,
                                   {"did": did, "rse": rse, "cart": cart,
                                    "lifetime_days": lifetime_days})

    def request(self, record: dict[str, Any]) -> dict[str, Any]:
        detail = record["detail"]
        return {"did": str(detail["did"]), "rse": str(detail["rse"]),
                "cart": str(detail.get("cart", "")),
                "lifetime_days": int(detail.get("lifetime_days", 0))}

    def describe(self, record: dict[str, Any]) -> str:
        detail = record["detail"]
        return f"{detail.get('did')} at {detail.get('rse')} (cart {detail.get('cart')})"

    def state(self, actor: Actor, record: dict[str, Any]) -> dict[str, Any]:
        rule = self._lake(actor).rule(record["ref"])
        return {"state": rule["state"], "error": rule["error"], "at": ", ".join(rule["rses"]),
                "ended": _iso(rule["updated"]) if rule["state"] == "OK" else "",
                "expires": _iso(rule["expires"]),
                **{k: rule.get(k, "") for k in ("locks_ok", "locks_replicating", "locks_stuck",
                                                 "bytes_ok", "bytes")}}

    def ended(self, end: dict[str, Any]) -> dict[str, Any]:
        """An OK rule whose lifetime has ended is EXPIRED (Rucio removes its copies)."""
        try:
            expires = datetime.fromisoformat(str(end.get("expires") or ""))
        except ValueError:
            return end
        if expires > datetime.now(UTC):
            return end
        return {**end, "state": "EXPIRED", "ended": end["expires"],
                "note": "its lifetime ended: Rucio removes the copies it kept"}

    def retry(self, actor: Actor, record: dict[str, Any]) -> int:
        """Ask Rucio to try a STUCK rule's failed transfers again now (the same rule,
        so the same job); a rule that is not STUCK is left as it is."""
        state = self.state(actor, record)["state"]
        if state != "STUCK":
            raise JobError(f"Rule {record['ref']} is {state}, not STUCK: there is nothing to "
                           "try again.", status=409)
        self._lake(actor).retry_rule(record["ref"])
        return int(record["id"])

    def delete(self, actor: Actor, record: dict[str, Any]) -> None:
        try:
            self._lake(actor).delete_rule(record["ref"])
        except ConnectorError as exc:
            if getattr(exc, "status", None) != 404:
                raise


def _iso(when: Any) -> str:
    """A time of Rucio's (a naive UTC datetime, or None) as ISO 8601 with its zone."""
    if not isinstance(when, datetime):
        return str(when or "")
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).isoformat()
