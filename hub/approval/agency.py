"""The agent's applications (全程代办): filed at the hub for the enterprise, routed like any case, collected there.

Every case belongs to a point (routing, time limits, supervision and results all read ``case.point_id``). An
agent's applications belong to a hub-owned agency point: one for the county centre and one per township centre
the hub has projects at, with ``level`` "county" and ``status`` "hub" (AGENCY_STATUS). Such a point has no keys
and never syncs: the outbox queues nothing for it (hub/core/outbox.py), point lists leave it out, and its
receipt numbers have the shape of a point's. A township's agency point carries ``township_id``, so a
township-scoped department's reviewers see their own township's project cases as they see its villages' cases.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from sync.clock import uuid7
from sync.kit.workdays import county_date

from hub.approval.projects import ProjectError, note_result, project_status
from hub.approval.routing import route_case
from hub.catalog.versions import current_version_number, find_item
from hub.core.audit import append_audit
from hub.core.clock import utc_now
from hub.core.db import write_lock
from hub.core.models import Case, Point, Project, ProjectMaterial, Staff
from hub.core.timeline import record_event

AGENCY_STATUS = "hub"
AGENCY_LEVEL = "county"
COUNTY_AGENCY_NAME = "县政务服务中心代办窗口"
# Form fields the project already answers (the sample catalog's names); the agent may overwrite them.
PROJECT_FIELDS = {"project_name": lambda p: p.name, "site_location": lambda p: p.location,
                  "investment": lambda p: f"{p.investment_yuan / 10_000:g}"}


def agency_point(session: Session, township_id: Any) -> Point:
    """The hub-owned point a project's applications belong to (made the first time it is needed)."""
    township = session.get(Point, township_id) if township_id else None
    name = f"{township.name}代办窗口" if township else COUNTY_AGENCY_NAME
    point = session.exec(select(Point).where(Point.name == name)).first()
    if point is not None and point.status != AGENCY_STATUS:
        raise ProjectError("agency_point_taken", f"an enrolled point is named {name}, the name of the hub's agency "
                           "window; rename that point at the hub before filing applications", 409)
    if point is None:
        point = Point(name=name, level=AGENCY_LEVEL, status=AGENCY_STATUS,
                      township_id=township.id if township else None)
        session.add(point)
        append_audit(session, actor="hub", action="agency_point_made", subject=f"point:{name}",
                     detail={"township_id": str(township.id) if township else None})
        session.flush()
    return point


@dataclass
class FiledApplication:
    """An application the agent filed: its case and the materials the project already held."""

    case: Case
    reused: list[str]


def file_application(session: Session, project: Project, *, item_code: str, form: dict[str, Any] | None,
                     materials: list[str] | None, actor: Staff) -> FiledApplication:
    """File ``item_code`` for ``project``: checked against the project's stages, materials the project holds
    reused, the new ones recorded, the case routed as a point's would be."""
    # The project's cases are read to decide whether this one may be filed, and a receipt number is taken; read
    # after the lock, the project's state is not one a withdrawal has changed since.
    write_lock(session)
    session.refresh(project)
    if project.status == "withdrawn":
        raise ProjectError("project_withdrawn", f"project {project.project_no} was withdrawn: it files no new "
                           "application (those filed before keep running)", 409)
    if project.status != "open":
        raise ProjectError("project_closed", "this project is no longer open", 409)
    status = project_status(session, project)
    stage = status.stage_of(item_code)
    if stage is None:
        raise ProjectError("not_in_project", f"{item_code} is not an approval of this project", 422)
    if not stage.is_open:
        before = status.stages[status.stages.index(stage) - 1]
        raise ProjectError("stage_closed", f"the stage {stage.name_en} opens when every approval of "
                           f"{before.name_en} is approved", 409)
    entry = next(entry for entry in stage.items if entry.code == item_code)
    if entry.approved or entry.state in ("in_review", "supplement"):
        raise ProjectError("already_filed", "this approval is already filed and not rejected", 409)
    item = find_item(session, item_code)
    if item is None:
        raise ProjectError("not_in_catalog", f"{item_code} is not in the hub's catalog", 422)
    clean_form = _check_form(item, project, form or {})
    held = {row.material_code for row in status.held}
    known = {material.code: material for material in item.materials}
    given = [code for code in dict.fromkeys(str(code).strip() for code in materials or []) if code]
    strays = [code for code in given if code not in known]
    if strays:
        raise ProjectError("unknown_material", f"not a material of this item: {', '.join(strays)}", 422,
                           fields={"materials": "not a material of this item"})
    missing = [{"code": m.code, "name_zh": m.name_zh, "name_en": m.name_en or m.name_zh}
               for m in item.materials if m.required and m.code not in held and m.code not in given]
    if missing:
        raise ProjectError("materials_missing", "required materials are missing: "
                           + ", ".join(m["name_en"] for m in missing), 422,
                           fields={"materials": "required materials are missing"}, missing=missing)
    reused = [code for code in known if code in held]
    new = [code for code in given if code not in held]
    return FiledApplication(_new_case(session, project, item, stage.code, clean_form, reused + new, actor, reused),
                            reused)


def _new_case(session: Session, project: Project, item, stage_code: str, form: dict[str, str], materials: list[str],
              actor: Staff, reused: list[str]) -> Case:
    point = agency_point(session, project.township_id)
    now = utc_now()
    case = Case(
        id=str(uuid7()), point_id=point.id, receipt_no=_next_receipt_no(session, point, now), item_code=item.code,
        item_name=item.name_zh, catalog_version=current_version_number(session) or 0,
        applicant={"name": project.enterprise_name, "id_number": project.credit_code, "phone": project.contact_phone},
        form=form, materials=materials, staff=actor.username, received_at=now, hub_received_at=now, clock_offset_ms=0,
        first_contact_name=actor.display_name or actor.username, first_contact_post="代办员",
        project_id=project.id, project_stage=stage_code)
    session.add(case)
    record_event(session, case.id, actor=actor.username, action="filed_for_project",
                 note=f"filed by agent {actor.username} for project {project.project_no}; "
                      f"{len(reused)} material(s) reused",
                 data={"agent": actor.username, "project_no": project.project_no, "reused": reused})
    for code in materials:
        if code not in reused:
            material = next(m for m in item.materials if m.code == code)
            session.add(ProjectMaterial(project_id=project.id, material_code=code, name_zh=material.name_zh,
                                        received_by=actor.username, case_id=case.id))
    route_case(session, case, item)
    case.promised_date = case.due_date
    append_audit(session, actor=actor.username, action="project_application", subject=f"project:{project.project_no}",
                 detail={"case_id": case.id, "item_code": item.code, "stage": stage_code, "reused": reused})
    session.flush()
    return case


def _check_form(item, project: Project, form: dict[str, Any]) -> dict[str, str]:
    """The item's form as filled in, the project's own facts filling what the agent left empty."""
    specs = {spec.name: spec for spec in item.fields}
    problems: dict[str, str] = {f"form.{key}": "not a field of this item" for key in form if key not in specs}
    clean: dict[str, str] = {}
    for spec in item.fields:
        value = str(form.get(spec.name) or "").strip()
        if not value and spec.name in PROJECT_FIELDS:
            value = PROJECT_FIELDS[spec.name](project)
        if not value:
            if spec.required:
                problems[f"form.{spec.name}"] = "required"
            continue
        if len(value) > 500:
            problems[f"form.{spec.name}"] = "at most 500 characters"
        elif spec.type == "number" and not _number(value):
            problems[f"form.{spec.name}"] = "must be a number"
        elif spec.type == "choice" and value not in spec.choices:
            problems[f"form.{spec.name}"] = "choose one of the listed options"
        clean[spec.name] = value
    if problems:
        raise ProjectError("invalid_input", "; ".join(f"{key}: {why}" for key, why in problems.items()), 422,
                           fields=problems)
    return clean


def _number(value: str) -> bool:
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def _next_receipt_no(session: Session, point: Point, now) -> str:
    """A receipt number of a point's shape: day, the point's code (its id's tail), a counter."""
    prefix = f"{county_date(now):%Y%m%d}-{point.id.hex[-6:].upper()}-"
    numbers = session.exec(select(Case.receipt_no).where(Case.receipt_no.startswith(prefix))).all()
    highest = max((int(number[len(prefix):]) for number in numbers if number[len(prefix):].isdigit()), default=0)
    return f"{prefix}{highest + 1:04d}"


def collect_result(session: Session, case: Case, actor: Staff) -> Case:
    """The agent collects a project case's signed result at the hub for the enterprise: the case closes (办结)."""
    if case.project_id is None:
        raise ProjectError("not_a_project_case", "only an agent's project applications are collected here; a "
                           "point's case is collected at its point", 409)
    if case.result is None:
        raise ProjectError("no_result", "the departments have issued no result for this application yet", 409)
    if case.status == "closed":
        raise ProjectError("already_collected", "this result was already collected", 409)
    case.status, case.closed_at = "closed", utc_now()
    session.add(case)
    record_event(session, case.id, actor=actor.username, action="collected_by_agent",
                 note=f"result collected at the hub by agent {actor.username}",
                 data={"agent": actor.username, "decision": case.decision or ""})
    # Results are noted as they are issued (hub/approval/review.py); noting again here completes a project whose
    # last result came by another path.
    note_result(session, case)
    session.flush()
    return case

