"""Special procedures (特别程序) whose time does not count against a case's limits.

行政许可法 第四十五条: the time a licence needs for a hearing (听证), a tender (招标), an auction (拍卖),
inspection, testing or quarantine (检验、检测、检疫), appraisal (鉴定), expert review (专家评审) or publicity
(公示) is not counted in the limits; 现场核查 (site_check) only where the item's rule says so
(ServiceItem.site_check_excluded). The department that holds an open task on the case starts one with a reason
and ends it with a note; while it runs the clock stands still as it does during 补正 (hub/approval/timelimits.py),
and the point shows the resident what the case waits for and until when. Several pauses may overlap: the clock
runs again when the last one ends, and moves the limits by the days it stood still, each in its own unit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, select

from sync.catalog import SPECIAL_PROCEDURES
from sync.kit.workdays import county_date

from hub.approval.timelimits import OPEN_STATUSES, pause, resume
from hub.catalog.calendar import county_calendar
from hub.catalog.versions import find_item
from hub.core.clock import iso, utc_now
from hub.core.models import Case, Point, ReviewTask, SpecialProcedure, Staff
from hub.core.outbox import send_status
from hub.core.timeline import HUB_ACTOR, record_event

SITE_CHECK = "site_check"


class ProcedureError(ValueError):
    """A refused start or end; ``reason`` is a stable word, ``status`` the HTTP answer."""

    def __init__(self, reason: str, message: str, status: int):
        super().__init__(message)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class ProcedureEnded:
    """The procedure that ended and what the clock gained: working and natural days (0 while another pause
    still holds the clock)."""

    procedure: SpecialProcedure
    paused_days: int
    paused_natural_days: int


def open_procedures(session: Session, case_id: str) -> list[SpecialProcedure]:
    """The case's procedures not ended yet, first started first."""
    return list(session.exec(select(SpecialProcedure).where(
        SpecialProcedure.case_id == case_id, SpecialProcedure.ended_at.is_(None))  # type: ignore[union-attr]
        .order_by(SpecialProcedure.started_at, SpecialProcedure.id)).all())


def case_procedures(session: Session, case_id: str) -> list[SpecialProcedure]:
    """All of the case's procedures, first started first."""
    return list(session.exec(select(SpecialProcedure).where(SpecialProcedure.case_id == case_id)
                             .order_by(SpecialProcedure.started_at, SpecialProcedure.id)).all())


def procedure_public(procedure: SpecialProcedure) -> dict:
    """A procedure as the API gives it."""
    return {"procedure_id": str(procedure.id), "kind": procedure.kind, "department": procedure.department_code,
            "reason": procedure.reason, "started_by": procedure.started_by, "started_at": iso(procedure.started_at),
            "expected_end": procedure.expected_end.isoformat() if procedure.expected_end else None,
            "ended_by": procedure.ended_by, "ended_at": iso(procedure.ended_at), "end_note": procedure.end_note,
            "paused_days": procedure.paused_days, "paused_natural_days": procedure.paused_natural_days}


def start_procedure(session: Session, *, case_id: str, staff: Staff, kind: str, reason: str,
                    expected_end: date | None = None) -> SpecialProcedure:
    """Start a special procedure on ``case_id`` for the department of ``staff`` (an admin: for the department
    whose task is open); the clock stops. Raise ProcedureError."""
    case = _case(session, case_id)
    if kind not in SPECIAL_PROCEDURES:
        raise ProcedureError("unknown_kind", f"not a special procedure: {kind!r}; one of "
                             f"{', '.join(SPECIAL_PROCEDURES)}", 422)
    department = _acting_department(session, case, staff)
    item = find_item(session, case.item_code)
    if kind == SITE_CHECK and not (item and item.site_check_excluded):
        raise ProcedureError("site_check_counts", "this item's rule counts 现场核查 in its time limit; it cannot "
                             "be excluded", 422)
    reason = reason.strip()
    if not reason:
        raise ProcedureError("reason_required", "write why the procedure is needed", 422)
    now = utc_now()
    if expected_end is not None and expected_end < county_date(now):
        raise ProcedureError("expected_end_past", "the expected end must not be before today", 422)
    if any(other.kind == kind and other.department_code == department for other in open_procedures(session, case.id)):
        raise ProcedureError("already_open", "this procedure is already running on the case; end it first", 409)
    procedure = SpecialProcedure(case_id=case.id, department_code=department, kind=kind, reason=reason[:2000],
                                 started_by=staff.username, started_at=now, expected_end=expected_end)
    session.add(procedure)
    pause(case, now)
    session.add(case)
    record_event(session, case.id, actor=staff.username, action="procedure_started",
                 note=f"{department}: {kind} started ({reason[:120]}); the time limit pauses"
                      + (f", expected to end {expected_end}" if expected_end else ""),
                 data={"department": department, "kind": kind, "reason": reason[:500],
                       "expected_end": expected_end.isoformat() if expected_end else None,
                       "procedure_id": str(procedure.id)})
    _tell_point(session, case, "procedure_started", f"{kind} started")
    session.flush()
    return procedure


def end_procedure(session: Session, *, staff: Staff, note: str, procedure_id: uuid.UUID | str | None = None,
                  case_id: str | None = None, kind: str | None = None) -> ProcedureEnded:
    """End a running procedure (by its id, or by case and kind) with a note of its outcome; when no other pause
    holds the clock it runs again and both limits move. Raise ProcedureError."""
    procedure = _find_open(session, procedure_id=procedure_id, case_id=case_id, kind=kind)
    case = _case(session, procedure.case_id)
    if not (staff.role == "admin" or (staff.role == "reviewer" and staff.department_code == procedure.department_code)):
        raise ProcedureError("forbidden", "only the department that started the procedure ends it", 403)
    note = note.strip()
    if not note:
        raise ProcedureError("note_required", "write how the procedure ended", 422)
    now = utc_now()
    procedure.ended_by, procedure.ended_at, procedure.end_note = staff.username, now, note[:2000]
    session.add(procedure)
    session.flush()
    before = (case.paused_days, case.paused_natural_days)
    resume_unless_paused(session, case, now, supplement_open=case.status == "supplement_requested")
    procedure.paused_days = case.paused_days - before[0]
    procedure.paused_natural_days = case.paused_natural_days - before[1]
    session.add_all([procedure, case])
    record_event(session, case.id, actor=staff.username, action="procedure_ended",
                 note=f"{procedure.department_code}: {procedure.kind} ended ({note[:120]}); "
                      + (f"due {case.due_date}, legal limit {case.legal_due_date}" if case.paused_since is None
                         else "the clock stays paused for another pause"),
                 data={"department": procedure.department_code, "kind": procedure.kind, "note": note[:500],
                       "paused_days": procedure.paused_days, "paused_natural_days": procedure.paused_natural_days,
                       "due": _iso(case.due_date), "legal_due": _iso(case.legal_due_date),
                       "still_paused": case.paused_since is not None, "procedure_id": str(procedure.id)})
    _tell_point(session, case, "procedure_ended", f"{procedure.kind} ended")
    session.flush()
    return ProcedureEnded(procedure, procedure.paused_days, procedure.paused_natural_days)


def resume_unless_paused(session: Session, case: Case, at: datetime, *, supplement_open: bool) -> int:
    """A pause ended: run the clock again unless a 补正 (``supplement_open``) or a procedure still holds it;
    return the working days it stood still (0 when it still stands)."""
    if supplement_open or open_procedures(session, case.id):
        return 0
    point = session.get(Point, case.point_id)
    return resume(case, at, calendar=county_calendar(session), item=find_item(session, case.item_code),
                  point_offset_ms=point.clock_offset_ms if point else 0)


def end_for_decision(session: Session, case: Case, at: datetime) -> None:
    """The case was decided while procedures ran (another department rejected it): they end with it, and the
    clock stops for good at ``at``."""
    for procedure in open_procedures(session, case.id):
        procedure.ended_by, procedure.ended_at, procedure.end_note = HUB_ACTOR, at, "decided"
        session.add(procedure)
    session.flush()
    resume_unless_paused(session, case, at, supplement_open=False)


def _case(session: Session, case_id: str) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise ProcedureError("not_found", "no such case", 404)
    return case


def _acting_department(session: Session, case: Case, staff: Staff) -> str:
    """The department a procedure is started for: the reviewer's own, when it holds an open task on the case;
    for an admin, the first department holding one."""
    if case.status not in OPEN_STATUSES:
        raise ProcedureError("not_open", "the case is not in review", 409)
    query = select(ReviewTask).where(ReviewTask.case_id == case.id,
                                     ReviewTask.status.in_(("open", "supplement")))  # type: ignore[attr-defined]
    if staff.role == "reviewer":
        query = query.where(ReviewTask.department_code == staff.department_code)
    elif staff.role != "admin":
        raise ProcedureError("forbidden", "only a reviewer of the deciding department starts a procedure", 403)
    task = session.exec(query.order_by(ReviewTask.stage, ReviewTask.department_code)).first()
    if task is None:
        raise ProcedureError("not_open", "there is no open task on this case for your department", 409)
    return task.department_code


def _find_open(session: Session, *, procedure_id: uuid.UUID | str | None, case_id: str | None,
               kind: str | None) -> SpecialProcedure:
    if procedure_id is not None:
        try:
            key = procedure_id if isinstance(procedure_id, uuid.UUID) else uuid.UUID(str(procedure_id))
        except ValueError:
            raise ProcedureError("not_found", "no such procedure", 404) from None
        procedure = session.get(SpecialProcedure, key)
        if procedure is None or (case_id is not None and procedure.case_id != case_id):
            raise ProcedureError("not_found", "no such procedure on this case", 404)
    else:
        running = [other for other in open_procedures(session, case_id or "") if other.kind == kind]
        if not running:
            raise ProcedureError("not_found", "no such procedure running on this case", 404)
        procedure = running[0]
    if procedure.ended_at is not None:
        raise ProcedureError("already_ended", "this procedure has ended already", 409)
    return procedure


def _tell_point(session: Session, case: Case, state: str, note: str) -> None:
    point = session.get(Point, case.point_id)
    if point is not None and point.enc_public_key:
        send_status(session, case, point, state, note)


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None
