"""The staff JSON API (bearer tokens): queue, cases, decisions, points, OpenAPI.

Each route declares what it takes and answers (``@documented``); the OpenAPI document is built from those
declarations and the URL map, so it cannot drift from the routes.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, g, request
from sqlmodel import select

from sync.kit.openapi import Content, documented, openapi_document
from sync.kit.web import api_error, parse_json_body
from sync.kit.workdays import county_date

from hub.approval.cases import QUEUE_FILTERS, can_view, case_detail, queue
from hub.approval.review import ReviewError, decide, request_supplement, withdraw_unanswered
from hub.approval.scans import CONTENT_TYPES
from hub.approval.supervision import FollowUpError, follow_up, report_csv, supervision_report
from hub.core.clock import iso, utc_now
from hub.core.models import Case, HubKey
from hub.trust.enrollment import EnrollmentError, create_enrollment_token
from hub.trust.keys import publish_current, rotate_keys
from hub.trust.points import PointError, points_overview, revoke_point
from hub.web import schemas
from hub.web.auth import api_auth
from hub.web.cases import scan_response
from hub.web.context import configured_warn_share, current_identity, current_keyring, get_session

bp = Blueprint("api", __name__, url_prefix="/api")

_NO_CASE = {404: ("not_found",)}
_FORBIDDEN = {403: ("forbidden",)}
_QUEUE_QUERY = ({"name": "department", "in": "query", "required": False, "schema": {"type": "string"},
                 "description": "Only this department's work (operators and admins)"},
                *({"name": key, "in": "query", "required": False, "schema": {"type": "string"}}
                  for key in QUEUE_FILTERS))


def _visible_case(case_id: str) -> Case | None:
    case = get_session().get(Case, case_id[:36])
    return case if case is not None and can_view(get_session(), g.staff, case) else None


@bp.get("/queue")
@documented("Open work, soonest due first", answer=schemas.QueueResponse, query=_QUEUE_QUERY)
@api_auth()
def get_queue():
    """Open work: a reviewer's own department, or every open case for operators and admins."""
    department = request.args.get("department", "")[:32] or None
    filters = {key: request.args.get(key, "")[:128] for key in QUEUE_FILTERS}
    return {"cases": queue(get_session(), g.staff, department, filters=filters, warn_share=configured_warn_share())}


@bp.get("/cases/<case_id>")
@documented("One case with its tasks, timeline and result", answer=schemas.CaseDetail, errors=_NO_CASE)
@api_auth()
def get_case(case_id: str):
    """One case with its tasks, timeline and result."""
    case = _visible_case(case_id)
    if case is None:
        return api_error(404, "not_found", "no such case in your department")
    return case_detail(get_session(), case, warn_share=configured_warn_share())


@bp.get("/cases/<case_id>/scans/<scan_id>")
@documented("One scan of a case, decrypted", errors={**_NO_CASE, 410: ("gone",)},
            answer=Content(media_types=(*sorted(set(CONTENT_TYPES.values())), "application/octet-stream"),
                           description="The scan's bytes: images and PDF inline, anything else as a download",
                           schema={"type": "string", "format": "binary"}))
@api_auth()
def get_case_scan(case_id: str, scan_id: str):
    """One scan of a case, decrypted on the fly (own department only)."""
    case = _visible_case(case_id)
    if case is None:
        return api_error(404, "not_found", "no such case in your department")
    return scan_response(case, scan_id)


@bp.post("/cases/<case_id>/decision")
@documented("Decide a department task", body=schemas.DecisionRequest, answer=schemas.CaseDetail,
            errors={**_FORBIDDEN, **_NO_CASE,
                    409: ("not_open", "in_conflict", "procedure_open", "certificate_unsettled"),
                    422: ("bad_decision", "reason_required", "unknown_result_field", "result_fields_required")})
@api_auth("reviewer", "admin")
def post_decision(case_id: str):
    """Approve or reject the open task of the caller's department."""
    return _review_action(case_id, schemas.DecisionRequest, lambda db, body: decide(
        db, case_id=case_id, staff=g.staff, decision=body.decision, reason=body.reason,
        certificate_no=body.certificate_no, result_fields=body.result_fields, identity=current_identity()))


@bp.post("/cases/<case_id>/supplement")
@documented("Request a supplement (补正): the time limit pauses", body=schemas.SupplementRequestBody,
            answer=schemas.CaseDetail,
            errors={**_FORBIDDEN, **_NO_CASE, 409: ("not_open", "in_conflict"),
                    422: ("materials_required", "unknown_material", "note_required")})
@api_auth("reviewer", "admin")
def post_supplement(case_id: str):
    """补正: ask the resident for missing or corrected materials; the time limit pauses until they arrive."""
    return _review_action(case_id, schemas.SupplementRequestBody, lambda db, body: request_supplement(
        db, case_id=case_id, staff=g.staff, materials=body.materials, note=body.note))


@bp.post("/cases/<case_id>/withdraw-unanswered")
@documented("A supplement not answered by its return date: the application counts as withdrawn",
            body=schemas.WithdrawUnansweredBody, answer=schemas.CaseDetail,
            errors={**_FORBIDDEN, **_NO_CASE, 409: ("not_overdue",)})
@api_auth("reviewer", "admin")
def post_withdraw_unanswered(case_id: str):
    """The resident did not bring a 补正's materials by its return date: record the application as withdrawn
    (视为撤回申请); 409 ``not_overdue`` while no request of the caller's department is past its date."""
    return _review_action(case_id, schemas.WithdrawUnansweredBody, lambda db, body: withdraw_unanswered(
        db, case_id=case_id, staff=g.staff))


def _review_action(case_id: str, schema, act):
    """Parse ``schema``, run ``act(db, body)`` on a case of the caller's department, answer with the case."""
    body = parse_json_body(schema)
    if not isinstance(body, schema):
        return body
    db = get_session()
    if _visible_case(case_id) is None:
        return api_error(404, "not_found", "no such case in your department")
    try:
        case = act(db, body)
    except ReviewError as exc:
        db.rollback()
        return api_error(exc.status, exc.reason, str(exc))
    db.commit()
    return case_detail(db, case, warn_share=configured_warn_share())


def _supervision() -> dict:
    return supervision_report(get_session(), today=county_date(utc_now()), warn_share=configured_warn_share(),
                              chinese=g.get("lang", "zh") == "zh")


@bp.get("/supervision")
@documented("Supervision figures per department and point", answer=schemas.SupervisionResponse, errors=_FORBIDDEN)
@api_auth("operator", "supervisor", "admin")
def get_supervision():
    """Electronic supervision: per department on-time rate, open, warning and overdue; per point backlog."""
    return _supervision()


@bp.get("/supervision.csv")
@documented("Supervision figures as CSV", errors=_FORBIDDEN,
            answer=Content(media_types=("text/csv",), description="One row per department, then one per point"))
@api_auth("operator", "supervisor", "admin")
def get_supervision_csv():
    """The supervision figures as CSV."""
    return current_app.response_class(report_csv(_supervision()), mimetype="text/csv",
                                      headers={"Content-Disposition": "attachment; filename=supervision.csv"})


@bp.post("/ratings/<case_id>/follow-up")
@documented("Follow up a rating of 1 or 2", body=schemas.FollowUpRequest, answer=schemas.FollowUpPublic,
            errors={**_FORBIDDEN, 404: ("not_found",), 422: ("note_required",)})
@api_auth("operator", "supervisor", "admin")
def post_follow_up(case_id: str):
    """Note what was done about a rating of 1 or 2; ``close`` ends the follow-up."""
    body = parse_json_body(schemas.FollowUpRequest)
    if not isinstance(body, schemas.FollowUpRequest):
        return body
    db = get_session()
    try:
        rating = follow_up(db, case_id[:36], note=body.note, close=body.close, actor=g.staff.username)
    except FollowUpError as exc:
        db.rollback()
        return api_error(404 if exc.reason == "not_found" else 422, exc.reason, str(exc))
    db.commit()
    return {"case_id": rating.case_id, "follow_up": rating.follow_up, "follow_up_note": rating.follow_up_note}


@bp.get("/points")
@documented("Every point: pending, active and revoked", answer=schemas.PointsResponse, errors=_FORBIDDEN)
@api_auth("admin")
def get_points():
    """Every point: pending (with token expiry), active and revoked."""
    return {"points": points_overview(get_session())}


@bp.post("/points/<point_id>/revoke")
@documented("Revoke a point (by id or name)", answer=schemas.PointPublic,
            errors={**_FORBIDDEN, 404: ("unknown_point",), 409: ("already_revoked",)})
@api_auth("admin")
def post_point_revoke(point_id: str):
    """Revoke a point (by id or name): everything it sends from now on is refused."""
    db = get_session()
    try:
        point = revoke_point(db, point_id[:128], actor=g.staff.username)
    except PointError as exc:
        db.rollback()
        return api_error(exc.status, exc.reason, str(exc))
    db.commit()
    return next(row for row in points_overview(db) if row["point_id"] == str(point.id))


def _keys_public() -> dict:
    rows = get_session().exec(select(HubKey).order_by(HubKey.generation)).all()
    return {"keys": [{"generation": row.generation, "fingerprint": row.fingerprint, "suites": row.suites,
                      "created_at": iso(row.created_at), "purged_at": iso(row.purged_at),
                      "current": row is rows[-1]} for row in rows]}


@bp.get("/keys")
@documented("The hub's key generations, oldest first", answer=schemas.HubKeysResponse, errors=_FORBIDDEN)
@api_auth("admin")
def get_keys():
    """The hub's key generations, oldest first; the last is current."""
    return _keys_public()


@bp.post("/keys/rotate")
@documented("Rotate the hub keys", body=schemas.KeyRotateRequest, answer=schemas.HubKeysResponse, status=201,
            errors=_FORBIDDEN)
@api_auth("admin")
def post_keys_rotate():
    """Make a new hub key generation and announce it to every active point."""
    body = parse_json_body(schemas.KeyRotateRequest)
    if not isinstance(body, schemas.KeyRotateRequest):
        return body
    db = get_session()
    data_dir = Path(current_app.config["DATA_DIR"])
    keyring = rotate_keys(db, data_dir, current_keyring(), post_quantum=body.post_quantum, actor=g.staff.username)
    db.commit()
    publish_current(data_dir, keyring.current)
    g.pop("hub_keyring", None)
    return _keys_public(), 201


@bp.post("/points")
@documented("Add a point and issue its enrollment token", body=schemas.PointCreate,
            answer=schemas.PointCreated, status=201,
            errors={**_FORBIDDEN, 409: ("point_exists",), 422: ("name_required", "bad_level", "bad_expiry")})
@api_auth("admin")
def post_point():
    """Register a point and issue its one-time enrollment token (shown only now)."""
    body = parse_json_body(schemas.PointCreate)
    if not isinstance(body, schemas.PointCreate):
        return body
    db = get_session()
    try:
        issued = create_enrollment_token(db, name=body.name, level=body.level, identity=current_identity(),
                                         expires_hours=body.expires_hours, actor=g.staff.username)
    except EnrollmentError as exc:
        db.rollback()
        return api_error(exc.status, exc.reason, str(exc))
    db.commit()
    return {"name": issued.point_name, "level": issued.level, "token": issued.token,
            "expires_at": iso(issued.expires_at)}, 201


@bp.get("/openapi.json")
@documented("This document", answer={"type": "object", "description": "OpenAPI 3.1"}, auth=False)
def get_openapi():
    """The OpenAPI 3.1 description of this API, from the routes' declarations."""
    return openapi_document(
        current_app, title="pointkit hub", version="1",
        description="County hub staff API. Point sync (push, pull, catalog, scans) is binary and signed, and "
                    "documented in docs/architecture.md.")
