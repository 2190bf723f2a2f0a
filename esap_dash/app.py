"""The dashboard shell: header, navigation and the pages, built per session.

Serve with ``esap-dash serve`` or ``panel serve esap_dash/app.py`` (the
profile then comes from ``ESAP_DASH_PROFILE``, default ``local``).
"""

from __future__ import annotations

import faulthandler
import functools
import html
import logging
import os
import signal
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import panel as pn
import param
from bokeh.document import Document
from bokeh.models import CustomJS
from panel.io.document import init_doc
from panel.io.notifications import NotificationArea
from tornado.ioloop import IOLoop

from .core.config import ASSETS, Profile, ProfileError, load_profile
from .core.memory import SessionMemory, freeze_startup_objects
from .core.runtime import Runtime
from .core.store import store_for
from .http.api import api_routes
from .http.share import SHARE_ROUTE, CartShareHandler
from .ui.components.actions import mirror, report_exception
from .ui.components.current_cart import CurrentCart
from .ui.components.style import MUTED, html_pane
from .ui.pages import CartPage, DiscoveryPage, JobsPage, ServicesPage, SkyPage
from .ui.pages.base import Page
from .web import bind_request_cookies, derive_key, harden, login_pages
from .work.workflows import Runner, Sweeper

__all__ = ["BROWSER_SCRIPTS", "PAGES", "EsapDash", "create_app", "install_stop_handler",
           "login_settings", "serve", "watch_sessions"]

log = logging.getLogger(__name__)


#: URL key -> page class, in navigation order.
PAGES: dict[str, type[Page]] = {
    "discovery": DiscoveryPage,
    "sky": SkyPage,
    "cart": CartPage,
    "jobs": JobsPage,
    "services": ServicesPage,
}


class EsapDash(pn.viewable.Viewer):
    """One user's dashboard: a template with navigation between the pages.

    Pages are built the first time they are shown.  The current page is kept
    in the URL (``?page=sky``), so a link opens the same page.  One current cart,
    chosen in the header and kept in the URL too (``?cart=M1+study``), is the
    cart of every page: what a page adds goes there, and switching cart on any
    page (its cart box, the Cart page's *Create cart*) switches it for all.

    Parameters
    ----------
    profile : Profile
        The deployment profile.
    """

    page = param.Selector(objects=list(PAGES), default="discovery", doc="The page shown.")
    profile = param.ClassSelector(class_=Profile, doc="The deployment profile.")

    def __init__(self, **params: Any) -> None:
        if params.get("profile") is None:
            params["profile"] = load_profile()
        super().__init__(**params)
        self._pages: dict[str, Page] = {}
        self.services = self._page("services")
        #: The cart every page adds to and shows, chosen in the header.
        self.cart = CurrentCart(self.services.actor)
        status = self.services.status
        self._nav = pn.widgets.RadioButtonGroup(
            options={PAGES[k].title: k for k in PAGES}, value=self.page,
            orientation="vertical", color="light", sizing_mode="stretch_width")
        self._nav.link(self, value="page", bidirectional=True)
        self._content = pn.Column(self._page(self.page), sizing_mode="stretch_width")
        summary = html_pane(pn.bind(self._summary_html, status.param.summary,
                                    status.param.n_up), margin=(12, 16), sizing_mode="fixed",
                            width=200, height=30)
        user = html_pane(self._user_html(), margin=(12, 16), sizing_mode="fixed", width=340,
                         height=30)
        self.template = TextTitleTemplate(
            title=self.profile.title,
            logo=str(self.profile.logo) if self.profile.logo.is_file() else "",
            favicon=str(ASSETS / "logo.svg"),
            sidebar=[pn.pane.Markdown("**Pages**"), self._nav,
                     pn.pane.Markdown(html.escape(self.profile.description),
                                      styles={"font-size": "12px", "color": MUTED})],
            main=[self._content],
            header=[pn.Row(pn.layout.HSpacer(), self.cart, summary, user)],
            header_background="#0b1d3a", sidebar_width=230,
            notifications=NotificationArea())
        if pn.state.location is not None:
            pn.state.location.sync(self, {"page": "page"})
            pn.state.location.sync(self.cart, {"cart_name": "cart"})
            pn.state.onload(self.cart.refresh)

    def __panel__(self) -> pn.viewable.Viewable:
        return self.template

    @property
    def content(self) -> pn.viewable.Viewable:
        """What the main area shows now (the current page's layout)."""
        return self._content.objects[0]

    @property
    def current_page(self) -> Page:
        """The page shown now."""
        return self._page(self.page)

    def _page(self, key: str) -> Page:
        if key not in self._pages:
            cls = PAGES[key]
            shared = {name: self._page(name) for name in getattr(cls, "uses", ())}
            page = cls(profile=self.profile, **shared)
            if "cart_name" in page.param:
                mirror(self.cart, page, "cart_name")
            self._pages[key] = page
        return self._pages[key]

    @param.depends("page", watch=True)
    def _show(self) -> None:
        self._content.objects = [self.current_page]
        doc = pn.state.curdoc
        if doc is not None and doc.session_context is not None:
            pn.state.execute(self.current_page.shown)
            pn.state.execute(self.cart.refresh)

    def _summary_html(self, summary: str, n_up: int) -> str:
        total = len(self.profile.services)
        color = "#7ee2a0" if n_up == total else "#ffb4b4"
        return (f'<span class="esap-summary"><span style="color:{color}">●</span> '
                f"{html.escape(summary)}</span>")

    def _user_html(self) -> str:
        page = self.services
        text = html.escape(page.display_name)
        if self.profile.users == "oidc":
            text += (' · <a href="./logout" style="color:#cfe0ff">Log out</a>'
                     if pn.state.user else "")
        return f'<span class="esap-summary" style="font-weight:400">{text}</span>'


class TextTitleTemplate(pn.template.BootstrapTemplate):
    """Panel's Bootstrap template, its title a text: the header and the page's
    ``meta`` write it as HTML (escaped here), the browser's title as text."""

    def _init_doc(self, doc: Document | None = None, *args: Any, **kwargs: Any) -> Document:
        # The document finds its models once, after the template has added all its
        # roots (it did so after each of them: a walk of every model per root).
        document = init_doc(doc or pn.state.curdoc)
        with document.models.freeze():
            return super()._init_doc(document, *args, **kwargs)

    def _update_vars(self, *args: Any) -> None:
        super()._update_vars(*args)
        self._render_variables["app_title"] = html.escape(self.title)
        self._render_variables["meta_name"] = html.escape(self.title)


def create_app(profile: Profile | None = None) -> pn.template.BootstrapTemplate:
    """Build one session's dashboard.

    Parameters
    ----------
    profile : Profile, optional
        Defaults to :func:`load_profile`.

    Returns
    -------
    panel.template.FastListTemplate
        Servable.
    """
    doc = pn.state.curdoc
    if doc is not None and doc.session_context is not None:
        bind_request_cookies(doc.session_context)
        if "theme" not in pn.state.session_args:
            doc.js_on_event("document_ready", CustomJS(code=FOLLOW_COLOUR_SCHEME))
    return EsapDash(profile=profile or load_profile()).template


#: The dashboard's own scripts in every page (under ``assets/``): a page whose server
#: connection is lost says so and loads again; a table shows the rows that reached it
#: while the browser was still building it (Panel's view ignored them).
BROWSER_SCRIPTS = {"esap_reconnect": "assets/reconnect.js",
                   "esap_tabulator": "assets/tabulator.js"}

#: Dark mode as the browser prefers, unless the address chose a theme
#: (``?theme=dark`` or ``default``; the template's toggle sets it).
FOLLOW_COLOUR_SCHEME = """
if (window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches) {
  const url = new URL(window.location.href);
  if (!url.searchParams.has("theme")) {
    url.searchParams.set("theme", "dark");
    window.location.replace(url.href);
  }
}
"""


def serve(profile: Profile, *, port: int = 5006, address: str = "127.0.0.1",
          show: bool = False, front: str | None = None) -> None:
    """Serve the dashboard until interrupted; every session gets its own app.

    Parameters
    ----------
    profile : Profile
        The deployment profile.
    port : int
        TCP port.
    address : str
        Interface to listen on.
    show : bool
        Open a browser.
    front : str, optional
        ``host:port`` of the proxy in front of this worker (``--workers``):
        browsers come from there.
    """
    reached = front or f"{address}:{port}"
    front_port = reached.rpartition(":")[2]
    origins = {reached, f"localhost:{front_port}", f"127.0.0.1:{front_port}"}
    if profile.public_url:
        origins = {urlsplit(profile.public_url).netloc}
    runtime = Runtime().enter()
    # runs that a stopped process (this one before a restart, or another worker) left
    # RUNNING are recorded FAILED for everyone
    runtime.part("sweeper", lambda: Sweeper(Runner.shared(), store_for(profile.database)))
    install_stop_handler(runtime)
    watch_sessions(IOLoop.current())
    # an exception in any view reaches its user as a sentence
    pn.config.exception_handler = report_exception
    pn.config.js_files = {**pn.config.js_files, **BROWSER_SCRIPTS}
    logins = login_settings(profile, f"http://{reached}")
    hardening = harden(logins, https=profile.public_url.startswith("https://"))
    if logins:
        hardening.update(login_pages(profile.oidc, profile.public_url or f"http://{reached}"))
    extra_patterns = [(SHARE_ROUTE, CartShareHandler, {"profile": profile}),
                      *api_routes(profile),
                      *hardening.pop("extra_patterns")]
    log.info("%d objects of the start kept out of garbage collections",
             freeze_startup_objects())
    pn.serve({"/": lambda: create_app(profile)}, port=port, address=address, show=show,
             title=profile.title, websocket_origin=sorted(origins),
             static_dirs={"assets": str(ASSETS)}, extra_patterns=extra_patterns,
             start=True, threaded=False, print_url=False, liveness=True, **logins,
             **hardening)


def watch_sessions(loop: IOLoop, trim_delay: float = 5.0) -> SessionMemory:
    """Make closed sessions leave nothing behind in a server whose event loop is ``loop``.

    Their memory is given back (:class:`~esap_dash.core.memory.SessionMemory`), and
    Panel's clean-up of its busy counter, which it starts at the first busy
    event as a task that keeps that session's context (and so its document)
    for the life of the process, is started here, outside every session.

    Parameters
    ----------
    loop : IOLoop
        The server's event loop.
    trim_delay : float
        Seconds without a new close before the trim (which also waits for the
        closed sessions' documents to be gone).

    Returns
    -------
    SessionMemory
        What gives the memory back (its ``last_seconds``: the time the last trim took).
    """
    memory = SessionMemory(trim_delay, loop=loop.asyncio_loop)
    pn.state.on_session_destroyed(memory)
    loop.add_callback(pn.state._schedule_busy_cleanup)
    return memory


def install_stop_handler(runtime: Runtime) -> None:
    """On SIGTERM, close ``runtime`` (its workflow runs are stopped and recorded FAILED
    with the reason, its threads, local cluster and database connections end) and end
    the event loop; log to standard error.  On SIGUSR1, every thread's stack goes to
    standard error: where a server that does not answer waits."""
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, functools.partial(_stop_on_sigterm, runtime))
    faulthandler.register(signal.SIGUSR1, all_threads=True)


def _stop_on_sigterm(runtime: Runtime, signum: int, _frame: Any) -> None:
    from tornado.ioloop import IOLoop

    log.warning("SIGTERM: stopping the dashboard server")
    runtime.close()
    log.warning("SIGTERM: the server's runtime is closed")
    loop = IOLoop.current()
    loop.add_callback_from_signal(loop.stop)


def login_settings(profile: Profile, address: str,
                   environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Panel's OAuth settings for a deployment with ``users = "oidc"`` (else none).

    The user is the token's ``sub`` claim.  The cookie secret comes from
    ``ESAP_DASH_COOKIE_SECRET`` (at least 32 characters); the key that
    encrypts the tokens kept in cookies is derived from it.

    Raises
    ------
    ProfileError
        Logins are configured but the cookie secret is missing or short.
    """
    if profile.users != "oidc":
        return {}
    env = os.environ if environ is None else environ
    secret = env.get("ESAP_DASH_COOKIE_SECRET", "")
    if len(secret) < 32:
        raise ProfileError("users = 'oidc' needs ESAP_DASH_COOKIE_SECRET in the environment "
                           "(32 characters or more, e.g. from `python -c \"import secrets; "
                           "print(secrets.token_urlsafe(32))\"`)")
    key = derive_key(secret, "tokens").decode()
    oidc = profile.oidc
    extra = {"AUTHORIZE_URL": oidc["authorize_url"], "TOKEN_URL": oidc["token_url"],
             "USER_URL": oidc["userinfo_url"],
             "scope": oidc.get("scope", "openid profile email").split()}
    if oidc.get("logout_url"):
        extra["LOGOUT_URL"] = oidc["logout_url"]
    return {"oauth_provider": "generic", "oauth_key": oidc["client_id"],
            "oauth_secret": oidc["client_secret"], "oauth_extra_params": extra,
            "oauth_jwt_user": "sub", "cookie_secret": secret, "oauth_encryption_key": key,
            "oauth_redirect_uri": (profile.public_url or address) + "/login"}


if __name__.startswith("bokeh"):
    create_app().servable()
