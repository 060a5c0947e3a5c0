"""Handing a result over at the window (办结).

The resident proves who they are with the pickup code from the receipt and
the last four characters of their ID number; the point re-checks the hub's
signature on the stored result before it prints anything, so a result
edited in the local database is never handed over.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass

from sqlmodel import Session, select

from sync import CaseCollected, Identity, Kind, SignatureError, verify_document, verify_password
from sync.clock import utcnow

from .models import Case
from .outbox import seal_into_outbox
from .state import get_state, hub_keys


@dataclass(eq=False)
class PickupError(Exception):
    """Why a result cannot be handed over; ``reason`` is the API's stable word."""

    reason: str
    message: str

    def __str__(self) -> str:
        return self.message


def find_case(session: Session, receipt_or_case_id: str) -> Case | None:
    key = (receipt_or_case_id or "").strip()
    if not key:
        return None
    return session.get(Case, key) or session.exec(select(Case).where(Case.receipt_no == key)).first()


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
        document = verify_document(signed, hub_keys(get_state(session)).verifier())
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
    can be guessed separately.
    """
    case = find_case(session, receipt_or_case_id)
    if case is None:
        raise PickupError("not_found", "no case with this receipt number")
    if case.status == "collected":
        raise PickupError("not_ready", "this result was already collected")
    if case.status != "result_ready":
        raise PickupError("not_ready", "the result for this case has not arrived yet")
    code_ok = verify_password((pickup_code or "").strip(), case.pickup_code_hash)
    last4_ok = hmac.compare_digest((id_last4 or "").strip().upper().encode(), case.id_number[-4:].upper().encode())
    if not (code_ok and last4_ok):
        raise PickupError("wrong_pickup_code", "the pickup code or the last four ID characters do not match")
    signed = verified_result(session, case)
    state = get_state(session)
    case.status = "collected"
    case.collected_at = utcnow()
    case.collected_by = staff
    payload = CaseCollected(case_id=case.id, collected_at=case.collected_at, staff=staff).model_dump(mode="json")
    session.add(case)
    seal_into_outbox(session, state, identity, kind=Kind.COLLECTED, payload=payload, case_id=case.id)
    session.flush()
    return case, signed
