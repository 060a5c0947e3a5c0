"""Routing a case to the departments that decide it: single, joint (并联) or staged.

- single: one task for the item's department, open at once;
- joint: one open task per department; all must approve, any rejection rejects;
- staged: one task per department in catalog order; the next opens when the
  previous approves.
"""

from __future__ import annotations

from sqlmodel import Session

from sync.catalog import ServiceItem

from .cases import record_event
from .models import Case, Point, ReviewTask
from .timelimits import set_deadlines

HUB_ACTOR = "hub"


def route_case(session: Session, case: Case, item: ServiceItem) -> list[ReviewTask]:
    """Create the review tasks for ``case`` and set its due date on the hub's working-day clock."""
    tasks = []
    for index, department in enumerate(item.departments):
        staged = item.route == "staged"
        tasks.append(ReviewTask(
            case_id=case.id, department_code=department, stage=index + 1 if staged else 1,
            status="open" if not staged or index == 0 else "waiting",
        ))
    session.add_all(tasks)
    # The limit runs from intake at the point (受理), as the receipt promised, on the hub's clock.
    point = session.get(Point, case.point_id)
    set_deadlines(case, item, point.clock_offset_ms if point else 0)
    case.status = "routed"
    session.add(case)
    opened = ", ".join(task.department_code for task in tasks if task.status == "open")
    record_event(session, case.id, actor=HUB_ACTOR, action="routed",
                 note=f"{item.route} route; open for {opened}; due {case.due_date.isoformat()}")
    return tasks
