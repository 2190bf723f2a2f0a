"""What the served dashboard adds to Panel's web server to keep users apart.

* The tokens Panel keeps in cookies after an OIDC login are encrypted
  (``pn.serve`` does not apply ``oauth_encryption_key`` by itself), and
  every cookie is ``SameSite=Lax`` (``Secure`` behind https).
* A Bokeh session token carries no cookie and no ``Cookie`` or
  ``Authorization`` header (Bokeh puts them in the token, which the page's
  scripts can read; Panel keeps the login and the OIDC tokens in cookies):
  the session reads them from the request of the page it was made for, on
  the server (:func:`bind_request_cookies`).  The token is signed and opens
  its session only for the user whose login made the session: a token
  copied out of one user's page does not open that page for another login.
* A websocket opens only a session this server process made for a page it
  served: a browser whose server worker died and that reconnects to another
  worker is refused there (the page then loads again, see
  :mod:`esap_dash.app`) instead of getting a session it never showed.
* Panel's ``/components/<module>/...`` route resolves only modules that are
  already loaded and belong to Panel or esap-dash (it would otherwise import
  any installed module, for anyone).
* Logging in and out have pages of esap-dash's own (no CDN): a login the
  provider does not complete says so with a way back, and logging out also
  ends the session at the provider (OpenID Connect RP-initiated logout).
"""

from __future__ import annotations

import base64
import hashlib
import html
import logging
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import tornado.web
from bokeh.protocol.exceptions import ProtocolError
from bokeh.util.token import get_session_id
from panel.io.server import ComponentResourceHandler
from panel.io.server import WSHandler as PanelWSHandler

__all__ = ["COMPONENT_MODULES", "SECURITY_HEADERS", "TEMPLATES", "bind_request_cookies",
           "derive_key", "harden", "login_pages"]

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent / "templates"
#: Top-level packages whose components ``/components/...`` may serve.
COMPONENT_MODULES = ("panel", "esap_dash")


def derive_key(secret: str, purpose: str) -> bytes:
    """A 32-byte urlsafe-base64 key for ``purpose``, derived from ``secret``."""
    digest = hashlib.sha256(f"esap-dash {purpose} ".encode() + secret.encode()).digest()
    return base64.urlsafe_b64encode(digest)


class GuardedComponentHandler(ComponentResourceHandler):
    """Panel's component resources, for already loaded Panel and esap-dash modules only."""

    def parse_url_path(self, path: str) -> str:
        """Refuse (404) any module outside :data:`COMPONENT_MODULES` or not yet loaded."""
        module = path.split("/", 1)[0]
        if module.split(".")[0] not in COMPONENT_MODULES or module not in sys.modules:
            raise tornado.web.HTTPError(404, "Module not found")
        return super().parse_url_path(path)


class SessionBoundWSHandler(PanelWSHandler):
    """Panel's websocket, only for sessions of this server process."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        """Close the connection unless this process made the token's session."""
        token = getattr(self, "_token", None)
        try:
            self.application_context.get_session(get_session_id(token or ""))
        except Exception:  # no such session here, or no readable token at all
            log.info("websocket refused: a session this server process did not make")
            self.close()
            raise ProtocolError("no such session here; load the page again") from None
        return super().open(*args, **kwargs)


class UserBoundWSHandler(SessionBoundWSHandler):
    """:class:`SessionBoundWSHandler`, refusing a session made for another login."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        """Close the connection unless the session's login is the connecting user's."""
        token = getattr(self, "_token", None)
        owner = None
        try:
            session = self.application_context.get_session(get_session_id(token or ""))
            context = session.document.session_context
            owner = _login(context.request.cookies.get("user"),
                           self.settings.get("cookie_secret")) if context else None
        except Exception:  # no such session here: the base class refuses it
            pass
        if self.current_user is None or owner != _as_text(self.current_user):
            log.warning("websocket refused: a session of another login")
            self.close()
            raise ProtocolError("this session belongs to another login")
        return super().open(*args, **kwargs)


def _as_text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _login(cookie: str | None, cookie_secret: Any) -> str | None:
    """The login a signed ``user`` cookie names."""
    if not cookie or not cookie_secret:
        return None
    value = tornado.web.decode_signed_value(cookie_secret, "user", cookie)
    return value.decode() if value else None


def bind_request_cookies(session_context: Any) -> None:
    """Give a new session the cookies of the page request that made it.

    The session token carries none (see the module docstring), so Panel's
    ``pn.state.user`` and OIDC tokens are read from the request itself, which
    Bokeh keeps on the server with the session's context.

    Parameters
    ----------
    session_context : bokeh.server.contexts.BokehSessionContext
        The new session's context.
    """
    proxy = getattr(session_context, "request", None)
    request = getattr(proxy, "_request", None)  # Bokeh's _RequestProxy keeps the request
    if request is None or not hasattr(request, "cookies"):
        return
    proxy._cookies = {k: v.value for k, v in request.cookies.items()}


#: Headers of every answer of the served dashboard: no framing by other sites, no
#: script or style from anywhere but this server (Bokeh and Panel need inline
#: scripts and eval for their models), no plug-ins, no referrer to archives.
SECURITY_HEADERS = {
    "Content-Security-Policy": "; ".join((
        "default-src 'self'", "script-src 'self' 'unsafe-inline' 'unsafe-eval' blob:",
        "style-src 'self' 'unsafe-inline'", "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self' blob: http://localhost:21012 http://127.0.0.1:21012",
        "worker-src 'self' blob:", "object-src 'none'",
        "base-uri 'self'", "form-action 'self' http: https:", "frame-ancestors 'self'")),
    "X-Frame-Options": "SAMEORIGIN",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def harden(settings: Mapping[str, Any], *, https: bool) -> dict[str, Any]:
    """Apply the measures above; return extra keyword arguments for ``pn.serve``.

    Parameters
    ----------
    settings : mapping
        :func:`esap_dash.app.login_settings` (empty without logins: then
        only the component route is guarded).
    https : bool
        The dashboard is reached over https (cookies get ``Secure``).
    """
    import panel as pn
    import panel.io.server as panel_server

    patterns = [(r"/components/(.*)", GuardedComponentHandler, {})]
    _default_cookie_attributes(https)
    # Bokeh builds the per-app routes from this list when the server starts.
    websocket = UserBoundWSHandler if settings else SessionBoundWSHandler
    panel_server.per_app_patterns[:] = [
        (route, websocket if route == r"/ws" else handler, *rest)
        for route, handler, *rest in panel_server.per_app_patterns]
    _security_headers()
    # No cookie and no credential header goes into a session token.
    private = {"include_cookies": [], "exclude_headers": ["Cookie", "Authorization"]}
    if not settings:
        return {"extra_patterns": patterns, **private}
    from cryptography.fernet import Fernet

    key = settings["oauth_encryption_key"]
    pn.config.oauth_encryption_key = key.encode()
    pn.state.encryption = Fernet(key)
    return {"extra_patterns": patterns, "sign_sessions": True, **private,
            "secret_key": derive_key(settings["cookie_secret"], "sessions")}


def _security_headers() -> None:
    """Send :data:`SECURITY_HEADERS` with every answer of this server."""
    original = tornado.web.RequestHandler.set_default_headers
    if getattr(original, "_esap_dash", False):
        return

    def set_default_headers(self: tornado.web.RequestHandler) -> None:
        original(self)
        for name, value in SECURITY_HEADERS.items():
            self.set_header(name, value)

    set_default_headers._esap_dash = True  # type: ignore[attr-defined]
    tornado.web.RequestHandler.set_default_headers = set_default_headers  # type: ignore[method-assign]


def _default_cookie_attributes(https: bool) -> None:
    original = tornado.web.RequestHandler.set_cookie
    if getattr(original, "_esap_dash", False):
        return

    def set_cookie(self: tornado.web.RequestHandler, name: str, value: str | bytes,
                   *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("samesite", "Lax")
        if https:
            kwargs.setdefault("secure", True)
        original(self, name, value, *args, **kwargs)

    set_cookie._esap_dash = True  # type: ignore[attr-defined]
    tornado.web.RequestHandler.set_cookie = set_cookie  # type: ignore[method-assign]


def login_pages(oidc: Mapping[str, str], dashboard_url: str) -> dict[str, str]:
    """``pn.serve`` arguments for esap-dash's login-error and logout pages.

    Parameters
    ----------
    oidc : mapping
        The profile's ``[oidc]`` section; with ``logout_url`` the logout page
        sends the browser on to the provider's end-session endpoint, which
        returns it to ``dashboard_url``.
    dashboard_url : str
        Where the dashboard is reached.
    """
    page = (TEMPLATES / "logout.html").read_text()
    refresh = provider = ""
    if oidc.get("logout_url"):
        target = oidc["logout_url"] + ("&" if "?" in oidc["logout_url"] else "?") + urlencode(
            {"client_id": oidc["client_id"], "post_logout_redirect_uri": dashboard_url + "/"})
        refresh = f'<meta http-equiv="refresh" content="1; url={html.escape(target)}">'
        provider = (f'<p>Ending your session at the login service too … '
                    f'(<a href="{html.escape(target)}">continue</a>)</p>')
    page = page.replace("@REFRESH@", refresh).replace("@PROVIDER@", provider)
    folder = Path(tempfile.mkdtemp(prefix="esap-dash-pages-"))
    (folder / "logout.html").write_text(page)
    return {"oauth_error_template": str(TEMPLATES / "login_error.html"),
            "logout_template": str(folder / "logout.html")}
