"""受理: receive an application at the window, print its receipt, queue it sealed for the hub.

Everything is checked before anything is written: a refused application
leaves no row behind. The case row, its SUBMIT envelope and the bumped
sequence number are one transaction. An application whose only fault is
missing required materials gets a one-time notice (一次性告知书) instead,
recorded and audited, so the resident comes back once with everything.
"""

from __future__ import annotations

import json
import math
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlmodel import Session, select

from sync.catalog import FormField, ServiceItem
from sync.clock import utcnow, uuid7
from sync.envelope import Kind
from sync.keys import Identity
from sync.kit.idnumber import id_number_problem, normalize_id_number
from sync.kit.passwords import hash_password
from sync.kit.workdays import Calendar
from sync.messages import RECEIPT_MAX, SubmitCase

from . import audit
from .calendar import point_calendar
from .catalog import get_item
from .certificates import SpareRefused, record_spared, spared_materials
from .models import Case, OneTimeNotice, PointState, Precheck
from .outbox import seal_into_outbox
from .prechecks import files_of, mark_taken
from .progress import COLLECTED_HERE
from .scans import PreparedScan, attach_scans
from .state import get_state, local_now

PICKUP_CODE_DIGITS = 6
MAX_TEXT = 200
PHONE_PATTERN = re.compile(r"^1\d{10}$")
# What is wrong with a field, in English (the API's "fields", logs); pages show them in their own language
# (pointkit/i18n.py), and an ID number's problems are sync/idnumber.py's.
REQUIRED = "required"
TOO_LONG = "too long"
NOT_A_NUMBER = "must be a number"
NOT_A_DATE = "must be a date (YYYY-MM-DD)"
NOT_A_CHOICE = "choose one of the listed options"
NOT_A_PHONE = "must be 11 digits starting with 1"
NOT_A_FIELD = "not a field of this item"
MATERIALS_MISSING = "required materials are missing"
SCANNED_SPARED = "this material is marked as not handed over (e-certificate): attach no scan for it"
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
LEVEL_ORDER = ("village", "township", "county")
# A case in these states (here or at the hub) is over: applying again for the same item is no repeat.
FINISHED_STATUSES = ("collected", "collected_elsewhere", COLLECTED_HERE, "withdrawn")
FINISHED_HUB_STATES = ("withdrawal_sent", "withdrawn", "merged", "refused", "closed", "collected_elsewhere")


@dataclass
class Applicant:
    """The resident as entered at the window."""

    name: str
    id_number: str
    phone: str = ""


@dataclass(eq=False)
class IntakeError(Exception):
    """Why an application cannot be received; ``reason`` is the API's stable word.

    ``fields`` maps a field path (``applicant.name``, ``form.<name>``,
    ``materials``) to an English message the pages translate; ``missing``
    lists required materials not ticked (the one-time notice is printed from it); ``repeat_of`` is the open
    application a ``repeat_application`` repeats.
    """

    reason: str
    message: str
    fields: dict[str, str] = field(default_factory=dict)
    missing: list[dict[str, str]] = field(default_factory=list)
    levels: list[str] = field(default_factory=list)
    # The resident's open application for the same item here (``repeat_application``).
    repeat_of: Case | None = None

    def __str__(self) -> str:
        return self.message


def phone_problem(value: str) -> str | None:
    return None if PHONE_PATTERN.match(value) else NOT_A_PHONE


def field_problem(spec: FormField, value: str) -> str | None:
    """None when ``value`` suits the item's form field, else an English message."""
    if not value:
        return REQUIRED if spec.required else None
    if len(value) > MAX_TEXT:
        return TOO_LONG
    if spec.type == "number":
        try:
            number = float(value)
        except ValueError:
            return NOT_A_NUMBER
        return None if math.isfinite(number) else NOT_A_NUMBER
    if spec.type == "date":
        try:
            date.fromisoformat(value)
        except ValueError:
            return NOT_A_DATE
        return None if DATE_PATTERN.match(value) else NOT_A_DATE
    if spec.type == "choice":
        return None if value in spec.choices else NOT_A_CHOICE
    if spec.type == "id_number":
        return id_number_problem(value)
    if spec.type == "phone":
        return phone_problem(value)
    return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value).strip()


def level_refusal(item: ServiceItem, level: str) -> IntakeError | None:
    """Why a point of ``level`` cannot receive ``item`` (naming the levels that can), or None."""
    if level in item.levels:
        return None
    accepted = [name for name in LEVEL_ORDER if name in item.levels]
    return IntakeError("not_accepted_here", f"not accepted at this level — go to {', '.join(accepted)}",
                       levels=accepted)


def check_application(item: ServiceItem, level: str, applicant: Applicant, form: dict[str, Any],
                      materials: list[str]) -> tuple[Applicant, dict[str, str], list[str]]:
    """Validate everything; return the normalized applicant, form and materials or raise IntakeError."""
    refusal = level_refusal(item, level)
    if refusal:
        raise refusal
    problems: dict[str, str] = {}
    name = _text(applicant.name)
    if not name:
        problems["applicant.name"] = REQUIRED
    elif len(name) > 64:
        problems["applicant.name"] = TOO_LONG
    id_number = normalize_id_number(_text(applicant.id_number))
    id_issue = id_number_problem(id_number) if id_number else REQUIRED
    if id_issue:
        problems["applicant.id_number"] = id_issue
    phone = _text(applicant.phone)
    if phone and phone_problem(phone):
        problems["applicant.phone"] = phone_problem(phone)

    specs = {spec.name: spec for spec in item.fields}
    clean_form: dict[str, str] = {}
    for key in form:
        if key not in specs:
            problems[f"form.{key}"] = NOT_A_FIELD
    for spec in item.fields:
        value = _text(form.get(spec.name))
        if spec.type == "id_number":
            value = normalize_id_number(value)
        issue = field_problem(spec, value)
        if issue:
            problems[f"form.{spec.name}"] = issue
        elif value:
            clean_form[spec.name] = value

    known = {material.code for material in item.materials}
    ticked = [code for code in dict.fromkeys(_text(code) for code in materials) if code]
    unknown = [code for code in ticked if code not in known]
    if unknown:
        problems["materials"] = "not a material of this item: " + ", ".join(unknown)
    # The whole material (form, copies, seal, note): the one-time notice tells what a correct one looks like.
    missing = [{**m.model_dump(), "name_en": m.name_en or m.name_zh}
               for m in item.materials if m.required and m.code not in ticked]

    if problems:
        raise IntakeError("invalid_input", "some fields are missing or invalid", problems, missing)
    if missing:
        raise IntakeError("materials_missing", "required materials are missing: "
                          + ", ".join(m["name_en"] for m in missing),
                          {"materials": MATERIALS_MISSING}, missing)
    return Applicant(name, id_number, phone), clean_form, ticked


def promised_date(calendar: Calendar, item: ServiceItem, received_on: date) -> date:
    """The promised completion date: ``promised_days`` after the day of intake in the unit the item's rule states,
    working days or natural days (a natural-day period ending on a rest day ends on the next working day)."""
    return calendar.period_end(received_on, item.promised_days, item.promised_unit)


def point_code(point_id: str) -> str:
    """Six characters naming the point on receipts (the random tail of its id)."""
    return point_id.replace("-", "")[-6:].upper()


def next_receipt_no(session: Session, state: PointState, day: date) -> str:
    """The day's next receipt number: after this point's own, and after the newest the hub holds from it (a
    point restored from an old backup lacks the cases it took since; the hub names the newest on each pull)."""
    return next_number(session, Case.receipt_no, f"{day:%Y%m%d}-{point_code(state.point_id)}-",
                        also=state.receipt_floor)


def next_notice_no(session: Session, point_id: str, day: date) -> str:
    """告知 numbers: ``GZ-`` and then the shape of a receipt number, counted separately."""
    return next_number(session, OneTimeNotice.notice_no, f"GZ-{day:%Y%m%d}-{point_code(point_id)}-")


def next_number(session: Session, column: Any, prefix: str, also: str = "") -> str:
    """The next number after the highest of ``column`` (and ``also``) that starts with ``prefix``: receipts,
    notices and referral slips are numbered per day and point, and a printed number is never given twice."""
    numbers = [*session.exec(select(column).where(column.startswith(prefix))).all(),
               *([also] if also.startswith(prefix) else [])]
    highest = max((int(n[len(prefix):]) for n in numbers if n[len(prefix):].isdigit()), default=0)
    return f"{prefix}{highest + 1:04d}"


def new_pickup_code() -> str:
    return f"{secrets.randbelow(10 ** PICKUP_CODE_DIGITS):0{PICKUP_CODE_DIGITS}d}"


def receive_case(session: Session, staff: str, item_code: str, applicant: Applicant, form: dict[str, Any],
                 materials: list[str], *, identity: Identity, scans: Sequence[PreparedScan] = (),
                 staff_name: str = "", staff_post: str = "", repeat_reason: str = "",
                 referral_no: str = "", certificates: dict[str, str] | None = None,
                 precheck: Precheck | None = None) -> tuple[Case, str]:
    """Receive one application: validate, store the case, queue its sealed SUBMIT envelope.

    ``scans`` were sealed to disk by ``pointkit.scans.prepare_scans``; their
    keys go inside the SUBMIT. ``staff_name`` is the clerk's real name the
    receipt prints (default: the login); with ``staff_post`` the clerk is named as the first-contact person
    (首问责任人) here and at the hub. ``referral_no`` is the referral slip the resident brought, if any (the hub
    links the case to that referral). When the resident has an open
    application for the same item here (``open_application``), the case keeps
    its receipt number and ``repeat_reason``, the clerk's word on why. ``certificates``: materials the clerk marked
    免提交 (material code -> the number of a certificate looked up for this resident, pointkit/certificates.py):
    they count as received, need no scan, and travel as references the hub checks again.
    its receipt number and ``repeat_reason``, the clerk's word on why. With ``precheck`` (网上预审) the SUBMIT names it
    and its files, which the hub attaches from its own store: the materials they show count as handed over.
    Returns the case and the pickup code, which is shown once and stored only hashed.
    """
    state = get_state(session)
    item = get_item(session, _text(item_code))
    if item is None:
        raise IntakeError("unknown_item", f"no service item with code {item_code!r} in the catalog")
    try:
        spared = spared_materials(session, item, _text(applicant.id_number), certificates or {})
    except SpareRefused as exc:
        raise IntakeError("invalid_input", "some fields are missing or invalid",
                          {f"certificates.{exc.material}": str(exc)}) from None
    materials = [*materials, *(ref.material for ref, _copy in spared)]
    precheck_files = []
    if precheck is not None:
        if precheck.item_code != item.code or precheck.status not in ("submitted", "answered"):
            raise IntakeError("invalid_input", "the pre-check is for another item, or taken in or expired already",
                              {"precheck_id": NOT_A_CHOICE})
        precheck_files = files_of(precheck)
        materials = list(dict.fromkeys([*materials, *(f.material for f in precheck_files if f.material)]))
    applicant, clean_form, ticked = check_application(item, state.level, applicant, form, materials)
    known = {material.code for material in item.materials}
    strays = sorted({p.scan.material for p in scans if p.scan.material and p.scan.material not in known})
    spared_codes = {ref.material for ref, _copy in spared}
    scanned_spared = sorted({p.scan.material for p in scans if p.scan.material in spared_codes})
    if scanned_spared:
        raise IntakeError("invalid_input", "some fields are missing or invalid",
                          {f"scans_{code}": SCANNED_SPARED for code in scanned_spared})
    if strays:
        raise IntakeError("invalid_input", "some fields are missing or invalid",
                          {"scans": "not a material of this item: " + ", ".join(strays)})

    referral_no = _text(referral_no)
    if len(referral_no) > RECEIPT_MAX:
        raise IntakeError("invalid_input", "some fields are missing or invalid", {"referral_no": TOO_LONG})
    received_at = utcnow()
    today = local_now().date()
    pickup_code = new_pickup_code()
    case = Case(
        id=str(uuid7()),
        receipt_no=next_receipt_no(session, state, today),
        item_code=item.code,
        item_name=item.name_zh,
        applicant_name=applicant.name,
        id_number=applicant.id_number,
        phone=applicant.phone,
        form_json=json.dumps(clean_form, ensure_ascii=False),
        materials_json=json.dumps(ticked),
        pickup_code_hash=hash_password(pickup_code),
        status="received",
        received_at=received_at,
        promised_date=promised_date(point_calendar(session), item, today),
        staff=staff,
        staff_name=_text(staff_name)[:64] or staff,
        staff_post=_text(staff_post)[:64],
        referral_no=referral_no,
    )
    earlier = open_application(session, applicant.id_number, item.code)
    if earlier is not None:
        case.duplicate_of, case.duplicate_reason = earlier.receipt_no, _text(repeat_reason)[:500]
    payload = SubmitCase(
        case_id=case.id, receipt_no=case.receipt_no, item_code=item.code,
        catalog_version=state.catalog_version,
        applicant={"name": applicant.name, "id_number": applicant.id_number, "phone": applicant.phone},
        form=clean_form, materials=ticked, received_at=received_at, promised_date=case.promised_date,
        staff=staff, scans=[p.scan for p in scans], clock_offset_ms=state.clock_offset_ms,
        first_contact_name=case.staff_name, first_contact_post=case.staff_post, referral_no=referral_no,
        certificates=[ref for ref, _copy in spared],
        precheck_id=precheck.id if precheck else "", precheck_scans=[f.file_id for f in precheck_files],
    ).model_dump(mode="json", exclude=(set() if scans else {"scans"}) | (set() if spared else {"certificates"})
                 | (set() if precheck else {"precheck_id", "precheck_scans"}))
    session.add(case)
    if precheck is not None:
        mark_taken(session, precheck, case.id)
    attach_scans(session, case.id, list(scans))
    record_spared(session, case.id, spared)
    audit.record(session, staff, "case_received", case.id, receipt_no=case.receipt_no, item_code=item.code,
                 first_contact=[case.staff_name, case.staff_post],
                 **({"repeat_of": case.duplicate_of, "repeat_reason": case.duplicate_reason}
                    if case.duplicate_of else {}),
                 **({"referral_no": referral_no} if referral_no else {}))
    seal_into_outbox(session, state, identity, kind=Kind.SUBMIT, payload=payload, case_id=case.id, actor=staff)
    case.status = "queued"
    session.flush()
    return case, pickup_code


def issue_notice(session: Session, staff: str, item_code: str, applicant: Applicant, form: dict[str, Any],
                 materials: list[str], *, staff_name: str = "", staff_post: str = "") -> OneTimeNotice:
    """Record the one-time notice for an application whose only fault is missing required materials.

    Anything else wrong (a bad ID number, an item not accepted here) raises
    the IntakeError ``receive_case`` would; a complete application raises
    ``nothing_missing``, so a notice is never issued for one that could be received.
    """
    state = get_state(session)
    item = get_item(session, _text(item_code))
    if item is None:
        raise IntakeError("unknown_item", f"no service item with code {item_code!r} in the catalog")
    try:
        check_application(item, state.level, applicant, form, materials)
    except IntakeError as exc:
        if exc.reason != "materials_missing":
            raise
        missing = exc.missing
    else:
        raise IntakeError("nothing_missing", "every required material is there; receive the application instead")
    notice = OneTimeNotice(
        id=str(uuid7()), notice_no=next_notice_no(session, state.point_id, local_now().date()),
        item_code=item.code, item_name=item.name_zh, applicant_name=_text(applicant.name),
        id_number=normalize_id_number(_text(applicant.id_number)),
        missing_json=json.dumps(missing, ensure_ascii=False), staff=staff,
        staff_name=_text(staff_name)[:64] or staff, staff_post=_text(staff_post)[:64], issued_at=utcnow())
    session.add(notice)
    audit.record(session, staff, "notice_issued", notice.id, notice_no=notice.notice_no, item_code=item.code,
                 missing=[material["code"] for material in missing])
    session.flush()
    return notice


def open_application(session: Session, id_number: str, item_code: str) -> Case | None:
    """The latest application of this resident for this item received here that is still open: not collected,
    withdrawn, merged away or refused. Intake warns the clerk of it before she receives the same one again."""
    id_number = normalize_id_number(_text(id_number))
    if not id_number:
        return None
    candidates = session.exec(select(Case).where(Case.id_number == id_number, Case.item_code == item_code,
                                                 Case.status.not_in(FINISHED_STATUSES))  # type: ignore[attr-defined]
                              .order_by(Case.received_at.desc())).all()
    return next((case for case in candidates if case.hub_status not in FINISHED_HUB_STATES), None)


def previous_application(session: Session, id_number: str) -> Case | None:
    """The latest case received here for this resident ID number, if any."""
    id_number = normalize_id_number(_text(id_number))
    if not id_number:
        return None
    return session.exec(select(Case).where(Case.id_number == id_number)
                        .order_by(Case.received_at.desc()).limit(1)).first()


def prefill_values(previous: Case, item: ServiceItem) -> dict[str, str]:
    """Page values from an earlier application: the applicant, and any field of ``item`` it answered validly."""
    values = {"applicant_name": previous.applicant_name, "applicant_id_number": previous.id_number,
              "applicant_phone": previous.phone}
    answered = json.loads(previous.form_json)
    for spec in item.fields:
        value = _text(answered.get(spec.name))
        if value and field_problem(spec, value) is None:
            values[f"field_{spec.name}"] = value
    return values
