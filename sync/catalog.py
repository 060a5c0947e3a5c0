"""The service catalog format: what the hub authors, signs and sends to points."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Level = Literal["county", "township", "village"]
FieldType = Literal["text", "id_number", "phone", "date", "choice", "number"]

class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")

class Department(_Model):
    """主管部门: an authority that decides items."""

    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
    name_zh: str = Field(min_length=1, max_length=64)
    name_en: str = Field(min_length=1, max_length=128)

class Material(_Model):
    """申请材料: one document an item asks for."""

    code: str = Field(min_length=1, max_length=32)
    name_zh: str = Field(min_length=1, max_length=128)
    name_en: str = Field(default="", max_length=200)
    form: Literal["original", "copy", "original_and_copy"] = "original"
    copies: int = Field(default=1, ge=0, le=20)
    required: bool = True
    seal_required: bool = False  # signed or sealed (签字/盖章) by the applicant or an issuing body
    note: str = Field(default="", max_length=500)  # what a correct one looks like

class FormField(_Model):
    """One value the window collects beyond the applicant's name, ID and phone."""

    name: str = Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")
    label_zh: str = Field(min_length=1, max_length=64)
    label_en: str = Field(min_length=1, max_length=128)
    type: FieldType = "text"
    required: bool = False
    choices: list[str] = Field(default_factory=list)

class ServiceItem(_Model):
    """政务服务事项 with its 十公开 guide fields."""

    code: str = Field(min_length=1, max_length=64)
    name_zh: str = Field(min_length=1, max_length=128)
    name_en: str = Field(min_length=1, max_length=200)
    departments: list[str] = Field(min_length=1)
    route: Literal["single", "joint", "staged"] = "single"
    legal_basis: str = Field(default="", max_length=1000)
    conditions: str = Field(default="", max_length=2000)
    process: str = Field(default="", max_length=2000)
    legal_days: int = Field(ge=0, le=365)
    promised_days: int = Field(ge=0, le=365)
    fees: str = Field(default="免费", max_length=200)
    complaint_channel: str = Field(default="12345", max_length=200)
    levels: list[Level] = Field(min_length=1)
    deemed_approval: bool = False
    materials: list[Material] = Field(default_factory=list)
    fields: list[FormField] = Field(default_factory=list)
    # What a department records when it approves (certificate number, validity, ...); printed on the result.
    result_fields: list[FormField] = Field(default_factory=list)

class CatalogFile(_Model):
    """What ``pointkit-hub catalog import`` reads (JSON form)."""

    note: str = Field(default="", max_length=1000)
    departments: list[Department]
    items: list[ServiceItem]
