"""The joint-review page of a joint case (/cases/<id>/joint): the lead department opens the review, calls and holds
joint site surveys and review meetings (or cancels one not held yet), and issues the combined result; each
department gives its opinion; everyone else who may read the case reads it."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask_babel import lazy_gettext

from sync.kit.workdays import COUNTY_TIMEZONE

from hub.approval.cases import can_view
from hub.approval.joint import (
    cancel_meeting,
    decide_joint,
    decided,
    department_states,
    give_opinion,
    is_lead,
    joint_public,
    mark_held,
    open_review,
    schedule_meeting,
    waiting_for_lead,
)
from hub.approval.opinions import joint_review
from hub.approval.review import ReviewError
from hub.catalog.versions import find_item
from hub.core.models import JOINT_MEETING_KINDS, JOINT_OPINIONS, Case
from hub.web.auth import login_required
from hub.web.context import current_identity, get_session
from hub.web.timeline import Words

bp = Blueprint("joint", __name__)

MEETING_KINDS = {"site_survey": lazy_gettext("Joint site survey"), "review_meeting": lazy_gettext("Joint review meeting")}
OPINIONS = {"agree": lazy_gettext("Agree"), "agree_with_conditions": lazy_gettext("Agree with conditions"),
            "disagree": lazy_gettext("Disagree")}
STATES = {"open": lazy_gettext("No opinion yet"), "supplement": lazy_gettext("Waiting for the supplement"),
          "given": lazy_gettext("Opinion given"), "cancelled": lazy_gettext("Cancelled")}
REFUSALS = {
    "not_lead": lazy_gettext("Only the lead department takes this step. Nothing was saved."),
    "already_decided": lazy_gettext("The combined result is already issued. Nothing was saved."),
    "not_opened": lazy_gettext("Open the joint review first. Nothing was saved."),
    "already_opened": lazy_gettext("The joint review is already open."),
    "bad_kind": lazy_gettext("Choose a site survey or a review meeting. Nothing was saved."),
    "meeting_in_past": lazy_gettext("Choose a date and time that have not passed yet. Nothing was saved."),
    "bad_time": lazy_gettext("Enter the meeting's date and time. Nothing was saved."),
    "place_required": lazy_gettext("Write where the departments meet. Nothing was saved."),
    "departments_required": lazy_gettext("Tick at least one department to invite. Nothing was saved."),
    "not_a_department": lazy_gettext("Invite only departments of this joint review. Nothing was saved."),
    "no_meeting": lazy_gettext("There is no such meeting on this case. Nothing was saved."),
    "already_held": lazy_gettext("This meeting is already marked held. Nothing was saved."),
    "already_cancelled": lazy_gettext("This meeting was already cancelled. Nothing was saved."),
    "meeting_cancelled": lazy_gettext("This meeting was cancelled: give your opinion on the papers or at the "
                                      "meeting called instead. Nothing was saved."),
    "no_department": lazy_gettext("Only a department's reviewer gives its opinion. Nothing was saved."),
    "not_invited": lazy_gettext("Your department was not invited to this meeting. Nothing was saved."),
    "meeting_not_held": lazy_gettext("The lead department marks the meeting held before opinions on it. "
                                     "Nothing was saved."),
    "bad_opinion": lazy_gettext("Choose agree, agree with conditions or disagree. Nothing was saved."),
    "text_required": lazy_gettext("Write the reason or the conditions of your opinion. Nothing was saved."),
    "not_open": lazy_gettext("Your department's task waits for the resident's materials. Nothing was saved."),
    "in_conflict": lazy_gettext("This case is waiting for the operator on the conflict desk. Nothing was saved."),
    "opinions_missing": lazy_gettext("Every department gives its opinion before the combined result. "
                                     "Nothing was saved."),
    "bad_decision": lazy_gettext("Choose approve or reject. Nothing was saved."),
    "reason_required": lazy_gettext("Write the reason: a rejection needs one, and so does an approval over a "
                                    "department's disagreement. Nothing was saved."),
    "cancel_reason_required": lazy_gettext("Write why the meeting is cancelled. Nothing was saved."),
    "result_fields_required": lazy_gettext("Fill in every required result field before approving. "
                                           "Nothing was saved."),
    "unknown_result_field": lazy_gettext("Fill in only this item's result fields. Nothing was saved."),
    "not_confirmed": lazy_gettext("Tick that you have read every department's opinion. Nothing was saved."),
}


def _county_moment(day: str, time: str) -> datetime:
    """A date and time the lead typed, on the county's clock."""
    try:
        return datetime.fromisoformat(f"{day.strip()}T{time.strip()}").replace(tzinfo=COUNTY_TIMEZONE)
    except ValueError:
        raise ReviewError("bad_time", "enter the meeting's date and time", 422) from None


def _act(db, case: Case, action: str, form) -> None:
    """Run the page's one step ``action`` with the form's fields; a ReviewError says why not."""
    staff = g.staff
    if action == "open":
        open_review(db, case.id, staff)
    elif action == "schedule":
        schedule_meeting(db, case.id, staff, kind=form.get("kind", ""),
                         scheduled_at=_county_moment(form.get("day", ""), form.get("time", "")),
                         place=form.get("place", "")[:200], departments=form.getlist("departments")[:32])
    elif action == "held":
        mark_held(db, case.id, form.get("meeting_id", "")[:36], staff)
    elif action == "cancel":
        cancel_meeting(db, case_id=case.id, meeting_id=form.get("meeting_id", "")[:36], staff=staff,
                       reason=form.get("cancel_reason", "")[:500])
    elif action == "opinion":
        give_opinion(db, case.id, staff, opinion=form.get("opinion", ""), text=form.get("text", "")[:4000],
                     meeting_id=form.get("meeting_id", "")[:36] or None)
    elif action in ("approved", "rejected"):
        if form.get("confirmed") != "yes":
            raise ReviewError("not_confirmed", "confirm that you read every opinion", 422)
        item = find_item(db, case.item_code)
        fields = {spec.name: form.get(f"result_{spec.name}", "")[:200] for spec in (item.result_fields if item else [])}
        decide_joint(db, case.id, staff, decision=action, reason=form.get("reason", "")[:2000],
                     result_fields=fields, identity=current_identity())
    else:
        raise ReviewError("bad_decision", "unknown step", 400)


@bp.route("/cases/<case_id>/joint", methods=("GET", "POST"))
@login_required()
def joint_page(case_id: str):
    """A joint case's review: departments' states and opinions, meetings, and the lead's steps."""
    db = get_session()
    case = db.get(Case, case_id[:36])
    if case is None or not can_view(db, g.staff, case) or joint_review(db, case.id) is None:
        abort(404)
    error, status = None, 200
    if request.method == "POST":
        try:
            _act(db, case, request.form.get("action", ""), request.form)
        except ReviewError as exc:
            db.rollback()
            case = db.get(Case, case.id)
            reason = "cancel_reason_required" if (exc.reason, request.form.get("action")) == (
                "reason_required", "cancel") else exc.reason
            error, status = str(REFUSALS.get(reason, exc)), exc.status
        else:
            db.commit()
            return redirect(url_for("joint.joint_page", case_id=case.id))
    review = joint_review(db, case.id)
    item = find_item(db, case.item_code)
    words = Words.for_item(db, item)
    own = g.staff.department_code if g.staff.role == "reviewer" else None
    states = department_states(db, case.id)
    joint = joint_public(db, case)
    return render_template(
        "joint.html", case=case, review=review, joint=joint, item=item, error=error,
        lead=is_lead(g.staff, review), over=decided(case, review), waiting=waiting_for_lead(db, case),
        names=words.departments, own=own, own_part=any(state.code == own for state in states),
        missing=[words.department(state.code) for state in states if state.state != "given"],
        held=[meeting for meeting in joint["meetings"] if meeting["held_at"] and own in meeting["departments"]],
        kinds=MEETING_KINDS,
        kind_codes=JOINT_MEETING_KINDS, opinions=OPINIONS, opinion_codes=JOINT_OPINIONS, states=STATES,
        form_values=request.form if request.method == "POST" else {},
    ), status
