"""The shell and the pages, built without a browser."""

from __future__ import annotations

import uuid
from dataclasses import replace

import panel as pn

from esap_dash.app import PAGES, EsapDash, create_app
from esap_dash.core.actor import Actor
from esap_dash.core.cart import Cart
from esap_dash.core.config import Profile
from esap_dash.ui.components import ServiceStatus
from esap_dash.ui.components.current_cart import CurrentCart
from esap_dash.ui.pages import CartPage, DiscoveryPage, JobsPage, ServicesPage, SkyPage

from .conftest import run_coroutine


def test_every_page_is_a_viewer_that_renders_alone(profile: Profile) -> None:
    for cls in (DiscoveryPage, SkyPage, CartPage, JobsPage, ServicesPage):
        page = cls(profile=profile)
        assert isinstance(page, pn.viewable.Viewer)
        model = pn.panel(page).get_root()
        assert model is not None


def test_navigation_switches_the_page_and_builds_each_page_once(profile: Profile) -> None:
    app = EsapDash(profile=profile)
    assert isinstance(app.current_page, DiscoveryPage)
    app.page = "sky"
    assert isinstance(app.current_page, SkyPage)
    assert app.content is app.current_page.__panel__()
    app.page = "discovery"
    first = app.current_page
    app.page = "cart"
    app.page = "discovery"
    assert app.current_page is first
    assert set(PAGES) == {"discovery", "sky", "cart", "jobs", "services"}


def test_one_current_cart_is_every_pages_cart_and_the_data_lake_adds_to_it(
        profile: Profile) -> None:
    """Each page had its own cart box, back at 'default' after navigating, and the
    Data lake tab added to 'default' whatever cart was in use."""
    app = EsapDash(profile=profile)
    picks, other = f"lake picks {uuid.uuid4().hex[:6]}", f"other {uuid.uuid4().hex[:6]}"
    app.cart.cart_name = picks
    for key in ("sky", "jobs", "cart", "discovery"):
        app.page = key
        assert app.current_page.cart_name == picks, key
    lake = app.current_page.datalake
    run_coroutine(lake.load_scopes())
    lake.pattern, lake.did_type = "crab_images", "dataset"
    run_coroutine(lake.search())

    async def choose() -> None:  # inside a running loop, as in a served session
        lake.selection = [0]

    run_coroutine(choose())
    run_coroutine(lake.add_selected())
    assert lake.notice.text == f"Added 1 item to cart {picks!r}."
    app.page = "cart"
    run_coroutine(app.current_page.shown())  # what a served dashboard does on showing it
    assert list(app.current_page.listing["title"]) == ["crab_images"]
    # A page that switches cart switches it for every page.
    app.current_page.new_name = other
    run_coroutine(app.current_page.create())
    assert app.cart.cart_name == other
    app.page = "sky"
    assert app.current_page.cart_name == other
    run_coroutine(app.cart.refresh())
    assert {picks, other} <= set(app.cart.param.cart_name.objects)


def test_a_session_starts_on_the_users_first_cart_unless_one_is_asked_for(
        profile: Profile) -> None:
    user = f"carts-{uuid.uuid4().hex[:6]}"
    for name in ("Pleiades", "M1 study"):
        Cart.open_as(user, name, profile=profile)
    first = CurrentCart(Actor(profile, user))
    run_coroutine(first.refresh())
    assert first.cart_name == "M1 study"
    assert first.param.cart_name.objects == ["M1 study", "Pleiades"]
    asked = CurrentCart(Actor(profile, user), cart_name="new one")  # ?cart=new+one
    run_coroutine(asked.refresh())
    assert asked.cart_name == "new one"
    assert asked.param.cart_name.objects == ["M1 study", "Pleiades", "new one"]


def test_sessions_do_not_share_pages(profile: Profile) -> None:
    one, two = EsapDash(profile=profile), EsapDash(profile=profile)
    assert one.services is not two.services
    assert create_app(profile) is not create_app(profile)


def test_service_status_reports_every_local_service_up(profile: Profile) -> None:
    status = ServiceStatus(profile.services, period=0)
    run_coroutine(status.refresh())
    assert status.summary == f"{len(profile.services)}/{len(profile.services)} services up"
    assert all(h is not None and h.up for h in status.health.values())
    assert status.__panel__().objects[1].object.count('class="esap-state up"') == len(
        profile.services)


def test_a_dead_service_shows_down_with_its_error(profile: Profile, dead_url: str) -> None:
    services = [replace(s, url=dead_url) if s.id == "rucio" else s for s in profile.services]
    status = ServiceStatus(services, period=0)
    run_coroutine(status.refresh())
    rucio = status.health[profile.service("rucio").name]
    assert rucio is not None and not rucio.up
    assert "connection refused" in rucio.detail
    html = status.__panel__().objects[1].object
    assert html.count('class="esap-state down"') == 1
    assert "connection refused" in html
    assert status.summary == f"{len(services) - 1}/{len(services)} services up"


def test_service_messages_are_escaped(profile: Profile) -> None:
    hostile = replace(profile.service("ongc"), name="<script>alert(1)</script>")
    status = ServiceStatus([hostile], period=0)
    html = status.__panel__().objects[1].object
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_a_view_that_fails_tells_its_user_in_a_sentence() -> None:
    """An unexpected exception behind a button is said (the button stops working),
    never swallowed: Image statistics once showed nothing after a TypeError."""
    import asyncio

    from esap_dash.ui.components.actions import on_click

    with pn.config.set(notifications=True):
        button = pn.widgets.Button(label="Open result")

        async def broken() -> None:
            raise TypeError("run_blocking() got an unexpected keyword argument 'title'")

        on_click(button, broken)

        async def click() -> None:
            # Clicked inside a running loop, as in a served session: outside one,
            # Panel makes an event loop of its own that nothing closes.
            button.clicks += 1
            async with asyncio.timeout(10):
                while not pn.state.notifications.notifications:
                    await asyncio.sleep(0.1)

        run_coroutine(click())
        [said] = [n.message for n in pn.state.notifications.notifications]
        assert said.startswith("Open result did not work: an unexpected error in esap-dash "
                               "(TypeError: run_blocking() got an unexpected keyword")
        assert not button.loading


def test_a_periodic_refresh_does_not_turn_the_busy_indicator_on() -> None:
    """Panel's busy state is the process's: each periodic refresh of each open tab set
    it and the shared busy indicator on and off (20 idle tabs cost the server 1.7 s of
    CPU a minute; 0.12 s without)."""
    import asyncio

    from esap_dash.ui.components.actions import Every

    calls, busy = [], []
    watcher = pn.state.param.watch(lambda event: busy.append(event.new), "busy")

    async def refresh() -> None:
        calls.append(pn.state.busy)
        await asyncio.sleep(0.01)

    async def idle() -> None:
        callback = Every(0.05, refresh)
        try:
            async with asyncio.timeout(10):
                while len(calls) < 3:
                    await asyncio.sleep(0.02)
        finally:
            callback.stop()

    try:
        run_coroutine(idle())
    finally:
        pn.state.param.unwatch(watcher)
    assert calls == [False] * len(calls) and busy == []


def test_a_slow_periodic_refresh_does_not_hold_up_what_the_user_does() -> None:
    """A refresh that waits for a slow service (a health round waits up to 31 s) ran
    under its session's document lock, which every change from the browser needs: a
    click waited for the round to end."""
    import asyncio
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from bokeh.client import pull_session
    from bokeh.events import DocumentReady
    from bokeh.models import TextInput

    from esap_dash.ui.components.actions import Every

    from .conftest import served_in_thread

    refreshing, typed = threading.Event(), threading.Event()

    async def slow_refresh() -> None:
        refreshing.set()
        await asyncio.sleep(30)  # a service that does not answer

    def app() -> pn.Column:
        field = pn.widgets.TextInput(label="Target")
        field.param.watch(lambda _event: typed.set(), "value")
        Every(0.05, slow_refresh)
        return pn.Column(field)

    def visit(port: int) -> None:  # a browser tab, in a thread of its own
        tab = pull_session(url=f"http://127.0.0.1:{port}/")
        try:
            tab.document.callbacks.send_event(DocumentReady())
            assert refreshing.wait(20), "the refresh did not start"
            for field in tab.document.select({"type": TextInput}):
                field.value = "M 1"  # typed while the refresh waits
            tab.request_server_info()  # a round trip: the change has been sent
            assert typed.wait(10), "the change waited for the refresh to end"
        finally:
            tab.close()

    with served_in_thread({"/": app}) as (port, _loop), ThreadPoolExecutor(1) as tabs:
        tabs.submit(visit, port).result()


def test_sizes_show_as_whole_bytes_and_an_unknown_one_as_none() -> None:
    """Discovery showed an unknown size as -1.0 and the Cart as NaN, bytes as floats."""
    import numpy as np
    import pandas as pd

    from esap_dash.ui.components.style import whole_bytes

    shown = whole_bytes(pd.Series([-1, 742400.0, np.nan, 71680], index=[3, 4, 5, 6]))
    assert shown.tolist() == [None, 742400, None, 71680]
    assert [type(v) for v in shown if v is not None] == [int, int]
    assert list(shown.index) == [3, 4, 5, 6]
