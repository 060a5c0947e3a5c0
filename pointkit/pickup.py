"""Handing a result over at the window (办结).

The resident proves who they are with the pickup code from the receipt and
the last four characters of their ID number; the point re-checks the hub's
signature on the stored result before it prints anything, so a result
edited in the local database is never handed over. Five wrong tries lock
that case's pickup for 15 minutes, even for the right code; every wrong try
and every lock is in the audit log.

Without the pickup code (a lost receipt, a forgotten code, or a case the hub
sent back to a point restored from an older backup, which has no pickup code
here: pointkit/restored.py) staff check the resident's full ID number against
the applicant's instead and record why; the handover, its reason and who made
it go into the audit chain (the ID number never does).

The residents' kiosk checks pickup codes too, on a counter of its own: five
wrong codes typed there lock the kiosk for that case, never the staff desk.
"""

from __future__ import annotations

import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import get_args

from sqlmodel import Session, select

from sync.clock import utcnow
from sync.envelope import Kind
from sync.keys import Identity
from sync.kit.idnumber import normalize_id_number
from sync.kit.passwords import verify_password
from sync.messages import CaseCollected, RateCase
from sync.signing import SignatureError

from . import audit
from .intake import point_code
from .models import Case
from .outbox import seal_into_outbox
from .progress import COLLECTED_HERE
from .schemas import IdCheckReason
from .state import as_utc, get_state
from .trust import verify_hub_document

MAX_PICKUP_TRIES = 5
PICKUP_LOCK = timedelta(minutes=15)
ID_CHECK_REASONS: tuple[str, ...] = get_args(IdCheckReason)
ID_CHECK_NOTE_MAX = 200


@dataclass(eq=False)
class PickupError(Exception):
    """Why a result cannot be handed over; ``reason`` is the API's stable word.

    ``unlocks_at`` is set when the reason is ``pickup_locked``; ``tries_left`` after a wrong try that did not lock.
    """

    reason: str
    message: str
    unlocks_at: datetime | None = None
    tries_left: int | None = None

    def __str__(self) -> str:
        return self.message


def find_case(session: Session, receipt_or_case_id: str) -> Case | None:
    key = (receipt_or_case_id or "").strip()
    if not key:
        return None
    return session.get(Case, key) or session.exec(select(Case).where(Case.receipt_no == key)).first()


def held_at_hub(session: Session, receipt_no: str) -> bool:
    """Is ``receipt_no``, which the caller just found no case for, one this point gave? That is a point restored
    from an older backup: the number is this point's and no newer than the newest the hub holds from it (what
    its pull answers name), and the case is safe at the county, which can hand its result over."""
    state = get_state(session)
    key = (receipt_no or "").strip()
    ours = re.fullmatch(rf"\d{{8}}-{re.escape(point_code(state.point_id))}-\d{{4,}}", key)
    return bool(ours) and bool(state.receipt_floor) and key <= state.receipt_floor


def search_cases(session: Session, query: str) -> list[Case]:
    """Cases for the pickup desk: by receipt number (typed, or read from the receipt's QR code), case id,
    or the resident's ID number (all her cases, results waiting first)."""
    key = (query or "").strip().upper()[:64]
    found = find_case(session, key)
    if found is not None:
        return [found]
    if len(key) not in (15, 18):
        return []
    cases = session.exec(select(Case).where(Case.id_number == key).order_by(Case.received_at.desc())).all()
    return sorted(cases, key=lambda case: case.status != "result_ready")


def signed_result(case: Case) -> dict | None:
    if not case.result_document:
        return None
    return {"document": json.loads(case.result_document), "signature": case.result_signature}


def verified_result(session: Session, case: Case) -> dict:
    """The case's result document, re-verified against the pinned hub key right now."""
    signed = signed_result(case)
    if signed is None:
        raise PickupError("not_ready", "no result has arrived for this case yet")
    try:
        document = verify_hub_document(session, get_state(session), signed)
    except SignatureError:
        raise PickupError("result_invalid", "the stored result does not carry a valid hub signature; "
                                            "do not hand it over, ask the county hub to resend it") from None
    if document.get("case_id") != case.id or document.get("receipt_no") != case.receipt_no:
        raise PickupError("result_invalid", "the stored result belongs to another case")
    return signed


def collect(session: Session, staff: str, receipt_or_case_id: str, pickup_code: str, id_last4: str, *,
            identity: Identity) -> tuple[Case, dict]:
    """Hand the result over; return the case and its verified signed result.

    A wrong pickup code and wrong ID digits get the same answer, so neither
    can be guessed separately. A wrong try is committed before the refusal is
    raised, so the count and its audit entries survive the caller's rollback.
    """
    case = _waiting_case(session, receipt_or_case_id)
    if case.restored_at is not None:
        raise PickupError("no_pickup_code_here", "this case was restored from the county hub and has no pickup code "
                                                 "here; check the resident's full ID number instead")
    code_ok = verify_password((pickup_code or "").strip(), case.pickup_code_hash)
    last4_ok = hmac.compare_digest((id_last4 or "").strip().upper().encode(), case.id_number[-4:].upper().encode())
    if not (code_ok and last4_ok):
        raise _wrong_try(session, case, staff)
    return case, _hand_over(session, case, staff, identity, "case_collected")


def collect_by_id_number(session: Session, staff: str, receipt_or_case_id: str, id_number: str, reason: str,
                         note: str = "", *, identity: Identity) -> tuple[Case, dict]:
    """Hand a result over without its pickup code: the resident's full ID number must be the applicant's, and staff
    say why (one of ID_CHECK_REASONS; "other" with a note; "restored_no_code" only for a case the county hub sent
    back to this restored point, which has no pickup code here).

    Wrong ID numbers count towards the staff desk's lock, as wrong pickup codes do (the kiosk's lock is its own).
    The audit entry names the staff member, the case, the reason and the note, never the ID number.
    """
    case = _waiting_case(session, receipt_or_case_id)
    note = (note or "").strip()[:ID_CHECK_NOTE_MAX]
    if reason == "restored_no_code" and case.restored_at is None:
        raise PickupError("reason_required", "this case was received here, so its pickup code can be checked: "
                                             "choose why the resident cannot give it")
    if reason not in ID_CHECK_REASONS or (reason == "other" and not note):
        raise PickupError("reason_required", "choose why the result is handed over without a pickup code "
                                             "(for another reason, write it)")
    typed = normalize_id_number(id_number or "")
    if len(typed) not in (15, 18):
        raise PickupError("id_number_incomplete", "type the whole ID number from the resident's ID card")
    if not hmac.compare_digest(typed.encode(), case.id_number.upper().encode()):
        raise _wrong_try(session, case, staff, "wrong_id_number")
    return case, _hand_over(session, case, staff, identity, "case_collected_by_id_check", reason=reason, note=note)


def _waiting_case(session: Session, receipt_or_case_id: str) -> Case:
    """The case whose result waits here for the resident, unless its pickup is locked."""
    case = find_case(session, receipt_or_case_id)
    if case is None:
        raise PickupError("not_found", "no case with this receipt number")
    if case.status == "collected":
        raise PickupError("not_ready", "this result was already collected")
    if case.status == "collected_elsewhere":
        raise PickupError("collected_elsewhere", "this result was already collected at another service point")
    if case.status == COLLECTED_HERE:
        raise PickupError(COLLECTED_HERE, "this result was already collected here with the resident's other receipt")
    if case.status != "result_ready":
        raise PickupError("not_ready", "the result for this case has not arrived yet")
    unlocks_at = pickup_locked_until(case)
    if unlocks_at is not None:
        raise PickupError("pickup_locked", locked_message(unlocks_at), unlocks_at)
    return case


@dataclass(frozen=True)
class _Counter:
    """Where wrong tries are counted: the staff desk's fields, or the kiosk's own."""

    failures: str
    locked_until: str
    audit_prefix: str


_DESK = _Counter("pickup_failures", "pickup_locked_until", "pickup")
_KIOSK = _Counter("kiosk_failures", "kiosk_locked_until", "kiosk")


def _hand_over(session: Session, case: Case, staff: str, identity: Identity, action: str, **detail: str) -> dict:
    """Mark ``case`` collected by ``staff``, audit it as ``action`` with ``detail`` and queue COLLECTED for the hub;
    return its re-verified result."""
    case.pickup_failures, case.pickup_locked_until = 0, None
    case.kiosk_failures, case.kiosk_locked_until = 0, None
    signed = verified_result(session, case)
    case.status = "collected"
    case.collected_at = utcnow()
    case.collected_by = staff
    payload = CaseCollected(case_id=case.id, collected_at=case.collected_at, staff=staff).model_dump(mode="json")
    session.add(case)
    audit.record(session, staff, action, case.id, receipt_no=case.receipt_no, **detail)
    seal_into_outbox(session, get_state(session), identity, kind=Kind.COLLECTED, payload=payload, case_id=case.id,
                     actor=staff)
    session.flush()
    return signed


def check_pickup_code(session: Session, case: Case, pickup_code: str, actor: str) -> None:
    """The kiosk's check of receipt plus pickup code, on the kiosk's own counter: five wrong codes there lock the
    kiosk for this case, never the staff desk (staff can still hand the result over)."""
    unlocks_at = pickup_locked_until(case, _KIOSK)
    if unlocks_at is not None:
        raise PickupError("pickup_locked", locked_message(unlocks_at), unlocks_at)
    if case.restored_at is not None:
        raise PickupError("no_pickup_code_here", "this case was restored from the county hub; its pickup code "
                                                 "cannot be checked here")
    if not verify_password((pickup_code or "").strip(), case.pickup_code_hash):
        raise _wrong_try(session, case, actor, counter=_KIOSK)
    case.kiosk_failures = 0
    session.add(case)


def rate(session: Session, staff: str, case: Case, score: int, comment: str, *, identity: Identity) -> Case:
    """好差评 after pickup: one rating, 1 to 5, sent to the hub (1 and 2 are followed up there)."""
    if case.status != "collected":
        raise PickupError("not_collected", "a case is rated after the result was handed over")
    if case.rating:
        raise PickupError("already_rated", "this case was already rated")
    if not 1 <= score <= 5:
        raise PickupError("bad_score", "the rating is 1 (very bad) to 5 (very good)")
    case.rating, case.rating_comment = score, comment.strip()[:500]
    payload = RateCase(case_id=case.id, score=score, comment=case.rating_comment, rated_at=utcnow())
    session.add(case)
    audit.record(session, staff, "case_rated", case.id, score=score)
    seal_into_outbox(session, get_state(session), identity, kind=Kind.RATE, payload=payload.model_dump(mode="json"),
                     case_id=case.id, actor=staff)
    session.flush()
    return case


def pickup_locked_until(case: Case, counter: _Counter = _DESK) -> datetime | None:
    """When this case's pickup at the staff desk (or at the kiosk) unlocks, or None if it is not locked now."""
    until = as_utc(getattr(case, counter.locked_until))
    return until if until is not None and until > utcnow() else None


def unlock_minute(unlocks_at: datetime) -> datetime:
    """The minute a lock is surely over, for people: 10:31:20 is said as 10:32 (never a time it is still locked)."""
    whole = unlocks_at.replace(second=0, microsecond=0)
    return whole if whole == unlocks_at else whole + timedelta(minutes=1)


def locked_message(unlocks_at: datetime) -> str:
    return (f"pickup of this case is locked after {MAX_PICKUP_TRIES} wrong tries until "
            f"{unlock_minute(unlocks_at).astimezone(timezone.utc).isoformat(timespec='minutes')}; check the receipt "
            "and ID card with the resident and try again then")


_WRONG_TRY = {"wrong_pickup_code": "the pickup code or the last four ID characters do not match",
              "wrong_id_number": "the ID number is not the applicant's"}


def _wrong_try(session: Session, case: Case, staff: str, reason: str = "wrong_pickup_code", *,
               counter: _Counter = _DESK) -> PickupError:
    """Count a wrong try on ``counter`` (locking it at the fifth), commit it, and return the refusal to raise: it
    says how many tries are left before the lock."""
    failures = getattr(case, counter.failures) + 1
    setattr(case, counter.failures, failures)
    audit.record(session, staff, f"{counter.audit_prefix}_failed", case.id, tries=failures)
    left = MAX_PICKUP_TRIES - failures
    refusal = PickupError(reason, f"{_WRONG_TRY[reason]}; {left} more wrong tries lock it", tries_left=left)
    if failures >= MAX_PICKUP_TRIES:
        unlocks_at = utcnow() + PICKUP_LOCK
        setattr(case, counter.failures, 0)
        setattr(case, counter.locked_until, unlocks_at)
        audit.record(session, staff, f"{counter.audit_prefix}_locked", case.id,
                     until=unlocks_at.isoformat(timespec="seconds"))
        refusal = PickupError("pickup_locked", locked_message(unlocks_at), unlocks_at)
    session.add(case)
    session.commit()
    return refusal
