"""Tables in a browser that is slow to build them."""

from __future__ import annotations

import pandas as pd
import panel as pn
import pytest

from esap_dash.ui.components.style import show_rows

from ..conftest import served_in_thread

pytestmark = pytest.mark.browser


def test_a_table_filled_as_its_card_opens_shows_its_rows_in_a_slow_browser(browser) -> None:
    """The Jobs page listed "1 server of yours" above an empty table: its rows, which
    came right after the card opened, reached a browser still building the table."""
    def app() -> pn.Card:
        pn.extension("tabulator")
        card = pn.Card(title="Notebook servers", collapsed=True, sizing_mode="stretch_width")
        said = pn.pane.Markdown("Asking the hubs …")
        layout = pn.Column(said, sizing_mode="stretch_width")
        table = pn.widgets.Tabulator(pd.DataFrame(columns=["hub", "state"]), show_index=False,
                                     disabled=True, sizing_mode="stretch_width")

        async def listed() -> None:  # an answer that comes at once
            show_rows(layout, table, pd.DataFrame({"hub": ["Local JupyterHub"],
                                                   "state": ["running"]}))
            said.object = "1 server of yours."

        def opened(event) -> None:
            if not event.new and not card.objects:
                card.objects = [layout]
                pn.state.execute(listed)

        card.param.watch(opened, "collapsed")
        return card

    with served_in_thread({"/tables": app}) as (port, _loop):
        for _ in range(4):  # each time: shown empty and filled, 5 times in 6 no row came
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
