"""What each intent a point sends does to the hub's cases, once ingest (hub/intake/ingest.py) has verified
and opened its envelope and decided it is new: a new case (SUBMIT), 补正 materials, a rating, a collected
result, a key rotation, a restored point's request for copies of its cases (hub/intake/copies.py), a complaint
(hub/approval/complaints.py), a point's booking ledger (hub/approval/bookings.py).
Amendments and withdrawals, which may meet what the hub did meanwhile, are in hub/reconcile/arrival.py.

Each comes back with the envelope's ``Outcome`` (hub/core/outcome.py); ``Refusal`` is a payload the point
must hear was refused, and ingest rolls back whatever the intent half-applied.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session

from sync.kit.certcode import PARKED_REASON, parked_message
from sync.messages import (
    AmendCase,
    AnswerPrecheck,
    CaseCollected,
    CopyRequest,
    FileComplaint,
    PointBookings,
    RateCase,
    ReferCase,
    SubmitCase,
    SupplementCase,
    WithdrawCase,
)
from sync.rotation import read_point_keys
from sync.signing import SignatureError

from hub.approval.bookings import receive_point_bookings
from hub.approval.certificates import check_references
from hub.approval.complaints import ComplaintError, receive_point_complaint
from hub.approval.prechecks import PrecheckRefused, answer_from_point, attach_to_case
from hub.approval.review import merged_cases, receive_supplement
from hub.approval.routing import route_case
from hub.approval.scans import ScanError, expect_scans
from hub.approval.supervision import LOW_SCORE, follow_up_due
from hub.approval.timelimits import intake_moment
from hub.catalog.versions import find_item
from hub.core.clock import as_utc, utc_now
from hub.core.models import Case, Point, Rating, RawEnvelope
from hub.core.outbox import send_status
from hub.core.outcome import Outcome
from hub.core.timeline import HUB_ACTOR, record_event
from hub.intake.copies import apply_copy_request
from hub.intake.intaketime import SUSPICIOUS_TIME, Bound, judge_intake, suspicion
from hub.intake.referrals import apply_referral, link_arriving_case
from hub.reconcile.arrival import apply_amend, apply_withdraw, check_submit, park, resident_key
from hub.trust.points import record_point_keys

log = logging.getLogger(__name__)

# What a new case that needed nothing else is answered (hub/intake/bulk.py answers its plain cases the same).
ACCEPTED = "case received and routed"


class Refusal(Exception):
    """Applying a payload failed for a reason the point must hear about."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def apply_intent(session: Session, intent: Any, point: Point, raw: RawEnvelope, *,
                 new_case_ids: set[str]) -> Outcome:
    """Apply ``intent`` (a validated point intent, sync/messages.py) from ``point``, stored as ``raw``.

    ``new_case_ids`` are case ids known to have no case yet (ingest looked them up for its whole batch):
    a SUBMIT of one skips its own lookup, and takes the id out of the set.
    """
    if isinstance(intent, SubmitCase):
        return _apply_submit(session, intent, point, raw, new_case_ids)
    if isinstance(intent, CaseCollected):
        return _apply_collected(session, intent, point)
    if isinstance(intent, SupplementCase):
        return _apply_supplement(session, intent, point)
    if isinstance(intent, RateCase):
        return _apply_rating(session, intent, point)
    if isinstance(intent, AmendCase):
        return apply_amend(session, _own_case(session, intent.case_id, point), intent, point, raw)
    if isinstance(intent, WithdrawCase):
        return apply_withdraw(session, _own_case(session, intent.case_id, point), intent, point, raw)
    if isinstance(intent, CopyRequest):
        return apply_copy_request(session, intent, point)
    if isinstance(intent, ReferCase):
        return apply_referral(session, intent, point)
    if isinstance(intent, FileComplaint):
        return _apply_complaint(session, intent, point)
    if isinstance(intent, PointBookings):
        return receive_point_bookings(session, intent, point)
    if isinstance(intent, AnswerPrecheck):
        return _apply_precheck_answer(session, intent, point)
    raise Refusal("unsupported_kind", "the hub cannot apply this kind yet")


def apply_point_keys(session: Session, payload: dict[str, Any], point: Point) -> Outcome:
    """The point rotated its keys: from now on seal to the new ones and accept them too."""
    try:
        keys = read_point_keys(payload, point.id)
    except (SignatureError, ValidationError):
        raise
    except ValueError as exc:
        raise Refusal("invalid_payload", f"the announced keys are not usable: {exc}") from None
    if not record_point_keys(session, point, keys):
        return Outcome.duplicate("keys_current", "these keys are already the point's current keys")
    log.info("point %s rotated its keys to %s", point.id, keys.fingerprint)
    return Outcome.accepted("new point keys recorded")


def _apply_submit(session: Session, intent: SubmitCase, point: Point, raw: RawEnvelope,
                  new_case_ids: set[str]) -> Outcome:
    try:
        uuid.UUID(intent.case_id)
    except ValueError:
        raise Refusal("invalid_payload", "case_id is not a UUID") from None
    existing = None
    if intent.case_id in new_case_ids:
        new_case_ids.discard(intent.case_id)  # a second SUBMIT of it in the batch looks it up
    else:
        with session.no_autoflush:  # nothing pending can be this case: the envelope before flushed with its savepoint
            existing = session.get(Case, intent.case_id)
    if existing is not None:
        if existing.point_id == point.id:
            return Outcome.duplicate("case_exists", "this case was already received")
        return Outcome.conflict("case_id_taken", "another point already sent a case with this id; parked")
    item = find_item(session, intent.item_code)
    if item is not None and point.level not in item.levels:
        raise Refusal("not_accepted_here", f"item {intent.item_code} is received at the "
                      f"{' and '.join(item.levels)} level, not at a {point.level} point; the resident applies there")
    if intent.clock_offset_ms is not None:
        point.clock_offset_ms = intent.clock_offset_ms
        session.add(point)
    case = Case(
        id=intent.case_id, point_id=point.id, receipt_no=intent.receipt_no, item_code=intent.item_code,
        item_name=item.name_zh if item else "", catalog_version=intent.catalog_version,
        applicant=intent.applicant.model_dump(), form=intent.form, materials=intent.materials,
        staff=intent.staff, received_at=as_utc(intent.received_at), promised_date=intent.promised_date,
        clock_offset_ms=intent.clock_offset_ms, resident_key=resident_key(intent.applicant.id_number),
        first_contact_name=intent.first_contact_name, first_contact_post=intent.first_contact_post,
        referral_no=intent.referral_no,
    )
    session.add(case)
    try:
        expect_scans(session, case.id, point.id, intent.scans)
    except ScanError as exc:
        raise Refusal(exc.reason, str(exc)) from None
    if intent.precheck_id:
        try:
            attach_to_case(session, intent.precheck_id, intent.precheck_scans, case)
        except PrecheckRefused as exc:
            raise Refusal(exc.reason, str(exc)) from None
    log.info("case %s (receipt %s) received from point %s", case.id, case.receipt_no, point.id)
    record_event(session, case.id, actor=point.name, action="received",
                 note=f"received at the point by {intent.staff}", data=received_data(intent))
    link_arriving_case(session, case)
    # Duplicates, identity and catalog drift (with the note on what the catalog changed since intake).
    conflicts = check_submit(session, case, intent, point, raw)
    claimed = intake_moment(case, point.clock_offset_ms)
    broken, bounds = judge_intake(session, point, raw.seq, intent.catalog_version, claimed)
    if broken is not None:
        return _park_intake_time(session, case, point, raw, claimed, broken, bounds)
    if item is None:
        case.status = "needs_attention"
        session.add(case)
        note = f"item code {intent.item_code} is not in the hub's catalog; an operator must route it"
        record_event(session, case.id, actor="hub", action="needs_attention", note=note,
                     data={"reason": "unknown_item", "item_code": intent.item_code})
        send_status(session, case, point, "needs_attention", note)
        return Outcome.accepted(note, reason="unknown_item")
    route_case(session, case, item)
    send_status(session, case, point, "routed", "sent to " + ", ".join(item.departments))
    parked = check_references(session, case, intent.certificates, item) if intent.certificates else []
    if conflicts:
        kinds = ", ".join(conflict.kind for conflict in conflicts)
        return Outcome.conflict(conflicts[0].kind, f"{ACCEPTED}; parked for an operator ({kinds})")
    if parked:
        return Outcome.accepted(parked_message({b.material: b.finding for b in parked}), reason=PARKED_REASON)
    return Outcome.accepted(ACCEPTED)


def received_data(intent: SubmitCase) -> dict[str, str]:
    """The "received" line's facts: the clerk's login and, from points that send them, the first-contact person
    (首问责任人) by name and post (hub/intake/bulk.py records the same)."""
    data = {"staff": intent.staff}
    if intent.first_contact_name:
        data |= {"first_contact_name": intent.first_contact_name, "first_contact_post": intent.first_contact_post}
    return data


def _park_intake_time(session: Session, case: Case, point: Point, raw: RawEnvelope, claimed: datetime,
                      broken: Bound, bounds: list[Bound]) -> Outcome:
    """A claimed intake time the hub cannot believe: the case waits for an operator (no clock runs, no deemed
    approval) with the evidence on the conflict desk."""
    evidence = suspicion(claimed, broken, bounds)
    park(session, SUSPICIOUS_TIME, point_id=point.id, raw=raw, case_id=case.id, fields=["intake"],
         left={"intake": evidence["claimed"]}, right={"intake": evidence["earliest"]}, detail=evidence)
    case.status = "needs_attention"
    session.add(case)
    note = (f"the intake time the point claims ({evidence['claimed']}) is before what the hub can vouch for "
            f"({broken.rule}: {broken.evidence}); an operator must accept a time before the case is routed")
    record_event(session, case.id, actor=HUB_ACTOR, action="needs_attention", note=note,
                 data={"reason": "intake_time", "claimed": evidence["claimed"]})
    send_status(session, case, point, "needs_attention", "the county is checking the time of intake")
    log.warning("case %s from point %s parked: intake time before the %s bound", case.id, point.id, broken.rule)
    return Outcome.conflict(SUSPICIOUS_TIME, "case received; its intake time is parked for an operator")


def _own_case(session: Session, case_id: str, point: Point) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise Refusal("unknown_case", "the hub has no such case")
    if case.point_id != point.id:
        raise Refusal("not_your_case", "this case was received at another point")
    return case


def _apply_supplement(session: Session, intent: SupplementCase, point: Point) -> Outcome:
    """The resident brought what 补正 asked for: the case returns to the department that asked, and the point
    hears the due dates the pause moved."""
    case = _own_case(session, intent.case_id, point)
    if case.status != "supplement_requested":
        # Decided meanwhile (another department rejected): keep the materials out, tell the point why.
        return Outcome.accepted("the case no longer waits for materials; nothing changed", reason="not_waiting")
    try:
        expect_scans(session, case.id, point.id, intent.scans)
    except ScanError as exc:
        raise Refusal(exc.reason, str(exc)) from None
    case.materials = list(dict.fromkeys([*(case.materials or []), *intent.materials]))
    # The clock runs again from the resident's return at the point, on the hub's clock.
    returned = as_utc(intent.supplemented_at) + timedelta(milliseconds=point.clock_offset_ms)
    stood = receive_supplement(session, case, at=min(returned, utc_now()), note=intent.note, actor=point.name)
    send_status(session, case, point, "supplemented", f"{stood} working day(s) paused; due {case.due_date}")
    log.info("case %s supplemented at point %s; %s working day(s) paused", case.id, point.id, stood)
    return Outcome.accepted("materials received; the case is back with its department")


def _apply_rating(session: Session, intent: RateCase, point: Point) -> Outcome:
    """好差评: one rating per case; 1 and 2 open a follow-up on the supervision page, due in ``FOLLOW_UP_DAYS``
    working days."""
    case = _own_case(session, intent.case_id, point)
    if case.status != "closed":
        raise Refusal("not_closed", "a case is rated after the result was collected")
    if session.get(Rating, case.id) is not None:
        return Outcome.duplicate("already_rated", "this case was already rated")
    low = intent.score <= LOW_SCORE
    # The follow-up's deadline counts from the rating's arrival here: the point's clock is only a claim.
    due = follow_up_due(session, utc_now()) if low else None
    session.add(Rating(case_id=case.id, point_id=point.id, score=intent.score, comment=intent.comment,
                       rated_at=as_utc(intent.rated_at), follow_up="open" if low else "none", follow_up_due=due))
    record_event(session, case.id, actor=point.name, action="rated",
                 note=f"rated {intent.score}/5" + (f"; follow-up opened, due {due}" if low else ""),
                 data={"score": intent.score, "follow_up": low, **({"follow_up_due": due.isoformat()} if due else {})})
    return Outcome.accepted("rating recorded")


def _apply_complaint(session: Session, intent: FileComplaint, point: Point) -> Outcome:
    """投诉 taken at the point: stored once for the supervision office's desk (hub/approval/complaints.py)."""
    try:
        uuid.UUID(intent.complaint_id)
    except ValueError:
        raise Refusal("invalid_payload", "complaint_id is not a UUID") from None
    try:
        arrival = receive_point_complaint(session, intent, point)
    except ComplaintError as exc:
        raise Refusal(exc.reason, str(exc)) from None
    if not arrival.new:
        return Outcome.duplicate("complaint_exists", "this complaint was already received")
    log.info("complaint %s (%s) received from point %s", intent.complaint_id, intent.complaint_no, point.id)
    return Outcome.accepted("complaint received for the supervision office")


def _apply_precheck_answer(session: Session, intent: AnswerPrecheck, point: Point) -> Outcome:
    """网上预审: a clerk's answer to a pre-check her point reviews (hub/approval/prechecks.py)."""
    try:
        answer_from_point(session, intent, point)
    except PrecheckRefused as exc:
        raise Refusal(exc.reason, str(exc)) from None
    return Outcome.accepted("pre-check answer recorded")


def _apply_collected(session: Session, intent: CaseCollected, point: Point) -> Outcome:
    case = _own_case(session, intent.case_id, point)
    if case.result is None:
        raise Refusal("no_result", "the hub has issued no result for this case yet")
    if case.status == "closed":
        return Outcome.duplicate("already_closed", "the case was already closed")
    case.status, case.closed_at = "closed", utc_now()
    session.add(case)
    log.info("case %s closed: result collected at point %s", case.id, point.id)
    record_event(session, case.id, actor=point.name, action="closed",
                 note=f"result collected at the point by {intent.staff}", data={"staff": intent.staff})
    _close_merged_copies(session, case, point)
    return Outcome.accepted("case closed")


def _close_merged_copies(session: Session, collected: Case, point: Point) -> None:
    """Merged duplicates share one result: once either receipt collects it, the other copies close and
    their points are told, so the resident cannot collect it twice."""
    kept = session.get(Case, collected.merged_into) if collected.merged_into else collected
    copies = [kept, *merged_cases(session, kept)] if kept is not None else []
    for other in copies:
        if other.id == collected.id or other.status == "closed":
            continue
        other.status, other.closed_at = "closed", utc_now()
        session.add(other)
        record_event(session, other.id, actor=point.name, action="collected_elsewhere",
                     note=f"the same result was collected at {point.name} (receipt {collected.receipt_no})",
                     data={"point": point.name, "receipt_no": collected.receipt_no})
        other_point = session.get(Point, other.point_id)
        if other_point is not None:
            send_status(session, other, other_point, "collected_elsewhere", f"collected at {point.name}")
