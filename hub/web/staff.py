"""The departments page (admins): each department of the catalog with its reviewers (a township-scoped
department's by township), adding a reviewer, disabling or enabling any staff account, and the failed logins of
the last day (hub/trust/logins.py). The CLI twin is ``pointkit-hub users``."""

from __future__ import annotations

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask_babel import lazy_gettext
from sqlmodel import select

from sync.kit.throttle import MAX_DELAY_S

from hub.core.models import Department
from hub.trust.accounts import MIN_PASSWORD_LENGTH, AccountError, create_staff, find_staff, list_staff, set_disabled
from hub.trust.logins import recent_failures
from hub.trust.townships import township_names
from hub.web.auth import login_required
from hub.web.context import get_session

bp = Blueprint("staff", __name__)

ACCOUNT_MESSAGES = {
    "bad_username": lazy_gettext("Enter a username of 1 to 64 characters."),
    "password_too_short": lazy_gettext("The password needs at least %(length)s characters."),
    "department_required": lazy_gettext("Choose the reviewer's department."),
    "unknown_department": lazy_gettext("Choose a department from the list."),
    "username_taken": lazy_gettext("This username is taken. Choose another."),
    "own_account": lazy_gettext("You cannot disable your own account; ask another admin."),
    "last_admin": lazy_gettext("This is the last enabled admin. Add another admin before disabling it."),
    "township_required": lazy_gettext("This department is one per township: choose the reviewer's township."),
    "township_not_allowed": lazy_gettext("This department serves the whole county: leave the township empty."),
    "unknown_township": lazy_gettext("Choose a township from the list."),
}


def _render(*, error: str = "", values: dict | None = None, status: int = 200):
    db = get_session()
    staff = list_staff(db)
    reviewers: dict[str, list] = {}
    for person in staff:
        if person.role == "reviewer":
            reviewers.setdefault(person.department_code, []).append(person)
    chinese = g.get("lang", "zh") == "zh"
    departments = [(d.code, d.name_zh if chinese else d.name_en, reviewers.get(d.code, []))
                   for d in db.exec(select(Department).order_by(Department.code)).all()]
    scoped = {d.code for d in db.exec(select(Department).where(Department.scope == "township")).all()}
    return render_template("departments.html", departments=departments, error=error,
                           others=[person for person in staff if person.role != "reviewer"],
                           values=values or {"department": request.args.get("department", "")[:32]},
                           township_names=dict(sorted(township_names(db).items(), key=lambda pair: pair[1])),
                           scoped=scoped, min_length=MIN_PASSWORD_LENGTH, failed_logins=recent_failures(db),
                           max_delay_s=MAX_DELAY_S), status


def _message(error: AccountError) -> str:
    message = ACCOUNT_MESSAGES.get(error.reason)
    return message % {"length": MIN_PASSWORD_LENGTH} if message else str(error)


@bp.get("/departments")
@login_required("admin")
def departments_page():
    """Departments (from the catalog) with their reviewers; other accounts below."""
    return _render()


@bp.post("/departments/reviewers")
@login_required("admin")
def add_reviewer():
    """Add a reviewer account to a department; on a mistake the form comes back filled, nothing stored."""
    db = get_session()
    values = {key: request.form.get(key, "").strip()[:64] for key in ("username", "display_name", "department")}
    values["township"] = request.form.get("township", "").strip()[:128]
    try:
        create_staff(db, username=values["username"], password=request.form.get("password", "")[:200],
                     role="reviewer", department_code=values["department"] or None,
                     display_name=values["display_name"], township=values["township"] or None,
                     actor=g.staff.username)
    except AccountError as exc:
        db.rollback()
        return _render(error=_message(exc), values=values, status=422)
    db.commit()
    return redirect(url_for("staff.departments_page", _anchor=f"dept-{values['department']}"))


@bp.post("/staff/<staff_id>/<action>")
@login_required("admin")
def set_account_state(staff_id: str, action: str):
    """Disable (no logins, API tokens end) or enable an account."""
    if action not in ("disable", "enable"):
        abort(404)
    db = get_session()
    staff = find_staff(db, staff_id[:64])
    if staff is None:
        abort(404)
    try:
        set_disabled(db, staff, disabled=action == "disable", actor=g.staff.username)
    except AccountError as exc:
        db.rollback()
        return _render(error=_message(exc), status=409)
    db.commit()
    return redirect(url_for("staff.departments_page"))
