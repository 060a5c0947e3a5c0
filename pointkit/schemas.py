"""Request and response bodies of the point's JSON API (the OpenAPI document is built from these)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginRequest(_Body):
    """Staff credentials."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class LoginResponse(BaseModel):
    """A bearer token for the API."""

    token: str
    username: str
    role: str


class ItemPublic(BaseModel):
    """A service item as the window sees it."""

    code: str
    name_zh: str
    name_en: str
    departments: list[str]
    route: str
    promised_days: int
    legal_days: int
    levels: list[str]
    accepted_here: bool
    materials: list[dict[str, Any]]
    fields: list[dict[str, Any]]


class ItemsResponse(BaseModel):
    """The verified catalog this point holds."""

    catalog_version: int
    items: list[ItemPublic]


class ApplicantIn(_Body):
    """The resident applying."""

    name: str = Field(default="", max_length=200)
    id_number: str = Field(default="", max_length=40)
    phone: str = Field(default="", max_length=40)


class CaseCreate(_Body):
    """One application received at the window."""

    item_code: str = Field(min_length=1, max_length=64)
    applicant: ApplicantIn
    form: dict[str, str | int | float | None] = Field(default_factory=dict, max_length=50)
    materials: list[str] = Field(default_factory=list, max_length=50)
    # The referral slip (转办单) the resident brought from another point, if any.
    referral_no: str = Field(default="", max_length=40)
    # 免提交: material code -> the number of an e-certificate looked up for this resident (POST
    # /api/certificates/lookup); the material counts as received and needs no scan.
    certificates: dict[str, str] = Field(default_factory=dict, max_length=20)


class CertificateLookup(_Body):
    """Ask the hub for the resident's valid e-certificates the item's materials accept (she is at the window)."""

    item_code: str = Field(min_length=1, max_length=64)
    id_number: str = Field(min_length=1, max_length=18)


class CertificatesFound(BaseModel):
    """material code -> the resident's valid e-certificates that stand in for it (number, name, validity)."""

    materials: dict[str, list[dict[str, Any]]]


class CaseCreated(BaseModel):
    """The receipt of a received case; the pickup code is shown only here."""

    case_id: str
    receipt_no: str
    pickup_code: str
    promised_date: date | None
    status: str
    # Years from intake to the promised date with no holiday calendar: the date counts weekends only there.
    calendar_missing: list[int]


class NoticeIssued(BaseModel):
    """A one-time notice (一次性告知书): every required material the resident still has to bring."""

    notice_id: str
    notice_no: str
    item_code: str
    item_name: str
    issued_at: datetime
    missing: list[dict[str, Any]]
    print_url: str


class CaseSummary(BaseModel):
    """A case in a list."""

    case_id: str
    receipt_no: str
    item_code: str
    item_name: str
    status: str
    hub_status: str
    decision: str
    received_at: datetime
    # As printed on the receipt at intake; ``current_promised_date`` is the hub's once it gave one (moved by
    # ``paused_days`` working days of 补正), and ``legal_date`` the legal limit's end as the hub counts it.
    promised_date: date | None
    current_promised_date: date | None
    legal_date: date | None
    paused_days: int
    clock_paused: bool
    # The last day to bring the materials of an open 补正 request.
    return_by: date | None
    # The special procedure (特别程序) that stops the hub's clock now ("" when none) and its expected end.
    procedure: str = ""
    procedure_until: date | None = None


class CaseList(BaseModel):
    cases: list[CaseSummary]


class ReferralCreate(_Body):
    """A referral (转办): a resident this window cannot serve, sent to a department (``to_code``) or another point
    (``to_name``); the item she came for (``item_code``) or the matter in words."""

    resident_name: str = Field(min_length=1, max_length=64)
    resident_phone: str = Field(default="", max_length=20)
    resident_id_number: str = Field(default="", max_length=18)
    item_code: str = Field(default="", max_length=64)
    matter: str = Field(default="", max_length=500)
    to_kind: Literal["department", "point"]
    to_code: str = Field(default="", max_length=32)
    to_name: str = Field(default="", max_length=128)
    reason: str = Field(min_length=1, max_length=500)


class ReferralOut(BaseModel):
    """A referral made here, with its slip's page and whether the county hub has it (``sync_state``)."""

    referral_id: str
    slip_no: str
    item_code: str
    matter: str
    to_kind: str
    to_code: str
    to_name: str
    reason: str
    first_contact_name: str
    first_contact_post: str
    referred_at: datetime
    sync_state: str
    slip_url: str


class ReferralList(BaseModel):
    referrals: list[ReferralOut]


class SignedResult(BaseModel):
    """A hub-signed result document."""

    document: dict[str, Any]
    signature: str


class CaseDetail(CaseSummary):
    """A case with the applicant's data and its result."""

    applicant: dict[str, str]
    form: dict[str, str]
    materials: list[str]
    result: SignedResult | None
    # What the county hub decided on a conflict about this case, and why; the case version it last named.
    hub_note: str = ""
    hub_version: int = 1
    # When the hub sent the case back to this point, restored from an older backup: no pickup code here.
    restored_at: datetime | None = None


class SyncReportOut(BaseModel):
    """What one sync round moved."""

    pushed: int
    accepted: int
    duplicate: int
    conflict: int
    rejected: int
    pulled: int
    applied: int
    revoked: bool
    scans_sent: int = 0
    scan_bytes_sent: int = 0
    scans_held: int = 0
    catalog_bytes: int = 0
    errors: list[str]
    # The steps that finished, and those the link or the hub stopped with why (the next round goes on).
    done: list[str] = Field(default_factory=list)
    stuck: dict[str, str] = Field(default_factory=dict)


class RatingRequest(_Body):
    """The resident's rating (好差评) after pickup: 1 (very dissatisfied) to 5 (very satisfied)."""

    score: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=500)


class RatingRecorded(BaseModel):
    """The rating as recorded, on its way to the county hub."""

    case_id: str
    rating: int


# The point reads a correction's and a withdrawal's body as it comes (values taken as text), so these two
# document the shape and are not used to refuse more.
class CaseAmend(BaseModel):
    """Corrected form fields of an undecided case."""

    form: dict[str, Any] = Field(default_factory=dict)


class CaseWithdraw(BaseModel):
    """Why the resident withdraws the application."""

    reason: str = ""


class Health(BaseModel):
    """The liveness answer."""

    ok: bool


class PickupRequest(_Body):
    """What the resident shows at pickup."""

    pickup_code: str = Field(min_length=1, max_length=20)
    id_last4: str = Field(min_length=1, max_length=8)


# Why staff hand a result over without its pickup code ("other" needs a note; "restored_no_code" is for a case the
# county hub sent back to a restored point, which has no pickup code here).
IdCheckReason = Literal["restored_no_code", "receipt_lost", "code_forgotten", "other"]


class IdCheckPickupRequest(_Body):
    """Pickup without the pickup code (a case restored from the county hub, a lost receipt, a forgotten code): the
    resident's whole ID number, checked against the applicant's, and why (``note`` required with ``other``)."""

    id_number: str = Field(min_length=1, max_length=20)
    reason: IdCheckReason
    note: str = Field(default="", max_length=200)


class PickupResponse(BaseModel):
    """The handed-over result."""

    case_id: str
    receipt_no: str
    status: str
    result: SignedResult


class StatusResponse(BaseModel):
    """The point's sync state."""

    point_id: str
    name: str
    level: str
    online: bool
    queued: int
    quarantined: int
    last_sync_at: datetime | None
    last_error: str
    catalog_version: int
    clock_offset_ms: int
    revoked: bool
    hub_generation: int
    hub_fingerprint: str
    sealing_suite: int
    key_rotation_pending: bool
    scans_waiting: int = 0
    scan_bytes_waiting: int = 0
    metered: bool = False
    # Sync steps the link or the hub stopped, with why in plain words (push, pull, catalog, relay, scans).
    stuck_steps: dict[str, str] = Field(default_factory=dict)
    # A catalog download under way (it resumes where a cut stopped it): bytes received, of the whole (0: none).
    catalog_received: int = 0
    catalog_total: int = 0
