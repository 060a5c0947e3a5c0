"""Routing a case to the departments that decide it: single, joint (并联) or staged.

- single: one task for the item's department, open at once;
- joint: one open task per department, each giving its opinion; the lead department (牵头部门) opens the joint
  review and issues the combined result (hub/approval/joint.py);
- staged: one task per department in catalog order; the next opens when the
  previous approves.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session

from sync.catalog import ServiceItem
from sync.clock import uuid7
from sync.kit.workdays import county_date

from hub.approval.opinions import lead_department
from hub.approval.timelimits import intake_moment, renewal_expiry, set_deadlines
from hub.catalog.calendar import county_calendar
from hub.core.models import Case, JointReview, Point, ReviewTask
from hub.core.timeline import HUB_ACTOR, record_event


def route_case(session: Session, case: Case, item: ServiceItem) -> list[ReviewTask]:
    """Create the review tasks for ``case`` and set its due date on the hub's working-day clock."""
    tasks = [ReviewTask(**row) for row in planned_tasks(case.id, item)]
    session.add_all(tasks)
    if item.route == "joint" and session.get(JointReview, case.id) is None:
        session.add(JointReview(case_id=case.id, lead_department=lead_department(item)))
    # The limit runs from intake at the point (受理), as the receipt promised, on the hub's clock.
    point = session.get(Point, case.point_id)
    offset = point.clock_offset_ms if point else 0
    set_deadlines(case, item, offset, calendar=county_calendar(session))
    # 第五十条: a renewal not decided before the licence expires is deemed granted then, whatever its limit. A
    # licence already expired at intake has nothing to renew in time: its case runs on the legal limit.
    expiry = renewal_expiry(case.form or {}, item.renewal)
    case.deemed_on = expiry if expiry is not None and expiry > county_date(intake_moment(case, offset)) else None
    case.status = "routed"
    session.add(case)
    record_event(session, case.id, actor=HUB_ACTOR, action="routed", note=routed_note(item, case.due_date),
                 data=routed_data(item, case.due_date))
    return tasks


def planned_tasks(case_id: str, item: ServiceItem) -> list[dict[str, Any]]:
    """The ReviewTask rows routing ``item`` makes, in department order (not stored yet)."""
    staged = item.route == "staged"
    return [{"id": uuid7(), "case_id": case_id, "department_code": department,
             "stage": index + 1 if staged else 1, "status": "open" if not staged or index == 0 else "waiting",
             "decided_by": "", "reason": "", "certificate_no": "", "decided_at": None, "result_fields": None}
            for index, department in enumerate(item.departments)]


def routed_note(item: ServiceItem, due_date: date | None) -> str:
    """The timeline's line for a case just routed: the route, who decides first, the promised date."""
    opened = item.departments if item.route != "staged" else item.departments[:1]
    return f"{item.route} route; open for {', '.join(opened)}; due {due_date.isoformat() if due_date else ''}"


def routed_data(item: ServiceItem, due_date: date | None) -> dict:
    """The same line's facts, for the pages to word: the route, the departments that open, the promised date."""
    opened = item.departments if item.route != "staged" else item.departments[:1]
    data = {"route": item.route, "departments": list(opened), "due": due_date.isoformat() if due_date else None,
            "promised_days": item.promised_days}
    if item.route == "joint":
        data["lead"] = lead_department(item)
    return data
