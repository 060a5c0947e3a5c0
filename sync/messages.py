"""Payload schemas of the envelopes and signed documents both sides exchange.

Points send intents (submit, collected, ...); the hub sends results and
status. The hub validates every opened payload against these models, so a
point speaking nonsense is rejected with a reason instead of half-applied.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .envelope import Kind

RESULT_DOCUMENT_TYPE = "pointkit.result/v1"
CATALOG_DOCUMENT_TYPE = "pointkit.catalog/v1"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Applicant(_Strict):
    """The resident who applies; personal data, so it only travels sealed."""

    name: str = Field(min_length=1, max_length=64)
    id_number: str = Field(min_length=15, max_length=18)
    phone: str = Field(default="", max_length=20)


class Scan(_Strict):
    """A scan or photo of a material, uploaded apart from the case; its key only travels here, sealed."""

    scan_id: str = Field(min_length=36, max_length=36)
    name: str = Field(min_length=1, max_length=120)
    material: str = Field(default="", max_length=64)
    size: int = Field(ge=0, le=1 << 36)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    key_b64: str = Field(min_length=43, max_length=44)


class SubmitCase(_Strict):
    """A case received (受理) at a point."""

    case_id: str = Field(min_length=36, max_length=36)
    receipt_no: str = Field(min_length=1, max_length=40)
    item_code: str = Field(min_length=1, max_length=64)
    catalog_version: int = Field(ge=0)
    applicant: Applicant
    form: dict[str, str] = Field(default_factory=dict)
    materials: list[str] = Field(default_factory=list)
    received_at: datetime
    promised_date: date | None = None
    staff: str = Field(max_length=64)
    # Added in issue 4; a point from before sends none, so the hub accepts SUBMIT without it.
    scans: list[Scan] = Field(default_factory=list, max_length=64)


class CaseCollected(_Strict):
    """The resident collected the result at the point (办结)."""

    case_id: str = Field(min_length=36, max_length=36)
    collected_at: datetime
    staff: str = Field(max_length=64)


class ResultDocument(_Strict):
    """The hub's decision on a case: signed, verifiable offline at the point."""

    type: Literal["pointkit.result/v1"] = RESULT_DOCUMENT_TYPE
    case_id: str
    receipt_no: str
    point_id: str
    item_code: str
    item_name: str
    department: str
    decision: Literal["approved", "rejected"]
    reason: str = ""
    certificate_no: str = ""
    decided_at: datetime
    decided_by: str
    issued_at: datetime


class StatusUpdate(_Strict):
    """A case moved at the hub (routed, in review, closed); shown at the point."""

    case_id: str
    status: str
    at: datetime
    note: str = ""


POINT_INTENTS: dict[Kind, type[BaseModel]] = {
    Kind.SUBMIT: SubmitCase,
    Kind.COLLECTED: CaseCollected,
}
