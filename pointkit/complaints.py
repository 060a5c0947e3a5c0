"""投诉: complaints taken at the window (in person, by phone, from the box), sealed to the hub like a case.

The point owns what it takes offline: the complaint row, its number and its code are made here, and the COMPLAINT
envelope is queued in the same transaction, so a complaint is never half-taken and waits out any outage. The hub's
supervision office assigns it, the department replies, the office closes it; each step comes back as a
COMPLAINT_ANSWER that replaces what this point shows. A complainant who gave her name or phone gets a receipt with
the complaint number and a code (stored hashed) to read the answer at the kiosk; an anonymous complaint has neither.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from functools import cache

from sqlmodel import Session, select

from sync.clock import utcnow, uuid7
from sync.envelope import Kind
from sync.keys import Identity
from sync.kit.passwords import hash_password, verify_password
from sync.messages import ComplaintAnswer, FileComplaint

from . import audit
from .catalog import department_names
from .intake import next_number, phone_problem, point_code
from .models import Case, Complaint
from .outbox import seal_into_outbox
from .pickup import MAX_PICKUP_TRIES, PICKUP_LOCK
from .state import as_utc, get_state, local_now

CHANNELS = ("in_person", "phone", "box")
CATEGORIES = ("attitude", "overdue", "repeated_trips", "fees", "other")
SUBJECTS = ("case", "department", "point", "staff", "general")
COMPLAINT_CODE_DIGITS = 6
MAX_TEXT = 4000
# What is wrong with a field, in English (logs, the API); pages show them in their own language (pointkit/i18n.py).
REQUIRED = "required"
TOO_LONG = "too long"
NOT_A_CHOICE = "choose one of the listed options"
UNKNOWN_RECEIPT = "no case with this receipt number was received here"
UNKNOWN_DEPARTMENT = "not a department of the catalog"
NO_CONTACT = "give a name or a phone number, or tick anonymous"


class ComplaintError(Exception):
    """Why a complaint cannot be taken (``fields``: field -> English message) or its answer not read."""

    def __init__(self, reason: str, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.reason = reason
        self.fields = fields or {}


@dataclass
class ComplaintForm:
    """A complaint as the clerk typed it."""

    channel: str
    category: str
    text: str
    subject: str = "general"
    receipt_no: str = ""
    department_code: str = ""
    about_name: str = ""
    anonymous: bool = False
    contact_name: str = ""
    contact_phone: str = ""
    problems: dict[str, str] = field(default_factory=dict)


def next_complaint_no(session: Session, point_id: str, day) -> str:
    """``T-`` and the shape of a receipt number (day, point, count), counted apart: unique across the county."""
    return next_number(session, Complaint.complaint_no, f"T-{day:%Y%m%d}-{point_code(point_id)}-")


def _check(session: Session, form: ComplaintForm) -> tuple[Case | None, str]:
    """Fill ``form.problems``; return the case it is about (subject "case") and the department's code."""
    problems = form.problems
    for name, value, choices in (("channel", form.channel, CHANNELS), ("category", form.category, CATEGORIES),
                                 ("subject", form.subject, SUBJECTS)):
        if value not in choices:
            problems[name] = REQUIRED if not value else NOT_A_CHOICE
    if not form.text:
        problems["text"] = REQUIRED
    elif len(form.text) > MAX_TEXT:
        problems["text"] = TOO_LONG
    case = None
    if form.subject == "case":
        case = session.exec(select(Case).where(Case.receipt_no == form.receipt_no.upper())).first() \
            if form.receipt_no else None
        if case is None:
            problems["receipt_no"] = REQUIRED if not form.receipt_no else UNKNOWN_RECEIPT
    if form.subject == "department" and form.department_code not in department_names(get_state(session)):
        problems["department_code"] = REQUIRED if not form.department_code else UNKNOWN_DEPARTMENT
    if form.subject in ("point", "staff"):
        if not form.about_name:
            problems["about_name"] = REQUIRED
        elif len(form.about_name) > (128 if form.subject == "point" else 64):
            problems["about_name"] = TOO_LONG
    if not form.anonymous:
        if not (form.contact_name or form.contact_phone):
            problems["contact_name"] = NO_CONTACT
        elif len(form.contact_name) > 64:
            problems["contact_name"] = TOO_LONG
        if form.contact_phone and phone_problem(form.contact_phone):
            problems["contact_phone"] = phone_problem(form.contact_phone)
    return case, form.department_code if form.subject == "department" else ""


def take_complaint(session: Session, staff: str, form: ComplaintForm, *, identity: Identity,
                   staff_name: str = "") -> tuple[Complaint, str]:
    """Record a complaint and queue its sealed COMPLAINT envelope; return it and its code ("" when anonymous),
    which is shown once on the receipt and stored only hashed. Nothing is written when a field is wrong."""
    case, department = _check(session, form)
    if form.problems:
        raise ComplaintError("invalid_input", "some fields are missing or invalid", dict(form.problems))
    state = get_state(session)
    code = "" if form.anonymous else f"{secrets.randbelow(10 ** COMPLAINT_CODE_DIGITS):0{COMPLAINT_CODE_DIGITS}d}"
    complaint = Complaint(
        id=str(uuid7()), complaint_no=next_complaint_no(session, state.point_id, local_now().date()),
        channel=form.channel, category=form.category, subject=form.subject,
        about_case_id=case.id if case else "", about_receipt_no=case.receipt_no if case else "",
        department_code=department, about_name=form.about_name if form.subject in ("point", "staff") else "",
        anonymous=form.anonymous, contact_name="" if form.anonymous else form.contact_name,
        contact_phone="" if form.anonymous else form.contact_phone, text=form.text,
        code_hash=hash_password(code) if code else "", staff=staff, staff_name=staff_name[:64] or staff,
        taken_at=utcnow())
    session.add(complaint)
    audit.record(session, staff, "complaint_taken", complaint.id, complaint_no=complaint.complaint_no,
                 channel=complaint.channel, category=complaint.category, about=complaint.subject,
                 anonymous=complaint.anonymous)
    seal_into_outbox(session, state, identity, kind=Kind.COMPLAINT, payload=complaint_payload(complaint),
                     case_id=complaint.id, actor=staff)
    session.flush()
    return complaint, code


def complaint_payload(complaint: Complaint) -> dict:
    """The COMPLAINT payload of ``complaint`` (sync/messages.py)."""
    return FileComplaint(
        complaint_id=complaint.id, complaint_no=complaint.complaint_no, channel=complaint.channel,
        category=complaint.category, subject=complaint.subject, about_case_id=complaint.about_case_id,
        about_receipt_no=complaint.about_receipt_no, department_code=complaint.department_code,
        about_point=complaint.about_name if complaint.subject == "point" else "",
        about_staff=complaint.about_name if complaint.subject == "staff" else "", anonymous=complaint.anonymous,
        contact={"name": complaint.contact_name, "phone": complaint.contact_phone}, text=complaint.text,
        code_hash=complaint.code_hash, taken_at=complaint.taken_at, staff=complaint.staff,
        staff_name=complaint.staff_name,
    ).model_dump(mode="json")


def apply_complaint_answer(session: Session, payload: dict) -> Complaint:
    """The hub's word on a complaint this point took: it replaces what the point shows (the hub owns the answer).
    An older answer arriving after a newer one (they travel in order, but a bundle may repeat) changes nothing."""
    answer = ComplaintAnswer.model_validate(payload)
    complaint = session.get(Complaint, answer.complaint_id)
    if complaint is None:
        raise ValueError(f"answer names complaint {answer.complaint_id} which this point never took")
    at = as_utc(answer.at)
    if complaint.answered_at is not None and as_utc(complaint.answered_at) > at:
        return complaint
    complaint.hub_status, complaint.answered_at = answer.status, at
    complaint.department_name = answer.department or complaint.department_name
    complaint.reply_due = answer.reply_due or complaint.reply_due
    complaint.reply, complaint.result = answer.reply or complaint.reply, answer.result or complaint.result
    session.add(complaint)
    audit.record(session, audit.HUB_ACTOR, "complaint_answered", complaint.id, status=answer.status)
    return complaint


def complaints(session: Session, limit: int = 200) -> list[Complaint]:
    """The newest complaints taken here, open ones (not yet closed at the hub) first."""
    rows = session.exec(select(Complaint).order_by(Complaint.taken_at.desc()).limit(limit)).all()
    return sorted(rows, key=lambda row: row.hub_status == "closed")


def look_up_complaint(session: Session, complaint_no: str, code: str) -> Complaint:
    """The kiosk's check of a complaint number and its code. An unknown number, an anonymous complaint (it has no
    code) and a wrong code are refused alike (``wrong_code``): the kiosk tells no one which complaints exist.
    Wrong codes count towards a lock of the complaint's own (``locked``, as a receipt's at the kiosk)."""
    complaint = session.exec(select(Complaint).where(Complaint.complaint_no == complaint_no)).first()
    if complaint is None or not complaint.code_hash:
        verify_password(code or "", _no_complaint_hash())
        raise ComplaintError("wrong_code", "wrong complaint number or code")
    locked = as_utc(complaint.kiosk_locked_until)
    if locked is not None and locked > utcnow():
        raise ComplaintError("locked", "this complaint's lookup is locked for now")
    if not verify_password((code or "").strip(), complaint.code_hash):
        _wrong_try(session, complaint)
        raise ComplaintError("wrong_code", "wrong complaint number or code")
    complaint.kiosk_failures = 0
    session.add(complaint)
    return complaint


@cache
def _no_complaint_hash() -> str:
    """A code hash no complaint has, checked for an unknown number so that it costs what a known one does."""
    return hash_password(secrets.token_hex(8))


def _wrong_try(session: Session, complaint: Complaint) -> None:
    """Count a wrong code (locking the lookup at the fifth) and commit it: the refusal must not undo the count."""
    complaint.kiosk_failures += 1
    audit.record(session, "kiosk", "complaint_kiosk_failed", complaint.id, tries=complaint.kiosk_failures)
    if complaint.kiosk_failures >= MAX_PICKUP_TRIES:
        complaint.kiosk_failures, complaint.kiosk_locked_until = 0, utcnow() + PICKUP_LOCK
    session.add(complaint)
    session.commit()


def is_complaint_no(typed: str) -> bool:
    """Does what a resident typed at the kiosk (normalized) read as a complaint number rather than a receipt's?"""
    return typed.startswith("T-")
