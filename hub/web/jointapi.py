"""The joint review's JSON API (bearer tokens): what the lead department's page does (hub/web/joint.py), for the
departments' own tools and for tests. Anyone who may read the case reads its joint review; the lead opens it,
calls, holds or cancels meetings and issues the combined result; each department gives its own opinion."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from flask import Blueprint, g
from pydantic import BaseModel, ConfigDict, Field

from sync.kit.openapi import documented
from sync.kit.web import api_error, parse_json_body

from hub.approval.joint import (
    cancel_meeting,
    decide_joint,
    give_opinion,
    joint_public,
    mark_held,
    open_review,
    schedule_meeting,
)
from hub.approval.cases import can_view
from hub.approval.review import ReviewError
from hub.core.models import Case
from hub.web.auth import api_auth
from hub.web.context import current_identity, get_session

bp = Blueprint("jointapi", __name__, url_prefix="/api")

_ERRORS = {403: ("forbidden", "not_lead", "not_invited", "not_a_department", "no_department"),
           404: ("not_found", "not_joint", "no_meeting"),
           409: ("already_opened", "not_opened", "already_decided", "already_held", "already_cancelled",
                 "meeting_not_held", "meeting_cancelled", "opinions_missing", "not_open", "in_conflict"),
           422: ("invalid_input", "bad_kind", "meeting_in_past", "place_required", "departments_required",
                 "bad_opinion", "text_required", "bad_decision", "reason_required", "unknown_result_field",
                 "result_fields_required")}


def _visible_case(case_id: str) -> Case | None:
    case = get_session().get(Case, case_id[:36])
    return case if case is not None and can_view(get_session(), g.staff, case) else None


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Nothing to fill in: an empty object.
class EmptyBody(_Request):
    pass


# A joint site survey (联合踏勘) or review meeting: when (ISO 8601, UTC or with its offset), where, who is invited.
class MeetingBody(_Request):
    kind: Literal["site_survey", "review_meeting"]
    scheduled_at: datetime
    place: str = Field(min_length=1, max_length=200)
    departments: list[str] = Field(min_length=1, max_length=32)


# Why the lead calls off a meeting (the rain, a department cannot come); to move it, cancel and call a new one.
class CancelBody(_Request):
    reason: str = Field(default="", max_length=500)


# The caller's department's opinion, on the papers or for a meeting it attended.
class OpinionBody(_Request):
    opinion: Literal["agree", "agree_with_conditions", "disagree"]
    text: str = Field(default="", max_length=4000)
    meeting_id: str | None = Field(default=None, max_length=36)


# The lead's combined result.
class JointDecisionBody(_Request):
    decision: Literal["approved", "rejected"]
    reason: str = Field(default="", max_length=2000)
    result_fields: dict[str, str] = Field(default_factory=dict)


class DepartmentPublic(BaseModel):
    code: str
    state: Literal["open", "supplement", "given", "cancelled"]
    opinion: str | None
    text: str
    given_by: str = ""
    given_at: str | None = None


class MeetingOpinionPublic(BaseModel):
    department: str
    opinion: str
    text: str
    given_by: str
    given_at: str | None


class MeetingPublic(BaseModel):
    meeting_id: str
    kind: str
    scheduled_at: str
    place: str
    departments: list[str]
    called_by: str
    held_at: str | None
    cancelled_at: str | None
    cancel_reason: str = ""
    opinions: list[MeetingOpinionPublic]


# A joint review: its lead, when it was opened and decided, each department's state and opinion, its meetings.
class JointPublic(BaseModel):
    lead: str
    opened_at: str | None
    opened_by: str = ""
    decided_at: str | None = None
    decided_by: str = ""
    waiting_for_lead: bool = False
    departments: list[DepartmentPublic]
    meetings: list[MeetingPublic]


class MeetingCreated(BaseModel):
    meeting_id: str


def _step(case_id: str, schema, act, *, answer=None, status: int = 200):
    """Parse ``schema``, run ``act(db, case, body)`` on a case the caller may read; answer with ``answer(result)``,
    by default the joint review as it now stands."""
    body = parse_json_body(schema)
    if not isinstance(body, schema):
        return body
    db = get_session()
    case = _visible_case(case_id)
    if case is None:
        return api_error(404, "not_found", "no such case in your department")
    try:
        result = act(db, case, body)
    except ReviewError as exc:
        db.rollback()
        return api_error(exc.status, exc.reason, str(exc))
    db.commit()
    return (answer(result) if answer else joint_public(db, case)), status


@bp.get("/cases/<case_id>/joint")
@documented("A joint case's review under its lead department", answer=JointPublic,
            errors={404: ("not_found", "not_joint")})
@api_auth()
def get_joint(case_id: str):
    """The lead, each department's state and opinion, the meetings."""
    case = _visible_case(case_id)
    if case is None:
        return api_error(404, "not_found", "no such case in your department")
    try:
        return joint_public(get_session(), case)
    except ReviewError as exc:
        return api_error(exc.status, exc.reason, str(exc))


@bp.post("/cases/<case_id>/joint/open")
@documented("The lead opens the joint review", body=EmptyBody, answer=JointPublic, errors=_ERRORS)
@api_auth("reviewer", "admin")
def post_open(case_id: str):
    """The lead department opens the joint review."""
    return _step(case_id, EmptyBody, lambda db, case, body: open_review(db, case.id, g.staff))


@bp.post("/cases/<case_id>/joint/meetings")
@documented("The lead calls a joint site survey or review meeting", body=MeetingBody, answer=MeetingCreated,
            status=201, errors=_ERRORS)
@api_auth("reviewer", "admin")
def post_meeting(case_id: str):
    """Schedule a meeting in the future and invite departments of the review."""
    return _step(case_id, MeetingBody, lambda db, case, body: schedule_meeting(
        db, case.id, g.staff, kind=body.kind, scheduled_at=body.scheduled_at, place=body.place,
        departments=body.departments), answer=lambda meeting: {"meeting_id": str(meeting.id)}, status=201)


@bp.post("/cases/<case_id>/joint/meetings/<meeting_id>/held")
@documented("The lead marks a meeting held", body=EmptyBody, answer=JointPublic, errors=_ERRORS)
@api_auth("reviewer", "admin")
def post_held(case_id: str, meeting_id: str):
    """The meeting took place: the invited departments may now record their opinions on it."""
    return _step(case_id, EmptyBody, lambda db, case, body: mark_held(db, case.id, meeting_id[:36], g.staff))


@bp.post("/cases/<case_id>/joint/meetings/<meeting_id>/cancel")
@documented("The lead cancels a meeting not held yet", body=CancelBody, answer=JointPublic, errors=_ERRORS)
@api_auth("reviewer", "admin")
def post_cancel(case_id: str, meeting_id: str):
    """Call off a meeting with the reason; the invited departments no longer see it. To move it, call a new one."""
    return _step(case_id, CancelBody, lambda db, case, body: cancel_meeting(
        db, case_id=case.id, meeting_id=meeting_id[:36], staff=g.staff, reason=body.reason))


@bp.post("/cases/<case_id>/joint/opinions")
@documented("The caller's department gives its opinion", body=OpinionBody, answer=JointPublic, errors=_ERRORS)
@api_auth("reviewer")
def post_opinion(case_id: str):
    """Agree, agree with conditions or disagree, on the papers or for a held meeting the department attended."""
    return _step(case_id, OpinionBody, lambda db, case, body: give_opinion(
        db, case.id, g.staff, opinion=body.opinion, text=body.text, meeting_id=body.meeting_id))


@bp.post("/cases/<case_id>/joint/decision")
@documented("The lead issues the combined result", body=JointDecisionBody, answer=JointPublic, errors=_ERRORS)
@api_auth("reviewer", "admin")
def post_decision(case_id: str):
    """Approve (with the item's result fields) or reject (with a reason) once every department gave its opinion."""
    return _step(case_id, JointDecisionBody, lambda db, case, body: decide_joint(
        db, case.id, g.staff, decision=body.decision, reason=body.reason, result_fields=body.result_fields,
        identity=current_identity()))
