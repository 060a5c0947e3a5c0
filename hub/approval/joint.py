"""The lead department's joint review (并联审批 under a 牵头部门).

Routing a joint item opens one task per department and the case's JointReview under the item's lead department
(hub/approval/routing.py). Each department gives its opinion (hub/approval/opinions.py); the lead opens the joint
review, may call a joint site survey (联合踏勘) or review meeting where the invited departments each record their
opinion (or cancel one not held yet, and call a new one to move it), and issues the combined result once every department has given its opinion. The lead never decides
over a missing opinion: a department that stays silent is chased by the time-limit cards and supervision orders,
as any late department is.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from sync.keys import Identity

from hub.approval.cards import clear_settled_cards
from hub.approval.opinions import OPINION_TASK_STATES, joint_review, latest_opinions, record_opinion
from hub.approval.review import DECISIONS, ReviewError, check_result_fields, issue_result, open_conflicts
from hub.catalog.versions import find_item
from hub.core.clock import as_utc, iso, utc_now
from hub.core.models import (
    JOINT_MEETING_KINDS,
    JOINT_OPINIONS,
    Case,
    JointMeeting,
    JointOpinion,
    JointReview,
    ReviewTask,
    Staff,
)
from hub.core.timeline import record_event

OPEN_CASE = ("routed", "in_review", "supplement_requested")


@dataclass(frozen=True)
class DepartmentState:
    """Where one department stands in a joint review: ``state`` open (no opinion yet), supplement (waiting for the
    resident's 补正), given, or cancelled (the case was withdrawn); its newest opinion and words."""

    code: str
    state: str
    opinion: str | None
    text: str
    given_by: str
    given_at: datetime | None


def _case_and_review(session: Session, case_id: str) -> tuple[Case, JointReview]:
    case = session.get(Case, case_id[:36])
    review = joint_review(session, case.id) if case is not None else None
    if case is None or review is None:
        raise ReviewError("not_joint", "this case has no joint review", 404)
    return case, review


def is_lead(staff: Staff, review: JointReview) -> bool:
    """The lead department's reviewers act for the lead; an admin may act for it too."""
    return staff.role == "admin" or (staff.role == "reviewer" and staff.department_code == review.lead_department)


def _lead_case(session: Session, case_id: str, staff: Staff, *, opened: bool = True) -> tuple[Case, JointReview]:
    """The case and its review, for a step only the lead takes while the review is undecided."""
    case, review = _case_and_review(session, case_id)
    if not is_lead(staff, review):
        raise ReviewError("not_lead", f"only the lead department ({review.lead_department}) takes this step", 403)
    if decided(case, review):
        raise ReviewError("already_decided", "the combined result of this joint review is already issued", 409)
    if opened and review.opened_at is None:
        raise ReviewError("not_opened", "the lead department opens the joint review first", 409)
    return case, review


def decided(case: Case, review: JointReview) -> bool:
    """The joint review is over: the lead issued the combined result, or the case ended otherwise (withdrawn,
    deemed approved)."""
    return review.decided_at is not None or case.decision is not None or case.status not in OPEN_CASE


def department_states(session: Session, case_id: str) -> list[DepartmentState]:
    """Every department of the joint review in catalog order, with its state and newest opinion."""
    tasks = session.exec(select(ReviewTask).where(ReviewTask.case_id == case_id)
                         .order_by(ReviewTask.stage, ReviewTask.id)).all()
    opinions = latest_opinions(session, case_id)
    states = []
    for task in tasks:
        opinion = opinions.get(task.department_code)
        if opinion is not None and task.status in ("approved", "rejected"):
            state = "given"
        else:
            state = {"supplement": "supplement", "cancelled": "cancelled"}.get(task.status, "open")
        states.append(DepartmentState(code=task.department_code, state=state,
                                      opinion=opinion.opinion if opinion else None, text=opinion.text if opinion else "",
                                      given_by=opinion.given_by if opinion else "",
                                      given_at=opinion.given_at if opinion else None))
    return states


def waiting_for_lead(session: Session, case: Case) -> bool:
    """待牵头部门出具结论: every department has given its opinion and the lead has not issued the result yet."""
    review = joint_review(session, case.id)
    if review is None or decided(case, review):
        return False
    return all(state.state == "given" for state in department_states(session, case.id))


def meetings(session: Session, case_id: str) -> list[JointMeeting]:
    return list(session.exec(select(JointMeeting).where(JointMeeting.case_id == case_id)
                             .order_by(JointMeeting.scheduled_at, JointMeeting.id)).all())


def open_review(session: Session, case_id: str, staff: Staff) -> JointReview:
    """The lead opens the joint review (a timeline line)."""
    case, review = _lead_case(session, case_id, staff, opened=False)
    if review.opened_at is not None:
        raise ReviewError("already_opened", "the joint review is already open", 409)
    review.opened_by, review.opened_at = staff.username, utc_now()
    session.add(review)
    record_event(session, case.id, actor=staff.username, action="joint_opened",
                 note=f"{review.lead_department} opened the joint review", data={"lead": review.lead_department})
    session.flush()
    return review


def schedule_meeting(session: Session, case_id: str, staff: Staff, *, kind: str, scheduled_at: datetime,
                     place: str, departments: list[str]) -> JointMeeting:
    """The lead calls a joint site survey (联合踏勘) or review meeting at a future time, inviting departments of
    the review (those invited see it in their queue)."""
    case, review = _lead_case(session, case_id, staff)
    if kind not in JOINT_MEETING_KINDS:
        raise ReviewError("bad_kind", f"kind must be one of {', '.join(JOINT_MEETING_KINDS)}", 422)
    scheduled_at = as_utc(scheduled_at)
    if scheduled_at <= utc_now():
        raise ReviewError("meeting_in_past", "choose a time that has not passed yet", 422)
    place = place.strip()
    if not place:
        raise ReviewError("place_required", "say where the departments meet", 422)
    codes = {task.code for task in department_states(session, case.id)}
    invited = [code for code in dict.fromkeys(departments) if code]
    if not invited:
        raise ReviewError("departments_required", "invite at least one department", 422)
    strays = [code for code in invited if code not in codes]
    if strays:
        raise ReviewError("not_a_department", f"not a department of this joint review: {', '.join(strays)}", 422)
    meeting = JointMeeting(case_id=case.id, kind=kind, scheduled_at=scheduled_at, place=place[:200],
                           departments=invited, called_by=staff.username)
    session.add(meeting)
    session.flush()
    record_event(session, case.id, actor=staff.username, action="joint_meeting_called",
                 note=f"{kind} at {iso(scheduled_at)}, {place[:200]}; invited {', '.join(invited)}",
                 data={"kind": kind, "scheduled_at": iso(scheduled_at), "place": place[:200],
                       "departments": invited})
    return meeting


def _meeting(session: Session, case: Case, meeting_id: uuid.UUID | str) -> JointMeeting:
    try:
        key = meeting_id if isinstance(meeting_id, uuid.UUID) else uuid.UUID(str(meeting_id))
    except ValueError:
        key = None
    meeting = session.get(JointMeeting, key) if key else None
    if meeting is None or meeting.case_id != case.id:
        raise ReviewError("no_meeting", "no such meeting on this case", 404)
    return meeting


def mark_held(session: Session, case_id: str, meeting_id: uuid.UUID | str, staff: Staff) -> JointMeeting:
    """The lead records that the meeting took place; the invited departments then record their opinions on it."""
    case, review = _lead_case(session, case_id, staff)
    meeting = _meeting(session, case, meeting_id)
    _refuse_settled(meeting)
    meeting.held_at = utc_now()
    session.add(meeting)
    record_event(session, case.id, actor=staff.username, action="joint_meeting_held",
                 note=f"{meeting.kind} of {iso(meeting.scheduled_at)} held",
                 data={"kind": meeting.kind, "scheduled_at": iso(meeting.scheduled_at)})
    session.flush()
    return meeting


def _refuse_settled(meeting: JointMeeting) -> None:
    """A held or cancelled meeting is settled: it can be neither held nor cancelled again."""
    if meeting.held_at is not None:
        raise ReviewError("already_held", "this meeting is already marked held", 409)
    if meeting.cancelled_at is not None:
        raise ReviewError("already_cancelled", "this meeting was cancelled; call a new one", 409)


def cancel_meeting(session: Session, *, case_id: str, meeting_id: uuid.UUID | str, staff: Staff,
                   reason: str) -> JointMeeting:
    """The lead calls off a meeting that has not taken place (rain, a department cannot come), saying why; the
    invited departments no longer see it on their queue and give no opinion for it. There is no moving a meeting:
    the lead cancels it and calls a new one, so every invitation the departments saw stays on the record."""
    case, review = _lead_case(session, case_id, staff)
    meeting = _meeting(session, case, meeting_id)
    _refuse_settled(meeting)
    reason = reason.strip()[:500]
    if not reason:
        raise ReviewError("reason_required", "say why the meeting is cancelled", 422)
    meeting.cancelled_at, meeting.cancel_reason = utc_now(), reason
    session.add(meeting)
    record_event(session, case.id, actor=staff.username, action="joint_meeting_cancelled",
                 note=f"{meeting.kind} of {iso(meeting.scheduled_at)} cancelled: {reason}",
                 data={"kind": meeting.kind, "scheduled_at": iso(meeting.scheduled_at), "reason": reason})
    session.flush()
    return meeting


def give_opinion(session: Session, case_id: str, staff: Staff, *, opinion: str, text: str,
                 meeting_id: uuid.UUID | str | None = None) -> JointOpinion:
    """The caller's department records its opinion, on the papers or for a meeting it was invited to and that was
    held; a newer opinion replaces the older one until the lead decides. Disagreeing or agreeing with conditions
    needs words."""
    case, review = _case_and_review(session, case_id)
    if decided(case, review):
        raise ReviewError("already_decided", "the combined result of this joint review is already issued", 409)
    if staff.role != "reviewer" or not staff.department_code:
        raise ReviewError("no_department", "only a department's reviewer gives its opinion", 403)
    task = session.exec(select(ReviewTask).where(ReviewTask.case_id == case.id,
                                                 ReviewTask.department_code == staff.department_code)).first()
    if task is None:
        raise ReviewError("not_a_department", "your department has no part in this joint review", 403)
    if opinion not in JOINT_OPINIONS:
        raise ReviewError("bad_opinion", f"opinion must be one of {', '.join(JOINT_OPINIONS)}", 422)
    text = text.strip()
    if opinion != "agree" and not text:
        raise ReviewError("text_required", "write the reason or the conditions of your opinion", 422)
    if open_conflicts(session, case.id):
        raise ReviewError("in_conflict", "this case is in conflict at the hub; an operator resolves it on the "
                          "conflict desk first", 409)
    if task.status not in OPINION_TASK_STATES:
        raise ReviewError("not_open", "your department's task waits for the resident's materials", 409)
    meeting = None
    if meeting_id:
        meeting = _meeting(session, case, meeting_id)
        if staff.department_code not in meeting.departments:
            raise ReviewError("not_invited", "your department was not invited to this meeting", 403)
        if meeting.cancelled_at is not None:
            raise ReviewError("meeting_cancelled", "this meeting was cancelled; give your opinion on the papers "
                              "or at the meeting called instead", 409)
        if meeting.held_at is None:
            raise ReviewError("meeting_not_held", "the lead marks the meeting held before opinions on it", 409)
    row = record_opinion(session, case, task, opinion=opinion, text=text, actor=staff.username,
                         meeting_id=meeting.id if meeting else None, meeting_kind=meeting.kind if meeting else "")
    session.flush()
    clear_settled_cards(session, case.id)
    return row


def decide_joint(session: Session, case_id: str, staff: Staff, *, decision: str, reason: str,
                 result_fields: dict[str, str] | None, identity: Identity) -> Case:
    """The lead issues the combined result with every department's opinion in front of it. Approving over a
    department's disagreement needs the lead's reason, as a rejection does."""
    case, review = _lead_case(session, case_id, staff)
    if decision not in DECISIONS:
        raise ReviewError("bad_decision", "decision must be 'approved' or 'rejected'", 422)
    if open_conflicts(session, case.id):
        raise ReviewError("in_conflict", "this case is in conflict at the hub; an operator resolves it on the "
                          "conflict desk first", 409)
    states = department_states(session, case.id)
    missing = [state.code for state in states if state.state != "given"]
    if missing:
        raise ReviewError("opinions_missing", f"waiting for the opinion of {', '.join(missing)}", 409)
    reason = reason.strip()
    if decision == "rejected" and not reason:
        raise ReviewError("reason_required", "a rejection needs a reason the resident can read", 422)
    if decision == "approved" and not reason and any(state.opinion == "disagree" for state in states):
        raise ReviewError("reason_required", "a department disagrees: write why the joint review approves", 422)
    filled = check_result_fields(find_item(session, case.item_code), result_fields) if decision == "approved" else {}
    review.decided_by, review.decided_at = staff.username, utc_now()
    session.add(review)
    record_event(session, case.id, actor=staff.username, action="joint_decided",
                 note=f"{review.lead_department}: {decision}" + (f": {reason}" if reason else ""),
                 data={"lead": review.lead_department, "decision": decision, "reason": reason})
    tasks = list(session.exec(select(ReviewTask).where(ReviewTask.case_id == case.id)
                              .order_by(ReviewTask.stage, ReviewTask.id)).all())
    issue_result(session, case, tasks, staff.username, decision, identity, reason=reason, result_fields=filled)
    session.add(case)
    session.flush()
    clear_settled_cards(session, case.id)
    return case


def joint_public(session: Session, case: Case) -> dict:
    """The joint review as the API shows it: lead, its opening, each department's state and opinion, meetings."""
    review = joint_review(session, case.id)
    if review is None:
        raise ReviewError("not_joint", "this case has no joint review", 404)
    opinions = session.exec(select(JointOpinion).where(JointOpinion.case_id == case.id, JointOpinion.meeting_id
                                                       .is_not(None)).order_by(JointOpinion.given_at)).all()
    return {
        "lead": review.lead_department,
        "opened_at": iso(review.opened_at),
        "opened_by": review.opened_by,
        "decided_at": iso(review.decided_at),
        "decided_by": review.decided_by,
        "waiting_for_lead": waiting_for_lead(session, case),
        "departments": [{"code": state.code, "state": state.state, "opinion": state.opinion, "text": state.text,
                         "given_by": state.given_by, "given_at": iso(state.given_at)}
                        for state in department_states(session, case.id)],
        "meetings": [{"meeting_id": str(meeting.id), "kind": meeting.kind, "scheduled_at": iso(meeting.scheduled_at),
                      "place": meeting.place, "departments": list(meeting.departments),
                      "called_by": meeting.called_by, "held_at": iso(meeting.held_at),
                      "cancelled_at": iso(meeting.cancelled_at), "cancel_reason": meeting.cancel_reason,
                      "opinions": [{"department": row.department_code, "opinion": row.opinion, "text": row.text,
                                    "given_by": row.given_by, "given_at": iso(row.given_at)}
                                   for row in opinions if row.meeting_id == meeting.id]}
                     for meeting in meetings(session, case.id)],
    }


def invitations(session: Session, department: str) -> list[tuple[JointMeeting, Case]]:
    """Meetings not held yet that invite ``department``, soonest first, with their cases (for its queue)."""
    rows = session.exec(select(JointMeeting, Case).join(Case, Case.id == JointMeeting.case_id)
                        .where(JointMeeting.held_at.is_(None), JointMeeting.cancelled_at.is_(None),
                               Case.status.in_(OPEN_CASE))  # type: ignore[attr-defined]
                        .order_by(JointMeeting.scheduled_at)).all()
    return [(meeting, case) for meeting, case in rows if department in (meeting.departments or [])]


def lead_cases(session: Session, department: str) -> list[str]:
    """Open cases whose joint review ``department`` leads and has not decided yet."""
    return list(session.exec(select(JointReview.case_id).join(Case, Case.id == JointReview.case_id)
                             .where(JointReview.lead_department == department, JointReview.decided_at.is_(None),
                                    Case.status.in_(OPEN_CASE))).all())  # type: ignore[attr-defined]
