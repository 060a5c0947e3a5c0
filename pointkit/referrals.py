"""转办: a matter this window cannot handle, referred to another point or a department (首问责任制).

The clerk the resident asked first stays responsible: she records who the resident is, what she came for,
where she is sent and why, and hands over a referral slip (转办单) naming herself and her post as the
first-contact person (首问责任人). The referral is checked whole before anything is written; the row, its
sealed REFERRAL envelope and the audit entry are one transaction, so a referral made offline reaches the hub
like a case, through the outbox, the township or a USB bundle. A clerk where the resident then applies types
the slip's number on intake, and the hub links that case to this referral.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date

from sqlmodel import Session, select

from sync.clock import utcnow, uuid7
from sync.envelope import Kind
from sync.keys import Identity
from sync.kit.idnumber import id_number_problem, normalize_id_number
from sync.messages import ReferCase

from . import audit
from .catalog import department_names, get_item
from .intake import REQUIRED, TOO_LONG, next_number, phone_problem, point_code
from .models import REFERRAL_TARGETS, Outbox, Referral
from .outbox import seal_into_outbox
from .state import get_state, local_now

NOT_AN_ITEM = "not a service item of the catalog"
NOT_A_DEPARTMENT = "not a department of the catalog"
MATTER_OR_ITEM = "choose the item or describe the matter"
NOT_A_TARGET = "choose a department or another point"
# How long each typed text may be (the columns and ReferCase agree).
LIMITS = {"resident_name": 64, "matter": 500, "to_name": 128, "reason": 500}


@dataclass
class ReferralInput:
    """A referral as typed at the window (or sent to the API)."""

    resident_name: str
    resident_phone: str = ""
    resident_id_number: str = ""
    item_code: str = ""
    matter: str = ""
    to_kind: str = ""
    to_code: str = ""
    to_name: str = ""
    reason: str = ""


# The form's inputs (and the API's fields): one per field of a referral as typed.
REFERRAL_INPUTS = tuple(spec.name for spec in fields(ReferralInput))


@dataclass(eq=False)
class ReferralError(Exception):
    """Why a referral cannot be recorded: ``fields`` maps an input to an English problem the pages translate."""

    fields: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return "some fields are missing or invalid: " + ", ".join(f"{name} ({problem})"
                                                                   for name, problem in self.fields.items())


def check_referral(session: Session, typed: ReferralInput) -> ReferralInput:
    """The referral with its texts trimmed and its ID number normalized, or ReferralError naming each problem."""
    clean = ReferralInput(**{name: str(value or "").strip() for name, value in vars(typed).items()})
    clean.resident_id_number = normalize_id_number(clean.resident_id_number)
    problems: dict[str, str] = {}
    for name, limit in LIMITS.items():
        if len(getattr(clean, name)) > limit:
            problems[name] = TOO_LONG
    if not clean.resident_name:
        problems["resident_name"] = REQUIRED
    if clean.resident_phone and phone_problem(clean.resident_phone):
        problems["resident_phone"] = phone_problem(clean.resident_phone)
    if clean.resident_id_number and id_number_problem(clean.resident_id_number):
        problems["resident_id_number"] = id_number_problem(clean.resident_id_number)
    if clean.item_code and get_item(session, clean.item_code) is None:
        problems["item_code"] = NOT_AN_ITEM
    if not (clean.item_code or clean.matter):
        problems["matter"] = MATTER_OR_ITEM
    if clean.to_kind not in REFERRAL_TARGETS:
        problems["to_kind"] = NOT_A_TARGET
    elif clean.to_kind == "department":
        if not clean.to_code:
            problems["to_code"] = REQUIRED
        elif clean.to_code not in department_names(get_state(session)):
            problems["to_code"] = NOT_A_DEPARTMENT
    elif not clean.to_name:
        problems["to_name"] = REQUIRED
    if not clean.reason:
        problems["reason"] = REQUIRED
    if problems:
        raise ReferralError(problems)
    return clean


def next_slip_no(session: Session, point_id: str, day: date) -> str:
    """转办 slip numbers: ``ZB-`` and then the shape of a receipt number, counted on their own."""
    return next_number(session, Referral.slip_no, f"ZB-{day:%Y%m%d}-{point_code(point_id)}-")


def refer(session: Session, staff: str, typed: ReferralInput, *, identity: Identity, staff_name: str,
          staff_post: str) -> Referral:
    """Record a referral made by ``staff`` (named ``staff_name``, post ``staff_post``) and queue it sealed for the
    hub; return it. Nothing is written when a field is wrong (ReferralError)."""
    clean = check_referral(session, typed)
    state = get_state(session)
    item = get_item(session, clean.item_code) if clean.item_code else None
    if clean.to_kind == "department":
        clean.to_name = department_names(state)[clean.to_code]["name_zh"]
    else:
        clean.to_code = ""
    referral = Referral(
        id=str(uuid7()), slip_no=next_slip_no(session, state.point_id, local_now().date()),
        resident_name=clean.resident_name, resident_phone=clean.resident_phone,
        resident_id_number=clean.resident_id_number, item_code=clean.item_code,
        item_name=item.name_zh if item else "", matter=clean.matter, to_kind=clean.to_kind, to_code=clean.to_code,
        to_name=clean.to_name, reason=clean.reason, staff=staff, staff_name=staff_name.strip()[:64] or staff,
        staff_post=staff_post.strip()[:64], referred_at=utcnow())
    payload = ReferCase(
        referral_id=referral.id, slip_no=referral.slip_no,
        resident={"name": referral.resident_name, "phone": referral.resident_phone,
                  "id_number": referral.resident_id_number},
        item_code=referral.item_code, matter=referral.matter, to_kind=referral.to_kind, to_code=referral.to_code,
        to_name=referral.to_name, reason=referral.reason, first_contact_name=referral.staff_name,
        first_contact_post=referral.staff_post, staff=staff, referred_at=referral.referred_at,
    ).model_dump(mode="json")
    row = seal_into_outbox(session, state, identity, kind=Kind.REFERRAL, payload=payload, actor=staff)
    referral.envelope_id = row.envelope_id
    session.add(referral)
    audit.record(session, staff, "referral_made", referral.id, slip_no=referral.slip_no, to_kind=referral.to_kind,
                 to_code=referral.to_code, item_code=referral.item_code)
    session.flush()
    return referral


@dataclass(frozen=True)
class ReferralRow:
    """A referral as the list shows it, with where its envelope stands ("queued", "acked", "quarantined")."""

    referral: Referral
    sync_state: str


def list_referrals(session: Session, limit: int = 500) -> list[ReferralRow]:
    """Referrals made here, newest first, each with its envelope's state."""
    referrals = session.exec(select(Referral).order_by(Referral.referred_at.desc()).limit(limit)).all()
    ids = [referral.envelope_id for referral in referrals]
    states = dict(session.exec(select(Outbox.envelope_id, Outbox.state).where(Outbox.envelope_id.in_(ids))).all())
    return [ReferralRow(referral, states.get(referral.envelope_id, "queued")) for referral in referrals]
