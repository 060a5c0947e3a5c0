"""Staff logins and forged form posts, the same way on both servers: Flask-Login sessions, Flask-WTF CSRF tokens.

Each app hands ``install_login`` the function that finds an account by the
id kept in the session cookie; it answers None for an account that is gone
or disabled, and that cookie's session ends at once (it does not come back
when the account is enabled again). A request that changes nothing in the
session sets no cookie: a browser may send a request with the cookie from
before a login (the login page's icon) and take its answer after the
login's, and an answer that wrote that old cookie back would end the new
session (tests/system/test_login_sessions.py). The JSON APIs do not use
these sessions at all: they take only ``Authorization: Bearer`` tokens
(each app's ``auth.py``), so a cookie alone never opens an API.

``install_login`` also gives the app its throttle of failed logins
(``sync/kit/throttle.py``, one per process): both apps' page and API logins
pass it with the client's address (``login_gate``), and an API login it
refuses is answered by ``throttled_answer``.

``install_csrf`` checks the token of every form post with Flask-WTF's
CSRFProtect, except under the paths an app names: JSON APIs authenticated
by that bearer header and sync endpoints authenticated by a request
signature from the point's key. A page on another site can make a browser
send its cookies, but never that header or that signature, so a forged
request to those paths carries no credentials to abuse. A refused post
raises ``CSRFError``, which each app's error handler turns into its own
page, in the reader's language.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response, current_app, request
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError, CSRFProtect

from sync.kit.throttle import LoginGate
from sync.kit.web import api_error

__all__ = ["CSRFError", "client_address", "install_csrf", "install_login", "login_gate", "throttled_answer"]


def install_login(app: Flask, *, load_user: Callable[[str], Any], login_view: str = "auth.login") -> LoginManager:
    """Staff page sessions: ``load_user(id)`` returns the account or None; strangers go to ``login_view``."""
    app.extensions["login_gate"] = LoginGate.create()
    manager = LoginManager(app)
    manager.user_loader(load_user)
    manager.login_view = login_view
    # The login page says nothing of why it was shown, as before; Flask-Login's default sentence is English only.
    manager.login_message = None
    # Flask-Login's default ("basic") protection writes "not fresh" into every session whose browser it has not
    # seen log in, an anonymous one holding only the login form's CSRF token included, so such an answer sets the
    # cookie. Neither app asks for a fresh login, and "strong" would end sessions when a laptop changes address.
    manager.session_protection = None
    return manager


def install_csrf(app: Flask, *, exempt_prefixes: Iterable[str]) -> CSRFProtect:
    """Refuse every POST, PUT, PATCH and DELETE without the session's CSRF token, outside ``exempt_prefixes``."""
    prefixes = tuple(exempt_prefixes)
    app.config.setdefault("WTF_CSRF_ENABLED", True)
    # A token lives as long as its session, as before: the kiosk and a half-filled intake form stay open for
    # hours at a window, and an hourly limit (Flask-WTF's default) would refuse a resident's post after lunch.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    # Checked below, by path: the exemptions read in one place, whichever blueprint a route lives in.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf = CSRFProtect(app)

    @app.before_request
    def _check_csrf() -> None:
        if app.config["WTF_CSRF_ENABLED"] and not request.path.startswith(prefixes):
            csrf.protect()

    return csrf


def login_gate() -> LoginGate:
    """This process's throttle of failed logins (made by ``install_login``)."""
    return current_app.extensions["login_gate"]


def client_address() -> str:
    """The address a login is throttled by: the peer, or what the trusted proxy says (``serve``'s
    ``trusted_proxy``; from anyone else X-Forwarded-For is dropped, so no client can pose as another)."""
    return request.remote_addr or ""


def throttled_answer(wait_s: int) -> tuple[Response, int]:
    """An API login refused while its client must wait: 429, ``login_throttled``, and Retry-After in seconds."""
    response, status = api_error(429, "login_throttled",
                                 f"too many failed logins from this address; try again in {wait_s} s")
    response.headers["Retry-After"] = str(wait_s)
    return response, status
