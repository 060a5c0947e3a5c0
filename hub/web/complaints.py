"""The complaint desk (投诉): the supervision office takes, assigns and closes complaints; departments reply.

The office (role ``supervisor``, and admins) sees every complaint, open ones first with their overdue colours,
takes complaints at the hub, assigns each to a department with a reply deadline in working days, and closes it with
a result once the department replied. A reviewer sees the complaints assigned to their own department and replies
in writing. The steps themselves are hub/approval/complaints.py; this module only reads forms and shows pages.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for
from flask_babel import lazy_gettext
from sqlmodel import select

from sync.kit.workdays import county_date

from hub.approval.complaints import (
    HUB_CHANNELS,
    MAX_REPLY_DAYS,
    ComplaintError,
    assign_complaint,
    close_complaint,
    complaint_colour,
    complaint_rows,
    reply_complaint,
    take_hub_complaint,
)
from hub.catalog.calendar import county_calendar
from hub.core.clock import utc_now
from hub.core.models import (
    COMPLAINT_CATEGORIES,
    COMPLAINT_SUBJECTS,
    DEFAULT_COMPLAINT_REPLY_DAYS,
    Complaint,
    Department,
    Point,
)
from hub.web.auth import login_required
from hub.web.context import configured_warn_share, get_session

bp = Blueprint("complaints", __name__)

OFFICE = ("supervisor", "admin")
CHANNEL_TEXT = {"in_person": lazy_gettext("In person"), "phone": lazy_gettext("By phone"),
                "box": lazy_gettext("Complaint box"), "hub": lazy_gettext("At the county centre")}
CATEGORY_TEXT = {"attitude": lazy_gettext("Attitude"), "overdue": lazy_gettext("Overdue"),
                 "repeated_trips": lazy_gettext("Repeated trips"), "fees": lazy_gettext("Improper fees"),
                 "other": lazy_gettext("Other")}
SUBJECT_TEXT = {"case": lazy_gettext("A case"), "department": lazy_gettext("A department"),
                "point": lazy_gettext("A service point"), "staff": lazy_gettext("A staff member"),
                "general": lazy_gettext("General")}
COMPLAINT_STATUS_TEXT = {"received": lazy_gettext("Waiting to be assigned"),
                         "assigned": lazy_gettext("Waiting for the department's reply"),
                         "replied": lazy_gettext("Replied, waiting to be closed"), "closed": lazy_gettext("Closed")}
COLOUR_TEXT = {"yellow": lazy_gettext("Reply due soon"), "red": lazy_gettext("Reply overdue")}
# Why a step was refused, in the page's language (the reasons of hub/approval/complaints.py).
REFUSALS = {
    "invalid_input": lazy_gettext("Some fields are missing or invalid; see the marks below. Nothing was saved."),
    "already_replied": lazy_gettext("The department has replied: close the complaint instead."),
    "unknown_department": lazy_gettext("Choose a department from the list."),
    "bad_reply_days": lazy_gettext("The reply period is 1 to %(days)s working days.", days=MAX_REPLY_DAYS),
    "not_assigned": lazy_gettext("Only a complaint waiting for its department's reply takes a reply."),
    "not_your_department": lazy_gettext("This complaint is assigned to another department."),
    "reply_required": lazy_gettext("Write the reply. Nothing was saved."),
    "not_replied": lazy_gettext("A complaint is closed after its department replied."),
    "result_required": lazy_gettext("Write the result. Nothing was saved."),
}
FIELD_TEXT = {"channel": lazy_gettext("Choose how the complaint came in."),
              "category": lazy_gettext("Choose a category."),
              "subject": lazy_gettext("Choose what the complaint is about."),
              "text": lazy_gettext("Write the complaint (at most 4,000 characters)."),
              "contact_name": lazy_gettext("Give a name or a phone number, or tick anonymous."),
              "receipt_no": lazy_gettext("No case has this receipt number. Check it with the complainant."),
              "department_code": lazy_gettext("Choose a department."),
              "about_name": lazy_gettext("Name the service point or the staff member.")}


def configured_reply_days() -> int:
    """The reply period an assignment proposes (``serve --complaint-reply-days``; default 5 working days)."""
    return int(current_app.config.get("COMPLAINT_REPLY_DAYS", DEFAULT_COMPLAINT_REPLY_DAYS))


def _office() -> bool:
    return g.staff.role in OFFICE


def _own_department() -> str | None:
    """The department a reviewer acts for (None: the office or an admin, who see every complaint)."""
    return None if _office() else (g.staff.department_code or "")


@bp.app_context_processor
def complaint_badge() -> dict:
    """How many complaints wait for the logged-in person: to assign or close (the office), to reply to (a
    reviewer). Shown beside the desk's link on every page, so a reviewer's home page names them too."""
    staff = g.get("staff")
    if staff is None or staff.role not in (*OFFICE, "reviewer"):
        return {}
    waiting = select(Complaint.id).where(Complaint.status.in_(("received", "replied")))
    if staff.role == "reviewer":
        waiting = select(Complaint.id).where(Complaint.status == "assigned",
                                             Complaint.assigned_department == (staff.department_code or ""))
    return {"complaints_waiting": len(get_session().exec(waiting).all())}


def _names() -> dict[str, str]:
    chinese = g.get("lang", "zh") == "zh"
    return {d.code: d.name_zh if chinese else d.name_en
            for d in get_session().exec(select(Department).order_by(Department.code)).all()}


def _words() -> dict:
    return {"channels": CHANNEL_TEXT, "categories": CATEGORY_TEXT, "subjects": SUBJECT_TEXT,
            "statuses": COMPLAINT_STATUS_TEXT, "colours": COLOUR_TEXT, "departments": _names()}


@bp.get("/complaints")
@login_required(*OFFICE, "reviewer")
def complaints_page():
    """The office's complaint desk (every complaint) or a reviewer's list (their department's), open first."""
    rows = complaint_rows(get_session(), today=county_date(utc_now()), department_code=_own_department(),
                          warn_share=configured_warn_share())
    return render_template("complaints.html", rows=rows, office=_office(), **_words())


def _render_new(values: dict, problems: dict, status: int = 200):
    return render_template("complaint_new.html", values=values, problems=problems, field_text=FIELD_TEXT,
                           hub_channels=HUB_CHANNELS, category_codes=COMPLAINT_CATEGORIES,
                           subject_codes=COMPLAINT_SUBJECTS,
                           refusal=REFUSALS["invalid_input"] if problems else "", **_words()), status


@bp.get("/complaints/new")
@login_required(*OFFICE)
def new_complaint():
    """The form for a complaint taken at the hub, at the office's desk or on the phone."""
    return _render_new({"channel": "phone", "subject": "general"}, {})


@bp.post("/complaints/new")
@login_required(*OFFICE)
def take_complaint():
    """Record a complaint taken at the hub; the form again with its marks when a field is wrong."""
    form = {name: request.form.get(name, "").strip()[:4000] for name in
            ("channel", "category", "subject", "text", "contact_name", "contact_phone", "receipt_no",
             "department_code", "about_name")}
    form["anonymous"] = request.form.get("anonymous") == "1"
    db = get_session()
    try:
        complaint = take_hub_complaint(db, actor=g.staff.username, **form)
    except ComplaintError as exc:
        db.rollback()
        return _render_new(form, exc.fields, 422)
    db.commit()
    return redirect(url_for("complaints.complaint_page", complaint_id=complaint.id))


def _complaint(complaint_id: str) -> Complaint:
    """The complaint, if the logged-in person may see it (a reviewer: one assigned to their department)."""
    complaint = get_session().get(Complaint, complaint_id[:36])
    own = _own_department()
    if complaint is None or (own is not None and complaint.assigned_department != own):
        abort(404)
    return complaint


def _render_one(complaint: Complaint, refusal: str = "", status: int = 200):
    db = get_session()
    point = db.get(Point, complaint.point_id) if complaint.point_id else None
    colour = complaint_colour(complaint, county_date(utc_now()), calendar=county_calendar(db),
                              warn_share=configured_warn_share())
    can_reply = complaint.status == "assigned" and (g.staff.role == "admin" or (
        g.staff.role == "reviewer" and g.staff.department_code == complaint.assigned_department))
    return render_template("complaint.html", complaint=complaint, point=point, colour=colour, office=_office(),
                           can_reply=can_reply, reply_days=configured_reply_days(), max_reply_days=MAX_REPLY_DAYS,
                           refusal=refusal, **_words()), status


@bp.get("/complaints/<complaint_id>")
@login_required(*OFFICE, "reviewer")
def complaint_page(complaint_id: str):
    """One complaint: what it says, who took it, its deadline and colour, the reply and the result, and the
    step the logged-in person may take next."""
    return _render_one(_complaint(complaint_id))


def _step(complaint_id: str, act) -> object:
    """Run one step on the complaint; the page again with the refusal in the page's language when it fails."""
    db = get_session()
    complaint = _complaint(complaint_id)
    try:
        act(db, complaint)
    except ComplaintError as exc:
        db.rollback()
        return _render_one(db.get(Complaint, complaint.id), str(REFUSALS.get(exc.reason, exc)), 422)
    db.commit()
    return redirect(url_for("complaints.complaint_page", complaint_id=complaint.id))


@bp.post("/complaints/<complaint_id>/assign")
@login_required(*OFFICE)
def assign(complaint_id: str):
    """Send the complaint to a department with its reply deadline in working days."""
    try:
        days = int(request.form.get("reply_days", "") or configured_reply_days())
    except ValueError:
        days = 0
    department = request.form.get("department_code", "")[:32]
    return _step(complaint_id, lambda db, complaint: assign_complaint(db, complaint, department,
                                                                      actor=g.staff.username, reply_days=days))


@bp.post("/complaints/<complaint_id>/reply")
@login_required("reviewer", "admin")
def reply(complaint_id: str):
    """The department's written reply."""
    text = request.form.get("reply", "")[:4001]
    department = None if g.staff.role == "admin" else (g.staff.department_code or "")
    return _step(complaint_id, lambda db, complaint: reply_complaint(db, complaint, text, actor=g.staff.username,
                                                                     department_code=department))


@bp.post("/complaints/<complaint_id>/close")
@login_required(*OFFICE)
def close(complaint_id: str):
    """Close a replied complaint with the office's result."""
    result = request.form.get("result", "")[:4001]
    return _step(complaint_id, lambda db, complaint: close_complaint(db, complaint, result, actor=g.staff.username))
