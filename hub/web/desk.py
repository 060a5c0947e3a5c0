"""The conflict desk's pages (/desk) and JSON API (/api/conflicts), for operators and admins."""

from __future__ import annotations

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from pydantic import BaseModel, Field
from sqlmodel import select

from sync.kit.openapi import documented
from sync.kit.web import api_error, parse_json_body

from hub.core.models import Point
from hub.reconcile.desk import KINDS, STATUSES, DeskError, conflict_view, desk_queue, find_conflict, resolve
from hub.web.auth import api_auth, login_required
from hub.web.context import current_identity, get_session
from hub.web.schemas import ConflictsResponse, ConflictView

bp = Blueprint("desk", __name__)
DESK_ROLES = ("operator", "admin")
LABELS = {
    "same_field": lazy_gettext("Same field changed twice"),
    "parallel_update": lazy_gettext("Parallel update (merged)"),
    "duplicate": lazy_gettext("Duplicate application"),
    "after_decision": lazy_gettext("Change after the decision"),
    "catalog_drift": lazy_gettext("Catalog changed since intake"),
    "fork": lazy_gettext("Point restored from a backup (fork)"),
    "identity": lazy_gettext("Identity mismatch"),
    "suspicious_time": lazy_gettext("Intake time the hub cannot vouch for"),
    "accept_claimed": lazy_gettext("Accept the point's intake time"),
    "accept_earliest": lazy_gettext("Count from the earliest time the hub can vouch for"),
    "open": lazy_gettext("Open"),
    "resolved": lazy_gettext("Resolved"),
    "merged": lazy_gettext("Merged by the hub"),
    "take_left": lazy_gettext("Take left"),
    "take_right": lazy_gettext("Take right"),
    "merge": lazy_gettext("Merge field by field"),
    "merge_cases": lazy_gettext("Merge into one case"),
    "keep_both": lazy_gettext("Keep both"),
    "accept_old": lazy_gettext("Accept under the old catalog version"),
    "supplement": lazy_gettext("Send a supplement request"),
    "reject": lazy_gettext("Reject with a reason"),
}


# The evidence of an intake time the hub could not believe (hub/intaketime.py), as the desk says it.
BOUND_TEXT = {
    "enrollment": lazy_gettext("The point was enrolled then."),
    "sequence": lazy_gettext("The case it sent just before this one (envelope %(earlier_seq)s, receipt %(receipt_no)s) "
                             "was received then."),
    "sync": lazy_gettext("The point said then that it had sealed %(sealed_seq)s envelopes; this case is envelope "
                         "%(seq)s."),
    "catalog": lazy_gettext("The catalog version %(catalog_version)s the case names was published then."),
}


@bp.app_context_processor
def _bound_texts() -> dict:
    return {"BOUND_TEXT": BOUND_TEXT}


@bp.app_template_filter("conflict_kind")
@bp.app_template_filter("conflict_status")
@bp.app_template_filter("conflict_action")
def conflict_label(value: str | None) -> str:
    """A conflict type, status or action in the page's language."""
    return LABELS.get(value or "", value or "")


class ResolveRequest(BaseModel):
    """An operator's decision on one conflict."""

    action: str = Field(max_length=24)
    note: str = Field(default="", max_length=2000)
    # merge: field -> "left" or "right"
    choices: dict[str, str] = Field(default_factory=dict)


def _filters() -> dict:
    kind = request.args.get("kind", "")[:24]
    status = request.args.get("status", "open")[:16]
    return {"kind": kind if kind in KINDS else None, "point": request.args.get("point", "")[:128] or None,
            "status": status if status in STATUSES else "open"}


def _resolve(conflict_id: str, action: str, note: str, choices: dict[str, str]) -> tuple[object, DeskError | None]:
    db = get_session()
    conflict = find_conflict(db, conflict_id[:36])
    if conflict is None:
        return None, DeskError("not_found", "no such conflict", 404)
    try:
        resolve(db, conflict, action=action, staff=g.staff, note=note, choices=choices, identity=current_identity())
    except DeskError as exc:
        db.rollback()
        return conflict, exc
    db.commit()
    return conflict, None


@bp.get("/desk")
@login_required(*DESK_ROLES)
def desk_page():
    """The conflict queue, oldest first, filtered by type, point and status."""
    db = get_session()
    filters = _filters()
    points = [point.name for point in db.exec(select(Point).order_by(Point.name)).all()]
    return render_template("desk.html", conflicts=desk_queue(db, **filters), filters=filters, kinds=KINDS,
                           statuses=STATUSES, points=points)


@bp.route("/desk/<conflict_id>", methods=("GET", "POST"))
@login_required(*DESK_ROLES)
def conflict_page(conflict_id: str):
    """One conflict: both versions side by side, the cases' history, and the actions for its type."""
    db = get_session()
    error = None
    if request.method == "POST":
        choices = {key[len("choice-"):]: value for key, value in request.form.items() if key.startswith("choice-")}
        _found, problem = _resolve(conflict_id, request.form.get("action", ""), request.form.get("note", ""), choices)
        if problem is None:
            return redirect(url_for("desk.conflict_page", conflict_id=conflict_id))
        messages = {
            "reason_required": _("Write the reason for rejecting: the point and the resident read it. Nothing was saved."),
            "choices_required": _("Choose left or right for every field before merging. Nothing was saved."),
            "bad_action": _("Choose one of the actions offered. Nothing was saved."),
            "not_open": _("This conflict was already resolved."),
            "supplement_not_open": _("No department task of this case is open (decided, withdrawn or already "
                                     "waiting for materials), so no supplement can be requested. Nothing was saved."),
        }
        error = messages.get(problem.reason, str(problem))
    conflict = find_conflict(db, conflict_id[:36])
    if conflict is None:
        abort(404)
    return render_template("conflict.html", conflict=conflict_view(db, conflict), error=error,
                           note=request.form.get("note", "")), 422 if error else 200


@bp.get("/api/conflicts")
@documented("The conflict queue, oldest first", answer=ConflictsResponse, errors={403: ("forbidden",)}, query=(
    {"name": "kind", "in": "query", "required": False, "schema": {"type": "string"}},
    {"name": "point", "in": "query", "required": False, "schema": {"type": "string"}, "description": "Point name"},
    {"name": "status", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "open (default) or resolved"}))
@api_auth(*DESK_ROLES)
def api_conflicts():
    """The conflict queue: ?kind=&point=&status= (open by default), oldest first."""
    return {"conflicts": desk_queue(get_session(), **_filters())}


@bp.get("/api/conflicts/<conflict_id>")
@documented("One conflict with both versions", answer=ConflictView, errors={403: ("forbidden",), 404: ("not_found",)})
@api_auth(*DESK_ROLES)
def api_conflict(conflict_id: str):
    """One conflict with both versions, the differing fields, the cases and the actions offered."""
    conflict = find_conflict(get_session(), conflict_id[:36])
    if conflict is None:
        return api_error(404, "not_found", "no such conflict")
    return conflict_view(get_session(), conflict)


@bp.post("/api/conflicts/<conflict_id>/resolve")
@documented("Resolve a conflict; the points involved hear the outcome", body=ResolveRequest, answer=ConflictView,
            errors={403: ("forbidden",), 404: ("not_found", "supplement_not_found"),
                    409: ("not_open", "supplement_not_open"),
                    422: ("bad_action", "reason_required", "choices_required", "supplement_materials_required",
                          "supplement_unknown_material", "supplement_note_required")})
@api_auth(*DESK_ROLES)
def api_resolve(conflict_id: str):
    """Resolve a conflict: {action, note, choices}; the points involved hear the outcome."""
    body = parse_json_body(ResolveRequest)
    if not isinstance(body, ResolveRequest):
        return body
    conflict, problem = _resolve(conflict_id, body.action, body.note, body.choices)
    if problem is not None:
        return api_error(problem.status, problem.reason, str(problem))
    return conflict_view(get_session(), conflict)
