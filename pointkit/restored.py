"""A point restored from an older backup gets back the cases its laptop took after that backup.

The restored point learns from the hub's numbers (its pull answers, its township's, a hub USB bundle) that
the hub holds envelopes from it with numbers it never used: the laptop it replaces sent them after the
backup. It numbers on past them (amend.resume_numbering) and asks the hub, once, for the cases those
envelopes received (COPY_REQUEST). The hub, which owns the record, answers with a copy of each case
(CASE_COPY) and then sends its messages about the case again, so the result arrives as it would have the
first time. The point never merges anything: a copy of a case it holds changes nothing.

A case stored from a copy has no pickup code here: the code is kept hashed on the laptop that printed the
receipt and never leaves it. Staff hand its result over on the resident's full ID number and a recorded
reason instead (pickup.collect_by_id_number).
"""

from __future__ import annotations

import json

from pydantic import ValidationError
from sqlmodel import Session, select

from sync.clock import utcnow
from sync.envelope import Kind
from sync.keys import Identity
from sync.messages import CaseCopy, CopyRequest

from . import audit
from .amend import resume_numbering
from .catalog import get_item
from .models import Case, InboxMessage, Outbox, PointState
from .outbox import seal_into_outbox


def take_hub_numbers(session: Session, state: PointState, identity: Identity, *, last_seq: int,
                     last_receipt: str) -> bool:
    """Number on from the highest envelope and receipt numbers the hub holds from this point; when the hub holds
    envelope numbers this point never used, ask for the cases they received. True when it asked."""
    skipped = resume_numbering(session, state, resume_seq=last_seq + 1, receipt_floor=last_receipt)
    if skipped:
        ask_for_copies(session, state, identity, skipped)
    return bool(skipped)


def ask_for_copies(session: Session, state: PointState, identity: Identity, skipped: range) -> Outbox:
    """Ask the hub for the cases this point's envelopes numbered ``skipped`` received (sent before its restore);
    call after the numbering moved past them, so the request takes a fresh number."""
    request = CopyRequest(from_seq=skipped.start, to_seq=skipped.stop - 1, asked_at=utcnow())
    audit.record(session, audit.SYSTEM_ACTOR, "copies_requested", state.point_id, from_seq=request.from_seq,
                 to_seq=request.to_seq)
    return seal_into_outbox(session, state, identity, kind=Kind.COPY_REQUEST, payload=request.model_dump(mode="json"))


def apply_case_copy(session: Session, payload: dict) -> Case:
    """Store a case the hub sent back as restored from the hub (no pickup code here); the hub's messages about it
    follow. Raises ValueError for a copy this point cannot store."""
    try:
        copy = CaseCopy.model_validate(payload)
    except ValidationError as exc:
        raise ValueError(f"case copy is malformed: {exc.error_count()} problem(s)") from None
    taken = copy.case
    held = session.get(Case, taken.case_id)
    if held is not None:
        return held
    if session.exec(select(Case.id).where(Case.receipt_no == taken.receipt_no)).first() is not None:
        raise ValueError(f"case copy names receipt {taken.receipt_no}, which another case here holds (given twice "
                         "after a restore); the county's conflict desk decides")
    item = get_item(session, taken.item_code)
    case = Case(
        id=taken.case_id, receipt_no=taken.receipt_no, item_code=taken.item_code,
        item_name=copy.item_name or (item.name_zh if item else taken.item_code),
        applicant_name=taken.applicant.name, id_number=taken.applicant.id_number.upper(),
        phone=taken.applicant.phone, form_json=json.dumps(taken.form, ensure_ascii=False),
        materials_json=json.dumps(taken.materials), pickup_code_hash="", status="acked",
        received_at=taken.received_at, promised_date=taken.promised_date, staff=taken.staff,
        staff_name=taken.first_contact_name or taken.staff, staff_post=taken.first_contact_post,
        referral_no=taken.referral_no, hub_version=copy.version, restored_at=utcnow())
    if copy.closed_at is not None:
        # Handed over on the old laptop: never again here.
        case.status, case.collected_at = "collected", copy.closed_at
    session.add(case)
    # What this point refused about the case before the copy came is sent again after it: no longer a refusal.
    for refused in session.exec(select(InboxMessage).where(InboxMessage.case_id == case.id,
                                                           InboxMessage.outcome == "refused")).all():
        refused.outcome = "resent"
        session.add(refused)
    audit.record(session, audit.HUB_ACTOR, "case_restored", case.id, receipt_no=case.receipt_no,
                 status=case.status)
    return case
