"""Payload schemas of the envelopes and signed documents both sides exchange.

Points send intents (submit, collected, ...); the hub sends results and
status. The hub validates every opened payload against these models, so a
point speaking nonsense is rejected with a reason instead of half-applied.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .catalog import DayUnit
from .envelope import Kind

RESULT_DOCUMENT_TYPE = "pointkit.result/v1"
CATALOG_DOCUMENT_TYPE = "pointkit.catalog/v1"
# The longest receipt number a point may give (and the hub and points store).
RECEIPT_MAX = 40
# The highest envelope sequence number both sides store (a signed 64-bit integer in SQL).
SEQ_MAX = (1 << 63) - 1


def receipt_number(value: object) -> str:
    """``value`` if it can be a receipt number a SUBMIT carries (a string of 1 to RECEIPT_MAX characters), else
    "": how the hub, a township and a point take one they did not validate themselves."""
    return value if isinstance(value, str) and 0 < len(value) <= RECEIPT_MAX else ""


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
    receipt_no: str = Field(min_length=1, max_length=RECEIPT_MAX)
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
    # Added in issue 6: the hub's clock minus this point's clock as the point last measured it, so the
    # hub starts the time limit at the true moment of intake (None: the point never reached the hub).
    clock_offset_ms: int | None = None


class CaseCollected(_Strict):
    """The resident collected the result at the point (办结)."""

    case_id: str = Field(min_length=36, max_length=36)
    collected_at: datetime
    staff: str = Field(max_length=64)


class AmendCase(_Strict):
    """Staff corrected form fields of a case before its decision.

    ``base_version`` is the case version the point last heard from the hub
    (1 for a case it submitted): the hub compares it with the changes made
    since, to merge a parallel update or park a conflict for an operator.
    """

    case_id: str = Field(min_length=36, max_length=36)
    base_version: int = Field(ge=0)
    form: dict[str, str] = Field(min_length=1, max_length=64)
    amended_at: datetime
    staff: str = Field(max_length=64)


class WithdrawCase(_Strict):
    """The resident withdrew the application at the point (撤回)."""

    case_id: str = Field(min_length=36, max_length=36)
    base_version: int = Field(ge=0)
    reason: str = Field(default="", max_length=500)
    withdrawn_at: datetime
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
    # Added in issue 6 and left out of the document when empty, so points from before still read it:
    # the item's result fields as the department filled them (validity, ...), and silence-is-consent.
    result_fields: dict[str, str] = Field(default_factory=dict)
    deemed_approval: bool = False

    def signable(self) -> dict:
        """The document as signed: the issue-6 fields only when they say something."""
        empty = {name for name in ("result_fields", "deemed_approval") if not getattr(self, name)}
        return self.model_dump(mode="json", exclude=empty)


class SupplementRequest(_Strict):
    """A department asks for missing or corrected materials (补正); the time limit pauses until they come.

    From protocol 3 it says by when the resident must bring them: ``return_by``, which is ``return_within``
    working or natural days (``return_unit``, the item's catalog rule) after the day of the request.
    """

    case_id: str = Field(min_length=36, max_length=36)
    department: str = Field(max_length=32)
    materials: list[str] = Field(default_factory=list, max_length=64)
    note: str = Field(default="", max_length=2000)
    requested_at: datetime
    return_by: date | None = None
    return_within: int = Field(default=0, ge=0, le=365)
    return_unit: DayUnit = "working_days"


class SupplementCase(_Strict):
    """The resident came back with what a supplement request asked for; the scans follow like intake's."""

    case_id: str = Field(min_length=36, max_length=36)
    materials: list[str] = Field(default_factory=list, max_length=64)
    note: str = Field(default="", max_length=2000)
    supplemented_at: datetime
    staff: str = Field(max_length=64)
    scans: list[Scan] = Field(default_factory=list, max_length=64)


class RateCase(_Strict):
    """The resident's rating (好差评) of a collected case: 1 (very bad) to 5 (very good)."""

    case_id: str = Field(min_length=36, max_length=36)
    score: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=500)
    rated_at: datetime


class CopyRequest(_Strict):
    """A point restored from an older backup asks for the cases its laptop took after that backup (COPY_REQUEST).

    ``from_seq`` to ``to_seq`` are the envelope numbers it skipped when the hub said it holds higher ones than
    the point's own (a pull answer's or a hub bundle's numbers): the laptop it replaces sent those envelopes.
    """

    from_seq: int = Field(ge=1, le=SEQ_MAX)
    to_seq: int = Field(ge=1, le=SEQ_MAX)
    asked_at: datetime

    @model_validator(mode="after")
    def _ordered(self) -> "CopyRequest":
        if self.to_seq < self.from_seq:
            raise ValueError("to_seq is lower than from_seq")
        return self


class CaseCopy(_Strict):
    """A case a point took, sent back to it by the hub (CASE_COPY) because it asked: it lacks the case.

    ``case`` is the application as the point received it, with the form as it stands at the hub (after any
    correction) and no scans (their files are at the hub); ``version`` the case version (the base of the next
    correction); ``closed_at`` when the result was handed over (办结), if it was. The hub's messages about the case
    follow the copy, sent again in their order.
    """

    case: SubmitCase
    item_name: str = Field(default="", max_length=128)
    version: int = Field(ge=1)
    closed_at: datetime | None = None
    copied_at: datetime


class StatusUpdate(_Strict):
    """A case moved at the hub (routed, supplemented, withdrawn, ...); shown at the point.

    ``status`` says what happened. From protocol 3 the message also carries where the case stands at the hub
    (``state``, a hub case status) and its dates as the hub counts them now: the promised and legal due dates,
    moved by the ``paused_days`` working days 补正 has stopped the clock so far. The point shows these instead of
    the date it printed at intake (it never counts a date the hub has moved).
    """

    case_id: str
    status: str
    at: datetime
    note: str = ""
    state: str = Field(default="", max_length=24)
    promised_date: date | None = None
    legal_date: date | None = None
    paused_days: int = Field(default=0, ge=0)


# The fields hub messages gained in protocol 3. A point speaking an older protocol refuses any field it does not
# know (``_Strict``), so the hub leaves them out of what it seals for such a point (hub/outbox.py).
PROTOCOL_3_FIELDS: dict[Kind, frozenset[str]] = {
    Kind.STATUS: frozenset({"state", "promised_date", "legal_date", "paused_days"}),
    Kind.SUPPLEMENT_REQUEST: frozenset({"return_by", "return_within", "return_unit"}),
}


def payload_for_protocol(kind: Kind, payload: dict[str, Any], protocol: int) -> dict[str, Any]:
    """A hub message's ``payload`` as a point speaking ``protocol`` reads it: fields added since left out."""
    if protocol >= 3 or kind not in PROTOCOL_3_FIELDS:
        return payload
    return {name: value for name, value in payload.items() if name not in PROTOCOL_3_FIELDS[kind]}


# The outcomes of a RECONCILED message and what each means, in the words the hub sends when the
# operator wrote no note; the point shows them in its language (pointkit/i18n.py).
RECONCILED_OUTCOMES = {
    "take_left": "the hub kept the version it already had",
    "take_right": "the hub took the version this point sent",
    "merge": "the hub merged the two versions field by field",
    "merge_cases": "the two applications were merged into one; both receipts stay valid for pickup",
    "keep_both": "the hub keeps both",
    "accept_old": "accepted under the catalog version in force at intake",
    "supplement": "the department asks the resident for materials (补正)",
    "reject": "the hub rejected it",
    "resume": "this point used an envelope number twice (restored from a backup?); it continues from a fresh one",
}


class Reconciled(_Strict):
    """The hub's word on a conflict that involves this point: what operators decided and why.

    ``version`` is the case version after the decision (the base of the next
    amendment); ``resume_seq`` is set after a fork: the point continues its
    envelope numbering from there.
    """

    conflict_id: str = Field(max_length=36)
    conflict_type: str = Field(max_length=32)
    case_id: str = Field(default="", max_length=36)
    outcome: str = Field(max_length=32)
    note: str = Field(default="", max_length=2000)
    version: int = Field(default=0, ge=0)
    resume_seq: int = Field(default=0, ge=0)
    at: datetime


POINT_INTENTS: dict[Kind, type[BaseModel]] = {
    Kind.SUBMIT: SubmitCase,
    Kind.AMEND: AmendCase,
    Kind.WITHDRAW: WithdrawCase,
    Kind.COLLECTED: CaseCollected,
    Kind.SUPPLEMENT: SupplementCase,
    Kind.RATE: RateCase,
    Kind.COPY_REQUEST: CopyRequest,
}
