"""Request and response shapes of the hub's JSON APIs (the OpenAPI document is built from these)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.approval.orders import MAX_ORDER_DAYS
from hub.core.models import DEFAULT_ORDER_DAYS

# Base64 of a raw 32-byte public key and of a 64-byte Ed25519 signature.
_B64_32_BYTES = r"^[A-Za-z0-9+/]{43}=$"
_B64_64_BYTES = r"^[A-Za-z0-9+/]{86}==$"


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Staff login for the JSON API.
class LoginRequest(_Request):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


# A bearer token and who it belongs to.
class LoginResponse(BaseModel):
    token: str
    username: str
    role: str
    department: str | None


# Where a case stands against its promised limit: normal, warning (yellow), overdue (red), paused (补正), done.
class TimeStatePublic(BaseModel):
    state: Literal["normal", "warning", "overdue", "paused", "done"]
    elapsed_days: int
    limit_days: int
    due_date: str | None
    unit: Literal["working_days", "natural_days"] = "working_days"


# One line of a department queue.
class QueueCase(BaseModel):
    case_id: str
    receipt_no: str
    item_code: str
    item_name: str
    point_name: str
    status: str
    department: str
    # An open conflict holds the case for the operator's conflict desk: no department decides it meanwhile.
    waiting_for_operator: bool
    # 待牵头部门出具结论: a joint case whose departments all gave their opinions, waiting for the lead's result.
    waiting_for_lead: bool = False
    received_at: str | None
    due_date: str | None
    time: TimeStatePublic


# Open work, soonest due first.
class QueueResponse(BaseModel):
    cases: list[QueueCase]


# The resident as received at the point.
class ApplicantPublic(BaseModel):
    name: str
    id_number: str
    phone: str


# One department's part in a case.
class TaskPublic(BaseModel):
    department: str
    stage: int
    status: str
    decided_by: str
    reason: str
    decided_at: str | None = None
    result_fields: dict[str, str] = {}


# A supplement request (补正) and, once she came back, the resident's answer.
class SupplementPublic(BaseModel):
    department: str
    materials: list[str]
    note: str
    requested_by: str
    requested_at: str | None
    supplemented_at: str | None
    supplement_note: str
    paused_days: int
    # The last day for the resident's materials, and whether it passed while the case still waits for them.
    return_by: str | None = None
    return_overdue: bool = False


# The resident's rating (好差评) and its follow-up.
class RatingPublic(BaseModel):
    score: int
    comment: str
    rated_at: str | None
    follow_up: Literal["none", "open", "closed"]
    follow_up_note: str


# One line of a case's timeline.
class EventPublic(BaseModel):
    at: str | None
    actor: str
    action: str
    note: str


# A hub-signed document: {document, signature}.
class SignedDocument(BaseModel):
    document: dict[str, Any]
    signature: str


# A scan a case lists and how much of it has arrived (never its key).
class ScanPublic(BaseModel):
    scan_id: str
    name: str
    material: str
    size: int
    received: int
    total: int
    status: str
    problem: str = ""
    completed_at: str | None = None
    # When its bytes were removed after the county's retention (then the scan itself answers 410).
    purged_at: str | None = None


# 首问责任人: the clerk who received a case at the point, by real name and post ("" from a point that sent none).
class FirstContactPublic(BaseModel):
    name: str = ""
    post: str = ""


# A special procedure (特别程序, 行政许可法 第四十五条) on a case: the clock stands still while it runs.
class ProcedurePublic(BaseModel):
    procedure_id: str
    kind: str
    department: str
    reason: str
    started_by: str
    started_at: str | None
    expected_end: str | None = None
    ended_by: str = ""
    ended_at: str | None = None
    end_note: str = ""
    # What it added to the limits when it ended (0 while running, or when another pause still held the clock).
    paused_days: int = 0
    paused_natural_days: int = 0


# Start a special procedure: its kind (sync.catalog.SPECIAL_PROCEDURES), why, and when it is expected to end.
class ProcedureStartBody(_Request):
    kind: str = Field(max_length=24)
    reason: str = Field(default="", max_length=2000)
    expected_end: date | None = None


# End a special procedure with a note of how it ended.
class ProcedureEndBody(_Request):
    note: str = Field(default="", max_length=2000)


# A procedure just started, and the case's dates (standing still until it ends).
class ProcedureStarted(ProcedurePublic):
    due_date: str | None = None
    legal_due_date: str | None = None


# A procedure just ended, and the case's dates as they stand now, with their units.
class ProcedureEndedResponse(BaseModel):
    procedure: ProcedurePublic
    due_date: str | None
    legal_due_date: str | None
    promised_unit: str | None = None
    legal_unit: str | None = None
    paused_days: int
    paused_natural_days: int
    # Another pause (补正 or procedure) still holds the clock.
    still_paused: bool


# Everything about one case.
class CaseDetail(BaseModel):
    case_id: str
    receipt_no: str
    item_code: str
    item_name: str
    point_name: str
    status: str
    received_at: str | None
    hub_received_at: str | None = None
    promised_date: str | None
    due_date: str | None = None
    legal_due_date: str | None = None
    paused_days: int = 0
    paused_natural_days: int = 0
    promised_days: int | None = None
    promised_unit: Literal["working_days", "natural_days"] | None = None
    legal_days: int | None = None
    legal_unit: Literal["working_days", "natural_days"] | None = None
    # A renewal (第五十条): the licence's expiry, when an undecided renewal is deemed granted.
    deemed_on: str | None = None
    procedures: list[ProcedurePublic] = []
    time: TimeStatePublic
    # Years its limits run through with no holiday calendar file (weekends only there).
    calendar_missing: list[int] = []
    applicant: ApplicantPublic
    form: dict[str, str]
    materials: list[str]
    first_contact: FirstContactPublic = FirstContactPublic()
    # The referral slip (转办单) the resident brought from another point, if any.
    referral_no: str = ""
    scans: list[ScanPublic] = []
    # 材料传输中: a listed scan has not fully arrived yet.
    materials_in_transit: bool = False
    tasks: list[TaskPublic]
    events: list[EventPublic]
    # Received under an older catalog version in which the item differed (or that a newer version withdrew).
    catalog_notes: list[str] = []
    decision: str | None = None
    reason: str = ""
    certificate_no: str = ""
    result: SignedDocument | None
    supplements: list[SupplementPublic] = []
    rating: RatingPublic | None = None
    # 免提交: materials an e-certificate stood in for, what the hub found at ingest (valid, unknown, not_holder,
    # wrong_type, revoked, expired) and how the department settled a case parked on one (go_on, supplement, "").
    certificates: list[CaseCertificatePublic] = []


# A department's decision on a case; rejecting needs a reason, approving the item's required result fields.
class CaseCertificatePublic(BaseModel):
    material: str
    number: str
    finding: str
    settled: str


class DecisionRequest(_Request):
    decision: Literal["approved", "rejected"]
    reason: str = Field(default="", max_length=2000)
    certificate_no: str = Field(default="", max_length=64)
    result_fields: dict[str, str] = Field(default_factory=dict)


# 补正: the materials (codes of the item's materials) to bring again and what is wrong with them.
class SupplementRequestBody(_Request):
    materials: list[str] = Field(min_length=1, max_length=64)
    note: str = Field(min_length=1, max_length=2000)


# The department records that the resident let a 补正's return date pass (nothing to fill in: an empty object).
class WithdrawUnansweredBody(_Request):
    pass


# One department's row of the supervision figures.
class DepartmentFiguresPublic(BaseModel):
    code: str
    name: str
    decided: int
    on_time: int
    on_time_rate: float | None
    open: int
    warning: int
    overdue: int
    # 补正 whose return date passed while the case still waits for the resident.
    supplement_overdue: int = 0
    rating_average: float | None
    # Cards not cleared yet; past the legal limit (legal) is counted apart from red.
    yellow_cards: int = 0
    red_cards: int = 0
    legal_cards: int = 0
    # Supervision orders not answered yet, and those past their deadline.
    open_orders: int = 0
    overdue_orders: int = 0


# One point's row of the supervision figures.
class PointFiguresPublic(BaseModel):
    point: str
    level: str
    backlog: int
    undelivered: int
    last_sync: str | None
    rating_average: float | None
    ratings: int


# Open cases whose limits run into years with no holiday calendar file.
class CalendarGapsPublic(BaseModel):
    years: list[int]
    cases: int


# A 补正 the resident has not answered by its return date.
class OverdueSupplementPublic(BaseModel):
    case_id: str
    receipt_no: str
    item_name: str
    department: str
    point: str
    requested_at: str | None
    return_by: str
    days_overdue: int


# An open case whose clock a special procedure (特别程序) stands still now.
class ProcedurePausePublic(BaseModel):
    case_id: str
    receipt_no: str
    item_name: str
    kind: str
    department: str
    point: str
    started_at: str | None
    expected_end: str | None
    days: int
    past_expected_end: bool


# A yellow, red or legal-limit card not cleared yet.
class CardPublic(BaseModel):
    card_id: str
    colour: Literal["yellow", "red", "legal"]
    case_id: str
    receipt_no: str
    item_name: str
    point: str
    department: str
    reviewer: str
    raised_at: str | None
    due_date: str | None
    # The card's department is the lead of a joint case that waits only for its result (待牵头部门出具结论).
    waiting_for_lead: bool = False


# The supervision page's figures.
# A township-scoped department's open work and cards in one township (township None: villages under no township).
class TownshipFiguresPublic(BaseModel):
    township: str | None
    department: str
    department_name: str
    open: int
    warning: int
    overdue: int
    yellow_cards: int = 0
    red_cards: int = 0
    legal_cards: int = 0


class SupervisionResponse(BaseModel):
    departments: list[DepartmentFiguresPublic]
    points: list[PointFiguresPublic]
    # Per township, for the departments that are one per township (乡镇人民政府).
    townships: list[TownshipFiguresPublic] = []
    low_ratings: list[dict[str, Any]]
    # Years open cases' limits run into with no holiday calendar file, and how many cases do.
    calendar_missing: CalendarGapsPublic
    # Longest overdue first.
    overdue_supplements: list[OverdueSupplementPublic] = []
    # Cases a special procedure pauses now (apart from 补正), longest running first.
    procedure_pauses: list[ProcedurePausePublic] = []
    # Cards not cleared yet: past the legal limit first, then red, then yellow.
    cards: list[CardPublic] = []


# What was done about a low rating; close ends the follow-up.
class FollowUpRequest(_Request):
    note: str = Field(min_length=1, max_length=2000)
    close: bool = False


# A low rating's follow-up as it now stands.
class FollowUpPublic(BaseModel):
    case_id: str
    follow_up: Literal["none", "open", "closed"]
    follow_up_note: str


# One conflict in the desk's queue (hub/desk.py).
class ConflictSummary(BaseModel):
    conflict_id: str
    kind: str
    status: str
    point_name: str
    other_point_name: str
    case_id: str | None
    other_case_id: str | None
    fields: list[str]
    receipt_no: str
    other_receipt_no: str
    applicant_name: str
    item_code: str
    created_at: str | None
    age_hours: float


# The conflict queue, oldest first.
class ConflictsResponse(BaseModel):
    conflicts: list[ConflictSummary]


# One field of a conflict, both versions side by side.
class ConflictRow(BaseModel):
    field: str
    left: Any
    right: Any
    differs: bool


# One conflict with both versions, the cases involved and the actions still offered.
class ConflictView(ConflictSummary):
    rows: list[ConflictRow]
    # Where each side comes from: {"left": {"source": "hub"|"case"|"change"|"catalog", ...}, "right": {...}}
    sides: dict[str, dict[str, Any]]
    detail: dict[str, Any]
    actions: list[str]
    cases: list[CaseDetail]
    resolution: str
    resolution_note: str
    resolved_by: str
    resolved_at: str | None


# An enrolled, pending or revoked point.
class PointPublic(BaseModel):
    point_id: str
    name: str
    level: str
    status: Literal["pending", "active", "revoked"]
    fingerprint: str
    enrolled_at: str | None
    last_contact: str | None
    revoked_at: str | None = None
    token_expires_at: str | None = None


# All points.
class PointsResponse(BaseModel):
    points: list[PointPublic]


# A new point to enrol, and how long its token stays valid.
class PointCreate(_Request):
    name: str = Field(min_length=1, max_length=128)
    level: Literal["township", "village"]
    expires_hours: int = Field(default=72, ge=1, le=720)


# The one-time enrollment token for a new point (shown once).
class PointCreated(BaseModel):
    name: str
    level: str
    token: str
    expires_at: str


# The liveness answer.
class Health(BaseModel):
    ok: bool


# A point's enrollment request: token, keys and proof of possession.
class EnrollRequest(_Request):
    token: str = Field(min_length=1, max_length=200)
    name: str = Field(default="", max_length=128)
    sign_public_key: str = Field(pattern=_B64_32_BYTES)
    enc_public_key: str = Field(pattern=_B64_32_BYTES)
    proof: str = Field(pattern=_B64_64_BYTES)


# The hub's public keys as a point pins them.
class HubKeys(BaseModel):
    sign_public_key: str
    enc_public_key: str
    fingerprint: str


# A key to seal envelopes to: suite 1 X25519, suite 2 ML-KEM-768 + X25519 (hybrid).
class RecipientKeyPublic(BaseModel):
    suite: Literal[1, 2]
    public_key: str


# The township a village syncs through.
class RelayPublic(BaseModel):
    point_id: str
    name: str


# What an enrolled point learns: the hub's current keys (recipients preferred first) and generation.
class EnrollResponse(BaseModel):
    point_id: str
    name: str
    level: str
    hub: HubKeys
    recipients: list[RecipientKeyPublic] = Field(min_length=1)
    generation: int = Field(ge=1)
    hub_time_ms: int
    relay: RelayPublic | None = None


# One generation of the hub's keys.
class HubKeyPublic(BaseModel):
    generation: int
    fingerprint: str
    suites: list[int]
    created_at: str | None
    purged_at: str | None = None
    current: bool


# The hub's key generations, oldest first.
class HubKeysResponse(BaseModel):
    keys: list[HubKeyPublic]


# How to rotate: with or without the hybrid post-quantum key (omitted: as the current key).
class KeyRotateRequest(_Request):
    post_quantum: bool | None = Field(default=None, strict=True)


# The hub's answer for one pushed envelope.
class PushResultPublic(BaseModel):
    envelope_id: str
    status: Literal["accepted", "duplicate", "conflict", "rejected"]
    reason: str
    message: str


# The audit chain's head the hub signed (sync/auditheads.py): entries, last hash, when.
class AuditHeadDocument(BaseModel):
    type: Literal["pointkit.audit-head/v1"]
    chain: str
    entries: int = Field(ge=0)
    head: str
    signed_at: str


# A signed audit head: the document and the hub's Ed25519 signature (base64).
class SignedAuditHead(BaseModel):
    document: AuditHeadDocument
    signature: str


# The answer to a push.
class PushResponse(BaseModel):
    results: list[PushResultPublic]
    hub_time_ms: int
    audit_head: SignedAuditHead | None = None


# The office issues a supervision order (督办单): about a case (its id or receipt number) or a department.
class OrderCreate(_Request):
    case: str = Field(default="", max_length=40, description="The case's id or receipt number; empty for none")
    department: str = Field(default="", max_length=32,
                            description="The department; may be left empty when the case has only one")
    text: str = Field(min_length=1, max_length=4000)
    days: int = Field(default=DEFAULT_ORDER_DAYS, ge=1, le=MAX_ORDER_DAYS,
                      description="Working days to answer, on the county calendar")


# The department's written answer to an order.
class OrderAnswer(_Request):
    answer: str = Field(min_length=1, max_length=4000)


# The office's result, closing an answered order.
class OrderClose(_Request):
    result: str = Field(min_length=1, max_length=4000)


# A supervision order as it stands (times in UTC, dates county dates).
class OrderPublic(BaseModel):
    order_id: str
    order_no: str
    source: Literal["office", "red_card", "legal_limit", "complaint", "rating"]
    case_id: str | None
    receipt_no: str | None
    item_name: str | None
    department: str
    reviewer: str
    text: str
    issued_by: str
    issued_at: str | None
    due_date: str
    status: Literal["open", "answered", "closed"]
    overdue: bool
    answer: str
    answered_by: str
    answered_at: str | None
    answered_late: bool
    result: str
    closed_by: str
    closed_at: str | None


# Supervision orders, open ones soonest due first.
class OrdersResponse(BaseModel):
    orders: list[OrderPublic]


# A complaint (投诉) as the complaint desk's API shows it; times UTC, dates county days. ``colour`` is its overdue
# state today while it waits for its reply: "yellow", "red" or "".
class ComplaintPublic(BaseModel):
    complaint_id: str
    complaint_no: str
    point_name: str
    channel: str
    category: str
    subject: str
    case_id: str | None
    department_code: str | None
    about_point_name: str
    about_staff: str
    anonymous: bool
    contact_name: str
    contact_phone: str
    text: str
    taken_by: str
    received_at: str
    status: str
    assigned_department: str | None
    reply_days: int
    reply_due: str | None
    reply: str
    replied_by: str
    replied_at: str | None
    result: str
    closed_by: str
    closed_at: str | None
    colour: str


class ComplaintsResponse(BaseModel):
    complaints: list[ComplaintPublic]


# A complaint the supervision office takes at the hub (channel "hub" or "phone").
class ComplaintTakeBody(_Request):
    channel: str = Field(max_length=16)
    category: str = Field(max_length=16)
    subject: str = Field(default="general", max_length=16)
    text: str = Field(max_length=4000)
    anonymous: bool = False
    contact_name: str = Field(default="", max_length=64)
    contact_phone: str = Field(default="", max_length=20)
    receipt_no: str = Field(default="", max_length=40)
    department_code: str = Field(default="", max_length=32)
    about_name: str = Field(default="", max_length=128)


# Assign a complaint to a department; ``reply_days`` defaults to the hub's setting (serve --complaint-reply-days).
class ComplaintAssignBody(_Request):
    department_code: str = Field(max_length=32)
    reply_days: int | None = Field(default=None, ge=1, le=60)


class ComplaintReplyBody(_Request):
    reply: str = Field(min_length=1, max_length=4000)


class ComplaintCloseBody(_Request):
    result: str = Field(min_length=1, max_length=4000)
