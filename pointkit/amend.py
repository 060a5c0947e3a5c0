"""Changes to a case after intake (amend, withdraw) and the hub's word on conflicts about them.

The point never resolves a conflict (the hub is authoritative): it sends its
intent with the case version it last heard from the hub, and shows staff what
the hub's operators decided and why (a RECONCILED message). After a fork (a
point restored from an old backup), the hub names the sequence number to
continue from, so no envelope number is used twice again.
"""

from __future__ import annotations

import json

from pydantic import ValidationError
from sqlmodel import Session

from sync import Identity, Kind
from sync.clock import utcnow
from sync.messages import AmendCase, Reconciled, WithdrawCase

from . import audit
from .models import Case, PointState
from .outbox import seal_into_outbox
from .state import get_state

# Once the result is here or handed over, a change is for the hub's desk, not the window.
CLOSED_STATUSES = ("result_ready", "collected", "withdrawn")


class ChangeError(ValueError):
    """A change staff asked for that the point will not queue; the message says what to do."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def _open_case(session: Session, case_id: str) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise ChangeError("not_found", "no such case at this point")
    if case.status in CLOSED_STATUSES:
        raise ChangeError("decided", "this case is decided or withdrawn; ask the county hub to change it")
    return case


def amend_case(session: Session, staff: str, case_id: str, form: dict[str, str], *, identity: Identity) -> Case:
    """Correct form fields before the decision; queue an AMEND against the hub version this point knows."""
    case = _open_case(session, case_id)
    current = json.loads(case.form_json)
    changed = {name: str(value).strip()[:500] for name, value in form.items() if current.get(name) != value}
    if not changed:
        raise ChangeError("nothing_changed", "no field differs from the case as received; nothing was queued")
    payload = AmendCase(case_id=case.id, base_version=case.hub_version, form=changed, amended_at=utcnow(),
                        staff=staff).model_dump(mode="json")
    case.form_json = json.dumps({**current, **changed}, ensure_ascii=False)
    session.add(case)
    audit.record(session, staff, "case_amended", case.id, fields=sorted(changed))
    seal_into_outbox(session, get_state(session), identity, kind=Kind.AMEND, payload=payload, case_id=case.id,
                     actor=staff)
    return case


def withdraw_case(session: Session, staff: str, case_id: str, reason: str, *, identity: Identity) -> Case:
    """The resident withdraws the application: queue a WITHDRAW; the hub confirms or parks it."""
    case = _open_case(session, case_id)
    payload = WithdrawCase(case_id=case.id, base_version=case.hub_version, reason=reason.strip()[:500],
                           withdrawn_at=utcnow(), staff=staff).model_dump(mode="json")
    case.hub_status = "withdrawal_sent"
    session.add(case)
    audit.record(session, staff, "case_withdrawn", case.id)
    seal_into_outbox(session, get_state(session), identity, kind=Kind.WITHDRAW, payload=payload, case_id=case.id,
                     actor=staff)
    return case


def apply_reconciled(session: Session, state: PointState, payload: dict) -> str:
    """Show the hub's decision on the case it names; after a fork, continue numbering where the hub says."""
    try:
        word = Reconciled.model_validate(payload)
    except ValidationError as exc:
        raise ValueError(f"reconciliation message is malformed: {exc.error_count()} problem(s)") from None
    if word.resume_seq > state.next_seq:
        audit.record(session, audit.HUB_ACTOR, "sequence_resumed", state.point_id, previous=state.next_seq,
                     resume_seq=word.resume_seq)
        state.next_seq = word.resume_seq
        session.add(state)
    case = session.get(Case, word.case_id) if word.case_id else None
    if case is not None:
        case.hub_note = f"{word.outcome}: {word.note}"[:2000]
        case.hub_version = max(case.hub_version, word.version)
        session.add(case)
        audit.record(session, audit.HUB_ACTOR, "conflict_outcome", case.id, conflict_type=word.conflict_type,
                     outcome=word.outcome)
    return word.case_id
