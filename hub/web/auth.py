"""Who is asking: page logins (Flask-Login session cookie), API logins (bearer tokens), role checks.

Roles are enforced here, on the server, for every page and API call: a
reviewer sees only her own department's work; points are admin-only. The
API never reads the page session (sync/kit/webauth.py says why).
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable

from flask import Blueprint, Flask, abort, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_user, logout_user
from flask_login import login_required as session_required
from werkzeug.exceptions import Forbidden

from sync.kit.openapi import documented
from sync.kit.safety import same_origin_path
from sync.kit.throttle import LoginThrottled
from sync.kit.web import api_error, parse_json_body
from sync.kit.webauth import client_address, install_login, login_gate, throttled_answer

from hub.core.models import Staff
from hub.trust.accounts import AccountDisabled, authenticate, issue_api_token, staff_for_token
from hub.web.context import get_session
from hub.web.schemas import LoginRequest, LoginResponse

bp = Blueprint("auth", __name__)
log = logging.getLogger(__name__)
# Roles that read and never write: a township centre's own staff see their villages' work (hub/trust/townships.py).
READ_ONLY_ROLES = ("township",)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class ReadOnlyAccount(Forbidden):
    """A read-only account (a township's staff) tried to change something."""

    description = "a township account reads the work of its township and villages; it cannot change anything"


def _read_only(staff: Staff) -> bool:
    return staff.role in READ_ONLY_ROLES and request.method not in SAFE_METHODS


def install(app: Flask) -> None:
    """Page sessions for this app: the account behind the cookie, looked up on every request."""
    install_login(app, load_user=_load_staff)


def _check_login(username: str, password: str) -> Staff | None:
    """``authenticate`` for this request's client, through this process's throttle."""
    return authenticate(get_session(), username, password, address=client_address(), gate=login_gate())


def _load_staff(staff_id: str) -> Staff | None:
    """The session's account; a disabled or deleted one ends the session here, for good."""
    try:
        staff = get_session().get(Staff, uuid.UUID(staff_id))
    except ValueError:
        staff = None
    if staff is None or not staff.is_active:
        session.clear()
        return None
    return staff


@bp.before_app_request
def load_logged_in_staff() -> None:
    """Put the page session's staff (if any) on ``g.staff``, where the pages and templates read it."""
    g.staff = current_user._get_current_object() if current_user.is_authenticated else None


def login_required(*roles: str) -> Callable:
    """Pages: send strangers to the login page; refuse roles not listed (403)."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        @session_required
        def wrapped(**kwargs):
            if _read_only(current_user):
                raise ReadOnlyAccount()
            if roles and current_user.role not in roles:
                abort(403)
            return view(**kwargs)

        return wrapped

    return decorator


def api_auth(*roles: str) -> Callable:
    """APIs: require a valid bearer token, and one of ``roles`` when given."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(**kwargs):
            header = request.headers.get("Authorization", "")
            scheme, _sep, token = header.partition(" ")
            staff = staff_for_token(get_session(), token.strip()) if scheme.lower() == "bearer" and token else None
            if staff is None:
                return api_error(401, "unauthorized", "log in with POST /api/login and send 'Authorization: Bearer TOKEN'")
            if _read_only(staff):
                return api_error(403, "read_only", ReadOnlyAccount.description)
            if roles and staff.role not in roles:
                return api_error(403, "forbidden", f"this needs the role {' or '.join(roles)}")
            g.staff = staff
            return view(**kwargs)

        return wrapped

    return decorator


def _safe_next(target: str | None) -> str:
    """Only same-site paths as the browser reads them, so the login form cannot bounce staff to another site."""
    return same_origin_path(target) or url_for("views.index")


@bp.route("/login", methods=("GET", "POST"))
def login():
    """The login page: username and password, then on to where the user was going."""
    error = None
    username = ""
    status = 200
    if request.method == "POST":
        username = request.form.get("username", "")[:64]
        db = get_session()
        try:
            staff = _check_login(username, request.form.get("password", "")[:200])
        except LoginThrottled as throttled:
            db.rollback()
            error = ngettext("Too many failed logins from this computer. Wait %(num)s second, then try again.",
                             "Too many failed logins from this computer. Wait %(num)s seconds, then try again.",
                             throttled.wait_s)
            return (render_template("login.html", error=error, username=username), 429,
                    {"Retry-After": str(throttled.wait_s)})
        except AccountDisabled:
            db.rollback()
            error = _("This account is disabled. Ask the hub's admin to enable it again.")
            return render_template("login.html", error=error, username=username), 403
        db.commit()
        if staff is not None:
            session.clear()
            login_user(staff)
            log.info("staff %s logged in", staff.username)
            return redirect(_safe_next(request.args.get("next")))
        error, status = _("Wrong username or password. Check both and try again."), 401
    return render_template("login.html", error=error, username=username), status


@bp.post("/logout")
def logout():
    """End the page session."""
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.post("/api/login")
@documented("Log in for a bearer token", body=LoginRequest, answer=LoginResponse, auth=False,
            errors={401: ("bad_credentials",), 403: ("account_disabled",), 429: ("login_throttled",)})
def api_login():
    """Exchange a username and password for a bearer token."""
    body = parse_json_body(LoginRequest)
    if not isinstance(body, LoginRequest):
        return body
    db = get_session()
    try:
        staff = _check_login(body.username, body.password)
    except LoginThrottled as throttled:
        db.rollback()
        return throttled_answer(throttled.wait_s)
    except AccountDisabled:
        db.rollback()
        return api_error(403, "account_disabled", "this account is disabled; ask the hub's admin to enable it")
    db.commit()
    if staff is None:
        return api_error(401, "bad_credentials", "wrong username or password")
    token = issue_api_token(db, staff)
    db.commit()
    return {"token": token, "username": staff.username, "role": staff.role, "department": staff.department_code}
