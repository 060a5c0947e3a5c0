"""The agent's pages (全程代办): every project on one page, a project's stages, filing a project and applications.

An agent (代办员) sees the projects they carry (a township's agent: the township's), admins, operators and the
supervision office see all. Per project: the stage it is in, per approval whether it is filed, on which
department it waits, what a 补正 asks for, whether a result waits to be collected; the nearest due date; what the
enterprise must still bring. The steps are hub/approval/projects.py and hub/approval/agency.py.
"""

from __future__ import annotations

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from sqlmodel import select

from hub.approval.agency import PROJECT_FIELDS, collect_result, file_application
from hub.approval.projects import (
    AGENCY_ROLES,
    ALL_PROJECTS,
    WITHDRAWAL_REASON_MAX,
    ProjectError,
    can_change_project,
    can_see_project,
    file_project,
    find_project,
    project_status,
    project_templates,
    reissue_code,
    visible_projects,
    withdraw_project,
)
from hub.catalog.versions import find_item
from hub.core.models import Case, Department, Project, Staff
from hub.web.auth import login_required
from hub.web.context import get_session

bp = Blueprint("projects", __name__)

PROJECT_STATUS_TEXT = {"open": lazy_gettext("In progress"), "completed": lazy_gettext("Completed"),
                       "withdrawn": lazy_gettext("Withdrawn")}
ITEM_STATE_TEXT = {"not_filed": lazy_gettext("Not filed yet"), "in_review": lazy_gettext("Waiting on"),
                   "supplement": lazy_gettext("Supplement asked"), "ready": lazy_gettext("Result ready to collect"),
                   "collected": lazy_gettext("Collected"), "withdrawn": lazy_gettext("Withdrawn; file it again")}
DECISION_TEXT = {"approved": lazy_gettext("approved"), "rejected": lazy_gettext("rejected; file it again")}
FIELD_TEXT = {
    "template": lazy_gettext("Choose a project template."),
    "name": lazy_gettext("Write the project's name."),
    "enterprise_name": lazy_gettext("Write the enterprise's name as on its business licence."),
    "credit_code": lazy_gettext("Not a valid unified social credit code: 18 characters, the last one a check "
                                "character. Check it against the business licence."),
    "location": lazy_gettext("Write where the project is built."),
    "investment_wan": lazy_gettext("Write the total investment in 10,000 yuan, for example 1200 or 1200.5."),
    "contact_name": lazy_gettext("Write the enterprise's contact person."),
    "contact_phone": lazy_gettext("Write an 11-digit mobile number or a landline with its area code."),
    "agent": lazy_gettext("Choose an agent."),
    "materials": lazy_gettext("Tick every material the enterprise brought; the ones still missing are listed."),
}
REFUSALS = {
    "invalid_input": lazy_gettext("Some fields are missing or invalid; see the marks below. Nothing was saved."),
    "stage_closed": lazy_gettext("This stage opens when every approval of the stage before it is approved."),
    "already_filed": lazy_gettext("This approval is already filed and was not rejected."),
    "project_closed": lazy_gettext("This project is no longer open."),
    "unknown_material": lazy_gettext("A ticked material is not one of this approval's."),
    "not_in_project": lazy_gettext("This approval is not part of the project."),
    "not_in_catalog": lazy_gettext("This approval is not in the catalog any more; ask the hub's admin."),
    "no_result": lazy_gettext("The departments have issued no result for this application yet."),
    "already_collected": lazy_gettext("This result was already collected."),
    "not_a_project_case": lazy_gettext("Only an agent's project applications are collected here."),
    "project_withdrawn": lazy_gettext("This project was withdrawn: it files no new application. The applications "
                                      "filed before keep running."),
    "not_your_project": lazy_gettext("Only the project's agent, an admin or an operator can do this."),
    "no_reason": lazy_gettext("Write why the project is withdrawn. Nothing was changed."),
}
NOTICES = {"filed": lazy_gettext("The application was filed."),
           "collected": lazy_gettext("The result was collected."),
           "withdrawn": lazy_gettext("The project was withdrawn. The applications already filed keep running until "
                                     "their departments decide.")}


def _chinese() -> bool:
    return g.get("lang", "zh") == "zh"


def _department_names() -> dict[str, str]:
    return {d.code: d.name_zh if _chinese() else d.name_en
            for d in get_session().exec(select(Department).order_by(Department.code)).all()}


def _agent_names() -> dict[str, str]:
    """Agents by their names on pages (a username is a login, not a name to show)."""
    rows = get_session().exec(select(Staff.username, Staff.display_name).where(Staff.role == "agent")).all()
    return {username: display_name or username for username, display_name in rows}


def _words() -> dict:
    return {"project_status_text": PROJECT_STATUS_TEXT, "item_state_text": ITEM_STATE_TEXT,
            "decision_text": DECISION_TEXT, "departments": _department_names(), "chinese": _chinese(),
            "agent_names": _agent_names()}


def _own_project(project_no: str) -> Project:
    project = find_project(get_session(), project_no)
    if project is None or not can_see_project(g.staff, project):
        abort(404)
    return project


@bp.get("/projects")
@login_required(*ALL_PROJECTS, "agent")
def projects_page():
    """Every project the logged-in person carries or oversees: stage, what waits on whom, next deadline, what the
    enterprise must still bring."""
    db = get_session()
    statuses = [project_status(db, project) for project in visible_projects(db, g.staff)]
    return render_template("projects.html", statuses=statuses, can_file=g.staff.role in AGENCY_ROLES, **_words())


def _agents() -> list[Staff]:
    query = select(Staff).where(Staff.role == "agent", Staff.disabled_at.is_(None))
    if g.staff.role == "agent" and g.staff.township_id is not None:
        query = query.where(Staff.township_id == g.staff.township_id)
    return list(get_session().exec(query.order_by(Staff.username)).all())


def _render_new(values: dict, problems: dict, status: int = 200):
    return render_template("project_new.html", values=values, problems=problems, field_text=FIELD_TEXT,
                           templates=project_templates(get_session()), agents=_agents(),
                           refusal=REFUSALS["invalid_input"] if problems else "", **_words()), status


@bp.get("/projects/new")
@login_required(*AGENCY_ROLES)
def new_project():
    """The form for filing a project for an enterprise."""
    templates = project_templates(get_session())
    return _render_new({"template": templates[0].code if len(templates) == 1 else "",
                        "agent": g.staff.username if g.staff.role == "agent" else ""}, {})


@bp.post("/projects/new")
@login_required(*AGENCY_ROLES)
def file_project_form():
    """File the project and show its filing slip, with the enterprise's lookup code: the only time it is shown."""
    keys = ("template", "name", "enterprise_name", "credit_code", "location", "investment_wan", "contact_name",
            "contact_phone", "agent")
    values = {key: request.form.get(key, "")[:200] for key in keys}
    db = get_session()
    try:
        filed = file_project(db, actor=g.staff, **values)
    except ProjectError as exc:
        db.rollback()
        return _render_new(values, exc.fields, 422)
    db.commit()
    return render_template("project_slip.html", project=filed.project, code=filed.code, **_words()), 201


@bp.get("/projects/<project_no>")
@login_required(*ALL_PROJECTS, "agent")
def project_page(project_no: str):
    """One project: its stages and approvals, the materials it holds, what is still missing."""
    project = _own_project(project_no)
    return _render_project(project, notice=NOTICES.get(request.args.get("done", "")[:16], ""))


def _render_project(project: Project, *, notice: str = "", refusal: str = "", status: int = 200):
    return render_template("project.html", status=project_status(get_session(), project),
                           can_act=g.staff.role in AGENCY_ROLES, can_change=can_change_project(g.staff, project),
                           notice=notice, refusal=refusal, reason_max=WITHDRAWAL_REASON_MAX, **_words()), status


def _render_apply(project: Project, item_code: str, values: dict, problems: dict, refusal: str = "",
                  status: int = 200):
    db = get_session()
    item = find_item(db, item_code)
    project_state = project_status(db, project)
    if item is None or project_state.stage_of(item_code) is None:
        abort(404)
    held = {row.material_code: row for row in project_state.held}
    receipts = {case.id: case.item_name for case in db.exec(select(Case).where(Case.project_id == project.id)).all()}
    prefilled = {name: fill(project) for name, fill in PROJECT_FIELDS.items()}
    return render_template("project_apply.html", project=project, item=item, stage=project_state.stage_of(item_code),
                           held=held, held_with=receipts, values=values, prefilled=prefilled, problems=problems,
                           field_text=FIELD_TEXT, refusal=refusal, **_words()), status


@bp.get("/projects/<project_no>/apply/<item_code>")
@login_required(*AGENCY_ROLES)
def apply_page(project_no: str, item_code: str):
    """The application form of one approval: the materials the project holds are marked, not asked again."""
    return _render_apply(_own_project(project_no), item_code[:64], {}, {})


@bp.post("/projects/<project_no>/apply/<item_code>")
@login_required(*AGENCY_ROLES)
def apply_form(project_no: str, item_code: str):
    """File the application and go back to the project."""
    project = _own_project(project_no)
    item_code = item_code[:64]
    item = find_item(get_session(), item_code)
    names = [spec.name for spec in item.fields] if item else []
    form = {name: request.form.get(f"form.{name}", "")[:500] for name in names}
    materials = request.form.getlist("materials")[:50]
    db = get_session()
    try:
        file_application(db, project, item_code=item_code, form=form, materials=materials, actor=g.staff)
    except ProjectError as exc:
        db.rollback()
        refusal = REFUSALS.get(exc.reason, REFUSALS["invalid_input"])
        if exc.reason == "materials_missing":
            refusal = gettext("The enterprise must still bring: %(materials)s. Nothing was filed.",
                              materials="、".join(m["name_zh"] if _chinese() else m["name_en"] for m in exc.missing))
        return _render_apply(project, item_code, {"form": form, "materials": materials}, exc.fields, str(refusal),
                             409 if exc.status == 409 else 422)
    db.commit()
    return redirect(url_for("projects.project_page", project_no=project.project_no, done="filed"))


@bp.post("/projects/<project_no>/collect/<case_id>")
@login_required(*AGENCY_ROLES)
def collect_form(project_no: str, case_id: str):
    """The agent collects an application's result at the hub (办结)."""
    project = _own_project(project_no)
    db = get_session()
    case = db.get(Case, case_id[:36])
    if case is None or case.project_id != project.id:
        abort(404)
    try:
        collect_result(db, case, g.staff)
    except ProjectError as exc:
        db.rollback()
        return _render_project(project, refusal=str(REFUSALS.get(exc.reason, "")), status=exc.status)
    db.commit()
    return redirect(url_for("projects.project_page", project_no=project.project_no, done="collected"))


@bp.post("/projects/<project_no>/withdraw")
@login_required(*AGENCY_ROLES)
def withdraw_form(project_no: str):
    """The enterprise gives up its project: withdrawn with the reason; its filed applications keep running."""
    project = _own_project(project_no)
    db = get_session()
    try:
        withdraw_project(db, project, g.staff, request.form.get("reason", "")[:WITHDRAWAL_REASON_MAX + 1])
    except ProjectError as exc:
        db.rollback()
        refusal = REFUSALS["no_reason"] if exc.reason == "invalid_input" else REFUSALS.get(exc.reason, "")
        return _render_project(project, refusal=str(refusal), status=exc.status)
    db.commit()
    return redirect(url_for("projects.project_page", project_no=project.project_no, done="withdrawn"))


@bp.post("/projects/<project_no>/code")
@login_required(*AGENCY_ROLES)
def reissue_code_form(project_no: str):
    """A new lookup code for an enterprise that lost its slip, on a reprinted filing slip: the only time it shows."""
    project = _own_project(project_no)
    db = get_session()
    try:
        reissued = reissue_code(db, project, g.staff)
    except ProjectError as exc:
        db.rollback()
        return _render_project(project, refusal=str(REFUSALS.get(exc.reason, "")), status=exc.status)
    db.commit()
    return render_template("project_slip.html", project=project, code=reissued.code, reissued=True, **_words())
