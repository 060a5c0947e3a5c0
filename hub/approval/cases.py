"""Cases as people see them: the timeline, the department queue, the case detail."""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Any

from sqlmodel import Session, select

from sync.kit.workdays import Calendar, county_date

from hub.approval.certificates import case_certificates
from hub.approval.joint import lead_cases, waiting_for_lead
from hub.approval.projects import can_see_project
from hub.approval.scans import case_scans, materials_in_transit, scans_public
from hub.approval.procedures import case_procedures, procedure_public
from hub.approval.timelimits import (
    DEFAULT_WARN_SHARE,
    calendar_gaps,
    limit_units,
    promised_time_state,
    supplement_overdue,
)
from hub.catalog.calendar import county_calendar
from hub.catalog.versions import find_item
from hub.core.clock import iso, utc_now
from hub.core.models import (Case, CaseEvent, Conflict, JointReview, Point, Project, Rating, ReviewTask, Staff,
                             SupplementRound)
from hub.trust.townships import case_points, in_scope

OPEN_CASE_STATUSES = ("accepted", "routed", "in_review", "supplement_requested", "needs_attention")
# Query-string filters of the queue (page and API): case status, item code, point name, time-limit state.
QUEUE_FILTERS = ("status", "item", "point", "time")


def can_view(session: Session, staff: Staff, case: Case) -> bool:
    """Reviewers see only cases their department has a task on, and a township-scoped department's reviewers and
    township staff only their township's (hub/trust/townships.py); agents the cases of projects they see
    (hub/approval/projects.py); others see all."""
    if not in_scope(session, staff, case):
        return False
    if staff.role == "agent":
        project = session.get(Project, case.project_id) if case.project_id else None
        return project is not None and can_see_project(staff, project)
    if staff.role != "reviewer":
        return True
    return session.exec(
        select(ReviewTask.id).where(ReviewTask.case_id == case.id,
                                    ReviewTask.department_code == staff.department_code)
    ).first() is not None


def queue(session: Session, staff: Staff, department: str | None = None, *, filters: dict[str, str] | None = None,
          warn_share: float = DEFAULT_WARN_SHARE) -> list[dict[str, Any]]:
    """Open work for ``staff``, soonest due first, each with its time-limit state.

    A reviewer gets the cases with an open (or waiting-for-补正) task of her
    own department (of her township's points, hub/trust/townships.py); an operator or
    admin gets every open case, optionally one department's; township staff every open
    case of their township. ``filters`` narrow by QUEUE_FILTERS.
    """
    if staff.role == "reviewer":
        department = staff.department_code
    if department:
        rows = session.exec(
            select(Case, ReviewTask.department_code).join(ReviewTask, ReviewTask.case_id == Case.id)
            .where(ReviewTask.status.in_(("open", "supplement")),  # type: ignore[attr-defined]
                   ReviewTask.department_code == department)
        ).all()
        listed = [(case, code) for case, code in rows]
        # A lead department keeps its joint cases in view after its own opinion, until it issues the result.
        known = {case.id for case, _code in listed}
        listed += [(case, department) for case_id in lead_cases(session, department)
                   if case_id not in known and (case := session.get(Case, case_id)) is not None]
    else:
        cases = session.exec(select(Case).where(Case.status.in_(OPEN_CASE_STATUSES))).all()  # type: ignore[attr-defined]
        open_tasks: dict[str, list[str]] = {}
        for task in session.exec(select(ReviewTask).where(ReviewTask.status == "open")).all():
            open_tasks.setdefault(task.case_id, []).append(task.department_code)
        listed = [(case, ",".join(sorted(open_tasks.get(case.id, [])))) for case in cases
                  if staff.role != "agent" or can_view(session, staff, case)]
    scope = case_points(session, staff)
    listed = [(case, code) for case, code in listed if scope.allows(case.point_id)]
    listed.sort(key=lambda pair: (pair[0].due_date or date.max, pair[0].received_at))
    rows = case_rows(session, listed, warn_share=warn_share)
    wanted = {key: value for key, value in (filters or {}).items() if key in QUEUE_FILTERS and value}
    keys = {"status": lambda r: r["status"], "item": lambda r: r["item_code"], "point": lambda r: r["point_name"],
            "time": lambda r: r["time"]["state"]}
    return [row for row in rows if all(keys[key](row) == value for key, value in wanted.items())]


def case_rows(session: Session, listed: list[tuple[Case, str]], *,
              warn_share: float = DEFAULT_WARN_SHARE) -> list[dict[str, Any]]:
    """A list line per (case, department codes): what the queue and the township's page show of a case."""
    names = point_names(session)
    parked = parked_cases(session)
    joint_open = set(session.exec(select(JointReview.case_id).where(JointReview.decided_at.is_(None))).all())
    items = cache(lambda code: find_item(session, code))
    today = county_date(utc_now())
    calendar = county_calendar(session)
    return [
        {
            "case_id": case.id,
            "receipt_no": case.receipt_no,
            "item_code": case.item_code,
            "item_name": case.item_name,
            "point_name": names.get(case.point_id, ""),
            "status": case.status,
            "department": department_code,
            "waiting_for_operator": case.id in parked,
            "waiting_for_lead": case.id in joint_open and waiting_for_lead(session, case),
            "received_at": iso(case.received_at),
            "due_date": case.due_date.isoformat() if case.due_date else None,
            "time": case_time(case, items(case.item_code), today, warn_share, calendar=calendar),
        }
        for case, department_code in listed
    ]


def township_cases(session: Session, staff: Staff, *, warn_share: float = DEFAULT_WARN_SHARE,
                   limit: int = 500) -> list[dict[str, Any]]:
    """Every case of the points ``staff`` sees (a township's staff: the township and its villages), open ones
    first, soonest due first, then the newest finished ones, at most ``limit``."""
    scope = case_points(session, staff)
    query = select(Case)
    if scope.points is not None:
        query = query.where(Case.point_id.in_(scope.points))  # type: ignore[attr-defined]
    cases = session.exec(query).all()
    opened = sorted((case for case in cases if case.status in OPEN_CASE_STATUSES),
                    key=lambda case: (case.due_date or date.max, case.received_at))
    finished = sorted((case for case in cases if case.status not in OPEN_CASE_STATUSES),
                      key=lambda case: case.received_at, reverse=True)
    tasks: dict[str, list[str]] = {}
    for task in session.exec(select(ReviewTask).where(
            ReviewTask.case_id.in_([case.id for case in cases]))).all():  # type: ignore[attr-defined]
        tasks.setdefault(task.case_id, []).append(task.department_code)
    listed = [(case, ",".join(sorted(set(tasks.get(case.id, []))))) for case in [*opened, *finished][:limit]]
    return case_rows(session, listed, warn_share=warn_share)


def case_time(case: Case, item, today: date, warn_share: float = DEFAULT_WARN_SHARE, *,
              calendar: Calendar) -> dict[str, Any]:
    """The case's time-limit state against its item's promised limit."""
    return promised_time_state(case, item, today, warn_share, calendar=calendar).to_dict()


def parked_cases(session: Session) -> set[str]:
    """Cases an open conflict holds for the operator's desk: no department decides them meanwhile."""
    rows = session.exec(select(Conflict.case_id, Conflict.other_case_id).where(Conflict.status == "open")).all()
    return {case_id for pair in rows for case_id in pair if case_id}


def point_names(session: Session) -> dict:
    return {point.id: point.name for point in session.exec(select(Point)).all()}


def find_cases(session: Session, key: str) -> list[Case]:
    """The case with id ``key``, or every case with that receipt number, first received first: a point
    restored from an old backup may give a number again (parked as a fork on the conflict desk)."""
    key = key.strip()[:40]
    case = session.get(Case, key)
    if case is not None:
        return [case]
    return list(session.exec(select(Case).where(Case.receipt_no == key).order_by(Case.received_at, Case.id)).all())


def case_tasks(session: Session, case_id: str) -> list[ReviewTask]:
    return list(session.exec(
        select(ReviewTask).where(ReviewTask.case_id == case_id)
        .order_by(ReviewTask.stage, ReviewTask.department_code)
    ).all())


def case_detail(session: Session, case: Case, *, warn_share: float = DEFAULT_WARN_SHARE) -> dict[str, Any]:
    """Everything a reviewer reads before deciding, and what was decided."""
    point = session.get(Point, case.point_id)
    rounds = session.exec(select(SupplementRound).where(SupplementRound.case_id == case.id)
                          .order_by(SupplementRound.requested_at)).all()
    rating = session.get(Rating, case.id)
    # Lines written in one millisecond keep their order by id (sync.clock.uuid7).
    events = session.exec(select(CaseEvent).where(CaseEvent.case_id == case.id)
                          .order_by(CaseEvent.at, CaseEvent.id)).all()
    applicant = case.applicant or {}
    scans = case_scans(session, case.id)
    item = find_item(session, case.item_code)
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
        "legal_due_date": case.legal_due_date.isoformat() if case.legal_due_date else None,
        "paused_days": case.paused_days,
        "paused_natural_days": case.paused_natural_days,
        # Each limit's length and unit (working_days | natural_days), and a renewal's deemed-approval day.
        **limit_units(item),
        "deemed_on": case.deemed_on.isoformat() if case.deemed_on else None,
        "time": case_time(case, item, county_date(utc_now()), warn_share, calendar=county_calendar(session)),
        "procedures": [procedure_public(procedure) for procedure in case_procedures(session, case.id)],
        "calendar_missing": calendar_gaps(case, calendar=county_calendar(session)),
        "applicant": {"name": applicant.get("name", ""), "id_number": applicant.get("id_number", ""),
                      "phone": applicant.get("phone", "")},
        "form": case.form or {},
        "materials": case.materials or [],
        # 首问责任制: the clerk who received it at the point (empty from a point that sent none), and the referral
        # slip the resident brought.
        "first_contact": {"name": case.first_contact_name, "post": case.first_contact_post},
        "referral_no": case.referral_no,
        "scans": scans_public(scans),
        "materials_in_transit": materials_in_transit(scans),
        "tasks": [
            {"department": task.department_code, "stage": task.stage, "status": task.status,
             "decided_by": task.decided_by, "reason": task.reason, "decided_at": iso(task.decided_at),
             "result_fields": task.result_fields or {}}
            for task in case_tasks(session, case.id)
        ],
        "supplements": [
            {"department": r.department_code, "materials": r.materials, "note": r.note, "requested_by": r.requested_by,
             "requested_at": iso(r.requested_at), "supplemented_at": iso(r.supplemented_at),
             "supplement_note": r.supplement_note, "paused_days": r.paused_days,
             "return_by": r.return_by.isoformat() if r.return_by else None,
             "return_overdue": supplement_overdue(r, case, county_date(utc_now()))}
            for r in rounds
        ],
        "rating": None if rating is None else {
            "score": rating.score, "comment": rating.comment, "rated_at": iso(rating.rated_at),
            "follow_up": rating.follow_up, "follow_up_note": rating.follow_up_note},
        "events": [{"at": iso(event.at), "actor": event.actor, "action": event.action, "note": event.note}
                   for event in events],
        "catalog_notes": [event.note for event in events if event.action == "catalog_outdated"],
        "decision": case.decision,
        "reason": case.reason,
        "certificate_no": case.certificate_no,
        "result": case.result,
        "certificates": [{"material": row.material_code, "number": row.number, "finding": row.finding,
                          "settled": row.settled} for row in case_certificates(session, case.id)],
    }
