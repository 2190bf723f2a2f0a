"""Tables in a browser that is slow to build them."""

from __future__ import annotations

import pandas as pd
import panel as pn
import pytest

from esap_dash.app import BROWSER_SCRIPTS
from esap_dash.core.config import ASSETS

from ..conftest import served_in_thread

pytestmark = pytest.mark.browser


def test_a_table_filled_as_its_card_opens_shows_its_rows_in_a_slow_browser(
        browser, monkeypatch) -> None:
    """The Jobs page listed "1 server of yours" above an empty table: its rows, which
    came right after the card opened, reached a browser still building the table (and
    Panel's view ignored them; without the dashboard's scripts, 8 times in 12)."""
    def app() -> pn.Card:
        pn.extension("tabulator")
        card = pn.Card(title="Notebook servers", collapsed=True, sizing_mode="stretch_width")
        said = pn.pane.Markdown("Asking the hubs …")
        table = pn.widgets.Tabulator(pd.DataFrame(columns=["hub", "state"]), show_index=False,
                                     disabled=True, sizing_mode="stretch_width")

        async def listed() -> None:  # an answer that comes at once
            table.value = pd.DataFrame({"hub": ["Local JupyterHub"], "state": ["running"]})
            said.object = "1 server of yours."

        def opened(event) -> None:
            if not event.new and not card.objects:
                card.objects = [said, table]
                pn.state.execute(listed)

        card.param.watch(opened, "collapsed")
        return card

    monkeypatch.setattr(pn.config, "js_files", {**pn.config.js_files, **BROWSER_SCRIPTS})
    with served_in_thread({"/tables": app}, static_dirs={"assets": str(ASSETS)}) as (port, _):
        for _ in range(6):
            page = browser.new_page()
            try:
                page.context.new_cdp_session(page).send("Emulation.setCPUThrottlingRate",
                                                        {"rate": 8})
                page.goto(f"http://127.0.0.1:{port}/tables")
                page.get_by_text("Notebook servers").click()
                page.get_by_text("1 server of yours.").wait_for(timeout=60_000)
                page.get_by_text("running", exact=True).wait_for(timeout=30_000)
            finally:
                page.close()
