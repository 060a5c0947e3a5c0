"""The staff JSON API (bearer tokens): queue, cases, decisions, points, OpenAPI."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, g, request
from sqlmodel import select

from sync.kit.web import api_error, openapi_document, parse_json_body
from sync.kit.workdays import county_date

from hub.web import schemas
from hub.web.auth import api_auth
from hub.approval.cases import QUEUE_FILTERS, can_view, case_detail, queue
from hub.web.context import get_session
from hub.core.clock import iso, utc_now
from hub.trust.enrollment import EnrollmentError, create_enrollment_token
from hub.web.context import current_identity, current_keyring
from hub.trust.keys import publish_current, rotate_keys
from hub.core.models import Case, HubKey
from hub.trust.points import PointError, points_overview, revoke_point
from hub.approval.review import ReviewError, decide, request_supplement, withdraw_unanswered
from hub.web.cases import scan_response
from hub.approval.supervision import FollowUpError, follow_up, report_csv, supervision_report
from hub.web.context import configured_warn_share

bp = Blueprint("api", __name__, url_prefix="/api")


def _visible_case(case_id: str) -> Case | None:
    case = get_session().get(Case, case_id[:36])
    return case if case is not None and can_view(get_session(), g.staff, case) else None


@bp.get("/queue")
@api_auth()
def get_queue():
    """Open work: a reviewer's own department, or every open case for operators and admins."""
    department = request.args.get("department", "")[:32] or None
    filters = {key: request.args.get(key, "")[:128] for key in QUEUE_FILTERS}
    return {"cases": queue(get_session(), g.staff, department, filters=filters, warn_share=configured_warn_share())}


@bp.get("/cases/<case_id>")
@api_auth()
def get_case(case_id: str):
    """One case with its tasks, timeline and result."""
    case = _visible_case(case_id)
    if case is None:
        return api_error(404, "not_found", "no such case in your department")
    return case_detail(get_session(), case, warn_share=configured_warn_share())


@bp.get("/cases/<case_id>/scans/<scan_id>")
@api_auth()
def get_case_scan(case_id: str, scan_id: str):
    """One scan of a case, decrypted on the fly (own department only)."""
    case = _visible_case(case_id)
    if case is None:
        return api_error(404, "not_found", "no such case in your department")
    return scan_response(case, scan_id)


@bp.post("/cases/<case_id>/decision")
@api_auth("reviewer", "admin")
def post_decision(case_id: str):
    """Approve or reject the open task of the caller's department."""
    return _review_action(case_id, schemas.DecisionRequest, lambda db, body: decide(
        db, case_id=case_id, staff=g.staff, decision=body.decision, reason=body.reason,
        certificate_no=body.certificate_no, result_fields=body.result_fields, identity=current_identity()))


@bp.post("/cases/<case_id>/supplement")
@api_auth("reviewer", "admin")
def post_supplement(case_id: str):
    """补正: ask the resident for missing or corrected materials; the time limit pauses until they arrive."""
    return _review_action(case_id, schemas.SupplementRequestBody, lambda db, body: request_supplement(
        db, case_id=case_id, staff=g.staff, materials=body.materials, note=body.note, identity=current_identity()))


@bp.post("/cases/<case_id>/withdraw-unanswered")
@api_auth("reviewer", "admin")
def post_withdraw_unanswered(case_id: str):
    """The resident did not bring a 补正's materials by its return date: record the application as withdrawn
    (视为撤回申请); 409 ``not_overdue`` while no request of the caller's department is past its date."""
    return _review_action(case_id, schemas.WithdrawUnansweredBody, lambda db, body: withdraw_unanswered(
        db, case_id=case_id, staff=g.staff, identity=current_identity()))


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
@api_auth("operator", "admin")
def get_supervision():
    """Electronic supervision: per department on-time rate, open, warning and overdue; per point backlog."""
    return _supervision()


@bp.get("/supervision.csv")
@api_auth("operator", "admin")
def get_supervision_csv():
    """The supervision figures as CSV."""
    return current_app.response_class(report_csv(_supervision()), mimetype="text/csv",
                                      headers={"Content-Disposition": "attachment; filename=supervision.csv"})


@bp.post("/ratings/<case_id>/follow-up")
@api_auth("operator", "admin")
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
@api_auth("admin")
def get_points():
    """Every point: pending (with token expiry), active and revoked."""
    return {"points": points_overview(get_session())}


@bp.post("/points/<point_id>/revoke")
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
@api_auth("admin")
def get_keys():
    """The hub's key generations, oldest first; the last is current."""
    return _keys_public()


@bp.post("/keys/rotate")
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


_CASE_ID = {"name": "case_id", "in": "path", "required": True, "schema": {"type": "string"}}
_OPERATIONS = [
    {"path": "/api/login", "method": "POST", "summary": "Log in for a bearer token", "auth": False,
     "request": schemas.LoginRequest, "response": schemas.LoginResponse, "errors": [400, 401, 403, 422, 423]},
    {"path": "/api/queue", "method": "GET", "summary": "Open work, soonest due first",
     "response": schemas.QueueResponse, "errors": [401],
     "parameters": [{"name": "department", "in": "query", "required": False, "schema": {"type": "string"}}]},
    {"path": "/api/cases/{case_id}", "method": "GET", "summary": "One case", "response": schemas.CaseDetail,
     "errors": [401, 404], "parameters": [_CASE_ID]},
    {"path": "/api/cases/{case_id}/scans/{scan_id}", "method": "GET", "status": 200,
     "summary": "One scan of a case, decrypted (image/PDF/other bytes)", "response": None, "errors": [401, 404],
     "parameters": [_CASE_ID, {"name": "scan_id", "in": "path", "required": True, "schema": {"type": "string"}}]},
    {"path": "/api/cases/{case_id}/decision", "method": "POST", "summary": "Decide a department task",
     "request": schemas.DecisionRequest, "response": schemas.CaseDetail, "errors": [400, 401, 403, 404, 409, 422],
     "parameters": [_CASE_ID]},
    {"path": "/api/cases/{case_id}/supplement", "method": "POST",
     "summary": "Request a supplement (补正): the time limit pauses", "request": schemas.SupplementRequestBody,
     "response": schemas.CaseDetail, "errors": [400, 401, 403, 404, 409, 422], "parameters": [_CASE_ID]},
    {"path": "/api/cases/{case_id}/withdraw-unanswered", "method": "POST",
     "summary": "A supplement not answered by its return date: the application counts as withdrawn",
     "request": schemas.WithdrawUnansweredBody, "response": schemas.CaseDetail, "errors": [400, 401, 403, 404, 409],
     "parameters": [_CASE_ID]},
    {"path": "/api/supervision", "method": "GET", "summary": "Supervision figures per department and point",
     "response": schemas.SupervisionResponse, "errors": [401, 403]},
    {"path": "/api/supervision.csv", "method": "GET", "summary": "Supervision figures as CSV", "response": None,
     "errors": [401, 403]},
    {"path": "/api/ratings/{case_id}/follow-up", "method": "POST", "summary": "Follow up a rating of 1 or 2",
     "request": schemas.FollowUpRequest, "response": None, "errors": [400, 401, 403, 404, 422],
     "parameters": [_CASE_ID]},
    {"path": "/api/points", "method": "GET", "summary": "List points", "response": schemas.PointsResponse,
     "errors": [401, 403]},
    {"path": "/api/points", "method": "POST", "summary": "Add a point and issue its enrollment token",
     "request": schemas.PointCreate, "response": schemas.PointCreated, "status": 201,
     "errors": [400, 401, 403, 409, 422]},
    {"path": "/api/points/{point_id}/revoke", "method": "POST", "summary": "Revoke a point (id or name)",
     "response": schemas.PointPublic, "errors": [401, 403, 404, 409],
     "parameters": [{"name": "point_id", "in": "path", "required": True, "schema": {"type": "string"}}]},
    {"path": "/api/keys", "method": "GET", "summary": "List hub key generations", "response": schemas.HubKeysResponse,
     "errors": [401, 403]},
    {"path": "/api/keys/rotate", "method": "POST", "summary": "Rotate the hub keys",
     "request": schemas.KeyRotateRequest, "response": schemas.HubKeysResponse, "status": 201,
     "errors": [400, 401, 403, 422]},
    {"path": "/sync/v1/enroll", "method": "POST", "summary": "Enroll a point", "auth": False,
     "request": schemas.EnrollRequest, "response": schemas.EnrollResponse, "errors": [400, 403, 409, 422]},
    {"path": "/healthz", "method": "GET", "summary": "Liveness", "auth": False, "response": schemas.Health,
     "errors": []},
]


@bp.get("/openapi.json")
def get_openapi():
    """The OpenAPI 3.1 description of this API."""
    models = [schemas.LoginRequest, schemas.LoginResponse, schemas.QueueResponse, schemas.CaseDetail,
              schemas.DecisionRequest, schemas.PointsResponse, schemas.PointCreate, schemas.PointCreated,
              schemas.EnrollRequest, schemas.EnrollResponse, schemas.PushResponse, schemas.Health,
              schemas.PointPublic, schemas.HubKeysResponse, schemas.KeyRotateRequest,
              schemas.SupplementRequestBody, schemas.SupervisionResponse, schemas.FollowUpRequest]
    return openapi_document(
        title="pointkit hub", version="1",
        description="County hub staff API. Point sync (push, pull, catalog) is binary and documented "
                    "in docs/architecture.md.",
        operations=_OPERATIONS, models=models)
