"""A cart's data-lake items in the Rucio data lake: where their files are, a replication
rule to bring them to a storage element, and the cart's rules followed live."""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import panel as pn
import param

from connectors.exceptions import ConnectorError
from connectors.rucio import size_text

from ...core.actor import Actor, NoAccountError
from ...core.cart import CartItem
from ...core.fanout import run_blocking
from ...work.jobs import JobError, follow, kinds
from ...work.placement import make_available_at
from .actions import Refresher, on_click
from .style import html_pane, notice, say

__all__ = ["CartLake"]


class CartLake(pn.viewable.Viewer):
    """The data lake of one cart, acting as the user.

    Parameters
    ----------
    actor : Actor
        Who acts.
    items : callable
        The cart's data-lake items to work on (the ticked ones, or all; blocking).
    cart_name : callable
        The cart's name (rules are recorded with it).
    """

    rse = param.Selector(objects=[], label="Storage (RSE or class)",
                         doc="Where the data-lake items should be made available: a storage "
                             "element, or any of a storage class (QoS: FAST, SAFE ...).")
    lifetime_days = param.Integer(default=0, bounds=(0, 3650), label="Keep for (days)",
                                  doc="How long the copy is kept; 0: until the rule is removed.")
    refresh_period = param.Number(default=5.0, bounds=(0, None),
                                  doc="Seconds between refreshes of replicating rules.")

    #: Seconds a STUCK rule asked for again is followed before Rucio takes it up.
    RETRY_FOLLOW = 120.0

    def __init__(self, actor: Actor, items: Callable[[], list[CartItem]],
                 cart_name: Callable[[], str], **params: Any) -> None:
        super().__init__(**params)
        self.actor, self._items, self._cart_name = actor, items, cart_name
        try:
            self.rucio: Any = actor.connector("rucio")
            why = "This deployment has no Rucio data lake."
        except NoAccountError as exc:
            self.rucio, why = None, str(exc)
        self._rules_refresher = Refresher(self.refresh_rules, lambda: self.refresh_period)
        #: This cart's replication rules with their live state.
        self.rules: list[dict[str, Any]] = []
        self._jobs: list[dict[str, Any]] = []
        self._retried: dict[str, float] = {}  # rule id -> when it was asked for again
        self.notice = notice()
        #: The account's quota at each RSE, in words (empty until read).
        self.quota = ""
        self._quota = html_pane("", css_classes=["esap-muted"])
        #: Where each file of the listed items is (one row per file and RSE; None until
        #: listed).
        self.replicas: pd.DataFrame | None = None
        self._replicas = pn.widgets.Tabulator(
            None, show_index=False, disabled=True, max_height=300, sizing_mode="stretch_width",
            formatters={c: {"type": "plaintext"} for c in ("scope", "name", "rse", "pfn")},
            visible=False)
        # Shown once asked for ("Where are the files?"), not as an empty box before.
        self._replicas_title = pn.pane.Markdown("#### Replicas (RSE per file)", visible=False)
        self._rules = pn.widgets.Tabulator(
            None, show_index=False, disabled=True, max_height=300, sizing_mode="stretch_width",
            formatters={c: {"type": "plaintext"} for c in ("did", "rse", "at", "error")},
            widths={"done": 300, "error": 360})
        # Why rules are stuck, in full (the table's column cuts long reasons).
        self._stuck = html_pane("", css_classes=["esap-muted"], visible=False)
        if self.rucio is None:
            self._layout = pn.Card(html_pane(f"<p>{html.escape(why)}</p>"), title="Data lake",
                                   sizing_mode="stretch_width")
            return
        show = pn.widgets.Button(label="Where are the files?", width=190)
        on_click(show, self.show_replicas)
        stage = pn.widgets.Button(label="Make available at the RSE", color="primary",
                                  width=220)
        on_click(stage, self.make_available)
        self._retry = pn.widgets.Button(label="Try stuck rules again", width=200, visible=False)
        on_click(self._retry, self.retry_stuck)
        self._layout = pn.Card(
            pn.pane.Markdown("Data-lake items (ticked ones, or all): where their files are "
                             "stored, and a replication rule to bring them to a storage "
                             "element."),
            pn.Row(show, pn.widgets.Select.from_param(self.param.rse, width=220),
                   pn.widgets.IntInput.from_param(self.param.lifetime_days, width=140), stage),
            self._quota, self.notice, self._replicas_title, self._replicas,
            pn.pane.Markdown("#### Replication rules of this cart"),
            self._rules, self._stuck, self._retry, title="Data lake",
            sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    async def show_replicas(self) -> None:
        """List where every file of the data-lake items is (one row per file and RSE)."""
        assert self.rucio is not None
        items = await run_blocking(self._items)
        if not items:
            say(self.notice, "No data-lake items in this cart (or none ticked). Add "
                "them from Discovery > Data lake.", "warning")
            return
        try:
            tables = await run_blocking(lambda: [
                self.rucio.list_replicas(*i.item_id.split(":", 1)) for i in items])
            if not self.param.rse.objects:
                rses, classes = await run_blocking(
                    lambda: (self.rucio.list_rses(), self.rucio.qos_classes()))
                self.param.rse.objects = {
                    **{rse: rse for rse in rses},
                    **{f"any {c} storage ({', '.join(at)})": f"QOS={c}"
                       for c, at in classes.items()}}
        except ConnectorError as exc:
            say(self.notice, exc.reason, "danger")
            return
        frames = [t.to_pandas() for t in tables if len(t)]
        self.replicas = pd.concat(frames, ignore_index=True) if frames else None
        self._replicas.value = self.replicas
        self._replicas.visible = self._replicas_title.visible = bool(frames)
        per_rse = pd.concat(frames)["rse"].value_counts().to_dict() if frames else {}
        say(self.notice, f"{len(items)} data-lake items: " + (", ".join(
            f"{n} file replicas on {rse}" for rse, n in sorted(per_rse.items()))
            or "no replicas") + ".")
        await self.show_quota()

    async def show_quota(self) -> None:
        """Say how much of the account's quota at each RSE its rules use."""
        assert self.rucio is not None
        try:
            quotas = await run_blocking(self.rucio.quotas)
        except ConnectorError as exc:
            self.quota = f"Quota unknown: {exc.reason}"
        else:
            self.quota = f"Quota of Rucio account {self.rucio.account}: " + ("; ".join(
                f"{q['rse']} {size_text(int(q['used']))} used"
                + (" (no limit)" if np.ma.is_masked(q["limit"])
                   else f" of {size_text(int(q['limit']))}") for q in quotas)
                or "none at any RSE") + "."
        self._quota.object = f"<p>{html.escape(self.quota)}</p>"

    async def make_available(self) -> None:
        """Ask Rucio for a replication rule per data-lake item to the chosen RSE."""
        assert self.rucio is not None
        if not self.rse:
            await self.show_replicas()
            if not self.rse:
                return
        items = await run_blocking(self._items)
        if not items:
            say(self.notice, "No data-lake items in this cart (or none ticked).", "warning")
            return
        rse, cart, days = self.rse, self._cart_name(), self.lifetime_days
        made, refused = await run_blocking(lambda: make_available_at(
            self.actor, [i.item_id for i in items], rse, cart=cart, lifetime_days=days))
        text = (f"Asked for {', '.join(did for did, _ in made)} at {rse}." if made else "") + (
            " Refused: " + "; ".join(refused) if refused else "")
        say(self.notice, text.strip(), "danger" if refused else "info")
        await self.refresh_rules()
        await self.show_quota()

    async def refresh_rules(self) -> None:
        """Show this cart's rules with their live state; refresh while any replicates."""
        cart = self._cart_name()
        self._jobs = [j for j in await follow(self.actor, "rucio-rule")
                      if j["detail"].get("cart") == cart]
        rows = [{"did": j["detail"]["did"], "rse": j["detail"]["rse"], "at": j.get("at", ""),
                 "state": j["state"], "done": _progress(j),
                 "error": j.get("error", "") if j["state"] != "OK" else "",
                 "stuck": j.get("locks_stuck", ""), "expires": str(j.get("expires") or ""),
                 "asked": j["created"], "rule": j["ref"]}
                for j in self._jobs]
        self.rules = rows
        self._rules.value = pd.DataFrame(rows) if rows else None
        now = time.monotonic()
        self._retried = {r["rule"]: t for r in rows if r["state"] == "STUCK"
                         and (t := self._retried.get(r["rule"], 0)) > now - self.RETRY_FOLLOW}
        stuck = [r for r in rows if r["state"] == "STUCK"]
        self._retry.visible = self._stuck.visible = bool(stuck)
        self._stuck.object = "".join(
            f"<p>{html.escape(r['did'])} at {html.escape(r['rse'])} is stuck: "
            f"{html.escape(r['error'] or 'Rucio gave no reason')}.</p>" for r in stuck)
        self._rules_refresher.keep(bool(self._retried) or any(
            r["state"] in ("REPLICATING", "UNKNOWN") for r in rows))

    async def retry_stuck(self) -> None:
        """Ask Rucio to try the failed transfers of this cart's STUCK rules again."""
        stuck = [j for j in self._jobs if j["state"] == "STUCK"]
        rules = kinds()["rucio-rule"]
        asked, refused = [], []
        for job in stuck:
            try:
                await run_blocking(rules.retry, self.actor, job)
            except (JobError, ConnectorError) as exc:
                refused.append(f"{job['detail']['did']}: {getattr(exc, 'reason', exc)}")
            else:
                asked.append(f"{job['detail']['did']} at {job['detail']['rse']}")
                self._retried[job["ref"]] = time.monotonic()
        say(self.notice, (f"Asked Rucio to try again: {'; '.join(asked)}." if asked else "")
            + (f" Refused: {'; '.join(refused)}" if refused else ""),
            "danger" if refused else "info")
        await self.refresh_rules()


def _progress(job: dict[str, Any]) -> str:
    """A rule's files and bytes at their RSE: ``1 of 2 files, 72.0 kB of 815.0 kB``."""
    if "bytes" not in job:
        return ""
    files = sum(int(job.get(k) or 0) for k in ("locks_ok", "locks_replicating", "locks_stuck"))
    return (f"{job.get('locks_ok') or 0} of {files} files, "
            f"{size_text(int(job['bytes_ok'] or 0))} of {size_text(int(job['bytes'] or 0))}")
