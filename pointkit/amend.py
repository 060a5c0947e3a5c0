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

from sync.clock import utcnow
from sync.envelope import Kind
from sync.keys import Identity
from sync.messages import RECONCILED_OUTCOMES, AmendCase, Reconciled, WithdrawCase

from . import audit
from .catalog import get_item
from .intake import field_problem
from .models import Case, PointState
from .outbox import seal_into_outbox
from .progress import COLLECTED_HERE
from .state import get_state

# Once the result is here or handed over, a change is for the hub's desk, not the window.
CLOSED_STATUSES = ("result_ready", "collected", "collected_elsewhere", COLLECTED_HERE, "withdrawn")
# What the hub said (or this point sent) once a withdrawal is on its way, the case ended there (refused, merged
# into the resident's other application) or its result is decided: nothing is left for the window to change.
ENDED_HUB_STATUSES = ("withdrawal_sent", "withdrawn", "merged", "refused", "result_issued", "delivered", "closed",
                      "collected_elsewhere")


class ChangeError(ValueError):
    """A change staff asked for that the point will not queue; the message says what to do.

    ``fields`` maps ``form.<name>`` to an English message the pages translate (as intake's errors do).
    """

    def __init__(self, reason: str, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.reason = reason
        self.fields = fields or {}


def changeable(case: Case) -> bool:
    """May the window still amend or withdraw ``case`` (no result, no withdrawal sent, not ended at the hub)?"""
    return case.status not in CLOSED_STATUSES and case.hub_status not in ENDED_HUB_STATUSES


def hub_word(case: Case) -> tuple[str, str] | None:
    """(outcome, note) of the hub's last word on a conflict about ``case``; the note is None when it only
    repeats what the outcome means (the hub's default words, which the page says in its own language)."""
    if not case.hub_note:
        return None
    outcome, _sep, note = case.hub_note.partition(": ")
    return outcome, (None if note == RECONCILED_OUTCOMES.get(outcome) else note)


def _open_case(session: Session, case_id: str) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise ChangeError("not_found", "no such case at this point")
    if not changeable(case):
        raise ChangeError("decided", "this case is decided or withdrawn; ask the county hub to change it")
    return case


def amend_case(session: Session, staff: str, case_id: str, form: dict[str, str], *, identity: Identity) -> Case:
    """Correct form fields before the decision; queue an AMEND against the hub version this point knows."""
    case = _open_case(session, case_id)
    current = json.loads(case.form_json)
    cleaned = {name: str(value).strip()[:500] for name, value in form.items()}
    changed = {name: value for name, value in cleaned.items() if current.get(name, "") != value}
    if not changed:
        raise ChangeError("nothing_changed", "no field differs from the case as received; nothing was queued")
    item = get_item(session, case.item_code)
    specs = {spec.name: spec for spec in item.fields} if item else {}
    problems = {f"form.{name}": (field_problem(specs[name], value) if name in specs else "not a field of this item")
                for name, value in changed.items()}
    problems = {path: problem for path, problem in problems.items() if problem}
    if problems:
        raise ChangeError("invalid_form", "some fields are missing or invalid; nothing was queued", problems)
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
    if not reason.strip():
        raise ChangeError("reason_required", "write why the resident withdraws; nothing was queued")
    payload = WithdrawCase(case_id=case.id, base_version=case.hub_version, reason=reason.strip()[:500],
                           withdrawn_at=utcnow(), staff=staff).model_dump(mode="json")
    case.hub_status = "withdrawal_sent"
    session.add(case)
    audit.record(session, staff, "case_withdrawn", case.id)
    seal_into_outbox(session, get_state(session), identity, kind=Kind.WITHDRAW, payload=payload, case_id=case.id,
                     actor=staff)
    return case


def resume_numbering(session: Session, state: PointState, *, resume_seq: int = 0, receipt_floor: str = "") -> range:
    """Number envelopes from ``resume_seq`` and receipts after ``receipt_floor`` (what the hub holds from this
    point, as HubClient and Bundle read it), where this point's own numbers stand lower: it was restored from
    an old backup. Never backwards. Return the envelope numbers skipped (empty when none): the laptop this point
    replaces sent them, and the cases they received are the ones it lacks (pointkit/restored.py)."""
    skipped = range(0)
    if resume_seq > state.next_seq:
        audit.record(session, audit.HUB_ACTOR, "sequence_resumed", state.point_id, previous=state.next_seq,
                     resume_seq=resume_seq)
        skipped = range(state.next_seq, resume_seq)
        state.next_seq = resume_seq
        session.add(state)
    if receipt_floor > state.receipt_floor:
        state.receipt_floor = receipt_floor
        session.add(state)
    return skipped


def apply_reconciled(session: Session, state: PointState, payload: dict) -> str:
    """Show the hub's decision on the case it names; after a fork, continue numbering where the hub says."""
    try:
        word = Reconciled.model_validate(payload)
    except ValidationError as exc:
        raise ValueError(f"reconciliation message is malformed: {exc.error_count()} problem(s)") from None
    resume_numbering(session, state, resume_seq=word.resume_seq)
    case = session.get(Case, word.case_id) if word.case_id else None
    if case is not None:
        case.hub_note = f"{word.outcome}: {word.note}"[:2000]
        case.hub_version = max(case.hub_version, word.version)
        session.add(case)
        audit.record(session, audit.HUB_ACTOR, "conflict_outcome", case.id, conflict_type=word.conflict_type,
                     outcome=word.outcome)
    return word.case_id
