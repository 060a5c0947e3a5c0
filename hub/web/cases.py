"""The staff pages: department queue, case detail with the decision form, points."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app, g, redirect, render_template, request, url_for
from flask_babel import format_datetime, lazy_gettext
from flask_babel import gettext as _
from sqlmodel import select

from sync.kit.idnumber import mask_id_number
from sync.kit.qrcodes import qr_svg
from sync.kit.resultcode import result_code

from hub.approval.certificates import case_certificates
from hub.approval.cases import QUEUE_FILTERS, can_view, case_detail, point_names, queue
from hub.approval.review import (
    DECISIONS,
    ReviewError,
    check_decision,
    decidable_task,
    decide,
    open_conflicts,
    request_supplement,
    withdraw_unanswered,
)
from hub.approval.joint import invitations
from hub.approval.opinions import joint_review, lead_decides
from hub.approval.scans import CONTENT_TYPES, ScanError, open_scan
from hub.catalog.versions import current_version_number, find_item
from hub.core.clock import as_utc
from hub.core.models import POINT_LEVELS, Case, CatalogItem, Department, Project, ReviewTask, Staff
from hub.intake.budget import MIB, ingest_today, over_budget_today
from hub.intake.referrals import referral_origin
from hub.trust.enrollment import EnrollmentError, create_enrollment_token
from hub.trust.points import PointError, find_point, points_overview, revoke_point
from hub.trust.townships import (
    TownshipError,
    case_points,
    case_township,
    place_village,
    unplaced_villages,
    village_townships,
)
from hub.web.auth import login_required
from hub.web.context import (configured_budget_mib, configured_warn_share, current_identity, current_keyring,
                             get_session)
from hub.web.joint import MEETING_KINDS
from hub.web.orders import reviewer_board
from hub.web.timeline import CERTIFICATE_FINDINGS, Words, nowrap_dates, timeline

bp = Blueprint("views", __name__)

STATUS_TEXT = {
    "accepted": lazy_gettext("Accepted"),
    "catalog_outdated": lazy_gettext("Catalog changed since intake"),
    "received": lazy_gettext("Received at the point"),
    "stage_opened": lazy_gettext("Next stage opened"),
    "routed": lazy_gettext("Routed"),
    "in_review": lazy_gettext("In review"),
    "waiting_for_lead": lazy_gettext("Waiting for the lead department's conclusion"),
    "joint_opened": lazy_gettext("Joint review opened"),
    "joint_meeting_called": lazy_gettext("Joint meeting called"),
    "joint_meeting_held": lazy_gettext("Joint meeting held"),
    "joint_meeting_cancelled": lazy_gettext("Joint meeting cancelled"),
    "joint_opinion": lazy_gettext("Joint opinion"),
    "joint_decided": lazy_gettext("Combined result decided"),
    "needs_attention": lazy_gettext("Needs attention"),
    "result_issued": lazy_gettext("Result issued"),
    "delivered": lazy_gettext("Delivered to point"),
    "copy_sent": lazy_gettext("Copy sent to the restored point"),
    "closed": lazy_gettext("Closed"),
    "waiting": lazy_gettext("Waiting"),
    "open": lazy_gettext("Open"),
    "approved": lazy_gettext("Approved"),
    "rejected": lazy_gettext("Rejected"),
    "cancelled": lazy_gettext("Cancelled"),
    "pending": lazy_gettext("Pending"),
    "active": lazy_gettext("Active"),
    "revoked": lazy_gettext("Revoked"),
    "township": lazy_gettext("Township"),
    "village": lazy_gettext("Village"),
    "in_transit": lazy_gettext("In transit"),
    "complete": lazy_gettext("Complete"),
    "mismatch": lazy_gettext("Does not match the case"),
    "scan_received": lazy_gettext("Scan received"),
    "scan_mismatch": lazy_gettext("Scan does not match"),
    "supplement_requested": lazy_gettext("Supplement requested"),
    "supplement": lazy_gettext("Waiting for the supplement"),
    "supplemented": lazy_gettext("Supplemented"),
    "deemed_approved": lazy_gettext("Deemed approved"),
    "intake_time_accepted": lazy_gettext("Intake time accepted"),
    "conflict_parked": lazy_gettext("Parked for the conflict desk"),
    "conflict_merged": lazy_gettext("Parallel changes merged"),
    "conflict_resolved": lazy_gettext("Conflict resolved"),
    "applicant_corrected": lazy_gettext("Applicant's name corrected"),
    "merged": lazy_gettext("Duplicate merged"),
    "amended": lazy_gettext("Amended"),
    "withdrawn": lazy_gettext("Withdrawn"),
    "refused": lazy_gettext("Refused"),
    "rated": lazy_gettext("Rated"),
    "follow_up": lazy_gettext("Follow-up noted"),
    "follow_up_closed": lazy_gettext("Follow-up closed"),
    "normal": lazy_gettext("On time"),
    "warning": lazy_gettext("Warning"),
    "overdue": lazy_gettext("Overdue"),
    "paused": lazy_gettext("Paused (supplement)"),
    "done": lazy_gettext("Decided"),
    "admin": lazy_gettext("Admin"),
    "operator": lazy_gettext("Operator"),
    "supervisor": lazy_gettext("Supervision office"),
    "reviewer": lazy_gettext("Reviewer"),
}


@bp.app_template_filter("status")
def status_text(value: str | None) -> str:
    """A status word in the page's language."""
    return STATUS_TEXT.get(value or "", value or "")


bp.add_app_template_filter(nowrap_dates, "nowrap_dates")


@bp.app_template_filter("mask_id")
def mask_id(value: str) -> str:
    """An ID number with its middle hidden, as printed documents show it."""
    return mask_id_number(value)


@bp.app_template_filter("minutes")
def minutes_text(value: str | datetime | None, seconds: bool = False) -> str:
    """A time (ISO 8601 or a datetime; UTC when it names no zone) as 'YYYY-MM-DD HH:MM' on the county's clock,
    the one staff live by (blank when there is none); with ``seconds`` for timelines."""
    if not value:
        return ""
    moment = as_utc(datetime.fromisoformat(value) if isinstance(value, str) else value)
    return format_datetime(moment, "yyyy-MM-dd HH:mm:ss" if seconds else "yyyy-MM-dd HH:mm")


@bp.get("/")
def index():
    """Send staff to their queue (a township's staff to their township's page, agents to their projects) and
    everyone else to the login page."""
    if g.staff and g.staff.role == "township":
        return redirect(url_for("township.township_page"))
    if g.staff and g.staff.role == "agent":
        return redirect(url_for("projects.projects_page"))
    return redirect(url_for("views.queue_page" if g.staff else "auth.login"))


@bp.get("/queue")
@login_required()
def queue_page():
    """The department queue, soonest due first; a reviewer's department's open supervision orders and cards above
    it, each order one step from its answer form."""
    db = get_session()
    department = request.args.get("department", "")[:32] or None
    departments = db.exec(select(Department).order_by(Department.code)).all()
    chinese = g.get("lang", "zh") == "zh"
    names = {d.code: d.name_zh if chinese else d.name_en for d in departments}
    filters = {key: request.args.get(key, "")[:128] for key in QUEUE_FILTERS}
    cases = queue(db, g.staff, department, filters=filters, warn_share=configured_warn_share())
    for row in cases:
        row["department_names"] = "、".join(names.get(code, code) for code in row["department"].split(",") if code)
    scope = case_points(db, g.staff)
    points = sorted(name for point_id, name in point_names(db).items() if scope.allows(point_id))
    return render_template("queue.html", cases=cases, department=department, departments=departments,
                           department_names=names, filters=filters, points=points,
                           items=queue_items(db, g.staff, chinese=chinese), board=reviewer_board(db, g.staff),
                           invitations=invitations(db, g.staff.department_code) if g.staff.department_code else [],
                           meeting_kinds=MEETING_KINDS,
                           over_budget=over_budget_today(db) if g.staff.role in ("admin", "operator") else [])


def queue_items(db, staff, *, chinese: bool) -> list[tuple[str, str]]:
    """The items the queue can be narrowed to: a reviewer's department's items only, anyone else's all, each by
    its name in the current catalog version."""
    latest = current_version_number(db)
    rows = db.exec(select(CatalogItem).where(CatalogItem.version == latest).order_by(CatalogItem.code)).all()
    return [(row.code, row.name_zh if chinese else row.name_en) for row in rows
            if staff.role != "reviewer" or staff.department_code in (row.item or {}).get("departments", [])]


def _render_case(case: Case, *, error: str | None = None, form_values: dict | None = None, status: int = 200):
    db = get_session()
    item = find_item(db, case.item_code)
    words = Words.for_item(db, item)
    lines = timeline(db, case.id, words=words)
    return render_template(
        "case.html", case=case_detail(db, case, warn_share=configured_warn_share()), field_labels=words.fields,
        material_names=words.materials, item=item, can_decide=decidable_task(db, case, g.staff) is not None,
        error=error, form_values=form_values or {}, conflicts=open_conflicts(db, case.id),
        timeline=lines, catalog_notes=[line.text for line in lines if line.action == "catalog_outdated"],
        department_names=words.departments, referred_from=referral_origin(db, case),
        joint=joint_review(db, case.id),
        township=case_township(db, case),
        project=db.get(Project, case.project_id) if case.project_id else None,
        cert_refs=case_certificates(db, case.id), cert_findings=CERTIFICATE_FINDINGS,
    ), status


@bp.route("/cases/<case_id>", methods=("GET", "POST"))
@login_required()
def case_page(case_id: str):
    """One case: applicant, form, materials, tasks, timeline, and the decision form."""
    db = get_session()
    case = db.get(Case, case_id[:36])
    if case is None or not can_view(db, g.staff, case):
        abort(404)
    if request.method == "GET":
        return _render_case(case)
    item = find_item(db, case.item_code)
    values = {"reason": request.form.get("reason", "")[:2000],
              "certificate_no": request.form.get("certificate_no", "")[:64],
              "note": request.form.get("note", "")[:2000], "materials": request.form.getlist("materials")[:64],
              "result_fields": {spec.name: request.form.get(f"result_{spec.name}", "")[:200]
                                for spec in (item.result_fields if item else [])}}
    decision = request.form.get("decision", "")
    if decision not in (*DECISIONS, "supplement", "withdraw_unanswered"):
        return _render_case(case, error=_("Choose approve, reject or request a supplement."), form_values=values,
                            status=400)
    try:
        if decision == "approved" and request.form.get("confirmed") != "yes":
            # An approval issues a signed result at once and cannot be taken back: it is checked, then confirmed
            # on a page of its own (no script needed), so a stray click or Enter never approves.
            check_decision(db, case_id=case.id, staff=g.staff, decision=decision,
                           result_fields=values["result_fields"])
            return render_template("confirm_approval.html", case=case_detail(db, case), item=item, values=values,
                                   consequence=approval_consequence(db, case, g.staff), result_labels={spec.name: spec.label_zh if g.get("lang", "zh") == "zh"
                                                  else spec.label_en for spec in (item.result_fields if item else [])})
        if decision == "supplement":
            request_supplement(db, case_id=case.id, staff=g.staff, materials=values["materials"], note=values["note"])
        elif decision == "withdraw_unanswered":
            withdraw_unanswered(db, case_id=case.id, staff=g.staff)
        else:
            decide(db, case_id=case.id, staff=g.staff, decision=decision, reason=values["reason"],
                   certificate_no=values["certificate_no"], result_fields=values["result_fields"],
                   identity=current_identity())
    except ReviewError as exc:
        db.rollback()
        case = db.get(Case, case.id)
        message = DECISION_MESSAGES.get(exc.reason)
        return _render_case(case, error=str(message) if message else str(exc), form_values=values, status=exc.status)
    db.commit()
    return redirect(url_for("views.case_page", case_id=case.id))



DECISION_MESSAGES = {
    "reason_required": lazy_gettext("Write the reason for rejecting: the resident will read it. Nothing was saved."),
    "not_open": lazy_gettext("Your department has no open task on this case. Nothing was saved."),
    "in_conflict": lazy_gettext("This case is waiting for the operator on the conflict desk: it can be approved or "
                                "rejected once the conflict is resolved. Nothing was saved."),
    "result_fields_required": lazy_gettext("Fill in every required result field before approving. Nothing was saved."),
    "materials_required": lazy_gettext("Tick the materials the resident must bring again. Nothing was saved."),
    "note_required": lazy_gettext("Write what is missing or wrong, for the resident to read. Nothing was saved."),
    "unknown_material": lazy_gettext("Tick only materials of this item. Nothing was saved."),
    "not_overdue": lazy_gettext("No supplement request of your department on this case is past its return date. "
                                "Nothing was saved."),
    "certificate_unsettled": lazy_gettext("The case is parked on an e-certificate the hub could not accept: ask for "
                                          "the paper or go on without it first. Nothing was saved."),
    "procedure_open": lazy_gettext("A special procedure of your department is still running on this case: end it "
                                   "before deciding. Nothing was saved."),
}


@bp.get("/cases/<case_id>/result")
@login_required()
def case_result(case_id: str):
    """The signed result, printable, with a QR code that carries it whole for offline verification."""
    db = get_session()
    case = db.get(Case, case_id[:36])
    if case is None or not can_view(db, g.staff, case) or not case.result:
        abort(404)
    item = find_item(db, case.item_code)
    document = case.result["document"]
    return render_template("result.html", case=case, document=document, item=item, qr=qr_svg(result_code(case.result)),
                           applicant=case.applicant or {},
                           departments=department_names(db, document["department"]),
                           fingerprint=current_keyring().fingerprint)


def department_names(db, codes: str) -> str:
    """A result's departments ("YB" or "NY,ZR" for joint approval) by name, in the page's language."""
    chinese = g.get("lang", "zh") == "zh"
    names = []
    for code in codes.split(","):
        department = db.get(Department, code)
        names.append((department.name_zh if chinese else department.name_en) if department else code)
    return "、".join(names)


@bp.get("/cases/<case_id>/scans/<scan_id>")
@login_required()
def case_scan(case_id: str, scan_id: str):
    """One scan of a case, decrypted on the fly for reading in the browser (own department only)."""
    db = get_session()
    case = db.get(Case, case_id[:36])
    if case is None or not can_view(db, g.staff, case):
        abort(404)
    return scan_response(case, scan_id)


POINT_MESSAGES = {
    "name_required": lazy_gettext("Enter the point's name."),
    "bad_level": lazy_gettext("Choose township or village."),
    "point_exists": lazy_gettext("A point with this name is already enrolled. Use another name."),
    "unknown_township": lazy_gettext("Choose a township from the list."),
    "not_a_township": lazy_gettext("Choose a township from the list."),
    "not_a_village": lazy_gettext("Only a village is placed under a township."),
    "unknown_point": lazy_gettext("This point no longer exists. Reload the page."),
}


def _render_points(*, issued=None, error: str | None = None, values: dict | None = None, status: int = 200):
    db = get_session()
    overview = points_overview(db)
    townships = [row for row in overview if row["level"] == "township" and row["status"] != "revoked"]
    ingest = ingest_today(db, default_mib=configured_budget_mib())
    return render_template("points.html", points=overview, issued=issued, error=error, ingest=ingest, mib=MIB,
                           over_budget=over_budget_today(db),
                           values=values or {"name": "", "level": "village", "township": ""},
                           levels=POINT_LEVELS, townships=townships, belongs=village_townships(db),
                           unplaced=[point.name for point in unplaced_villages(db)]), status


@bp.route("/points", methods=("GET", "POST"))
@login_required("admin")
def points_page():
    """Points and their enrollment: add a point (a village under its township), show its one-time token once;
    which villages belong to no township yet."""
    if request.method == "GET":
        return _render_points()
    db = get_session()
    values = {"name": request.form.get("name", "").strip()[:128], "level": request.form.get("level", ""),
              "township": request.form.get("township", "").strip()[:128]}
    try:
        issued = create_enrollment_token(db, name=values["name"], level=values["level"],
                                         identity=current_identity(), actor=g.staff.username)
        if values["township"] and values["level"] == "village":
            place_village(db, values["name"], values["township"], actor=g.staff.username)
    except (EnrollmentError, TownshipError) as exc:
        db.rollback()
        message = POINT_MESSAGES.get(exc.reason)
        return _render_points(error=str(message) if message else str(exc), values=values, status=422)
    db.commit()
    return _render_points(issued=issued)


@bp.post("/points/<point_id>/township")
@login_required("admin")
def place_point(point_id: str):
    """Place a village under a township (or move it): that township's reviewers and staff see its cases."""
    db = get_session()
    try:
        place_village(db, point_id[:128], request.form.get("township", "").strip()[:128], actor=g.staff.username)
    except TownshipError as exc:
        db.rollback()
        message = POINT_MESSAGES.get(exc.reason)
        return _render_points(error=str(message) if message else str(exc), status=exc.status)
    db.commit()
    return redirect(url_for("views.points_page"))


@bp.route("/points/<point_id>/revoke", methods=("GET", "POST"))
@login_required("admin")
def revoke_page(point_id: str):
    """Confirm, then revoke a point: a lost laptop's envelopes and requests are refused from then on."""
    db = get_session()
    point = find_point(db, point_id[:128])
    if point is None:
        abort(404)
    if request.method == "POST":
        try:
            revoke_point(db, str(point.id), actor=g.staff.username)
            db.commit()
        except PointError:
            db.rollback()
        return redirect(url_for("views.points_page"))
    return render_template("revoke.html", point=point)


def content_type(name: str) -> str:
    """The type a browser shows inline (images, PDF); anything else downloads."""
    return CONTENT_TYPES.get(name.rpartition(".")[2].lower(), "application/octet-stream")


def scan_response(case: Case, scan_id: str) -> Response:
    """The answer both the page and the API give for one scan: inline for images and PDF, never cached."""
    try:
        row, data = open_scan(get_session(), current_app.config["DATA_DIR"], case.id, scan_id)
    except ScanError as exc:
        abort(exc.status, exc.message)
    kind = content_type(row.name)
    disposition = "inline" if kind != "application/octet-stream" else "attachment"
    return Response(data, content_type=kind, headers={
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(row.name)}",
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        # A scan is shown, never run: no scripts even if a "PDF" carries some.
        "Content-Security-Policy": "sandbox",
    })


def approval_consequence(db, case: Case, staff: Staff) -> str:
    """What one department's approval does to ``case`` (the confirmation page says it, and nothing else):
    "opinion" on a joint case its lead department decides, "stage" while other departments' tasks remain, "result"
    when it issues the signed result at once."""
    if lead_decides(db, case.id):
        return "opinion"
    deciding = decidable_task(db, case, staff)
    tasks = db.exec(select(ReviewTask).where(ReviewTask.case_id == case.id)).all()
    others = [task for task in tasks if task.status in ("open", "supplement", "waiting")
              and (deciding is None or task.id != deciding.id)]
    return "stage" if others else "result"
