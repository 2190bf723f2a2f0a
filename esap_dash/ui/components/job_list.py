"""The one list of a user's jobs, whatever runs them: live states, results and actions.

A thin view over :mod:`esap_dash.work.jobs`: every kind of job (async TAP
queries, Rucio rules, workflow runs, DIRAC jobs, and kinds a deployment installs) is
followed, aborted, retried, forgotten and opened through its job kind, so a
new kind shows here with no change to this list or to the pages using it.
"""

from __future__ import annotations

import functools
import html
import io
import zipfile
from typing import Any

import numpy as np
import pandas as pd
import panel as pn
import param

from connectors.exceptions import ConnectorError
from connectors.rucio import size_text

from ...core.actor import Actor
from ...core.cart import CartError
from ...core.fanout import run_blocking
from ...core.lineage import result_document
from ...work.jobs import FINAL, JobError, JobResult, follow, kind_of
from ...work.lake import result_to_lake
from .actions import Refresher, action_buttons
from .fits_preview import render_fits
from .style import Notice, html_pane, notice, say

__all__ = ["JobList"]

COLUMNS = ["id", "kind", "state", "note", "progress", "what", "owner", "created", "ended",
           "duration", "error", "service", "ref"]


def _changed_cells(old: pd.DataFrame | None, new: pd.DataFrame
                   ) -> dict[str, list[tuple[int, Any]]] | None:
    """The cells of ``new`` that differ from ``old``, as a patch of a Tabulator
    (``{column: [(row, value), ...]}``), or None when ``new`` is not the same jobs
    in the same order with the same column types (it must then replace ``old``)."""
    if (old is None or list(old.columns) != list(new.columns) or len(old) != len(new)
            or not old["id"].equals(new["id"]) or not old.dtypes.equals(new.dtypes)):
        return None
    patch = {}
    for column in new.columns:
        before, now = old[column], new[column]
        differ = ~((before == now) | (before.isna() & now.isna())).to_numpy()
        if differ.any():
            patch[column] = [(int(i), v.item() if isinstance(v, np.generic) else v)
                             for i in np.flatnonzero(differ) for v in [now.iloc[i]]]
    return patch


class JobList(pn.viewable.Viewer):
    """The user's jobs (all kinds, or one), refreshed while any of them runs.

    Parameters
    ----------
    actor : Actor
        Whose jobs, acting as whom.
    kind : str, optional
        Only jobs of this kind (e.g. ``tap`` in the ADQL editor).
    message : panel.pane.Alert, optional
        Where to report what happened (its own line by default).
    """

    jobs = param.List(default=[], doc="The jobs shown, newest first, with live states.")
    cart_name = param.Selector(objects=["default"], default="default",
                               label="Cart for the result",
                               doc="The cart results are added to.")
    refresh_period = param.Number(default=5.0, bounds=(0, None),
                                  doc="Seconds between refreshes while a job runs; 0 stops "
                                      "them.")
    watch_period = param.Number(default=15.0, bounds=(0, None),
                                doc="Seconds between looks, while none of the jobs shown "
                                    "runs, for jobs started elsewhere (another browser, "
                                    "another server worker); 0 stops them.")

    def __init__(self, actor: Actor, *, kind: str | None = None,
                 message: Notice | None = None, **params: Any) -> None:
        super().__init__(**params)
        self.actor, self.kind = actor, kind
        self.result: JobResult | None = None
        self.result_job: dict[str, Any] | None = None
        self.notice = message if message is not None else notice()
        self._refresher = Refresher(self.refresh, lambda: self.refresh_period)
        self._watcher = Refresher(self._look_for_new, lambda: self.watch_period)
        self._table = pn.widgets.Tabulator(
            pd.DataFrame(columns=COLUMNS), show_index=False, disabled=True, selectable=1,
            height=280, sizing_mode="stretch_width",
            formatters={c: {"type": "plaintext"} for c in ("what", "error", "ref", "service",
                                                           "note")},
            widths={"what": 320, "error": 220, "note": 220})
        buttons = action_buttons((
            ("Refresh jobs", self.refresh, "default"), ("Open result", self.open_result,
                                                        "default"),
            ("Retry", self.retry, "default"), ("Abort job", self.abort, "default"),
            ("Forget job", self.forget, "default"),
            ("Add result to cart", self.result_to_cart, "default"),
            ("Upload to data lake", self.result_to_lake, "default")), width=150)
        self._result_title = html_pane("")
        self._result = pn.widgets.Tabulator(
            pd.DataFrame(), show_index=False, disabled=True, height=260, pagination="remote",
            page_size=20, sizing_mode="stretch_width", visible=False)
        self._result_image = pn.pane.PNG(None, width=420, visible=False)
        self._provenance = {fmt: pn.widgets.FileDownload(
            callback=functools.partial(self._provenance_file, fmt), filename=f"job.{ext}",
            label=f"Its provenance ({label})", width=200)
            for fmt, ext, label in (("prov-json", "prov.json", "PROV-JSON"),
                                    ("prov-n", "provn", "PROV-N"))}
        self._files = pn.widgets.FileDownload(callback=self._files_zip, filename="job.zip",
                                              label="Download its files", width=180,
                                              visible=False)
        # A deployment with a data lake takes results there too (the user's own scope).
        lake = [buttons["Upload to data lake"]] if actor.profile.by_role("rucio") else []
        self._to_cart = pn.Row(pn.widgets.Select.from_param(self.param.cart_name, width=200),
                               buttons["Add result to cart"], *lake,
                               *self._provenance.values(), self._files, visible=False)
        self._caveats = html_pane("", visible=False)
        self._layout = pn.Column(
            *([self.notice] if message is None else []),
            pn.Row(*(buttons[b] for b in ("Refresh jobs", "Open result", "Retry", "Abort job",
                                          "Forget job"))),
            self._table, self._caveats, self._result_title, self._to_cart, self._result,
            self._result_image, sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    @property
    def following(self) -> bool:
        """Whether the list refreshes by itself (a job runs, or its service did not
        answer and is asked again)."""
        return self._refresher.active

    async def refresh(self) -> None:
        """Read the jobs again with their live states (every service at once)."""
        jobs = await follow(self.actor, self.kind)
        chosen = self.selected  # as the user left it while the states were read
        self.jobs = jobs
        frame = pd.DataFrame(self.jobs, columns=COLUMNS)
        # The same jobs get only their changed cells (states, progress): the browser
        # keeps its rows and the user's selection.  A new table clears the selection,
        # and a click on its way when the table came was lost.
        patch = _changed_cells(self._table.value, frame)
        if patch:
            self._table.patch(patch, as_index=False)
        elif patch is None:
            self._table.value = frame
            ids = [j["id"] for j in self.jobs]
            if chosen is not None and chosen["id"] in ids:
                self._table.selection = [ids.index(chosen["id"])]
        caveats = []
        for name in sorted({j["kind"] for j in self.jobs}):
            try:
                caveat = kind_of({"kind": name}).caveat(self.actor)
            except JobError:
                continue
            if caveat:
                caveats.append(f"<p>{html.escape(caveat)}</p>")
        self._caveats.object = "".join(caveats)
        self._caveats.visible = bool(caveats)
        running = any(j["state"] not in FINAL for j in self.jobs)
        self._refresher.keep(running)
        self._watcher.keep(not running)

    async def _look_for_new(self) -> None:
        """Refresh when the user's jobs are not those shown (only the database is read:
        the services of finished jobs are not asked again)."""
        records = await run_blocking(self.actor.store.jobs, self.actor.user, self.kind)
        if [r["id"] for r in records] != [j["id"] for j in self.jobs]:
            await self.refresh()

    @property
    def selected(self) -> dict[str, Any] | None:
        """The job selected in the list, or None."""
        rows = self._table.selection
        return self.jobs[rows[0]] if rows and rows[0] < len(self.jobs) else None

    def select(self, job_id: int) -> None:
        """Select the job ``job_id`` in the list (as a click on its row does)."""
        self._table.selection = [next(i for i, j in enumerate(self.jobs) if j["id"] == job_id)]

    def _chosen(self) -> dict[str, Any] | None:
        job = self.selected
        if job is None:
            say(self.notice, "Select a job in the list first.", "warning")
        return job

    async def _act(self, action: str, job: dict[str, Any]) -> tuple[bool, Any]:
        """Run a job kind's ``action`` on ``job`` off the event loop: whether it was done,
        and what it returned (when not, the message says why)."""
        try:
            kind = kind_of(job)
            return True, await run_blocking(getattr(kind, action), self.actor, job)
        except (JobError, CartError) as exc:
            say(self.notice, str(exc), "warning")
        except ConnectorError as exc:
            say(self.notice, f"{job['service']}: {exc.reason}", "danger")
        return False, None

    async def abort(self) -> None:
        """Abort the selected job where it runs."""
        job = self._chosen()
        if job is not None:
            done, _ = await self._act("abort", job)
            if done:
                say(self.notice, f"Job {job['id']}: abort asked for.")
            await self.refresh()

    async def forget(self) -> None:
        """Delete the selected job where it runs and forget it."""
        job = self._chosen()
        if job is None:
            return
        try:
            await run_blocking(lambda: kind_of(job).delete(self.actor, job))
        except JobError:
            pass  # nowhere to delete it any more (its service is gone): the record goes
        except ConnectorError as exc:  # the record stays, to try again
            say(self.notice, f"{job['service']}: {exc.reason}", "danger")
            return
        await run_blocking(self.actor.store.forget_job, self.actor.user, job["id"])
        self._table.selection = []
        say(self.notice, f"Job {job['id']} deleted and forgotten.")
        await self.refresh()

    async def retry(self) -> int | None:
        """Ask for the selected job again, as it was asked; the new job's id."""
        job = self._chosen()
        if job is None:
            return None
        done, new = await self._act("retry", job)
        if done:
            say(self.notice, f"Job {job['id']}: {job['service']} was asked to try it again."
                if new == job["id"]  # the same job, tried again where it is (a rule)
                else f"Job {job['id']} asked for again: job {new} started.")
            await self.refresh()
        return new

    async def open_result(self) -> None:
        """Show what the selected job produced: its table, and its image if any."""
        job = self._chosen()
        if job is None:
            return
        done, result = await self._act("result", job)
        if not done:
            return
        self.result, self.result_job = result, job
        table = result.table
        self._result_title.object = (
            f"<h4>Result of job {job['id']}: {len(table)} rows</h4>"
            + (f"<p>{html.escape(result.note)}</p>" if result.note else ""))
        frame = table.to_pandas() if len(table.colnames) else pd.DataFrame()
        # identifiers (HIP 32349) read wrong with thousands separators
        self._result.formatters = {c: {"type": "plaintext"} for c in frame.columns
                                   if frame[c].dtype == object or frame[c].dtype.kind in "iu"}
        self._result.value = frame
        self._result.visible = self._to_cart.visible = True
        for download in self._provenance.values():
            download.filename = f"job-{job['id']}.{download.filename.partition('.')[2]}"
        self._files.visible = bool(result.files)
        self._files.filename = f"job-{job['id']}-files.zip"
        self._result_image.visible = result.image is not None
        if result.image is not None:
            png, _, _ = await run_blocking(functools.partial(render_fits, io.BytesIO(result.image),
                                                   title=f"First cutout of job {job['id']}"))
            self._result_image.object = png
        # A result goes back to the cart its job worked on, unless another is chosen.
        cart = str(job["detail"].get("cart") or self.cart_name)
        names = await run_blocking(self.actor.cart_names)
        self.param.cart_name.objects = sorted({*names, cart})
        self.cart_name = cart

    async def result_provenance(self, format: str = "prov-json") -> str:
        """The open result's provenance as W3C PROV-JSON (``prov-n``: PROV-N; see
        :mod:`esap_dash.core.lineage`); empty when no result with a provenance is open."""
        job, result = self.result_job, self.result
        if job is None or result is None:
            return ""
        try:
            record = kind_of(job).provenance(job, result)
        except JobError as exc:
            say(self.notice, str(exc), "warning")
            return ""
        doc = await run_blocking(result_document, record)
        return doc.get_provn() if format == "prov-n" else doc.serialize(format="json")

    def _files_zip(self) -> io.BytesIO:
        """The open result's files (a DIRAC job's sandboxes ...) as one zip archive."""
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in sorted(((self.result.files if self.result else None)
                                      or {}).items()):
                archive.writestr(name, data)
        out.seek(0)
        return out

    async def _provenance_file(self, format: str) -> io.StringIO:
        return io.StringIO(await self.result_provenance(format))

    async def result_to_cart(self) -> None:
        """Add the open result's rows to the chosen cart (the job as their provenance)."""
        if self.result is None or self.result_job is None:
            say(self.notice, "Open a result first.", "warning")
            return
        job, result, name = self.result_job, self.result, self.cart_name
        try:
            rows = kind_of(job).cart_rows(job, result)
            added = await run_blocking(lambda: self.actor.open_cart(name).add_rows(
                rows, kind="result"))
        except (JobError, CartError) as exc:
            say(self.notice, str(exc), "danger")
            return
        say(self.notice, f"Added {added} result rows to cart {name!r}.")

    async def result_to_lake(self) -> None:
        """Upload the open result's table to the user's scope of the data lake, with its
        provenance, and put it in the chosen cart as a data-lake item."""
        if self.result is None or self.result_job is None:
            say(self.notice, "Open a result first.", "warning")
            return
        job, name = self.result_job, self.cart_name
        say(self.notice, f"Uploading the result of job {job['id']} to the data lake …")
        try:
            done = await run_blocking(lambda: result_to_lake(self.actor, job, cart=name))
        except (JobError, CartError, ConnectorError) as exc:
            say(self.notice, getattr(exc, "reason", str(exc)), "danger")
            return
        say(self.notice, f"Uploaded {done.did} ({size_text(done.bytes)}) to {done.rse}; "
                         + (f"added to cart {name!r}." if done.added
                            else f"already in cart {name!r}."))
