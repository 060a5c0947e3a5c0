"""The point's JSON API for staff tools and tests: bearer tokens, errors as ``{error, reason, fields?}``.

Each route declares what it takes and answers (``@documented``); the OpenAPI document is built from those
declarations and the URL map, so it cannot drift from the routes.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, g, jsonify, request, url_for
from pydantic import ValidationError
from sqlmodel import select

from sync.client import HubRefused, HubUnreachable
from sync.jsonlimits import JSONRefused, load_json
from sync.kit.openapi import JSON_BODY_ERRORS, documented, openapi_document, reasons_by_status
from sync.kit.web import MAX_JSON_BODY, api_error, json_object_body, parse_json_body, validation_fields

from . import db
from .amend import ChangeError, amend_case, withdraw_case
from .auth import token_required
from .calendar import point_calendar
from .catalog import get_item
from .catalogfetch import catalog_download
from .certificates import look_up
from .intake import Applicant, IntakeError, issue_notice, receive_case
from .itemsearch import MAX_QUERY, find_items
from .models import CASE_STATUSES, Case
from .pickup import PickupError, collect, collect_by_id_number, rate, signed_result
from .progress import calendar_missing, case_dates
from .referrals import ReferralError, ReferralInput, ReferralRow, list_referrals, refer
from .runtime import data_dir, identity, wake_sync
from .scans import ScanRefused, check_scans, discard_scans, prepare_scans, uploaded_scans, waiting_totals
from .schemas import (
    CaseAmend,
    CaseCreate,
    CertificateLookup,
    CertificatesFound,
    CaseCreated,
    CaseDetail,
    CaseList,
    CaseSummary,
    CaseWithdraw,
    IdCheckPickupRequest,
    ItemPublic,
    ItemsResponse,
    NoticeIssued,
    PickupRequest,
    PickupResponse,
    RatingRecorded,
    RatingRequest,
    ReferralCreate,
    ReferralList,
    ReferralOut,
    StatusResponse,
    SyncReportOut,
)
from .state import as_utc, find_state, get_state, outbox_counts
from .supplement import SupplementError, send_supplement
from .syncagent import SYNC_BUSY_MESSAGE, SYNC_NOW_WAIT_S, SyncBusy, plain_reason, step_status, sync_once
from .trust import sealing_key

bp = Blueprint("api", __name__, url_prefix="/api")

_INTAKE_STATUS = {"unknown_item": 404, "not_accepted_here": 422, "invalid_input": 422, "materials_missing": 422,
                  "nothing_missing": 409, "too_many_scans": 422}
_SUPPLEMENT_STATUS = {"not_found": 404, "not_waiting": 409, "unknown_material": 422, "scans_required": 422,
                      "not_a_scan": 422, "too_many_scans": 422}
_PICKUP_STATUS = {"not_found": 404, "not_ready": 409, "wrong_pickup_code": 403, "result_invalid": 409,
                  "pickup_locked": 423, "collected_elsewhere": 409, "collected_here": 409,
                  "no_pickup_code_here": 409,
                  "wrong_id_number": 403, "id_number_incomplete": 422,
                  "reason_required": 422}
_CHANGE_STATUS = {"not_found": 404, "decided": 409, "nothing_changed": 409, "invalid_form": 422,
                  "reason_required": 422}
_NO_CASE = {404: ("not_found",)}
# An upload over the app's MAX_CONTENT_LENGTH (pointkit/__init__.py), refused before the route reads it.
_TOO_LARGE = {413: ("too_large",)}

# Scans travel as binary parts (no base64): each file a ``scans`` part, and optionally one ``scan_materials``
# part per file, in the same order, naming its material code.
_SCAN_PARTS = {
    "scans": {"type": "array", "items": {"type": "string", "contentMediaType": "application/octet-stream"},
              "description": "Scans or photos of materials, sealed at the point under a key per file"},
    "scan_materials": {"type": "array", "items": {"type": "string", "maxLength": 64},
                       "description": "The material code of each file, in order ('' for none)"},
}
# Intake with scans: the case JSON as the ``case`` part.
MULTIPART_INTAKE = {
    "schema": {
        "type": "object",
        "required": ["case"],
        "properties": {
            "case": {"type": "string", "contentMediaType": "application/json",
                     "description": "The CaseCreate object as JSON"},
            **_SCAN_PARTS,
        },
    },
    "encoding": {"case": {"contentType": "application/json"}},
}
# A supplement: at least one scan of what the department asked for, and a note.
MULTIPART_SUPPLEMENT = {
    "schema": {
        "type": "object",
        "required": ["scans"],
        "properties": {"note": {"type": "string", "maxLength": 2000, "description": "What the resident brought"},
                       **_SCAN_PARTS},
    },
}


def intake_error_body(exc: IntakeError) -> dict:
    """The API error shape, plus the missing materials' names and the levels that do accept the item."""
    body: dict = {"error": exc.message, "reason": exc.reason}
    if exc.fields:
        body["fields"] = exc.fields
    if exc.missing:
        body["missing"] = [material["name_zh"] for material in exc.missing]
    if exc.levels:
        body["levels"] = exc.levels
    return body


def scans_refused(exc: ScanRefused, not_a_scan: str) -> tuple[Response, int]:
    """422 for attached files a case cannot take: ``too_many_scans`` with the ``limit``, or, for a file that is
    not a scan, the reason ``not_a_scan`` the route has always answered with (so clients keep working)."""
    body: dict = {"error": str(exc), "reason": exc.reason if exc.limit is not None else not_a_scan,
                  "fields": exc.fields}
    if exc.limit is not None:
        body["limit"] = exc.limit
    return jsonify(body), 422


def case_summary(case: Case) -> CaseSummary:
    dates = case_dates(case)
    return CaseSummary(case_id=case.id, receipt_no=case.receipt_no, item_code=case.item_code,
                       item_name=case.item_name, status=case.status, hub_status=case.hub_status,
                       decision=case.decision, received_at=as_utc(case.received_at),
                       promised_date=case.promised_date, current_promised_date=dates.promised,
                       legal_date=dates.legal, paused_days=dates.paused_days, clock_paused=dates.paused,
                       return_by=dates.return_by, procedure=dates.procedure,
                       procedure_until=dates.procedure_until)


def case_detail(case: Case) -> CaseDetail:
    return CaseDetail(**case_summary(case).model_dump(),
                      applicant={"name": case.applicant_name, "id_number": case.id_number, "phone": case.phone},
                      form=json.loads(case.form_json), materials=json.loads(case.materials_json),
                      result=signed_result(case), hub_note=case.hub_note, hub_version=case.hub_version,
                      restored_at=as_utc(case.restored_at))


@bp.get("/items")
@documented("Service items", answer=ItemsResponse, query=[
    {"name": "q", "in": "query", "required": False,
     "description": "Find by item code, name, full pinyin or pinyin initials (ylbx)",
     "schema": {"type": "string", "maxLength": MAX_QUERY}}])
@token_required
def items():
    """The verified catalog, with whether this point may receive each item; ``?q=`` finds items by code,
    name, full pinyin or pinyin initials, as the intake window does."""
    with db.session_scope(data_dir()) as session:
        state = get_state(session)
        catalog = find_items(session, request.args.get("q", "")[:MAX_QUERY])
    return ItemsResponse(catalog_version=state.catalog_version, items=[
        ItemPublic(**item.model_dump(include={"code", "name_zh", "name_en", "departments", "route",
                                              "promised_days", "legal_days", "levels"}),
                   accepted_here=state.level in item.levels,
                   materials=[m.model_dump() for m in item.materials],
                   fields=[f.model_dump() for f in item.fields])
        for item in catalog]).model_dump(mode="json")


@bp.post("/cases")
@documented("Receive a case", body=CaseCreate, answer=CaseCreated, status=201,
            other_bodies={"multipart/form-data": MULTIPART_INTAKE}, errors=reasons_by_status(_INTAKE_STATUS))
@token_required
def create_case():
    """Receive an application (受理); answers the receipt, including the one-time pickup code, and the years
    without a holiday calendar the promised date runs into (``calendar_missing``, as the receipt warns)."""
    if request.mimetype == "multipart/form-data":
        body = _multipart_case()
    else:
        body = parse_json_body(CaseCreate)
    if not isinstance(body, CaseCreate):
        return body
    applicant = _applicant(body)
    inputs = uploaded_scans(request.files, request.form.getlist("scan_materials"))
    try:
        check_scans(inputs)
    except ScanRefused as exc:
        return scans_refused(exc, "invalid_input")
    prepared = prepare_scans(data_dir(), inputs, max_photo_kb=_max_photo_kb())
    try:
        with db.session_scope(data_dir()) as session:
            case, pickup_code = receive_case(session, g.staff.username, body.item_code, applicant, body.form,
                                             body.materials, identity=identity(), scans=prepared,
                                             staff_name=g.staff.display_name, staff_post=g.staff.post,
                                             referral_no=body.referral_no, certificates=body.certificates)
            missing = calendar_missing(point_calendar(session), case)
    except IntakeError as exc:
        discard_scans(data_dir(), prepared)
        return jsonify(intake_error_body(exc)), _INTAKE_STATUS[exc.reason]
    except BaseException:
        discard_scans(data_dir(), prepared)
        raise
    wake_sync()
    return CaseCreated(case_id=case.id, receipt_no=case.receipt_no, pickup_code=pickup_code,
                       promised_date=case.promised_date, status=case.status,
                       calendar_missing=missing).model_dump(mode="json"), 201


@bp.post("/certificates/lookup")
@documented("Look up a resident's e-certificates (电子证照) for intake", body=CertificateLookup,
            answer=CertificatesFound, errors={404: ("unknown_item",), 422: ("invalid_input",),
                                              503: ("unreachable", "not_enrolled")})
@token_required
def lookup_certificates():
    """Ask the hub, online, for the resident's valid e-certificates the item's materials accept; mark a material
    免提交 in POST /api/cases with ``certificates``. Without a link: 503 ``unreachable`` (take the paper)."""
    body = parse_json_body(CertificateLookup)
    if not isinstance(body, CertificateLookup):
        return body
    with db.session_scope(data_dir()) as session:
        item = get_item(session, body.item_code)
        if item is None:
            return api_error(404, "unknown_item", f"no service item with code {body.item_code!r} in the catalog")
        found = look_up(session, find_state(session), identity(), item, body.id_number, actor=g.staff.username)
        materials = {code: [{"number": c.number, "cert_type": c.cert_type, "name_zh": c.name_zh,
                             "valid_until": c.valid_until.isoformat() if c.valid_until else None, "code": c.code}
                            for c in copies]
                     for code, copies in found.found.items()}
    if found.problem:
        status = 422 if found.problem == "no_id" else 503
        return api_error(status, "invalid_input" if status == 422 else found.problem,
                         "the county hub cannot be reached: take the paper material" if status == 503
                         else "enter the resident's ID number")
    return {"materials": materials}


@bp.post("/notices")
@documented("Issue a one-time notice (一次性告知)", body=CaseCreate, answer=NoticeIssued, status=201,
            errors=reasons_by_status(_INTAKE_STATUS))
@token_required
def create_notice():
    """Issue a one-time notice (一次性告知) for an application whose only fault is missing required
    materials; it is recorded and audited, and ``print_url`` is the page to print for the resident."""
    body = parse_json_body(CaseCreate)
    if not isinstance(body, CaseCreate):
        return body
    try:
        with db.session_scope(data_dir()) as session:
            notice = issue_notice(session, g.staff.username, body.item_code, _applicant(body), body.form,
                                  body.materials, staff_name=g.staff.display_name, staff_post=g.staff.post)
    except IntakeError as exc:
        return jsonify(intake_error_body(exc)), _INTAKE_STATUS[exc.reason]
    return NoticeIssued(notice_id=notice.id, notice_no=notice.notice_no, item_code=notice.item_code,
                        item_name=notice.item_name, issued_at=as_utc(notice.issued_at),
                        missing=json.loads(notice.missing_json),
                        print_url=url_for("window.notice", notice_id=notice.id)).model_dump(mode="json"), 201


def _applicant(body: CaseCreate) -> Applicant:
    return Applicant(body.applicant.name, body.applicant.id_number, body.applicant.phone)


def _multipart_case() -> CaseCreate | tuple:
    """The case of a multipart intake: its JSON in the ``case`` field, the files in ``scans``."""
    try:
        return CaseCreate.model_validate(load_json(request.form.get("case", ""), max_bytes=MAX_JSON_BODY))
    except JSONRefused as exc:
        return api_error(400, "invalid_json", f"the 'case' field must hold the case as a JSON object ({exc})")
    except ValidationError as exc:
        return api_error(422, "invalid_input", "some fields are missing or invalid", validation_fields(exc))


def _max_photo_kb() -> int:
    with db.session_scope(data_dir()) as session:
        return get_state(session).max_photo_kb


@bp.post("/referrals")
@documented("Refer a resident elsewhere (转办)", body=ReferralCreate, answer=ReferralOut, status=201,
            errors={422: ("invalid_input",)})
@token_required
def create_referral():
    """Record a referral made by the token's clerk, who is named on the slip as the first-contact person
    (首问责任人); it is queued sealed for the hub. ``slip_url`` is the slip to print for the resident."""
    body = parse_json_body(ReferralCreate)
    if not isinstance(body, ReferralCreate):
        return body
    try:
        with db.session_scope(data_dir()) as session:
            made = refer(session, g.staff.username, ReferralInput(**body.model_dump()), identity=identity(),
                         staff_name=g.staff.display_name, staff_post=g.staff.post)
            row = ReferralRow(made, "queued")
            answer = referral_out(row)
    except ReferralError as exc:
        return api_error(422, "invalid_input", "some fields are missing or invalid", exc.fields)
    wake_sync()
    return answer.model_dump(mode="json"), 201


@bp.get("/referrals")
@documented("List referrals made here, newest first", answer=ReferralList)
@token_required
def referrals():
    """Referrals made at this point, each with whether the county hub has it."""
    with db.session_scope(data_dir()) as session:
        rows = list_referrals(session)
        return ReferralList(referrals=[referral_out(row) for row in rows]).model_dump(mode="json")


def referral_out(row: ReferralRow) -> ReferralOut:
    referral = row.referral
    return ReferralOut(
        referral_id=referral.id, slip_no=referral.slip_no, item_code=referral.item_code, matter=referral.matter,
        to_kind=referral.to_kind, to_code=referral.to_code, to_name=referral.to_name, reason=referral.reason,
        first_contact_name=referral.staff_name, first_contact_post=referral.staff_post,
        referred_at=as_utc(referral.referred_at), sync_state=row.sync_state,
        slip_url=url_for("window.referral_slip", referral_id=referral.id))


@bp.get("/cases")
@documented("List cases, newest first", answer=CaseList, errors={422: ("invalid_input",)}, query=[
    {"name": "status", "in": "query", "required": False, "schema": {"type": "string", "enum": list(CASE_STATUSES)}}])
@token_required
def cases():
    """Cases received here, newest first; ``?status=`` filters."""
    status = request.args.get("status")
    if status is not None and status not in CASE_STATUSES:
        return api_error(422, "invalid_input", "unknown status", {"status": f"one of {', '.join(CASE_STATUSES)}"})
    query = select(Case).order_by(Case.received_at.desc())
    if status:
        query = query.where(Case.status == status)
    with db.session_scope(data_dir()) as session:
        found = session.exec(query).all()
    return CaseList(cases=[case_summary(case) for case in found]).model_dump(mode="json")


@bp.get("/cases/<case_id>")
@documented("One case", answer=CaseDetail, errors=_NO_CASE)
@token_required
def case(case_id: str):
    """One case with the applicant's data and its signed result (if any)."""
    with db.session_scope(data_dir()) as session:
        found = session.get(Case, case_id)
    if found is None:
        return api_error(404, "not_found", "no case with this id")
    return case_detail(found).model_dump(mode="json")


@bp.post("/cases/<case_id>/pickup")
@documented("Hand a result over", body=PickupRequest, answer=PickupResponse, errors=reasons_by_status(_PICKUP_STATUS))
@token_required
def pickup(case_id: str):
    """Hand the result over after checking the pickup code and the last four ID characters."""
    body = parse_json_body(PickupRequest)
    if not isinstance(body, PickupRequest):
        return body
    return _hand_over(case_id, lambda session: collect(session, g.staff.username, case_id, body.pickup_code,
                                                       body.id_last4, identity=identity()))


@bp.post("/cases/<case_id>/pickup-by-id")
@documented("Hand over a case restored from the county hub on the resident's whole ID number",
            body=IdCheckPickupRequest, answer=PickupResponse, errors=reasons_by_status(_PICKUP_STATUS))
@token_required
def pickup_by_id(case_id: str):
    """Hand over the result of a case restored from the county hub (no pickup code here) after checking the
    resident's whole ID number against the applicant's; the reason goes into the audit log."""
    body = parse_json_body(IdCheckPickupRequest)
    if not isinstance(body, IdCheckPickupRequest):
        return body
    return _hand_over(case_id, lambda session: collect_by_id_number(
        session, g.staff.username, case_id, body.id_number, body.reason, body.note, identity=identity()))


def _hand_over(case_id: str, collect_case):
    """Run one of pickup's hand-overs on the case ``case_id`` names; answer the result or the refusal."""
    try:
        with db.session_scope(data_dir()) as session:
            if session.get(Case, case_id) is None:
                raise PickupError("not_found", "no case with this id")
            collected, signed = collect_case(session)
    except PickupError as exc:
        if exc.unlocks_at is not None:
            return jsonify(error=exc.message, reason=exc.reason,
                           unlocks_at=exc.unlocks_at.isoformat(timespec="seconds")), _PICKUP_STATUS[exc.reason]
        return api_error(_PICKUP_STATUS[exc.reason], exc.reason, exc.message)
    wake_sync()
    return jsonify(case_id=collected.id, receipt_no=collected.receipt_no, status=collected.status, result=signed)


@bp.post("/cases/<case_id>/rating")
@documented("Rate a collected case (好差评)", body=RatingRequest, answer=RatingRecorded,
            errors={**_NO_CASE, 409: ("not_collected", "already_rated", "bad_score")})
@token_required
def rating(case_id: str):
    """好差评 after pickup: one 1-5 rating with an optional comment, sent to the county hub."""
    body = parse_json_body(RatingRequest)
    if not isinstance(body, RatingRequest):
        return body
    try:
        with db.session_scope(data_dir()) as session:
            case = session.get(Case, case_id[:36])
            if case is None:
                raise PickupError("not_found", "no case with this id")
            rate(session, g.staff.username, case, body.score, body.comment, identity=identity())
    except PickupError as exc:
        return api_error(404 if exc.reason == "not_found" else 409, exc.reason, exc.message)
    wake_sync()
    return jsonify(case_id=case_id, rating=body.score)


@bp.post("/cases/<case_id>/supplement")
@documented("Send the materials of a supplement request (补正)", answer=CaseDetail, status=202,
            other_bodies={"multipart/form-data": MULTIPART_SUPPLEMENT},
            errors={**reasons_by_status(_SUPPLEMENT_STATUS), **_TOO_LARGE})
@token_required
def supplement(case_id: str):
    """补正: the resident brought what the department asked for; send the scans (multipart ``scans``, with
    ``scan_materials`` naming each file's material) and a ``note``; the case goes back to the department."""
    inputs = uploaded_scans(request.files, request.form.getlist("scan_materials"))
    try:
        check_scans(inputs)
    except ScanRefused as exc:
        return scans_refused(exc, "not_a_scan")
    prepared = prepare_scans(data_dir(), inputs, max_photo_kb=_max_photo_kb())
    try:
        with db.session_scope(data_dir()) as session:
            found = session.get(Case, case_id[:36])
            if found is None:
                raise SupplementError("not_found", "no case with this id")
            detail = case_detail(send_supplement(session, g.staff.username, found,
                                                 note=request.form.get("note", "")[:2000], identity=identity(),
                                                 scans=prepared))
    except SupplementError as exc:
        discard_scans(data_dir(), prepared)
        return api_error(_SUPPLEMENT_STATUS[exc.reason], exc.reason, str(exc))
    except BaseException:
        discard_scans(data_dir(), prepared)
        raise
    wake_sync()
    return detail.model_dump(mode="json"), 202


@bp.post("/cases/<case_id>/amend")
@documented("Correct form fields of an undecided case", answer=CaseDetail, status=202,
            other_bodies={"application/json": {"schema": CaseAmend.model_json_schema()}},
            errors={**reasons_by_status(_CHANGE_STATUS), 400: JSON_BODY_ERRORS[400], **_TOO_LARGE})
@token_required
def amend(case_id: str):
    """Correct form fields of an undecided case: {form: {field: value}}; the hub reconciles it."""
    return _change(case_id, lambda session, body: amend_case(
        session, g.staff.username, case_id, _form_values(body), identity=identity()))


def _form_values(body: dict) -> dict[str, str]:
    """The corrected fields of an amend body, as text; ChangeError when ``form`` is not an object."""
    form = body.get("form") or {}
    if not isinstance(form, dict):
        raise ChangeError("invalid_form", "'form' must be an object of field -> value; nothing was queued",
                          {"form": "an object of field -> value"})
    return {str(key)[:64]: str(value) for key, value in form.items()}


@bp.post("/cases/<case_id>/withdraw")
@documented("The resident withdraws the application", answer=CaseDetail, status=202,
            other_bodies={"application/json": {"schema": CaseWithdraw.model_json_schema()}},
            errors={**reasons_by_status(_CHANGE_STATUS), 400: JSON_BODY_ERRORS[400], **_TOO_LARGE})
@token_required
def withdraw(case_id: str):
    """The resident withdraws the application: {reason}."""
    return _change(case_id, lambda session, body: withdraw_case(session, g.staff.username, case_id,
                                                                str(body.get("reason", "")), identity=identity()))


def _change(case_id: str, change) -> tuple:
    body = json_object_body()
    if not isinstance(body, dict):
        return body
    try:
        with db.session_scope(data_dir()) as session:
            case = change(session, body)
            detail = case_detail(case)
    except ChangeError as exc:
        return api_error(_CHANGE_STATUS[exc.reason], exc.reason, str(exc), exc.fields)
    wake_sync()
    return detail.model_dump(mode="json"), 202


@bp.post("/sync")
@documented("Sync now", answer=SyncReportOut,
            errors={409: ("sync_busy",), 502: ("hub_refused",), 503: ("hub_unreachable",)}, query=[
                {"name": "scans", "in": "query", "required": False, "schema": {"type": "string", "enum": ["0", "1"]},
                 "description": "1: send scans now, even on a metered link"}])
@token_required
def sync_now():
    """Run one sync round now; ``?scans=1`` sends scans even on a metered link outside its hours."""
    try:
        report = sync_once(data_dir(), send_scans=request.args.get("scans") == "1", wait=SYNC_NOW_WAIT_S)
    except SyncBusy:
        return api_error(409, "sync_busy", f"{SYNC_BUSY_MESSAGE}; it finishes by itself: ask again in a moment")
    except HubUnreachable as exc:
        return api_error(503, "hub_unreachable", plain_reason(exc))
    except HubRefused as exc:
        return api_error(502, "hub_refused", f"the county hub refused this point's request ({exc.reason})")
    return SyncReportOut(**report.to_dict()).model_dump()


@bp.get("/status")
@documented("Point status", answer=StatusResponse)
@token_required
def status():
    """Who this point is and how its sync stands."""
    with db.session_scope(data_dir()) as session:
        state = get_state(session)
        counts = outbox_counts(session)
        scans_waiting, scan_bytes_waiting = waiting_totals(session)
    download = catalog_download(data_dir())
    return StatusResponse(point_id=state.point_id, name=state.name, level=state.level, online=state.online,
                          queued=counts["queued"], quarantined=counts["quarantined"],
                          last_sync_at=as_utc(state.last_sync_at), last_error=state.last_error,
                          catalog_version=state.catalog_version, clock_offset_ms=state.clock_offset_ms,
                          revoked=state.revoked, hub_generation=state.hub_generation,
                          hub_fingerprint=state.hub_fingerprint, sealing_suite=sealing_key(state).suite,
                          key_rotation_pending=bool(state.pending_key_envelope_id), scans_waiting=scans_waiting,
                          scan_bytes_waiting=scan_bytes_waiting, metered=state.metered,
                          stuck_steps={step: status.stuck for step, status in step_status(state.sync_steps).items()
                                       if status.stuck},
                          catalog_received=download.offset, catalog_total=download.total if download.offset else 0,
                          ).model_dump(mode="json")


@bp.get("/openapi.json")
@documented("This document", answer={"type": "object", "description": "OpenAPI 3.1"}, auth=False)
def openapi():
    """The OpenAPI 3.1 description of this API, from the routes' declarations (no login needed)."""
    return openapi_document(current_app, title="pointkit point API", version="1",
                            description="Staff API of a service point: intake, cases, pickup, sync.")
