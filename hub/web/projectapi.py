"""The projects JSON API (全程代办, bearer tokens) and the points' signed lookup of a project for its enterprise.

What the agent's pages do (hub/web/projects.py), for the agency office's tools and for tests: file a project,
read where it stands, file an application for it, collect a result. The steps are hub/approval/projects.py and
hub/approval/agency.py; this module reads bodies and words answers.
"""

from __future__ import annotations

from flask import Blueprint, g
from sqlmodel import Session, select

from sync.kit.openapi import documented
from sync.kit.web import api_error, json_object_body, parse_json_body

from hub.approval.agency import collect_result, file_application
from hub.approval.projects import (
    AGENCY_ROLES,
    ALL_PROJECTS,
    ProjectError,
    ProjectStatus,
    can_see_project,
    file_project,
    find_project,
    look_up_project,
    lookup_answer,
    project_status,
    reissue_code,
    visible_projects,
    withdraw_project,
)
from hub.core.clock import iso
from hub.core.models import Case, Department, Point, Project
from hub.web import projectschemas as schemas
from hub.web.auth import api_auth
from hub.web.context import get_session
from hub.web.sync import _authenticated_point

bp = Blueprint("projectapi", __name__, url_prefix="/api")
# The points' lookup sits beside the other signed point requests (/sync/v1).
point_bp = Blueprint("projectlookup", __name__, url_prefix="/sync/v1")

_NO_PROJECT = {404: ("not_found",)}
_FILE_ERRORS = {403: ("forbidden",), 422: ("invalid_input",)}
_APPLY_ERRORS = {403: ("forbidden",), 404: ("not_found",),
                 409: ("project_withdrawn", "project_closed", "stage_closed", "already_filed", "agency_point_taken"),
                 422: ("invalid_input", "not_in_project", "not_in_catalog", "unknown_material", "materials_missing")}
_WITHDRAW_ERRORS = {403: ("forbidden", "not_your_project"), 404: ("not_found",), 409: ("project_closed",),
                    422: ("invalid_input",)}
_CODE_ERRORS = {403: ("forbidden", "not_your_project"), 404: ("not_found",)}
_COLLECT_ERRORS = {403: ("forbidden",), 404: ("not_found",),
                   409: ("not_a_project_case", "no_result", "already_collected")}


def project_public(status: ProjectStatus) -> dict:
    """A project as the API shows it (schemas.ProjectPublic)."""
    project = status.project
    current = status.current_stage
    return {
        "project_no": project.project_no, "name": project.name, "template": project.template_code,
        "status": project.status, "enterprise_name": project.enterprise_name, "credit_code": project.credit_code,
        "location": project.location, "investment_yuan": project.investment_yuan,
        "contact_name": project.contact_name, "contact_phone": project.contact_phone, "agent": project.agent,
        "filed_by": project.filed_by, "filed_at": iso(project.filed_at),
        "current_stage": current.code if current else None,
        "stages": [{"code": stage.code, "name_zh": stage.name_zh, "name_en": stage.name_en,
                    "opens_early": stage.opens_early, "open": stage.is_open, "done": stage.done,
                    "items": [{"item_code": item.code, "name_zh": item.name_zh, "state": item.state,
                               "approved": item.approved, "case_id": item.case.id if item.case else None,
                               "receipt_no": item.case.receipt_no if item.case else None,
                               "case_status": item.case.status if item.case else None,
                               "decision": item.case.decision if item.case else None,
                               "waiting_on": item.waiting_on, "supplement": item.supplement,
                               "due_date": item.case.due_date.isoformat() if item.case and item.case.due_date
                               else None}
                              for item in stage.items]}
                   for stage in status.stages],
        "materials_held": [{"code": row.material_code, "name_zh": row.name_zh, "case_id": row.case_id,
                            "given_at": iso(row.given_at)} for row in status.held],
        "materials_missing": status.missing,
        "next_deadline": status.next_deadline.isoformat() if status.next_deadline else None,
        "withdrawn_at": iso(project.withdrawn_at) if project.withdrawn_at else None,
        "withdrawal_reason": project.withdrawal_reason,
    }


def _visible(session: Session, project_no: str) -> Project | None:
    project = find_project(session, project_no)
    return project if project is not None and can_see_project(g.staff, project) else None


def _refused(session: Session, exc: ProjectError):
    session.rollback()
    return api_error(exc.status, exc.reason, str(exc), exc.fields or None)


@bp.get("/projects")
@documented("The caller's projects, open first", answer=schemas.ProjectsResponse, errors={403: ("forbidden",)})
@api_auth(*ALL_PROJECTS, "agent")
def get_projects():
    """Every project the caller sees: all (admin, operator, supervisor), a township's, or an agent's own."""
    db = get_session()
    return {"projects": [project_public(project_status(db, project)) for project in visible_projects(db, g.staff)]}


@bp.post("/projects")
@documented("File a project for an enterprise", body=schemas.ProjectFileBody, answer=schemas.ProjectFiledPublic,
            status=201, errors=_FILE_ERRORS)
@api_auth(*AGENCY_ROLES)
def post_project():
    """File a project; the answer holds its number and the enterprise's lookup code (told only here)."""
    body = parse_json_body(schemas.ProjectFileBody)
    if not isinstance(body, schemas.ProjectFileBody):
        return body
    db = get_session()
    try:
        filed = file_project(db, actor=g.staff, **body.model_dump())
    except ProjectError as exc:
        return _refused(db, exc)
    db.commit()
    return {**project_public(project_status(db, filed.project)), "code": filed.code}, 201


@bp.get("/projects/<project_no>")
@documented("One project: stages, items and their cases, materials held and missing, next deadline",
            answer=schemas.ProjectPublic, errors=_NO_PROJECT)
@api_auth(*ALL_PROJECTS, "agent")
def get_project(project_no: str):
    """Where one project stands."""
    db = get_session()
    project = _visible(db, project_no)
    if project is None:
        return api_error(404, "not_found", "no such project for you")
    return project_public(project_status(db, project))


@bp.post("/projects/<project_no>/applications")
@documented("File an application of the project for the enterprise; held materials are reused",
            body=schemas.ProjectApplicationBody, answer=schemas.ApplicationFiledPublic, status=201,
            errors=_APPLY_ERRORS)
@api_auth(*AGENCY_ROLES)
def post_application(project_no: str):
    """File one approval of the project: the stage must be open; materials the project holds are not asked again."""
    body = parse_json_body(schemas.ProjectApplicationBody)
    if not isinstance(body, schemas.ProjectApplicationBody):
        return body
    db = get_session()
    project = _visible(db, project_no)
    if project is None:
        return api_error(404, "not_found", "no such project for you")
    try:
        filed = file_application(db, project, item_code=body.item_code, form=body.form, materials=body.materials,
                                 actor=g.staff)
    except ProjectError as exc:
        # The materials still to bring, by code, as a field: the agent tells the enterprise all of them at once.
        if exc.missing:
            exc.fields["materials"] = ",".join(material["code"] for material in exc.missing)
        return _refused(db, exc)
    db.commit()
    case = filed.case
    return {"case_id": case.id, "receipt_no": case.receipt_no, "project_no": project.project_no,
            "stage": case.project_stage, "due_date": case.due_date.isoformat() if case.due_date else None,
            "legal_due_date": case.legal_due_date.isoformat() if case.legal_due_date else None,
            "materials_reused": filed.reused}, 201


@bp.post("/projects/<project_no>/withdraw")
@documented("Withdraw the project: it files nothing new; the applications already filed keep running",
            body=schemas.ProjectWithdrawBody, answer=schemas.ProjectWithdrawnPublic, errors=_WITHDRAW_ERRORS)
@api_auth(*AGENCY_ROLES)
def post_withdraw(project_no: str):
    """The enterprise gives up its project; the answer names the applications that keep running."""
    body = parse_json_body(schemas.ProjectWithdrawBody)
    if not isinstance(body, schemas.ProjectWithdrawBody):
        return body
    db = get_session()
    project = _visible(db, project_no)
    if project is None:
        return api_error(404, "not_found", "no such project for you")
    try:
        withdrawn = withdraw_project(db, project, g.staff, body.reason)
    except ProjectError as exc:
        return _refused(db, exc)
    db.commit()
    return {**project_public(project_status(db, project)),
            "running": [case.receipt_no for case in withdrawn.running]}


@bp.post("/projects/<project_no>/code")
@documented("A new lookup code for the enterprise; the old one stops working (told only here)",
            answer=schemas.ProjectCodePublic, errors=_CODE_ERRORS)
@api_auth(*AGENCY_ROLES)
def post_code(project_no: str):
    """Reissue the enterprise's lookup code: wrong-code count and lock start afresh."""
    db = get_session()
    project = _visible(db, project_no)
    if project is None:
        return api_error(404, "not_found", "no such project for you")
    try:
        reissued = reissue_code(db, project, g.staff)
    except ProjectError as exc:
        return _refused(db, exc)
    db.commit()
    return {"project_no": project.project_no, "code": reissued.code}


@bp.post("/cases/<case_id>/collect")
@documented("The agent collects a project case's result at the hub; the case closes", answer=schemas.CollectedPublic,
            errors=_COLLECT_ERRORS)
@api_auth(*AGENCY_ROLES)
def post_collect(case_id: str):
    """Collect the signed result of an application the agent filed (办结)."""
    db = get_session()
    case = db.get(Case, case_id[:36])
    project = db.get(Project, case.project_id) if case is not None and case.project_id else None
    if case is None or (project is not None and not can_see_project(g.staff, project)):
        return api_error(404, "not_found", "no such case for you")
    try:
        collect_result(db, case, g.staff)
    except ProjectError as exc:
        return _refused(db, exc)
    db.commit()
    return {"case_id": case.id, "status": case.status, "decision": case.decision,
            "certificate_no": case.certificate_no}


@point_bp.post("/projects/lookup")
def post_lookup():
    """A point asks, for an enterprise at its window or kiosk, where a project stands: the project number and the
    enterprise's code in a signed JSON body. A wrong code and an unknown number answer alike (403 wrong_code);
    the fifth wrong code locks the project's lookup (429 locked)."""
    point = _authenticated_point()
    if not isinstance(point, Point):
        return point
    data = json_object_body()
    if not isinstance(data, dict):
        return data
    db = get_session()
    try:
        project = look_up_project(db, str(data.get("project_no", ""))[:40], str(data.get("code", ""))[:20])
    except ProjectError as exc:
        return api_error(exc.status, exc.reason, str(exc))
    names = {row.code: row.name_zh for row in db.exec(select(Department)).all()}
    answer = lookup_answer(project_status(db, project), names)
    db.commit()
    return answer
