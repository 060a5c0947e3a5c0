"""Investment projects (全程代办): an enterprise's approvals grouped in stages, carried by an agent (代办员).

The hub owns projects (DESIGN.md "Who owns what"). A project is filed from a catalog template; its stages are
snapshotted then, so a later catalog changes no project in flight. Where a project stands is computed from its
cases every time it is read: which stage is open, which item waits on which department, what the enterprise
must still bring. Nothing is stored twice, so the pages, the JSON API and the enterprise's lookup cannot
disagree. The applications themselves are filed and collected in hub/approval/agency.py.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from typing import Any

from sqlmodel import Session, select

from sync.catalog import ProjectTemplate, ServiceItem
from sync.kit.creditcode import credit_code_problem, normalize_credit_code
from sync.kit.passwords import hash_password, verify_password
from sync.kit.workdays import county_date

from hub.approval.timelimits import OPEN_STATUSES
from hub.catalog.versions import current_version, find_item
from hub.core.audit import append_audit
from hub.core.clock import as_utc, utc_now
from hub.core.db import write_lock
from hub.core.models import Case, Project, ProjectMaterial, ReviewTask, Staff, SupplementRound
from hub.core.timeline import record_event

LOOKUP_CODE_DIGITS = 6
MAX_LOOKUP_TRIES = 5
LOOKUP_LOCK = timedelta(minutes=15)
# Mobile numbers, or a landline with its area code (an enterprise's office): 0776-7600111.
PHONE_PATTERN = re.compile(r"^(1\d{10}|0\d{2,3}-?\d{7,8})$")
# Who sees every project; an agent sees their own (a township's agent: the township's).
ALL_PROJECTS = ("admin", "operator", "supervisor")
# Who files projects and applications and collects results.
AGENCY_ROLES = ("admin", "operator", "agent")
YUAN_PER_WAN = 10_000


class ProjectError(ValueError):
    """A refused project step; ``reason`` is a stable word, ``status`` the HTTP answer, ``fields`` what to fix."""

    def __init__(self, reason: str, message: str, status: int = 422, fields: dict[str, str] | None = None,
                 missing: list[dict[str, str]] | None = None):
        super().__init__(message)
        self.reason, self.status, self.fields, self.missing = reason, status, fields or {}, missing or []


# -- templates --------------------------------------------------------------------------------------------

def project_templates(session: Session) -> list[ProjectTemplate]:
    """The project templates of the current catalog version (none before a catalog with "projects")."""
    version = current_version(session)
    if version is None:
        return []
    return [_template(entry) for entry in version.signed["document"].get("projects", [])]


def _template(entry: dict[str, Any]) -> ProjectTemplate:
    return ProjectTemplate.model_validate(entry)


# -- filing -----------------------------------------------------------------------------------------------

@dataclass
class FiledProject:
    """A project just filed and its lookup code, told once (on the filing slip) and stored hashed."""

    project: Project
    code: str


def file_project(session: Session, *, actor: Staff, template: str, name: str, enterprise_name: str,
                 credit_code: str, location: str, investment_wan: Any, contact_name: str, contact_phone: str,
                 agent: str) -> FiledProject:
    """File a project from ``template`` for an enterprise; raise ProjectError with every problem at once."""
    problems: dict[str, str] = {}
    chosen = next((entry for entry in project_templates(session) if entry.code == template), None)
    if chosen is None:
        problems["template"] = "choose a project template of the catalog"
    for key, value, limit in (("name", name, 200), ("enterprise_name", enterprise_name, 200),
                              ("location", location, 200), ("contact_name", contact_name, 64)):
        if not value.strip():
            problems[key] = "required"
        elif len(value.strip()) > limit:
            problems[key] = f"at most {limit} characters"
    credit_code = normalize_credit_code(credit_code or "")
    if credit_code_problem(credit_code):
        problems["credit_code"] = credit_code_problem(credit_code)
    investment_yuan = _yuan(investment_wan)
    if investment_yuan is None:
        problems["investment_wan"] = "a positive amount in 10,000 yuan (万元), at most two decimals"
    phone = (contact_phone or "").strip()
    if not PHONE_PATTERN.match(phone):
        problems["contact_phone"] = "an 11-digit mobile number or a landline with its area code"
    agent_staff = _agent(session, actor, (agent or "").strip(), problems)
    if problems:
        raise ProjectError("invalid_input", "; ".join(f"{key}: {why}" for key, why in problems.items()),
                           fields=problems)
    write_lock(session)  # the next project number is read, then taken
    now = utc_now()
    code = _new_code()
    project = Project(
        project_no=_next_project_no(session, county_date(now)), name=name.strip(), template_code=chosen.code,
        stages=[stage.model_dump(mode="json") for stage in chosen.stages], enterprise_name=enterprise_name.strip(),
        credit_code=credit_code, location=location.strip(), investment_yuan=investment_yuan,
        contact_name=contact_name.strip(), contact_phone=phone, agent=agent_staff.username,
        township_id=agent_staff.township_id, filed_by=actor.username, filed_at=now, code_hash=hash_password(code))
    session.add(project)
    append_audit(session, actor=actor.username, action="project_filed", subject=f"project:{project.project_no}",
                 detail={"template": chosen.code, "agent": agent_staff.username,
                         "township_id": str(agent_staff.township_id) if agent_staff.township_id else None})
    session.flush()
    return FiledProject(project, code)


def _yuan(investment_wan: Any) -> int | None:
    """万元 as typed (``1200.5``) in whole yuan, or None when it is not a positive amount."""
    if isinstance(investment_wan, float) and abs(investment_wan * 100 - round(investment_wan * 100)) < 1e-6:
        investment_wan = f"{investment_wan:.2f}"  # 3200.3 as JSON may arrive as 3200.2999999999997
    text = str(investment_wan if investment_wan is not None else "").strip()
    if not re.fullmatch(r"\d{1,9}(\.\d{1,2})?", text):
        return None
    whole, _dot, cents = text.partition(".")
    yuan = int(whole) * YUAN_PER_WAN + int((cents or "0").ljust(2, "0")) * (YUAN_PER_WAN // 100)
    return yuan or None


def _agent(session: Session, actor: Staff, username: str, problems: dict[str, str]) -> Staff:
    """The agent the project is assigned to: an active agent account; a township's agent files for its own
    township's agents only. An agent who names no one carries the project themself."""
    if not username and actor.role == "agent":
        return actor
    agent = session.exec(select(Staff).where(Staff.username == username)).first() if username else None
    if agent is None or agent.role != "agent" or agent.disabled_at is not None:
        problems["agent"] = "name an active agent account (pointkit-hub users add NAME --role agent)"
        return actor
    if actor.role == "agent" and actor.township_id is not None and agent.township_id != actor.township_id:
        problems["agent"] = "a township's agent assigns projects to the same township's agents"
    return agent


def _next_project_no(session: Session, day: date) -> str:
    prefix = f"XM-{day:%Y%m%d}-"
    numbers = session.exec(select(Project.project_no).where(Project.project_no.startswith(prefix))).all()
    highest = max((int(number[len(prefix):]) for number in numbers if number[len(prefix):].isdigit()), default=0)
    return f"{prefix}{highest + 1:04d}"


# -- who sees what ----------------------------------------------------------------------------------------

def can_see_project(staff: Staff, project: Project) -> bool:
    if staff.role in ALL_PROJECTS:
        return True
    if staff.role != "agent":
        return False
    if staff.township_id is not None:
        return project.township_id == staff.township_id
    return project.agent == staff.username


def visible_projects(session: Session, staff: Staff) -> list[Project]:
    """The projects ``staff`` sees, open ones first, newest first within."""
    query = select(Project)
    if staff.role == "agent":
        query = query.where(Project.township_id == staff.township_id) if staff.township_id is not None \
            else query.where(Project.agent == staff.username)
    elif staff.role not in ALL_PROJECTS:
        return []
    rows = session.exec(query.order_by(Project.filed_at.desc())).all()
    return sorted(rows, key=lambda project: project.status != "open")


def find_project(session: Session, project_no: str) -> Project | None:
    return session.exec(select(Project).where(Project.project_no == project_no.strip().upper()[:40])).first()


# -- where a project stands ---------------------------------------------------------------------------------

@dataclass
class ItemStatus:
    """One approval of a project as it stands: its newest case (the approved one, once there is one)."""

    code: str
    item: ServiceItem | None
    # not_filed, in_review (waiting on departments), supplement, ready (result to collect), collected, withdrawn
    state: str = "not_filed"
    case: Case | None = None
    approved: bool = False
    waiting_on: list[str] = field(default_factory=list)  # department codes with an open task
    supplement: list[str] = field(default_factory=list)  # material names a 补正 asks for

    @property
    def name_zh(self) -> str:
        return self.item.name_zh if self.item else self.code


@dataclass
class StageStatus:
    code: str
    name_zh: str
    name_en: str
    opens_early: bool
    items: list[ItemStatus]
    is_open: bool = False

    @property
    def done(self) -> bool:
        return all(item.approved for item in self.items)


@dataclass
class ProjectStatus:
    """Everything the pages, the API and the enterprise's lookup say about a project."""

    project: Project
    stages: list[StageStatus]
    held: list[ProjectMaterial]
    missing: list[dict[str, Any]]
    next_deadline: date | None

    @property
    def current_stage(self) -> StageStatus | None:
        return next((stage for stage in self.stages if not stage.done), None)

    def stage_of(self, item_code: str) -> StageStatus | None:
        return next((stage for stage in self.stages if any(item.code == item_code for item in stage.items)), None)


def project_status(session: Session, project: Project) -> ProjectStatus:
    cases = session.exec(select(Case).where(Case.project_id == project.id)
                         .order_by(Case.hub_received_at, Case.id)).all()
    stages: list[StageStatus] = []
    for index, entry in enumerate(project.stages):
        stage = StageStatus(entry["code"], entry["name_zh"], entry["name_en"], bool(entry.get("opens_early")),
                            [_item_status(session, code, [case for case in cases if case.item_code == code])
                             for code in entry["items"]])
        stage.is_open = index == 0 or stages[-1].done or (stage.opens_early and stages[-1].is_open)
        stages.append(stage)
    held = list(session.exec(select(ProjectMaterial).where(ProjectMaterial.project_id == project.id)
                             .order_by(ProjectMaterial.given_at, ProjectMaterial.id)).all())
    dues = [case.due_date for case in cases if case.status in OPEN_STATUSES and case.due_date]
    return ProjectStatus(project, stages, held, _missing(stages, {row.material_code for row in held}),
                         min(dues, default=None))


def _item_status(session: Session, code: str, cases: list[Case]) -> ItemStatus:
    status = ItemStatus(code, find_item(session, code))
    approved = [case for case in cases if case.decision == "approved"]
    case = approved[0] if approved else (cases[-1] if cases else None)
    if case is None:
        return status
    status.case, status.approved = case, bool(approved)
    if case.status == "withdrawn":
        status.state = "withdrawn"
    elif case.status == "closed":
        status.state = "collected"
    elif case.result is not None:
        status.state = "ready"
    elif case.status == "supplement_requested":
        status.state = "supplement"
        names = {material.code: material.name_zh for material in (status.item.materials if status.item else [])}
        for open_round in session.exec(select(SupplementRound).where(
                SupplementRound.case_id == case.id, SupplementRound.supplemented_at.is_(None))).all():
            status.supplement.extend(names.get(code, code) for code in open_round.materials)
    else:
        status.state = "in_review"
    if status.state in ("in_review", "supplement"):
        status.waiting_on = sorted({task.department_code for task in session.exec(select(ReviewTask).where(
            ReviewTask.case_id == case.id, ReviewTask.status.in_(("open", "supplement")))).all()})
    return status


def _missing(stages: list[StageStatus], held: set[str]) -> list[dict[str, Any]]:
    """Required materials of the open stages' items still to file that the project does not hold yet, once each,
    with the items that ask for them."""
    missing: dict[str, dict[str, Any]] = {}
    for stage in stages:
        if not stage.is_open:
            continue
        for item in stage.items:
            if item.item is None or item.state not in ("not_filed", "withdrawn") and not _refile(item):
                continue
            for material in item.item.materials:
                if material.required and material.code not in held:
                    entry = missing.setdefault(material.code, {"code": material.code, "name_zh": material.name_zh,
                                                               "name_en": material.name_en or material.name_zh,
                                                               "items": []})
                    entry["items"].append(item.code)
    return list(missing.values())


def _refile(item: ItemStatus) -> bool:
    """A rejected item is filed again."""
    return item.case is not None and item.case.decision == "rejected"


def note_result(session: Session, case: Case) -> None:
    """A result was issued on a project's case: the project completes when every item of it is approved."""
    project = session.get(Project, case.project_id) if case.project_id else None
    if project is None or project.status != "open":
        return
    session.flush()
    if all(stage.done for stage in project_status(session, project).stages):
        project.status, project.completed_at = "completed", utc_now()
        session.add(project)
        append_audit(session, actor="hub", action="project_completed", subject=f"project:{project.project_no}",
                     detail={"last_case": case.id})


# -- withdrawing a project, a new lookup code ------------------------------------------------------------------

# Besides the project's own agent, who may withdraw a project or give its enterprise a new lookup code.
PROJECT_OFFICE = ("admin", "operator")
WITHDRAWAL_REASON_MAX = 500


def can_change_project(staff: Staff, project: Project) -> bool:
    """The project's agent, an admin or an operator (a township's other agents see the project, but it is not
    theirs to give up)."""
    return staff.role in PROJECT_OFFICE or (staff.role == "agent" and project.agent == staff.username)


@dataclass
class WithdrawnProject:
    """A project just withdrawn and the applications of it still running: withdrawing the project does not
    withdraw them (each is a case of its own before its departments, withdrawn there if the enterprise asks)."""

    project: Project
    running: list[Case]


def withdraw_project(session: Session, project: Project, staff: Staff, reason: str) -> WithdrawnProject:
    """The enterprise gives up its project: it files nothing new; the applications already filed keep running, and
    each running case's timeline says so."""
    if not can_change_project(staff, project):
        raise ProjectError("not_your_project", "only the project's agent, an admin or an operator withdraws it", 403)
    reason = (reason or "").strip()
    if not reason:
        raise ProjectError("invalid_input", "reason: required", fields={"reason": "required"})
    if len(reason) > WITHDRAWAL_REASON_MAX:
        raise ProjectError("invalid_input", f"reason: at most {WITHDRAWAL_REASON_MAX} characters",
                           fields={"reason": f"at most {WITHDRAWAL_REASON_MAX} characters"})
    # Read after the lock, the state is not one an application or a withdrawal filed meanwhile has changed.
    write_lock(session)
    session.refresh(project)
    if project.status != "open":
        raise ProjectError("project_closed", f"this project is {project.status}, not open", 409)
    project.status, project.withdrawn_at, project.withdrawal_reason = "withdrawn", utc_now(), reason
    session.add(project)
    running = list(session.exec(select(Case).where(Case.project_id == project.id, Case.status.in_(OPEN_STATUSES))
                                .order_by(Case.hub_received_at, Case.id)).all())
    for case in running:
        record_event(session, case.id, actor=staff.username, action="project_withdrawn",
                     note=f"project {project.project_no} was withdrawn; this application keeps running",
                     data={"project_no": project.project_no})
    append_audit(session, actor=staff.username, action="project_withdrawn", subject=f"project:{project.project_no}",
                 detail={"reason": reason, "running": [case.id for case in running]})
    session.flush()
    return WithdrawnProject(project, running)


def reissue_code(session: Session, project: Project, staff: Staff) -> FiledProject:
    """A new lookup code for an enterprise that lost its filing slip: the old code stops working, and the count of
    wrong codes and any lock start afresh. Told once, like the first (on a reprinted slip)."""
    if not can_change_project(staff, project):
        raise ProjectError("not_your_project", "only the project's agent, an admin or an operator gives its "
                           "enterprise a new code", 403)
    code = _new_code()
    project.code_hash, project.lookup_failures, project.lookup_locked_until = hash_password(code), 0, None
    session.add(project)
    append_audit(session, actor=staff.username, action="project_code_reissued",
                 subject=f"project:{project.project_no}", detail={})
    session.flush()
    return FiledProject(project, code)


def _new_code() -> str:
    return f"{secrets.randbelow(10 ** LOOKUP_CODE_DIGITS):0{LOOKUP_CODE_DIGITS}d}"


# -- the enterprise's lookup --------------------------------------------------------------------------------

def look_up_project(session: Session, project_no: str, code: str) -> Project:
    """A project by its number and the enterprise's code. An unknown number and a wrong code are refused alike
    (``wrong_code``): a point tells no one which projects exist. Five wrong codes in a row, from any point, lock
    the project's lookup for LOOKUP_LOCK (``locked``); each wrong try and the lock are audited."""
    project = find_project(session, project_no or "")
    if project is None:
        verify_password(code or "", _no_project_hash())
        raise ProjectError("wrong_code", "wrong project number or code", 403)
    locked = as_utc(project.lookup_locked_until) if project.lookup_locked_until else None
    if locked is not None and locked > utc_now():
        raise ProjectError("locked", f"this project's lookup is locked after {MAX_LOOKUP_TRIES} wrong codes until "
                           f"{locked.isoformat(timespec='minutes')}", 429)
    if not verify_password((code or "").strip(), project.code_hash):
        project.lookup_failures += 1
        detail: dict[str, Any] = {"tries": project.lookup_failures}
        if project.lookup_failures >= MAX_LOOKUP_TRIES:
            project.lookup_failures, project.lookup_locked_until = 0, utc_now() + LOOKUP_LOCK
            detail["locked_until"] = project.lookup_locked_until.isoformat(timespec="seconds")
        session.add(project)
        append_audit(session, actor="point", action="project_lookup_failed", subject=f"project:{project.project_no}",
                     detail=detail)
        session.commit()  # the refusal must not undo the count
        raise ProjectError("wrong_code", "wrong project number or code", 403)
    if project.lookup_failures:
        project.lookup_failures = 0
        session.add(project)
    return project


@cache
def _no_project_hash() -> str:
    """A code hash no project has, checked for an unknown number so that it costs what a known one does."""
    return hash_password(secrets.token_hex(8))


def lookup_answer(status: ProjectStatus, department_names: dict[str, str]) -> dict[str, Any]:
    """What a point shows the enterprise: no personal data, no ids; state keys the point words in its language."""
    current = status.current_stage
    return {
        "project_no": status.project.project_no, "name": status.project.name, "status": status.project.status,
        "current_stage": current.name_zh if current else "",
        "next_deadline": status.next_deadline.isoformat() if status.next_deadline else None,
        "stages": [{"name_zh": stage.name_zh, "name_en": stage.name_en, "open": stage.is_open, "done": stage.done,
                    "items": [{"name_zh": item.name_zh, "state": item.state,
                               "decision": item.case.decision if item.case else None,
                               "waiting_on": [department_names.get(code, code) for code in item.waiting_on],
                               "supplement": item.supplement,
                               "due_date": item.case.due_date.isoformat() if item.case and item.case.due_date
                               and item.state in ("in_review", "supplement") else None}
                              for item in stage.items]}
                   for stage in status.stages],
        "materials_missing": [entry["name_zh"] for entry in status.missing],
    }
