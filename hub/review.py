"""Department decisions and the signed results they produce.

A reviewer decides only an open task of her own department (admins any open
task). When the case's outcome is known, the hub signs a ResultDocument and
queues it, sealed, for the point that received the case.
"""

from __future__ import annotations

import logging
import secrets

from sqlmodel import Session, select

from sync import Identity, Kind, ResultDocument, sign_document, utcnow

from .cases import record_event
from .db import utc_now
from .models import Case, Point, ReviewTask, Staff
from .outbox import enqueue
from .routing import HUB_ACTOR

DECISIONS = ("approved", "rejected")
log = logging.getLogger(__name__)


class ReviewError(ValueError):
    """A refused decision; ``reason`` is a stable word, ``status`` the HTTP answer."""

    def __init__(self, reason: str, message: str, status: int):
        super().__init__(message)
        self.reason = reason
        self.status = status


def decidable_task(session: Session, case: Case, staff: Staff) -> ReviewTask | None:
    """The open task ``staff`` may decide on ``case``, if any."""
    query = select(ReviewTask).where(ReviewTask.case_id == case.id, ReviewTask.status == "open")
    if staff.role == "reviewer":
        query = query.where(ReviewTask.department_code == staff.department_code)
    elif staff.role != "admin":
        return None
    return session.exec(query.order_by(ReviewTask.stage, ReviewTask.department_code)).first()


def decide(
    session: Session, *, case_id: str, staff: Staff, decision: str, reason: str = "", certificate_no: str = "",
    identity: Identity,
) -> Case:
    """Record one department's decision and, when the outcome is known, issue the result."""
    case = session.get(Case, case_id)
    if case is None:
        raise ReviewError("not_found", "no such case", 404)
    if decision not in DECISIONS:
        raise ReviewError("bad_decision", "decision must be 'approved' or 'rejected'", 422)
    reason, certificate_no = reason.strip(), certificate_no.strip()
    if decision == "rejected" and not reason:
        raise ReviewError("reason_required", "a rejection needs a reason the resident can read", 422)
    task = decidable_task(session, case, staff)
    if task is None:
        raise ReviewError("not_open", "there is no open task on this case for your department", 409)
    now = utc_now()
    task.status, task.decided_by, task.decided_at = decision, staff.username, now
    task.reason, task.certificate_no = reason, certificate_no
    session.add(task)
    log.info("case %s: %s %s by %s", case.id, task.department_code, decision, staff.username)
    record_event(session, case.id, actor=staff.username, action=decision,
                 note=f"{task.department_code}: {reason}" if reason else task.department_code)
    tasks = session.exec(select(ReviewTask).where(ReviewTask.case_id == case.id)).all()
    if decision == "rejected":
        for other in tasks:
            if other.status in ("open", "waiting"):
                other.status = "cancelled"
                session.add(other)
        _issue_result(session, case, tasks, staff, "rejected", identity)
    elif any(other.status == "open" for other in tasks):
        case.status = "in_review"
    elif waiting := [other for other in tasks if other.status == "waiting"]:
        next_stage = min(other.stage for other in waiting)
        for other in waiting:
            if other.stage == next_stage:
                other.status = "open"
                session.add(other)
        case.status = "in_review"
        record_event(session, case.id, actor=HUB_ACTOR, action="stage_opened",
                     note=f"stage {next_stage}: " + ", ".join(o.department_code for o in waiting
                                                               if o.stage == next_stage))
    else:
        _issue_result(session, case, tasks, staff, "approved", identity)
    session.add(case)
    session.flush()
    return case


def _issue_result(
    session: Session, case: Case, tasks: list[ReviewTask], staff: Staff, decision: str, identity: Identity,
) -> None:
    now = utc_now()
    if decision == "rejected":
        rejected = [task for task in tasks if task.status == "rejected"]
        reason = rejected[0].reason if len(rejected) == 1 else "；".join(
            f"{task.department_code}：{task.reason}" for task in rejected)
        certificate_no = ""
    else:
        reason = ""
        given = [task.certificate_no for task in sorted(tasks, key=lambda t: t.decided_at or now) if task.certificate_no]
        certificate_no = given[-1] if given else f"{case.item_code}-{now:%Y%m%d}-{secrets.token_hex(3).upper()}"
    document = ResultDocument(
        case_id=case.id, receipt_no=case.receipt_no, point_id=str(case.point_id), item_code=case.item_code,
        item_name=case.item_name, department=",".join(task.department_code for task in tasks),
        decision=decision, reason=reason, certificate_no=certificate_no, decided_at=utcnow(),
        decided_by=staff.username, issued_at=utcnow(),
    )
    signed = sign_document(document.model_dump(mode="json"), identity.sign_key)
    case.decision, case.reason, case.certificate_no = decision, reason, certificate_no
    case.decided_at, case.result, case.status = now, signed, "result_issued"
    point = session.get(Point, case.point_id)
    if point is not None and point.enc_public_key:
        enqueue(session, point=point, kind=Kind.RESULT, payload=signed, identity=identity, case_id=case.id)
    log.info("case %s: result issued (%s)", case.id, decision)
    record_event(session, case.id, actor=HUB_ACTOR, action="result_issued",
                 note=f"{decision}; certificate {certificate_no}" if certificate_no else decision)

