"""Applying what the hub sends back: results (signed certificates), status updates, hub key rotations, copies of
cases a restored point lacks (pointkit/restored.py), the answers to complaints (pointkit/complaints.py) and the
residents' pre-checks (pointkit/prechecks.py).

Every message is checked against the hub keys this point trusts (pinned at
enrollment or announced since) before it touches anything: the envelope signature, the hub's all-zero sender id, and
for results the document signature too. A message that fails is recorded and
skipped; it never stops the messages after it. Applying a batch and moving
the pull cursor are one transaction, so a crash re-pulls and re-applies
nothing twice (applied envelope ids are remembered).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlmodel import Session, select

from sync.clock import utcnow
from sync.envelope import HUB_SENDER_ID, Envelope, EnvelopeError, Kind
from sync.keys import Identity, OpeningKey
from sync.messages import ResultDocument, StatusUpdate, SupplementRequest
from sync.signing import SignatureError

from .certificates import apply_revocation
from . import audit
from .amend import apply_reconciled
from .bookings import apply_booking_request
from .complaints import apply_complaint_answer
from .models import Case, InboxMessage, PointState
from .prechecks import apply_precheck_copy
from .progress import COLLECTED_HERE, ENDED_HUB_STATES
from .restored import apply_case_copy
from .trust import apply_hub_keys, verify_hub_document, verify_hub_envelope

# The hub's state of a case whose signed result came (the hub's own word for it, hub/approval/review.py).
RESULT_ISSUED = "result_issued"
# Identity (the current keys) or key id -> private key (every key this point held, see trust.opening_keys).
OpeningKeys = Identity | Mapping[bytes, OpeningKey]


class MessageRefused(ValueError):
    """A hub message this point will not apply; the text says why, in plain English."""


@dataclass
class ApplyReport:
    """What one batch of hub messages did."""

    applied: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)


def open_hub_message(session: Session, data: bytes, state: PointState, keys: OpeningKeys) -> tuple[Envelope, dict]:
    """Parse, verify with the trusted hub keys and decrypt one hub message."""
    envelope = Envelope.parse(data)
    if envelope.header.sender_id != HUB_SENDER_ID:
        raise MessageRefused("message does not come from the hub (sender id is not the hub's)")
    verify_hub_envelope(session, state, envelope)
    return envelope, envelope.open(keys)


Message = TypeVar("Message", bound=BaseModel)


def _read(model: type[Message], data: Any, what: str) -> Message:
    """``data`` as a ``model`` message, or MessageRefused naming ``what`` was malformed."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise MessageRefused(f"{what} is malformed: {exc.error_count()} problem(s)") from None


def _case_for(session: Session, case_id: str) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise MessageRefused(f"message names case {case_id} which this point never received")
    return case


def apply_result(session: Session, state: PointState, payload: dict) -> Case:
    """Store a hub-signed result on its case and make the case ready for pickup."""
    try:
        document = verify_hub_document(session, state, payload)
    except SignatureError:
        raise MessageRefused("result document signature does not verify with any trusted hub key") from None
    result = _read(ResultDocument, document, "result document")
    if result.point_id != state.point_id:
        raise MessageRefused("result document is addressed to another point")
    case = _case_for(session, result.case_id)
    if result.receipt_no != case.receipt_no:
        raise MessageRefused("result document's receipt number does not match the case")
    if case.status == "collected" and case.result_document:
        return case
    case.result_document = json.dumps(document, ensure_ascii=False)
    case.result_signature = payload["signature"]
    case.decision = result.decision
    case.hub_status = RESULT_ISSUED
    if case.status != "collected":  # a copy of a case handed over before this point was restored gets its result
        case.status = "result_ready"
    session.add(case)
    audit.record(session, audit.HUB_ACTOR, "result_applied", case.id, decision=result.decision,
                 department=result.department)
    return case


def apply_supplement_request(session: Session, payload: dict) -> Case:
    """A department asks for materials (补正): the case waits for the resident, who gets a printed notice."""
    request = _read(SupplementRequest, payload, "supplement request")
    case = _case_for(session, request.case_id)
    if case.status in ("result_ready", "collected"):
        raise MessageRefused("supplement request for a case that already has its result")
    case.supplement_json = json.dumps(request.model_dump(mode="json"), ensure_ascii=False)
    case.status = "supplement_requested"
    session.add(case)
    audit.record(session, audit.HUB_ACTOR, "supplement_requested", case.id, department=request.department,
                 materials=request.materials)
    return case


def apply_status(session: Session, payload: dict) -> Case:
    """Where the case stands at the hub: its state and, from a protocol-3 hub, the due dates as it counts them now,
    which replace the point's own everywhere (a message sealed before this point upgraded names no state)."""
    update = _read(StatusUpdate, payload, "status update")
    case = _case_for(session, update.case_id)
    previous = case.status
    case.hub_status = (update.state or update.status)[:64]
    if update.state:
        case.hub_promised_date, case.hub_legal_date = update.promised_date, update.legal_date
        case.hub_paused_days = update.paused_days
        case.hub_dates_reason = update.dates_reason or case.hub_dates_reason
        # Every STATUS of a protocol-4 hub names the procedure running now, so one without it ended it.
        case.hub_procedure = update.procedure
        case.hub_procedure_since, case.hub_procedure_until = update.procedure_since, update.procedure_until
    if update.return_by and case.supplement_json:
        # The holiday calendar moved the open 补正's return date: the notice and the case page show the new one.
        request = json.loads(case.supplement_json)
        request["return_by"] = update.return_by.isoformat()
        case.supplement_json = json.dumps(request, ensure_ascii=False)
    if case.status in ("queued", "sent"):
        # The hub acting on a case proves it holds it, even if our ack was lost in a cut.
        case.status = "acked"
    if update.status == "collected_elsewhere" and case.status == "result_ready":
        # A duplicate merged at the hub: the resident collected the one result with her other receipt, which may
        # have been given at this very point.
        case.status = COLLECTED_HERE if _twin_collected_here(session, case) else "collected_elsewhere"
    if case.hub_status in ENDED_HUB_STATES and case.status in ("supplement_requested", "supplemented"):
        # Ended at the hub while it waited for materials (not brought in time): nothing more to bring or send.
        case.status = "acked"
    session.add(case)
    audit.record(session, audit.HUB_ACTOR, "status_applied", case.id, hub_status=case.hub_status,
                 status=case.status, previous_status=previous,
                 promised_date=case.hub_promised_date.isoformat() if case.hub_promised_date else None)
    return case


def _twin_collected_here(session: Session, case: Case) -> bool:
    """Did this point hand over the result of another of this resident's applications for the same item (the
    application the hub merged ``case`` into, or merged into it)?"""
    return session.exec(select(Case.id).where(Case.id != case.id, Case.id_number == case.id_number,
                                              Case.item_code == case.item_code, Case.status == "collected")
                        .limit(1)).first() is not None


def apply_message(session: Session, state: PointState, keys: OpeningKeys, data: bytes, *,
                  identity: Identity | None = None) -> tuple[str, str]:
    """Apply one hub message; return ("applied"|"duplicate"|"refused", why). Refusals are recorded, not raised.
    ``identity`` signs what a message is answered with (a booking request's verdict)."""
    try:
        envelope, payload = open_hub_message(session, data, state, keys)
    except (EnvelopeError, MessageRefused) as exc:
        _record(session, hashlib.sha256(data).hexdigest()[:36], 0, 0, "", "refused", str(exc))
        return "refused", str(exc)
    envelope_id = str(envelope.header.envelope_id)
    if session.exec(select(InboxMessage).where(InboxMessage.envelope_id == envelope_id)).first():
        return "duplicate", ""
    kind, seq = envelope.header.kind, envelope.header.seq
    try:
        if kind == Kind.RESULT:
            case_id = apply_result(session, state, payload).id
        elif kind == Kind.STATUS:
            case_id = apply_status(session, payload).id
        elif kind == Kind.RECONCILED:
            case_id = apply_reconciled(session, state, payload)
        elif kind == Kind.SUPPLEMENT_REQUEST:
            case_id = apply_supplement_request(session, payload).id
        elif kind == Kind.CASE_COPY:
            case_id = apply_case_copy(session, payload).id
        elif kind == Kind.COMPLAINT_ANSWER:
            case_id = apply_complaint_answer(session, payload).id
        elif kind == Kind.BOOKING_REQUEST:
            if identity is None:
                raise MessageRefused("a booking request is answered only where the point's keys are at hand")
            case_id = apply_booking_request(session, payload, identity).id
        elif kind == Kind.CERTIFICATE_REVOKED:
            case_id = ""
            apply_revocation(session, payload)
        elif kind == Kind.PRECHECK:
            case_id = apply_precheck_copy(session, payload).id
        elif kind == Kind.HUB_KEYS:
            case_id = ""
            note = apply_hub_keys(session, state, payload)
            if note:
                _record(session, envelope_id, seq, int(kind), case_id, "applied", note)
                return "applied", ""
        else:
            raise MessageRefused(f"hub sent a message of kind {kind.name} a point does not apply")
    except (MessageRefused, KeyError, TypeError, ValueError) as exc:
        _record(session, envelope_id, seq, int(kind), _named_case(payload), "refused", str(exc))
        return "refused", str(exc)
    _record(session, envelope_id, seq, int(kind), case_id, "applied", "")
    return "applied", ""


def _named_case(payload: dict) -> str:
    """The case a message names: a result's inside its signed document, a copy's inside the case it carries."""
    inner = payload.get("document") or payload.get("case")
    named = inner.get("case_id", "") if isinstance(inner, dict) else payload.get("case_id", "")
    return str(named)[:36]


def _record(session: Session, envelope_id: str, seq: int, kind: int, case_id: str, outcome: str, error: str) -> None:
    if session.exec(select(InboxMessage).where(InboxMessage.envelope_id == envelope_id)).first():
        return
    session.add(InboxMessage(envelope_id=envelope_id, seq=seq, kind=kind, case_id=case_id, outcome=outcome,
                             error=error[:500], received_at=utcnow()))
    session.flush()


def apply_messages(session: Session, state: PointState, keys: OpeningKeys, messages: list[bytes],
                   cursor: int, *, identity: Identity | None = None) -> ApplyReport:
    """Apply a pulled batch and advance the cursor; the caller commits both together."""
    report = ApplyReport()
    for data in messages:
        outcome, why = apply_message(session, state, keys, data, identity=identity)
        if outcome == "applied":
            report.applied += 1
        elif outcome == "duplicate":
            report.skipped += 1
        else:
            report.errors.append(why)
    if cursor > state.pull_cursor:
        state.pull_cursor = cursor
        session.add(state)
    return report


def refused_messages(session: Session, limit: int = 20) -> list[InboxMessage]:
    return list(session.exec(select(InboxMessage).where(InboxMessage.outcome == "refused")
                             .order_by(InboxMessage.id.desc()).limit(limit)).all())
