"""ADQL for any TAP service: schema browser, examples, sync runs and async (UWS) jobs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import panel as pn
import param
from astropy.table import Table

from connectors.exceptions import ConnectorError
from connectors.tap import TAPConnector

from ...core.actor import Actor
from ...core.fanout import run_blocking
from ...work.jobs import JobError, kinds
from .actions import on_click
from .job_list import JobList
from .style import notice, say

__all__ = ["AdqlEditor"]


class AdqlEditor(pn.viewable.Viewer):
    """Write ADQL against a TAP service; run it now or as a job that outlives the page.

    Async jobs are the user's ``tap`` jobs (:mod:`esap_dash.work.jobs`), in the
    same job list as on the Jobs page: they survive a page reload and a
    server restart, and each job's phase comes live from the service.

    Parameters
    ----------
    services : mapping
        Name -> TAP connector.
    actor : Actor
        Whose jobs, acting as whom.
    """

    service = param.Selector(objects=[], doc="TAP service.")
    table_name = param.Selector(objects=[], doc="Table of the service (from TAP_SCHEMA).")
    example = param.Selector(objects=[], doc="Example queries for the chosen table.")
    adql = param.String(default="", label="ADQL", doc="The ADQL query.")
    maxrec = param.Integer(default=1000, bounds=(1, None), label="MAXREC",
                           doc="Row limit (MAXREC).")

    #: News to say once the chosen table's columns are in (see :meth:`load_tables`).
    _news = ""

    def __init__(self, services: Mapping[str, TAPConnector], actor: Actor,
                 **params: Any) -> None:
        super().__init__(**params)
        self.services = dict(services)
        self.actor = actor
        self.param.service.objects = list(self.services)
        if self.services and self.service is None:
            self.service = next(iter(self.services))
        self.result: Table | None = None
        buttons = {label: pn.widgets.Button(label=label, width=170, **kw) for label, kw in (
            ("Load tables", {}), ("Run now", {"color": "primary"}),
            ("Run as async job", {"color": "primary"}))}
        for label, method in (("Load tables", self.load_tables), ("Run now", self.run_sync),
                              ("Run as async job", self.submit)):
            on_click(buttons[label], method)
        self.notice = notice()
        #: The user's async TAP jobs (the Jobs page's list, of this kind only).
        self.job_list = JobList(actor, kind="tap", message=self.notice, refresh_period=3)
        self._columns = pn.widgets.Tabulator(
            None, show_index=False, disabled=True, max_height=220, sizing_mode="stretch_width",
            formatters={"description": {"type": "plaintext"}})
        self._result = pn.widgets.Tabulator(
            None, show_index=False, disabled=True, max_height=320, pagination="remote",
            page_size=20, sizing_mode="stretch_width", visible=False)
        browser = pn.Column(
            pn.Row(pn.widgets.Select.from_param(self.param.service, width=260),
                   buttons["Load tables"]),
            pn.widgets.Select.from_param(self.param.table_name, width=320),
            self._columns, width=560)
        editor = pn.Column(
            pn.widgets.Select.from_param(self.param.example, width=520),
            pn.widgets.TextAreaInput.from_param(self.param.adql, height=160, width=520,
                                                placeholder="SELECT TOP 10 * FROM ..."),
            pn.Row(pn.widgets.IntInput.from_param(self.param.maxrec, width=120),
                   buttons["Run now"], buttons["Run as async job"]), width=560)
        self._layout = pn.Column(
            pn.Row(browser, editor), self.notice,
            self._result,
            pn.pane.Markdown("#### My async jobs"), self.job_list,
            sizing_mode="stretch_width")
        if pn.state.curdoc is not None:
            pn.state.onload(self.job_list.refresh)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    @property
    def connector(self) -> TAPConnector:
        """The connector of the chosen service."""
        return self.services[self.service]

    def _say(self, text: str, kind: str = "info") -> None:
        say(self.notice, text, kind)

    # ----------------------------------------------------------- schema
    async def load_tables(self) -> None:
        """Read the service's tables from TAP_SCHEMA."""
        try:
            tables = await run_blocking(lambda: self.connector.run_sync(
                "SELECT table_name FROM TAP_SCHEMA.tables ORDER BY table_name", maxrec=5000))
        except ConnectorError as exc:
            self._say(exc.reason, "danger")
            return
        names = [str(n) for n in tables["table_name"]]
        # Said once the first table's columns (and its example query) are in: what
        # the user types after reading it is never replaced by that example.
        self._news = f"{len(names)} tables in {self.service}."
        shown = self.table_name
        self.param.table_name.objects = names
        if self.table_name != shown:
            return  # the table menu took the first table: its columns are being read
        first = names[0] if names else None
        if first is None or first == self.table_name:
            news, self._news = self._news, ""
            self._say(news)
            return
        self.table_name = first

    @property
    def columns(self) -> pd.DataFrame | None:
        """The columns of :attr:`table_name` as TAP_SCHEMA describes them (name,
        datatype, unit, UCD, description), once read."""
        return self._columns.value

    @param.depends("table_name", watch=True)
    async def show_table(self) -> None:
        """Read the columns of :attr:`table_name` and offer example queries of it."""
        if not self.table_name:
            return
        news, self._news = self._news, ""
        try:
            columns = await run_blocking(self.connector.table_columns, self.table_name)
        except ConnectorError as exc:
            self._say(exc.reason, "danger")
            return
        self._columns.value = columns.to_pandas()
        examples = [f"SELECT TOP 10 * FROM {self.table_name}",
                    f"SELECT COUNT(*) AS n FROM {self.table_name}"]
        ucds = {str(u): str(c) for c, u in zip(columns["column_name"], columns["ucd"],
                                                strict=True)}
        ra, dec = ucds.get("pos.eq.ra;meta.main"), ucds.get("pos.eq.dec;meta.main")
        if ra and dec:
            examples.append(f"SELECT * FROM {self.table_name} WHERE 1=CONTAINS("
                            f"POINT('ICRS', {ra}, {dec}), CIRCLE('ICRS', 83.633, 22.014, 0.5))")
        # a query the user wrote stays; an example (or nothing) gives way to this table's
        own = self.adql.strip() and self.adql not in self.param.example.objects
        self.param.example.objects = examples
        self.example = None if own else examples[0]
        if news:
            self._say(news)

    @param.depends("example", watch=True)
    def _use_example(self) -> None:
        if self.example:
            self.adql = self.example

    # -------------------------------------------------------------- runs
    async def run_sync(self) -> None:
        """Run the query now and show its rows."""
        if not self.adql.strip():
            self._say("Write a query first.", "warning")
            return
        try:
            self.result = await run_blocking(lambda: self.connector.run_sync(
                self.adql, maxrec=self.maxrec))
        except ConnectorError as exc:
            self._say(f"{self.service}: {exc.reason}", "danger")
            return
        self._show_result(self.result)

    def _show_result(self, table: Table) -> None:
        frame = table.to_pandas() if len(table.colnames) else None
        if frame is not None:
            # identifiers (HIP 32349) read wrong with thousands separators
            self._result.formatters = {c: {"type": "plaintext"} for c in frame.columns
                                       if frame[c].dtype.kind in "iu"}
        self._result.value = frame
        self._result.visible = True
        note = " (truncated at MAXREC)" if table.meta.get("truncated") else ""
        self._say(f"{len(table)} rows{note}.")

    async def submit(self) -> None:
        """Start the query as an async job of the user."""
        if not self.adql.strip():
            self._say("Write a query first.", "warning")
            return
        service, adql, maxrec = self.service, self.adql, self.maxrec
        try:
            job_id = await run_blocking(lambda: kinds()["tap"].submit(
                self.actor, service=service, adql=adql, maxrec=maxrec))
        except JobError as exc:
            self._say(str(exc), "danger")
            return
        except ConnectorError as exc:
            self._say(f"{service}: {exc.reason}", "danger")
            return
        self._say(f"Job {job_id} started on {service}. It runs there even if you close "
                  "this page.")
        await self.job_list.refresh()

    @property
    def jobs(self) -> list[dict[str, Any]]:
        """The user's async TAP jobs, with their live states."""
        return self.job_list.jobs
