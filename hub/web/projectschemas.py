"""Request and response shapes of the projects API (全程代办), for hub/web/projects.py and its OpenAPI entries."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# A project to file: the template and the enterprise; the investment in 万元 (stored in yuan).
class ProjectFileBody(_Request):
    template: str = Field(min_length=1, max_length=32)
    name: str = Field(max_length=200)
    enterprise_name: str = Field(max_length=200)
    credit_code: str = Field(max_length=40)
    location: str = Field(max_length=200)
    investment_wan: float | int | str
    contact_name: str = Field(max_length=64)
    contact_phone: str = Field(max_length=32)
    agent: str = Field(default="", max_length=64)


# An application the agent files for the project: the item, its form, the materials given now.
class ProjectApplicationBody(_Request):
    item_code: str = Field(min_length=1, max_length=64)
    form: dict[str, Any] = Field(default_factory=dict)
    materials: list[str] = Field(default_factory=list, max_length=50)


# Why the enterprise gives up its project (shown on the agent's pages).
class ProjectWithdrawBody(_Request):
    reason: str = Field(min_length=1, max_length=500)


class ProjectItemPublic(BaseModel):
    item_code: str
    name_zh: str
    state: str
    approved: bool
    case_id: str | None
    receipt_no: str | None
    case_status: str | None
    decision: str | None
    waiting_on: list[str]
    supplement: list[str]
    due_date: str | None


class ProjectStagePublic(BaseModel):
    code: str
    name_zh: str
    name_en: str
    opens_early: bool
    open: bool
    done: bool
    items: list[ProjectItemPublic]


class MaterialHeldPublic(BaseModel):
    code: str
    name_zh: str
    case_id: str | None
    given_at: str


class MaterialMissingPublic(BaseModel):
    code: str
    name_zh: str
    name_en: str
    items: list[str]


class ProjectPublic(BaseModel):
    project_no: str
    name: str
    template: str
    status: str
    enterprise_name: str
    credit_code: str
    location: str
    investment_yuan: int
    contact_name: str
    contact_phone: str
    agent: str
    filed_by: str
    filed_at: str
    current_stage: str | None
    stages: list[ProjectStagePublic]
    materials_held: list[MaterialHeldPublic]
    materials_missing: list[MaterialMissingPublic]
    next_deadline: str | None
    withdrawn_at: str | None
    withdrawal_reason: str


# A project just withdrawn: the receipt numbers of its applications that keep running.
class ProjectWithdrawnPublic(ProjectPublic):
    running: list[str]


# A new lookup code, in this answer only.
class ProjectCodePublic(BaseModel):
    project_no: str
    code: str


# A project just filed: the lookup code is in this answer only.
class ProjectFiledPublic(ProjectPublic):
    code: str


class ProjectsResponse(BaseModel):
    projects: list[ProjectPublic]


class ApplicationFiledPublic(BaseModel):
    case_id: str
    receipt_no: str
    project_no: str
    stage: str
    due_date: str | None
    legal_due_date: str | None
    materials_reused: list[str]


class CollectedPublic(BaseModel):
    case_id: str
    status: str
    decision: str | None
    certificate_no: str
