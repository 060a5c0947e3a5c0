"""Cases as people see them: the timeline, the department queue, the case detail."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session, select

from .audit import append_audit
from .db import iso
from .models import Case, CaseEvent, Point, ReviewTask, Staff
from .scans import case_scans, materials_in_transit, scans_public

OPEN_CASE_STATUSES = ("accepted", "routed", "in_review", "needs_attention")


def record_event(session: Session, case_id: str, *, actor: str, action: str, note: str = "") -> CaseEvent:
    """Append one line to a case's timeline and to the audit chain (never personal data in ``note``)."""
    event = CaseEvent(case_id=case_id, actor=actor[:128], action=action, note=note[:2000])
    session.add(event)
    append_audit(session, actor=actor, action=action, subject=f"case:{case_id}", detail={"note": note[:2000]})
    return event


def can_view(session: Session, staff: Staff, case: Case) -> bool:
    """Reviewers see only cases their department has a task on; others see all."""
    if staff.role != "reviewer":
        return True
    return session.exec(
        select(ReviewTask.id).where(ReviewTask.case_id == case.id,
                                    ReviewTask.department_code == staff.department_code)
    ).first() is not None


def queue(session: Session, staff: Staff, department: str | None = None) -> list[dict[str, Any]]:
    """Open work for ``staff``, soonest due first.

    A reviewer gets the cases with an open task of her own department; an
    operator or admin gets every open case, optionally one department's.
    """
    if staff.role == "reviewer":
        department = staff.department_code
    if department:
        rows = session.exec(
            select(Case, ReviewTask.department_code).join(ReviewTask, ReviewTask.case_id == Case.id)
            .where(ReviewTask.status == "open", ReviewTask.department_code == department)
        ).all()
        listed = [(case, code) for case, code in rows]
    else:
        cases = session.exec(select(Case).where(Case.status.in_(OPEN_CASE_STATUSES))).all()  # type: ignore[attr-defined]
        open_tasks: dict[str, list[str]] = {}
        for task in session.exec(select(ReviewTask).where(ReviewTask.status == "open")).all():
            open_tasks.setdefault(task.case_id, []).append(task.department_code)
        listed = [(case, ",".join(sorted(open_tasks.get(case.id, [])))) for case in cases]
    names = point_names(session)
    listed.sort(key=lambda pair: (pair[0].due_date or date.max, pair[0].received_at))
    return [
        {
            "case_id": case.id,
            "receipt_no": case.receipt_no,
            "item_code": case.item_code,
            "item_name": case.item_name,
            "point_name": names.get(case.point_id, ""),
            "status": case.status,
            "department": department_code,
            "received_at": iso(case.received_at),
            "due_date": case.due_date.isoformat() if case.due_date else None,
        }
        for case, department_code in listed
    ]


def point_names(session: Session) -> dict:
    return {point.id: point.name for point in session.exec(select(Point)).all()}


def case_tasks(session: Session, case_id: str) -> list[ReviewTask]:
    return list(session.exec(
        select(ReviewTask).where(ReviewTask.case_id == case_id)
        .order_by(ReviewTask.stage, ReviewTask.department_code)
    ).all())


def case_detail(session: Session, case: Case) -> dict[str, Any]:
    """Everything a reviewer reads before deciding, and what was decided."""
    point = session.get(Point, case.point_id)
    events = session.exec(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.at)).all()
    applicant = case.applicant or {}
    scans = case_scans(session, case.id)
    return {
        "case_id": case.id,
        "receipt_no": case.receipt_no,
        "item_code": case.item_code,
        "item_name": case.item_name,
        "point_name": point.name if point else "",
        "status": case.status,
        "received_at": iso(case.received_at),
        "hub_received_at": iso(case.hub_received_at),
        "promised_date": case.promised_date.isoformat() if case.promised_date else None,
        "due_date": case.due_date.isoformat() if case.due_date else None,
        "applicant": {"name": applicant.get("name", ""), "id_number": applicant.get("id_number", ""),
                      "phone": applicant.get("phone", "")},
        "form": case.form or {},
        "materials": case.materials or [],
        "scans": scans_public(scans),
        "materials_in_transit": materials_in_transit(scans),
        "tasks": [
            {"department": task.department_code, "stage": task.stage, "status": task.status,
             "decided_by": task.decided_by, "reason": task.reason, "decided_at": iso(task.decided_at)}
            for task in case_tasks(session, case.id)
        ],
        "events": [{"at": iso(event.at), "actor": event.actor, "action": event.action, "note": event.note}
                   for event in events],
        "decision": case.decision,
        "reason": case.reason,
        "certificate_no": case.certificate_no,
        "result": case.result,
    }
