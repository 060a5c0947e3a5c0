"""投诉: a resident's complaint, from its arrival to its closing, as the supervision office (电子监察室) runs it.

A complaint comes from a point (sealed, like a case: ``receive_point_complaint``) or is taken at the hub by the office
(``take_hub_complaint``). The office assigns it to a department with a reply deadline in working days on the county
calendar; the department replies in writing; the office closes it with a result. Each step is one entry of the
audit chain (never personal data in it), and each step of a point's complaint goes back to that point as a
COMPLAINT_ANSWER, so the resident reads it there or at the kiosk. A complaint waiting for its reply turns yellow at
the warning share of its reply period and red past the due date, as a case does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlmodel import Session, select

from sync.clock import uuid7
from sync.envelope import Kind
from sync.kit.workdays import Calendar, county_date
from sync.messages import ComplaintAnswer, FileComplaint

from hub.approval.timelimits import DEFAULT_WARN_SHARE
from hub.catalog.calendar import county_calendar
from hub.core.audit import append_audit
from hub.core.clock import as_utc, utc_now
from hub.core.models import (
    COMPLAINT_CATEGORIES,
    COMPLAINT_SUBJECTS,
    DEFAULT_COMPLAINT_REPLY_DAYS,
    Case,
    Complaint,
    Department,
    Point,
)
from hub.core.outbox import enqueue

# The channels the office takes a complaint by at the hub (a point's are in_person, phone and box).
HUB_CHANNELS = ("hub", "phone")
MAX_REPLY_DAYS = 60
MAX_TEXT = 4000
# A complaint's colour while it waits for its department's reply ("" when it is not waiting, or not late yet).
YELLOW, RED = "yellow", "red"


class ComplaintError(ValueError):
    """Why a step of a complaint cannot be taken; ``reason`` is the stable word pages and the API translate."""

    def __init__(self, reason: str, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.reason = reason
        self.fields = fields or {}


@dataclass(frozen=True)
class Arrival:
    """What became of a complaint a point sent: new, or one the hub already holds (a resend)."""

    complaint: Complaint
    new: bool


def receive_point_complaint(session: Session, intent: FileComplaint, point: Point) -> Arrival:
    """Store a complaint a point took, once: its id makes it idempotent (a resend or a bundle's second copy is
    the same complaint). An id or a number another point already used is refused."""
    existing = session.get(Complaint, intent.complaint_id)
    if existing is not None:
        if existing.point_id != point.id:
            raise ComplaintError("complaint_id_taken", "another point already sent a complaint with this id")
        return Arrival(existing, new=False)
    if session.exec(select(Complaint.id).where(Complaint.complaint_no == intent.complaint_no)).first() is not None:
        raise ComplaintError("complaint_no_taken", f"complaint number {intent.complaint_no} is already in use; "
                                                   "the point must number its complaints as its software does")
    about_point = None
    if intent.subject == "point":
        about_point = session.exec(select(Point.id).where(Point.name == intent.about_point)).first()
    complaint = Complaint(
        id=intent.complaint_id, complaint_no=intent.complaint_no, point_id=point.id, channel=intent.channel,
        category=intent.category, subject=intent.subject, case_id=intent.about_case_id or None,
        department_code=intent.department_code or None, about_point_id=about_point,
        about_point_name=intent.about_point, about_staff=intent.about_staff, anonymous=intent.anonymous,
        contact={} if intent.anonymous else intent.contact.model_dump(), text=intent.text,
        taken_by=intent.staff_name or intent.staff,
        received_at=min(as_utc(intent.taken_at) + _offset(point), utc_now()), code_hash=intent.code_hash)
    session.add(complaint)
    _audit(session, complaint, point.name, "complaint_received", channel=complaint.channel,
           category=complaint.category, subject=complaint.subject, point=point.name)
    return Arrival(complaint, new=True)


def _offset(point: Point) -> timedelta:
    """What moves the point's clock onto the hub's: its last measured offset. The time is the point's claim,
    never later than the hub's now (a complaint is never received in the future)."""
    return timedelta(milliseconds=point.clock_offset_ms or 0)


def take_hub_complaint(session: Session, *, channel: str, category: str, subject: str, text: str, actor: str,
                       contact_name: str = "", contact_phone: str = "", anonymous: bool = False,
                       receipt_no: str = "", department_code: str = "", about_name: str = "") -> Complaint:
    """A complaint the office takes at the hub, at its desk or on the phone, numbered ``T-<day>-COUNTY-<n>``. The
    office tells the complainant the answer itself: there is no point to send it to, and so no code."""
    problems: dict[str, str] = {}
    for name, value, choices in (("channel", channel, HUB_CHANNELS), ("category", category, COMPLAINT_CATEGORIES),
                                 ("subject", subject, COMPLAINT_SUBJECTS)):
        if value not in choices:
            problems[name] = "choose one of the listed options"
    if not text.strip() or len(text) > MAX_TEXT:
        problems["text"] = f"write the complaint (at most {MAX_TEXT} characters)"
    if not anonymous and not (contact_name.strip() or contact_phone.strip()):
        problems["contact_name"] = "give a name or a phone number, or tick anonymous"
    about = _subject_of(session, subject, receipt_no.strip().upper(), department_code, about_name.strip(), problems)
    if problems:
        raise ComplaintError("invalid_input", "; ".join(f"{name}: {why}" for name, why in problems.items()),
                             problems)
    now = utc_now()
    complaint = Complaint(
        id=str(uuid7()), complaint_no=_next_hub_number(session, county_date(now)), point_id=None, channel=channel,
        category=category, subject=subject, anonymous=anonymous, text=text.strip(), taken_by=actor,
        contact={} if anonymous else {"name": contact_name.strip()[:64], "phone": contact_phone.strip()[:20]},
        received_at=now, **about)
    session.add(complaint)
    _audit(session, complaint, actor, "complaint_received", channel=channel, category=category, subject=subject)
    return complaint


def _subject_of(session: Session, subject: str, receipt_no: str, department_code: str, about_name: str,
                problems: dict[str, str]) -> dict:
    """The columns naming what a complaint taken at the hub is about; what cannot be found goes into ``problems``."""
    if subject == "case":
        case_id = session.exec(select(Case.id).where(Case.receipt_no == receipt_no)).first() if receipt_no else None
        if case_id is None:
            problems["receipt_no"] = "no case has this receipt number"
        return {"case_id": case_id}
    if subject == "department":
        if not department_code or session.get(Department, department_code) is None:
            problems["department_code"] = "choose a department"
        return {"department_code": department_code or None}
    if subject in ("point", "staff") and not about_name:
        problems["about_name"] = "name the point or the staff member"
    if subject == "point":
        return {"about_point_id": session.exec(select(Point.id).where(Point.name == about_name)).first(),
                "about_point_name": about_name[:128]}
    if subject == "staff":
        return {"about_staff": about_name[:64]}
    return {}


def _next_hub_number(session: Session, day: date) -> str:
    prefix = f"T-{day:%Y%m%d}-COUNTY-"
    numbers = session.exec(select(Complaint.complaint_no).where(Complaint.complaint_no.startswith(prefix))).all()
    highest = max((int(n[len(prefix):]) for n in numbers if n[len(prefix):].isdigit()), default=0)
    return f"{prefix}{highest + 1:04d}"


def assign_complaint(session: Session, complaint: Complaint, department_code: str, *, actor: str,
                     reply_days: int = DEFAULT_COMPLAINT_REPLY_DAYS) -> Complaint:
    """The office sends the complaint to a department, which must reply within ``reply_days`` working days of
    today on the county calendar. A complaint not yet replied to may be assigned again (to another department,
    or with a new deadline)."""
    if complaint.status not in ("received", "assigned"):
        raise ComplaintError("already_replied", "the department has replied; close the complaint instead")
    if session.get(Department, department_code) is None:
        raise ComplaintError("unknown_department", f"no department with code {department_code!r}")
    if not 1 <= reply_days <= MAX_REPLY_DAYS:
        raise ComplaintError("bad_reply_days", f"the reply period is 1 to {MAX_REPLY_DAYS} working days")
    now = utc_now()
    complaint.status, complaint.assigned_department, complaint.assigned_by = "assigned", department_code, actor
    complaint.assigned_at, complaint.reply_days = now, reply_days
    complaint.reply_due = county_calendar(session).add_working_days(county_date(now), reply_days)
    session.add(complaint)
    _audit(session, complaint, actor, "complaint_assigned", department=department_code, reply_days=reply_days,
           reply_due=complaint.reply_due.isoformat())
    _tell_point(session, complaint)
    return complaint


def reply_complaint(session: Session, complaint: Complaint, reply: str, *, actor: str,
                    department_code: str | None) -> Complaint:
    """The department's written reply. ``department_code`` is the replying reviewer's department (None: an admin,
    who may reply for any)."""
    if complaint.status != "assigned":
        raise ComplaintError("not_assigned", "only a complaint assigned to a department and not yet replied to "
                                             "takes a reply")
    if department_code is not None and department_code != complaint.assigned_department:
        raise ComplaintError("not_your_department", "this complaint is assigned to another department")
    if not reply.strip() or len(reply) > MAX_TEXT:
        raise ComplaintError("reply_required", f"write the reply (at most {MAX_TEXT} characters)")
    now = utc_now()
    complaint.status, complaint.reply, complaint.replied_by, complaint.replied_at = "replied", reply.strip(), actor, now
    session.add(complaint)
    _audit(session, complaint, actor, "complaint_replied", department=complaint.assigned_department,
           late=bool(complaint.reply_due and county_date(now) > complaint.reply_due))
    _tell_point(session, complaint)
    return complaint


def close_complaint(session: Session, complaint: Complaint, result: str, *, actor: str) -> Complaint:
    """The office closes a replied complaint with its result (what was found and done), which the complainant
    reads at the point."""
    if complaint.status != "replied":
        raise ComplaintError("not_replied", "a complaint is closed after its department replied")
    if not result.strip() or len(result) > MAX_TEXT:
        raise ComplaintError("result_required", f"write the result (at most {MAX_TEXT} characters)")
    complaint.status, complaint.result, complaint.closed_by = "closed", result.strip(), actor
    complaint.closed_at = utc_now()
    session.add(complaint)
    _audit(session, complaint, actor, "complaint_closed", department=complaint.assigned_department)
    _tell_point(session, complaint)
    return complaint


def _tell_point(session: Session, complaint: Complaint) -> None:
    """Send the point that took the complaint where it stands now (nothing for one taken at the hub)."""
    point = session.get(Point, complaint.point_id) if complaint.point_id else None
    if point is None:
        return
    department = session.get(Department, complaint.assigned_department) if complaint.assigned_department else None
    moments = {"assigned": complaint.assigned_at, "replied": complaint.replied_at, "closed": complaint.closed_at}
    answer = ComplaintAnswer(complaint_id=complaint.id, status=complaint.status,
                             at=as_utc(moments.get(complaint.status) or utc_now()),
                             department=department.name_zh if department else "", reply_due=complaint.reply_due,
                             reply=complaint.reply, result=complaint.result)
    enqueue(session, point=point, kind=Kind.COMPLAINT_ANSWER, payload=answer.model_dump(mode="json"))


def _audit(session: Session, complaint: Complaint, actor: str, action: str, **detail) -> None:
    """One step in the audit chain: the complaint's number and the step, never the complainant or the words."""
    append_audit(session, actor=actor, action=action, subject=f"complaint:{complaint.id}",
                 detail={"complaint_no": complaint.complaint_no, **detail})


def complaint_colour(complaint: Complaint, today: date, *, calendar: Calendar,
                     warn_share: float = DEFAULT_WARN_SHARE) -> str:
    """Red once a complaint waiting for its reply is past its due date, yellow from ``warn_share`` of its reply
    period used, else "" (also for one replied to or closed: it no longer waits)."""
    if complaint.status != "assigned" or complaint.reply_due is None:
        return ""
    if today > complaint.reply_due:
        return RED
    used = complaint.reply_days - calendar.working_days_between(today, complaint.reply_due)
    return YELLOW if used >= warn_share * complaint.reply_days else ""


@dataclass(frozen=True)
class ComplaintRow:
    """A complaint as a list shows it: with its colour today."""

    complaint: Complaint
    colour: str


def complaint_rows(session: Session, *, today: date, department_code: str | None = None,
                   warn_share: float = DEFAULT_WARN_SHARE, limit: int = 500) -> list[ComplaintRow]:
    """Complaints, open ones first (red, then yellow, then the rest, soonest due first), closed ones after, newest
    first; only those assigned to ``department_code`` when it is given (a reviewer's list)."""
    query = select(Complaint).order_by(Complaint.hub_received_at.desc()).limit(limit)
    if department_code is not None:
        query = query.where(Complaint.assigned_department == department_code)
    calendar = county_calendar(session)
    rows = [ComplaintRow(c, complaint_colour(c, today, calendar=calendar, warn_share=warn_share))
            for c in session.exec(query).all()]
    rank = {RED: 0, YELLOW: 1, "": 2}
    return sorted(rows, key=lambda row: (row.complaint.status == "closed", rank[row.colour],
                                         row.complaint.reply_due or date.max))


def complaint_counts(session: Session, *, today: date, warn_share: float = DEFAULT_WARN_SHARE) -> dict[str, int]:
    """The supervision page's figures: open complaints, unassigned ones, and those yellow and red today."""
    rows = [row for row in complaint_rows(session, today=today, warn_share=warn_share)
            if row.complaint.status != "closed"]
    return {"open": len(rows), "unassigned": sum(row.complaint.status == "received" for row in rows),
            YELLOW: sum(row.colour == YELLOW for row in rows), RED: sum(row.colour == RED for row in rows)}
