"""The complaint desk's JSON API (bearer tokens): what the desk pages do (hub/web/complaints.py), for the office's
own tools and for tests. The office (``supervisor``) and admins list, take, assign and close complaints; a reviewer
lists and replies to those assigned to their department."""

from __future__ import annotations

from flask import Blueprint, g
from sqlmodel import Session

from sync.kit.openapi import documented
from sync.kit.web import api_error, parse_json_body
from sync.kit.workdays import county_date

from hub.approval.complaints import (
    ComplaintError,
    ComplaintRow,
    assign_complaint,
    close_complaint,
    complaint_colour,
    complaint_rows,
    reply_complaint,
    take_hub_complaint,
)
from hub.catalog.calendar import county_calendar
from hub.core.clock import iso, utc_now
from hub.core.models import Complaint, Point
from hub.web import schemas
from hub.web.auth import api_auth
from hub.web.complaints import OFFICE, configured_reply_days
from hub.web.context import configured_warn_share, get_session

bp = Blueprint("complaintapi", __name__, url_prefix="/api")

_STEP_ERRORS = {403: ("forbidden",), 404: ("not_found",),
                409: ("already_replied", "not_assigned", "not_replied"),
                422: ("invalid_input", "unknown_department", "bad_reply_days", "reply_required", "result_required",
                      "not_your_department")}


def _own_department() -> str | None:
    return None if g.staff.role in OFFICE else (g.staff.department_code or "")


def complaint_public(session: Session, row: ComplaintRow) -> dict:
    """A complaint as the API shows it (schemas.ComplaintPublic)."""
    c = row.complaint
    point = session.get(Point, c.point_id) if c.point_id else None
    return {"complaint_id": c.id, "complaint_no": c.complaint_no, "point_name": point.name if point else "",
            "channel": c.channel, "category": c.category, "subject": c.subject, "case_id": c.case_id,
            "department_code": c.department_code, "about_point_name": c.about_point_name,
            "about_staff": c.about_staff, "anonymous": c.anonymous, "contact_name": (c.contact or {}).get("name", ""),
            "contact_phone": (c.contact or {}).get("phone", ""), "text": c.text, "taken_by": c.taken_by,
            "received_at": iso(c.received_at), "status": c.status, "assigned_department": c.assigned_department,
            "reply_days": c.reply_days, "reply_due": c.reply_due.isoformat() if c.reply_due else None,
            "reply": c.reply, "replied_by": c.replied_by, "replied_at": iso(c.replied_at) if c.replied_at else None,
            "result": c.result, "closed_by": c.closed_by, "closed_at": iso(c.closed_at) if c.closed_at else None,
            "colour": row.colour}


def _one(session: Session, complaint: Complaint) -> dict:
    colour = complaint_colour(complaint, county_date(utc_now()), calendar=county_calendar(session),
                              warn_share=configured_warn_share())
    return complaint_public(session, ComplaintRow(complaint, colour))


def _visible(complaint_id: str) -> Complaint | None:
    complaint = get_session().get(Complaint, complaint_id[:36])
    own = _own_department()
    return None if complaint is None or (own is not None and complaint.assigned_department != own) else complaint


@bp.get("/complaints")
@documented("Complaints, open first (the office: all; a reviewer: their department's)",
            answer=schemas.ComplaintsResponse, errors={403: ("forbidden",)})
@api_auth(*OFFICE, "reviewer")
def get_complaints():
    """Complaints, open ones first, red then yellow, with their overdue colour today."""
    db = get_session()
    rows = complaint_rows(db, today=county_date(utc_now()), department_code=_own_department(),
                          warn_share=configured_warn_share())
    return {"complaints": [complaint_public(db, row) for row in rows]}


@bp.get("/complaints/<complaint_id>")
@documented("One complaint", answer=schemas.ComplaintPublic, errors={403: ("forbidden",), 404: ("not_found",)})
@api_auth(*OFFICE, "reviewer")
def get_complaint(complaint_id: str):
    """One complaint, if the caller may see it."""
    complaint = _visible(complaint_id)
    if complaint is None:
        return api_error(404, "not_found", "no such complaint for you")
    return _one(get_session(), complaint)


@bp.post("/complaints")
@documented("Take a complaint at the hub", body=schemas.ComplaintTakeBody, answer=schemas.ComplaintPublic,
            status=201, errors={403: ("forbidden",), 422: ("invalid_input",)})
@api_auth(*OFFICE)
def post_complaint():
    """Record a complaint the office took at its desk or on the phone."""
    body = parse_json_body(schemas.ComplaintTakeBody)
    if not isinstance(body, schemas.ComplaintTakeBody):
        return body
    db = get_session()
    try:
        complaint = take_hub_complaint(db, actor=g.staff.username, **body.model_dump())
    except ComplaintError as exc:
        db.rollback()
        return api_error(422, exc.reason, str(exc), exc.fields)
    db.commit()
    return _one(db, complaint), 201


def _step(complaint_id: str, act) -> object:
    db = get_session()
    complaint = _visible(complaint_id)
    if complaint is None:
        return api_error(404, "not_found", "no such complaint for you")
    try:
        act(db, complaint)
    except ComplaintError as exc:
        db.rollback()
        status = next(code for code, reasons in _STEP_ERRORS.items() if exc.reason in reasons)
        return api_error(status, exc.reason, str(exc))
    db.commit()
    return _one(db, complaint)


@bp.post("/complaints/<complaint_id>/assign")
@documented("Assign a complaint to a department with a reply deadline in working days",
            body=schemas.ComplaintAssignBody, answer=schemas.ComplaintPublic, errors=_STEP_ERRORS)
@api_auth(*OFFICE)
def post_assign(complaint_id: str):
    """Send the complaint to a department; it must reply within the working days given (or the hub's default)."""
    body = parse_json_body(schemas.ComplaintAssignBody)
    if not isinstance(body, schemas.ComplaintAssignBody):
        return body
    days = body.reply_days or configured_reply_days()
    return _step(complaint_id, lambda db, c: assign_complaint(db, c, body.department_code, actor=g.staff.username,
                                                              reply_days=days))


@bp.post("/complaints/<complaint_id>/reply")
@documented("The department's written reply", body=schemas.ComplaintReplyBody, answer=schemas.ComplaintPublic,
            errors=_STEP_ERRORS)
@api_auth("reviewer", "admin")
def post_reply(complaint_id: str):
    """A reviewer replies for their department (an admin for any)."""
    body = parse_json_body(schemas.ComplaintReplyBody)
    if not isinstance(body, schemas.ComplaintReplyBody):
        return body
    department = None if g.staff.role == "admin" else (g.staff.department_code or "")
    return _step(complaint_id, lambda db, c: reply_complaint(db, c, body.reply, actor=g.staff.username,
                                                             department_code=department))


@bp.post("/complaints/<complaint_id>/close")
@documented("Close a replied complaint with the office's result", body=schemas.ComplaintCloseBody,
            answer=schemas.ComplaintPublic, errors=_STEP_ERRORS)
@api_auth(*OFFICE)
def post_close(complaint_id: str):
    """Close the complaint with its result; the point that took it hears it."""
    body = parse_json_body(schemas.ComplaintCloseBody)
    if not isinstance(body, schemas.ComplaintCloseBody):
        return body
    return _step(complaint_id, lambda db, c: close_complaint(db, c, body.result, actor=g.staff.username))
