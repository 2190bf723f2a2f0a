"""Buttons that run coroutine methods, the callback that fills the cart, and views
kept on one value."""

from __future__ import annotations

import asyncio
import functools
import html
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import panel as pn
import param
from astropy.table import Table
from panel.io.state import set_curdoc

from ...core.errors import EsapError
from ...core.runtime import bare_context

__all__ = ["AddToCart", "Every", "Refresher", "action_buttons", "cart_button", "mirror",
           "offer_what_is_set", "on_click", "report_exception"]

log = logging.getLogger(__name__)

#: Adds rows of a kind (``row``, ``did``, ``software`` ...) to the user's cart;
#: returns a message for the page and its level (``info``, ``danger`` ...).
AddToCart = Callable[[Table, str], Awaitable[tuple[str, str]]]


def report_exception(exc: BaseException, doing: str = "") -> str:
    """Tell the user, as a sentence, that what they asked for failed (a notification
    that stays until closed): an esap-dash error (:class:`EsapError`) with its own
    sentence, as a warning; anything else as an unexpected error, whose traceback
    goes to the server's log.

    Parameters
    ----------
    exc : BaseException
        What was raised.
    doing : str
        What the user asked for (a button's label).

    Returns
    -------
    str
        The sentence.
    """
    notifications = pn.state.notifications
    if isinstance(exc, EsapError):  # a sentence for the user: what cannot be done, and why
        log.info("%s refused: %s", doing or "an action", exc)
        said = f"{doing or 'That'} could not be done: {exc}"
        if notifications is not None:
            notifications.warning(html.escape(said), duration=0)
        return said
    log.error("%s failed", doing or "an action", exc_info=exc)
    said = (f"{doing or 'That'} did not work: an unexpected error in esap-dash "
            f"({type(exc).__name__}: {str(exc)[:200]}). It was logged on the server; "
            "nothing you saved is lost.")
    if notifications is not None:
        notifications.error(html.escape(said), duration=0)
    return said


def mirror(one: param.Parameterized, other: param.Parameterized, name: str) -> None:
    """Keep parameter ``name`` of two objects equal, whichever of them changes
    (a page's ticked rows and its table component's); ``other`` starts with
    ``one``'s value.

    Parameters
    ----------
    one, other : param.Parameterized
        Objects that both have a parameter ``name``.
    name : str
        The parameter.
    """
    setattr(other, name, getattr(one, name))
    one.param.watch(lambda event: setattr(other, name, event.new), name)
    other.param.watch(lambda event: setattr(one, name, event.new), name)


def offer_what_is_set(owner: param.Parameterized, name: str) -> None:
    """Add a value set on the selector ``name`` of ``owner`` to its choices, so that
    widgets made from it show it (a cart named on another page).

    Parameters
    ----------
    owner : param.Parameterized
        Holds the selector (made with ``check_on_set=False``).
    name : str
        The selector.
    """
    def offer(event: param.parameterized.Event) -> None:
        # Assigned even when param has appended the value itself: only an assignment
        # reaches the widgets.
        owner.param[name].objects = sorted({*owner.param[name].objects, event.new})

    owner.param.watch(offer, name)


def on_click(button: pn.widgets.Button, action: Callable[[], Awaitable[None]]) -> None:
    """Await ``action()`` each time ``button`` is clicked (bound to ``clicks``); the
    button shows that it is working until the action is done, and an exception
    reaches the user as a sentence (:func:`report_exception`)."""
    async def handler(_clicks: int) -> None:
        button.loading = True
        try:
            await action()
        except Exception as exc:  # any failure of a view: said, not swallowed
            report_exception(exc, button.label)
        finally:
            button.loading = False

    pn.bind(handler, button.param.clicks, watch=True)


def action_buttons(specs: Iterable[tuple[str, Callable[[], Awaitable[None]], str]],
                   width: int) -> dict[str, pn.widgets.Button]:
    """Buttons by label from ``(label, coroutine method, color)``, each running its method."""
    buttons = {}
    for label, action, color in specs:
        buttons[label] = pn.widgets.Button(label=label, color=color, width=width)
        on_click(buttons[label], action)
    return buttons


def cart_button(add_to_cart: AddToCart | None, label: str,
                action: Callable[[], Awaitable[None]]) -> list[pn.widgets.Button]:
    """An "add to cart" button running ``action`` (none when there is no cart to add to)."""
    if add_to_cart is None:
        return []
    button = pn.widgets.Button(label=label, width=260)
    on_click(button, action)
    return [button]


class Every:
    """Call ``refresh`` every ``seconds`` in the current session, without marking the
    server busy, until :meth:`stop` or the session's end.

    Panel counts a periodic callback as the server being busy, a state of the process,
    not of the session: each refresh of each open tab set it and the template's busy
    indicator (shared by the sessions) on and off, work that grew with the tabs open
    (20 idle tabs cost the server 1.7 s of CPU a minute; 0.12 s without).  A view that
    refreshes says so itself (its "checking" state).

    The waits run in a context of their own, with the runtime alone: the event loop
    keeps a timer's context until the timer's time comes, cancelled or not, and a
    wait made in the session's context (whose current document is the session's)
    kept that document, and all the session's objects, up to a period after the
    session ended.  Each refresh runs as one of the session's callbacks, but, as Panel
    runs coroutine callbacks, without holding the session's document lock: a refresh
    that waits for a slow service does not hold up the user's clicks.

    Parameters
    ----------
    seconds : float
        The period.
    refresh : callable
        The coroutine function to call; what it raises is logged, and the next
        refresh comes all the same.
    """

    def __init__(self, seconds: float, refresh: Callable[[], Awaitable[None]]) -> None:
        self._seconds, self._refresh = seconds, refresh
        doc = pn.state.curdoc
        self._doc = doc if doc is not None and doc.session_context is not None else None
        self._task = asyncio.get_running_loop().create_task(self._repeat(),
                                                            context=bare_context())
        if self._doc is not None:
            self._doc.on_session_destroyed(self._ended)

    async def _repeat(self) -> None:
        while True:
            await asyncio.sleep(self._seconds)
            if self._doc is None:
                await self._refreshed()
                continue
            # not under the document's lock: every change from the browser needs it
            done = asyncio.get_running_loop().create_future()
            callback = functools.partial(self._in_session, done)
            callback.nolock = True
            self._doc.add_next_tick_callback(callback)
            await done

    async def _in_session(self, done: asyncio.Future) -> None:
        try:
            with set_curdoc(self._doc):
                await self._refreshed()
        finally:
            if not done.done():
                done.set_result(None)

    async def _refreshed(self) -> None:
        try:
            await self._refresh()
        except Exception:
            log.exception("a periodic refresh failed")

    def _ended(self, _session_context: Any) -> None:
        self.stop()

    def stop(self) -> None:
        """No refresh starts after this (one under way in the session ends as it
        would)."""
        self._task.cancel()
        if self._doc is not None:  # a view that starts and stops often adds no callbacks
            self._doc.session_destroyed_callbacks.discard(self._ended)


class Refresher:
    """Calls ``refresh`` every ``period()`` seconds while something is still running.

    Used by the views that follow work elsewhere (UWS jobs, Rucio rules,
    clusters): :meth:`keep` starts the periodic callback when something is
    active and stops it when nothing is.  Outside a served session (tests,
    scripts) nothing is scheduled.

    Parameters
    ----------
    refresh : callable
        The coroutine function to call.
    period : callable
        Returns the period in seconds (0 turns refreshing off).
    """

    def __init__(self, refresh: Callable[[], Awaitable[None]], period: Callable[[], float]) -> None:
        self._refresh, self._period = refresh, period
        self._callback: Any = None
        self.active = False

    def keep(self, active: bool) -> None:
        """Refresh periodically while ``active``, else stop."""
        self.active = active
        if self._callback is not None and not active:
            self._callback.stop()
            self._callback = None
        elif (active and self._callback is None and self._period() > 0
              and pn.state.curdoc is not None):
            self._callback = Every(self._period(), self._refresh)


def lazy_card(title: str, build: Callable[[], Any]) -> pn.Card:
    """A collapsed card whose content ``build()`` makes when it is first opened (a
    session builds only what is shown)."""
    card = pn.Card(title=title, collapsed=True, sizing_mode="stretch_width")

    def opened(event: Any) -> None:
        if not event.new and not card.objects:
            card.objects = [build()]

    card.param.watch(opened, "collapsed")
    return card
