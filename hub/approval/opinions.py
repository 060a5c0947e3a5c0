"""A department's opinion in a joint review (并联审批 under a lead department, 牵头部门).

On a joint route each department's decision is its opinion, not a result: it closes the department's task and
cancels nothing, and the lead department issues the combined result with every opinion in front of it
(hub/approval/joint.py). This floor sits under both hub/approval/review.py (a department deciding its task) and
the lead's steps, so that neither imports the other.
"""

from __future__ import annotations

import uuid

from sqlmodel import Session, select

from sync.catalog import ServiceItem

from hub.core.clock import utc_now
from hub.core.models import JOINT_OPINIONS, Case, JointOpinion, JointReview, ReviewTask
from hub.core.timeline import record_event

# What an opinion makes of the department's task: it has said its word (the task's outcome words stay as before).
TASK_STATUS = {"agree": "approved", "agree_with_conditions": "approved", "disagree": "rejected"}
# Task states in which a department may give (or, before the lead decides, revise) its opinion.
OPINION_TASK_STATES = ("open", "approved", "rejected")


def lead_department(item: ServiceItem) -> str:
    """The item's lead department; an older catalog without one: its first department."""
    return item.lead_department or item.departments[0]


def joint_review(session: Session, case_id: str) -> JointReview | None:
    """The case's joint review, if it was routed jointly."""
    return session.get(JointReview, case_id)


def lead_decides(session: Session, case_id: str) -> bool:
    """True while the lead department, not the departments' tasks, settles the case's outcome."""
    review = joint_review(session, case_id)
    return review is not None and review.decided_at is None


def opinion_of(decision: str, reason: str) -> str:
    """A department's decision on its joint task as an opinion: a rejection disagrees, an approval with words
    agrees with those conditions, a bare approval agrees."""
    if decision == "rejected":
        return "disagree"
    return "agree_with_conditions" if reason.strip() else "agree"


def record_opinion(session: Session, case: Case, task: ReviewTask, *, opinion: str, text: str, actor: str,
                   meeting_id: uuid.UUID | None = None, meeting_kind: str = "") -> JointOpinion:
    """Store ``task``'s department's opinion (at a meeting or on the papers) and close its task with it.

    The newest opinion of a department is the one that counts; the older ones stay for the record."""
    assert opinion in JOINT_OPINIONS
    now = utc_now()
    row = JointOpinion(case_id=case.id, meeting_id=meeting_id, department_code=task.department_code,
                       opinion=opinion, text=text[:4000], given_by=actor, given_at=now)
    session.add(row)
    task.status, task.decided_by, task.decided_at, task.reason = TASK_STATUS[opinion], actor, now, text[:2000]
    session.add(task)
    case.status = "supplement_requested" if case.paused_since is not None else "in_review"
    session.add(case)
    record_event(session, case.id, actor=actor, action="joint_opinion",
                 note=f"{task.department_code}: {opinion}" + (f" at the {meeting_kind}" if meeting_kind else "")
                      + (f": {text}" if text else ""),
                 data={"department": task.department_code, "opinion": opinion, "text": text[:2000],
                       "meeting": meeting_kind or None})
    return row


def latest_opinions(session: Session, case_id: str) -> dict[str, JointOpinion]:
    """Each department's newest opinion on the case."""
    rows = session.exec(select(JointOpinion).where(JointOpinion.case_id == case_id)
                        .order_by(JointOpinion.given_at, JointOpinion.id)).all()
    return {row.department_code: row for row in rows}
