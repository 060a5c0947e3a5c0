"""Staff accounts and logging in: Flask-Login session cookies for pages, bearer tokens for the JSON API.

Roles are checked on the server for every request; the pages only hide
what a role cannot do. Passwords are scrypt hashes. Failed logins delay the
next try of the same name from the same address, and of any name from an
address that keeps failing (sync/kit/throttle.py, pointkit/logins.py); a try
during the delay is refused without checking the password, and the clerk at
another computer logs in at once. The API never reads the page session
(sync/kit/webauth.py says why).
"""

from __future__ import annotations

import functools
import secrets
from datetime import timedelta

from flask import Blueprint, Flask, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_user, logout_user
from flask_login import login_required as session_required
from sqlmodel import Session, select

from sync.clock import utcnow
from sync.kit.openapi import documented
from sync.kit.passwords import hash_password, hash_secret, password_needs_rehash
from sync.kit.safety import same_origin_path
from sync.kit.throttle import LoginGate, LoginThrottled, address_key, check_password
from sync.kit.web import api_error, parse_json_body
from sync.kit.webauth import client_address, install_login, login_gate, throttled_answer

from . import audit, db
from .logins import record_failure, record_success, stored_wait
from .models import DEFAULT_POST, ROLES, ApiToken, Staff
from .schemas import LoginRequest, LoginResponse
from .state import as_utc

bp = Blueprint("auth", __name__)

TOKEN_LIFETIME = timedelta(hours=12)


class StaffError(ValueError):
    """A staff account that cannot be created as asked."""


def create_staff(session: Session, username: str, password: str, *, role: str = "staff",
                 display_name: str = "", post: str = DEFAULT_POST, actor: str = audit.SYSTEM_ACTOR) -> Staff:
    username = username.strip()
    if not username or len(username) > 64:
        raise StaffError("the username must be 1 to 64 characters")
    if role not in ROLES:
        raise StaffError(f"the role must be one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise StaffError("the password must be at least 8 characters")
    if len(display_name.strip()) > 64:
        raise StaffError("the name must be at most 64 characters")
    post = check_post(post)
    if session.exec(select(Staff).where(Staff.username == username)).first():
        raise StaffError(f"a staff account named {username!r} already exists")
    staff = Staff(username=username, password_hash=hash_password(password), role=role,
                  display_name=display_name.strip() or username, post=post, created_at=utcnow())
    session.add(staff)
    session.flush()
    audit.record(session, actor, "staff_added", username, role=role, post=post)
    return staff


def check_post(post: str) -> str:
    """A post (岗位) as stored: trimmed, 1 to 64 characters (an empty one is the default post)."""
    post = post.strip() or DEFAULT_POST
    if len(post) > 64:
        raise StaffError("the post must be at most 64 characters")
    return post


def set_post(session: Session, username: str, post: str, *, actor: str) -> Staff:
    """Give an account a new post (a clerk moved to another post); cases already received keep the post they
    were received under."""
    staff = session.exec(select(Staff).where(Staff.username == username.strip())).first()
    if staff is None:
        raise StaffError(f"no staff account named {username!r}")
    staff.post = check_post(post)
    session.add(staff)
    audit.record(session, actor, "staff_post_set", staff.username, post=staff.post)
    return staff


def authenticate(session: Session, username: str, password: str, *, address: str, gate: LoginGate) -> Staff | None:
    """The staff member if the password is right; None if not; LoginThrottled (password unchecked) while this
    name or this client ``address`` must wait.

    A failure is recorded in the caller's transaction, so callers must commit on None (session_scope does).
    """
    username, address = username.strip(), address_key(address)
    wait = gate.wait(username, address)
    if wait:
        raise LoginThrottled(wait)
    staff = session.exec(select(Staff).where(Staff.username == username)).first()
    if not check_password(gate, username, address, password, staff.password_hash if staff is not None else None,
                          stored_wait=functools.partial(stored_wait, session),
                          record_failure=functools.partial(record_failure, session)):
        return None
    record_success(session, staff.username, address)
    if password_needs_rehash(staff.password_hash):
        # A hash an earlier release stored: the password is at hand only now, so store today's form.
        staff.password_hash = hash_password(password)
        session.add(staff)
    return staff


def issue_token(session: Session, staff: Staff) -> str:
    token = secrets.token_urlsafe(32)
    session.add(ApiToken(token_hash=hash_secret(token), staff_id=staff.id, expires_at=utcnow() + TOKEN_LIFETIME))
    return token


def staff_for_token(session: Session, token: str) -> Staff | None:
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_secret(token))).first()
    if row is None or as_utc(row.expires_at) < utcnow():
        return None
    return session.get(Staff, row.staff_id)


def _allowed(staff: Staff, role: str | None) -> bool:
    return role is None or staff.role == role or staff.role == "admin"


def install(app: Flask) -> None:
    """Page sessions for this app: the account behind the cookie, looked up on every request."""
    install_login(app, load_user=_load_staff)


def _load_staff(staff_id: str) -> Staff | None:
    """The session's account; a removed one ends the session here."""
    staff = None
    if staff_id.isdigit():
        with db.session_scope(current_app.config["DATA_DIR"]) as dbs:
            staff = dbs.get(Staff, int(staff_id))
    if staff is None:
        session.clear()
    return staff


def login_required(view=None, *, role: str | None = None):
    """Pages: the session must belong to a staff member (of ``role``, admins pass every check)."""
    if view is None:
        return functools.partial(login_required, role=role)

    @functools.wraps(view)
    @session_required
    def wrapped(*args, **kwargs):
        staff = current_user._get_current_object()
        if not _allowed(staff, role):
            return render_template("message.html", title=_("Not allowed"),
                                   message=_("Only an administrator may do this.")), 403
        g.staff = staff
        return view(*args, **kwargs)

    return wrapped


def token_required(view=None, *, role: str | None = None):
    """API: ``Authorization: Bearer TOKEN`` from POST /api/login."""
    if view is None:
        return functools.partial(token_required, role=role)

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _space, token = header.partition(" ")
        staff = None
        if scheme.lower() == "bearer" and token.strip():
            with db.session_scope(current_app.config["DATA_DIR"]) as dbs:
                staff = staff_for_token(dbs, token.strip())
        if staff is None:
            return api_error(401, "unauthorized", "log in with POST /api/login and send Authorization: Bearer TOKEN")
        if not _allowed(staff, role):
            return api_error(403, "forbidden", f"this needs the {role} role")
        g.staff = staff
        return view(*args, **kwargs)

    return wrapped


def _safe_next(target: str | None) -> str:
    """Only same-site paths as the browser reads them, so the login form cannot bounce staff to another site."""
    return same_origin_path(target) or url_for("views.new_case")


@bp.route("/login", methods=("GET", "POST"))
def login():
    """The login form (session cookie)."""
    error = ""
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "")
        try:
            with db.session_scope(current_app.config["DATA_DIR"]) as dbs:
                staff = authenticate(dbs, username, request.form.get("password", ""), address=client_address(),
                                     gate=login_gate())
        except LoginThrottled as throttled:
            error = ngettext("Too many failed logins from this computer. Wait %(num)s second, then try again.",
                             "Too many failed logins from this computer. Wait %(num)s seconds, then try again.",
                             throttled.wait_s)
            return (render_template("login.html", error=error, username=username), 429,
                    {"Retry-After": str(throttled.wait_s)})
        if staff is None:
            error = _("Wrong username or password.")
        else:
            csrf = session.get("csrf_token")
            session.clear()
            if csrf:
                session["csrf_token"] = csrf
            login_user(staff)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", error=error, username=username), (401 if error else 200)


@bp.post("/logout")
def logout():
    """End the session."""
    logout_user()
    session.clear()
    flash(_("You are logged out."))
    return redirect(url_for("auth.login"))


@bp.post("/api/login")
@documented("Log in for a bearer token", body=LoginRequest, answer=LoginResponse, auth=False,
            errors={401: ("bad_credentials",), 429: ("login_throttled",)})
def api_login():
    """Exchange a username and password for a bearer token."""
    body = parse_json_body(LoginRequest)
    if not isinstance(body, LoginRequest):
        return body
    try:
        with db.session_scope(current_app.config["DATA_DIR"]) as dbs:
            staff = authenticate(dbs, body.username, body.password, address=client_address(), gate=login_gate())
            if staff is not None:
                token = issue_token(dbs, staff)
    except LoginThrottled as throttled:
        return throttled_answer(throttled.wait_s)
    if staff is None:
        return api_error(401, "bad_credentials", "wrong username or password")
    return LoginResponse(token=token, username=staff.username, role=staff.role).model_dump(), 200
