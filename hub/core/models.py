"""The hub's tables. Datetimes are timezone-aware UTC (SQLModel refuses naive ones).

Row ids the hub makes are UUIDv7: ordered by time, so new rows land at the end of each table's index
instead of on a random page (a random id dirties one more page per row as the tables grow).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, LargeBinary, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from sync.clock import uuid7

from hub.core.clock import utc_now

# supervisor: the supervision office (电子监察室): complaints, cards, supervision orders, reports.
# agent: 代办员, carries enterprises' investment projects through their approvals (county, or one township's).
# township: a township centre's own staff, reading (not changing) the work of the township and its villages.
ROLES = ("admin", "operator", "supervisor", "reviewer", "agent", "township")
POINT_LEVELS = ("township", "village")
ENROLLMENT_TOKEN_LIFETIME = timedelta(hours=72)
API_TOKEN_LIFETIME = timedelta(hours=12)


def _json_column() -> Any:
    return Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


# A hub account: admin, operator or department reviewer.
class Staff(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    password_hash: str = Field(max_length=200)
    role: str = Field(max_length=16)
    department_code: str | None = Field(default=None, max_length=32, foreign_key="department.code")
    display_name: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utc_now)
    # Set by an admin (users disable, the departments page): no logins, no API tokens, history kept.
    disabled_at: datetime | None = None
    # The township point the account belongs to: a reviewer of a township-scoped department (乡镇人民政府), a
    # township's agent, a township's read-only staff. None: the county.
    township_id: uuid.UUID | None = Field(default=None, index=True)

    # What Flask-Login asks of a logged-in account (hub/auth.py), written out so the models import no web library.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


# A bearer token for the JSON API; only its hash is stored.
class ApiToken(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    staff_id: uuid.UUID = Field(foreign_key="staff.id", index=True)
    created_at: datetime = Field(default_factory=utc_now)
    expires_at: datetime = Field(default_factory=lambda: utc_now() + API_TOKEN_LIFETIME)


# 主管部门: an authority that decides service items.
class Department(SQLModel, table=True):
    code: str = Field(primary_key=True, max_length=32)
    name_zh: str = Field(max_length=64)
    name_en: str = Field(max_length=128)
    # "township": one per township (乡镇人民政府); its reviewers see their own township's cases only.
    scope: str = Field(default="county", max_length=16)


# One signed version of the service catalog, as points receive it.
class CatalogVersion(SQLModel, table=True):
    version: int = Field(primary_key=True)
    signed: dict = _json_column()
    source: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utc_now)


# One version of a year's holiday schedule as the hub signed it (the newest version of a year is in force).
class CalendarYear(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("year", "version"),)
    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    year: int = Field(index=True)
    version: int
    signed: dict = _json_column()
    source: str = Field(default="", max_length=500)
    imported_by: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utc_now)


# A service item as it stood in one catalog version.
class CatalogItem(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("code", "version"),)
    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    code: str = Field(max_length=64, index=True)
    version: int = Field(foreign_key="catalogversion.version")
    name_zh: str = Field(max_length=128)
    name_en: str = Field(max_length=200)
    route: str = Field(max_length=16)
    promised_days: int
    item: dict = _json_column()


# 基层窗口: an enrolled (or about to enrol) township or village point.
class Point(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    name: str = Field(max_length=128, unique=True, index=True)
    level: str = Field(max_length=16)
    status: str = Field(default="pending", max_length=16)
    sign_public_key: str = Field(default="", max_length=64)
    enc_public_key: str = Field(default="", max_length=64)
    fingerprint: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utc_now)
    enrolled_at: datetime | None = None
    last_contact: datetime | None = None
    revoked_at: datetime | None = None
    # The township point this village syncs through (``points add --via``); None: it talks to the hub itself.
    relay_id: uuid.UUID | None = Field(default=None, index=True)
    # The hub's clock minus the point's, as the point last reported it (time limits start at true intake).
    clock_offset_ms: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    # The protocol version the point's last signed request spoke (1: a point from before versions were named).
    protocol: int = Field(default=1)
    # The highest envelope sequence number and the newest receipt number stored from this point, named on each
    # pull answer: a point restored from an old backup numbers on from them (hub/intake/ingest.py keeps them).
    last_seq: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    last_receipt: str = Field(default="", max_length=40)
    # The county data the point said it holds (its catalog and calendar requests, its USB bundles): a hub bundle
    # for it carries what it lacks. calendar_held: "2027.1,2028.2" (year.version), the years the hub sent it.
    catalog_held: int = Field(default=0)
    calendar_held: str = Field(default="", max_length=400)
    # How many envelopes the point said it had sealed, and when (its signed pulls): an envelope numbered above it
    # did not exist then, so its case cannot have been received before (hub/intake/intaketime.py).
    sealed_seq: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    sealed_at: datetime | None = None
    # The township a village point belongs to (``points add --township``, or the township it relays through);
    # None for a township point itself and for a village not placed yet.
    township_id: uuid.UUID | None = Field(default=None, index=True)
    # The point's daily ingest budget in MiB (``points budget``); None: the county's default (hub/intake/budget.py).
    ingest_budget_mib: int | None = None


# One key pair a point has held: the one it enrolled with, then each rotation; newest is current.
class PointKey(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    point_id: uuid.UUID = Field(foreign_key="point.id", index=True)
    sign_public_key: str = Field(max_length=64)
    enc_public_key: str = Field(max_length=64)
    fingerprint: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utc_now)


# One generation of the hub's own keys (private keys live in DATA/keys, see hub/trust/keys.py).
class HubKey(SQLModel, table=True):
    generation: int = Field(primary_key=True)
    fingerprint: str = Field(max_length=64)
    suites: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utc_now)
    purged_at: datetime | None = None


# A one-time enrollment token bound to a point name and level; only its hash is stored.
class EnrollmentToken(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    point_name: str = Field(max_length=128)
    level: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utc_now)
    expires_at: datetime = Field(default_factory=lambda: utc_now() + ENROLLMENT_TOKEN_LIFETIME)
    used_at: datetime | None = None


# An envelope exactly as received, stored before it is applied.
class RawEnvelope(SQLModel, table=True):
    __table_args__ = (
        # One applied envelope per (point, seq); a conflicting second copy is parked beside it.
        Index("ux_rawenvelope_point_seq", "point_id", "seq", unique=True,
              sqlite_where=text("outcome != 'conflict'"), postgresql_where=text("outcome != 'conflict'")),
    )
    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    envelope_id: str = Field(max_length=36, unique=True, index=True)
    point_id: uuid.UUID = Field(foreign_key="point.id", index=True)
    seq: int
    kind: int
    header: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    ciphertext: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    signature: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    sender_clock_ms: int = Field(sa_type=BigInteger)  # ms since the epoch: past 32 bits
    received_at: datetime = Field(default_factory=utc_now)
    outcome: str = Field(default="received", max_length=16)
    reason: str = Field(default="", max_length=64)
    case_id: str | None = Field(default=None, max_length=36)


# 案件: one application received at a point, decided at the hub.
class Case(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=36)
    point_id: uuid.UUID = Field(foreign_key="point.id", index=True)
    receipt_no: str = Field(max_length=40, index=True)
    item_code: str = Field(max_length=64)
    item_name: str = Field(default="", max_length=128)
    catalog_version: int = 0
    status: str = Field(default="accepted", max_length=24, index=True)
    applicant: dict = _json_column()
    form: dict = _json_column()
    materials: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    staff: str = Field(default="", max_length=64)
    received_at: datetime
    hub_received_at: datetime = Field(default_factory=utc_now)
    promised_date: date | None = None
    due_date: date | None = None
    decision: str | None = Field(default=None, max_length=16)
    reason: str = Field(default="", max_length=4000)
    certificate_no: str = Field(default="", max_length=64)
    decided_at: datetime | None = None
    result: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    closed_at: datetime | None = None
    # Reconciliation (hub/reconcile/arrival.py): 1 on arrival, +1 per applied change; the resident ID's digest
    # for finding duplicates; the case this one was merged into (its own receipt stays valid).
    version: int = 1
    resident_key: str | None = Field(default=None, max_length=64, index=True)
    merged_into: str | None = Field(default=None, max_length=36)
    # Time limits (hub/approval/timelimits.py): the legal limit's date, working days paused by 补正, the open pause.
    legal_due_date: date | None = None
    clock_offset_ms: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    paused_days: int = 0
    paused_since: datetime | None = None
    # An intake time the point claimed but the hub could not believe, accepted by an operator on the conflict
    # desk (hub/intake/intaketime.py): time limits and deemed approval count from it, and who accepted it is named.
    vouched_intake: datetime | None = None
    intake_vouched_by: str = Field(default="", max_length=64)
    # 首问责任制: the clerk who received the case at the point, by real name and post, named until it closes
    # (empty for a case from a point that did not send them yet).
    first_contact_name: str = Field(default="", max_length=64)
    first_contact_post: str = Field(default="", max_length=64)
    # A referral slip the resident brought (another point or a department sent her here), when the clerk gave one.
    referral_no: str = Field(default="", max_length=40)
    # An application an agent filed for an enterprise's investment project, and the project stage it belongs to.
    project_id: uuid.UUID | None = Field(default=None, index=True)
    project_stage: str = Field(default="", max_length=32)
    # Natural days the clock stood still (补正 and special procedures): the pause moves a natural-day limit by
    # these, a working-day limit by ``paused_days``.
    paused_natural_days: int = 0
    # The day a deemed approval falls due when it is not the legal limit's: a renewal (第五十条) is deemed
    # granted when the licence it renews expires.
    deemed_on: date | None = None


# One department's part in deciding a case (single, joint or staged route).
class ReviewTask(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    case_id: str = Field(foreign_key="case.id", index=True, max_length=36)
    department_code: str = Field(foreign_key="department.code", max_length=32, index=True)
    stage: int = 1
    status: str = Field(default="waiting", max_length=16)
    decided_by: str = Field(default="", max_length=64)
    reason: str = Field(default="", max_length=2000)
    certificate_no: str = Field(default="", max_length=64)
    decided_at: datetime | None = None
    # What the department filled in when approving: the item's result fields (validity, ...).
    result_fields: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))


# A supplement request (补正) one department made, and when the resident answered it.
class SupplementRound(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    case_id: str = Field(foreign_key="case.id", index=True, max_length=36)
    department_code: str = Field(foreign_key="department.code", max_length=32)
    materials: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    note: str = Field(default="", max_length=2000)
    requested_by: str = Field(max_length=64)
    requested_at: datetime = Field(default_factory=utc_now)
    supplemented_at: datetime | None = None
    supplement_note: str = Field(default="", max_length=2000)
    paused_days: int = 0
    # The day the resident must bring the materials by (the item's 补正 period); past it, supervision lists it.
    return_by: date | None = None


# A resident's rating (好差评) of a closed case; a low one is followed up until closed.
class Rating(SQLModel, table=True):
    case_id: str = Field(foreign_key="case.id", primary_key=True, max_length=36)
    point_id: uuid.UUID = Field(foreign_key="point.id", index=True)
    score: int
    comment: str = Field(default="", max_length=500)
    rated_at: datetime
    follow_up: str = Field(default="none", max_length=16)  # none | open | closed
    follow_up_note: str = Field(default="", max_length=2000)
    followed_up_by: str = Field(default="", max_length=64)
    followed_up_at: datetime | None = None
    # The working day a low rating's follow-up is due (supervision's deadline; past it, it is overdue).
    follow_up_due: date | None = None


# One line of a case's timeline.
class CaseEvent(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    case_id: str = Field(foreign_key="case.id", index=True, max_length=36)
    at: datetime = Field(default_factory=utc_now)
    actor: str = Field(max_length=128)
    action: str = Field(max_length=32)
    note: str = Field(default="", max_length=2000)
    # The line's facts as values (codes, dates, counts), for pages to word it in their language; ``note`` is
    # the English line the API and the CLI show.
    data: dict = _json_column()


# A hub → point message; its per-point seq is the point's pull cursor. It is queued as ``payload`` with the
# hub key generation that signs it (``signer``) and sealed into ``envelope`` when it first leaves (hub/core/outbox.py).
class OutMessage(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("point_id", "seq"),)  # also the index of a point's messages
    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    point_id: uuid.UUID = Field(foreign_key="point.id")
    seq: int
    kind: int
    case_id: str | None = Field(default=None, max_length=36)
    envelope: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    payload: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    signer: int | None = None
    created_at: datetime = Field(default_factory=utc_now)
    delivered_at: datetime | None = None


# A signed-request nonce already used by a point (replays are refused).
class SeenNonce(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("point_id", "nonce"),)  # also the index of a point's nonces
    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    point_id: uuid.UUID = Field(foreign_key="point.id")
    nonce: str = Field(max_length=64)
    seen_at: datetime = Field(default_factory=utc_now, index=True)


# One link of the hub's hash-chained audit log (see hub/core/audit.py); rows are only ever appended.
# One entry of an audit chain (hub/core/audit.py). Each point's cases have their own chain (``point:<uuid>``), the
# rest the hub's (``hub``): ``seq`` runs 1, 2, 3, … without gaps within a chain; ``id`` is only the order entries
# were stored in across chains, given by the database.
class AuditEntry(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("chain", "seq", name="uq_auditentry_chain_seq"),)
    id: int | None = Field(default=None, primary_key=True)
    chain: str = Field(default="hub", max_length=64)
    seq: int
    at: datetime = Field(default_factory=utc_now)
    actor: str = Field(max_length=128)
    action: str = Field(max_length=32, index=True)
    subject: str = Field(default="", max_length=128, index=True)
    detail: dict = _json_column()
    prev_hash: str = Field(max_length=64)
    entry_hash: str = Field(max_length=64, unique=True)


# Where each audit chain ends now (kept by every transaction that appends to it), and which of its entries the
# latest county head recorded: what a county head reads instead of scanning every chain.
class AuditChain(SQLModel, table=True):
    chain: str = Field(primary_key=True, max_length=64)
    seq: int
    entry_hash: str = Field(max_length=64)
    anchored_seq: int = 0


# A county head (hub/trust/countyheads.py): the heads of every audit chain at one moment, their Merkle root, and
# the link to the county head before it; the hub signs it for points and anchors it outside the database.
class CountyHead(SQLModel, table=True):
    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = Field(default_factory=utc_now)
    heads: dict = _json_column()
    root: str = Field(max_length=64)
    prev_hash: str = Field(max_length=64)
    entry_hash: str = Field(max_length=64, unique=True)


# A scan a case lists: its key and digest (from the sealed case) and how much of its sealed file the hub holds.
class CaseScan(SQLModel, table=True):
    scan_id: str = Field(primary_key=True, max_length=36)
    case_id: str = Field(foreign_key="case.id", index=True, max_length=36)
    point_id: uuid.UUID = Field(foreign_key="point.id", index=True)
    name: str = Field(max_length=120)
    material: str = Field(default="", max_length=64)
    size: int
    sha256: str = Field(max_length=64)
    key_b64: str = Field(max_length=44)
    total: int
    received: int = 0
    status: str = Field(default="in_transit", max_length=16)
    problem: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utc_now)
    completed_at: datetime | None = None
    # When the scan's bytes were removed after the county's retention (hub/approval/scanpurge.py).
    purged_at: datetime | None = None


# One applied change of a case's fields: which version it made, which fields, whose envelope.
class CaseRevision(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    case_id: str = Field(foreign_key="case.id", index=True, max_length=36)
    version: int
    fields: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    point_id: uuid.UUID | None = Field(default=None, foreign_key="point.id")
    seq: int = 0
    source: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utc_now)


# Something the hub parked for an operator on the conflict desk (or merged itself and listed).
class Conflict(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    kind: str = Field(max_length=24, index=True)
    status: str = Field(default="open", max_length=16, index=True)
    point_id: uuid.UUID = Field(foreign_key="point.id", index=True)
    other_point_id: uuid.UUID | None = Field(default=None, foreign_key="point.id")
    case_id: str | None = Field(default=None, max_length=36, index=True)
    other_case_id: str | None = Field(default=None, max_length=36, index=True)
    envelope_id: str = Field(default="", max_length=36)
    seq: int = 0
    fields: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    left: dict = _json_column()
    right: dict = _json_column()
    detail: dict = _json_column()
    created_at: datetime = Field(default_factory=utc_now, index=True)
    resolved_at: datetime | None = None
    resolved_by: str = Field(default="", max_length=64)
    resolution: str = Field(default="", max_length=24)
    resolution_note: str = Field(default="", max_length=2000)


# A message for a point whose protocol cannot read its kind yet; sealed and sent when the point upgrades.
class HeldMessage(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    point_id: uuid.UUID = Field(foreign_key="point.id", index=True)
    kind: int
    case_id: str | None = Field(default=None, max_length=36)
    payload: dict = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utc_now)


# 转办: a matter a clerk could not handle, referred to another point or a department (首问责任制); the resident got a
# referral slip. Made at the point and synced; the id is the point's.
class Referral(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=36)
    slip_no: str = Field(max_length=40, unique=True, index=True)
    point_id: uuid.UUID = Field(foreign_key="point.id", index=True)
    first_contact_name: str = Field(max_length=64)
    first_contact_post: str = Field(default="", max_length=64)
    staff: str = Field(default="", max_length=64)
    # The resident (name, phone: personal data) and what she came for: an item of the catalog or words.
    resident: dict = _json_column()
    item_code: str = Field(default="", max_length=64)
    matter: str = Field(default="", max_length=500)
    # Where she was sent: "point" (to_name) or "department" (to_code, the department's code).
    to_kind: str = Field(max_length=16)
    to_code: str = Field(default="", max_length=32)
    to_name: str = Field(default="", max_length=128)
    reason: str = Field(default="", max_length=500)
    referred_at: datetime
    hub_received_at: datetime = Field(default_factory=utc_now)
    # The case it became, when the resident applied with the slip (Case.referral_no).
    case_id: str | None = Field(default=None, max_length=36)


COMPLAINT_CATEGORIES = ("attitude", "overdue", "repeated_trips", "fees", "other")  # 态度 超时 多次跑 乱收费 其他
COMPLAINT_CHANNELS = ("in_person", "phone", "box", "hub")  # 当面 电话 意见箱 县中心
COMPLAINT_SUBJECTS = ("case", "department", "point", "staff", "general")
COMPLAINT_STATUSES = ("received", "assigned", "replied", "closed")
DEFAULT_COMPLAINT_REPLY_DAYS = 5


# 投诉: a resident's complaint, taken at a point (sealed and synced like a case) or at the hub; the supervision
# office assigns it to a department, the department replies, the office closes it; the reply goes back to the point.
class Complaint(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=36)
    complaint_no: str = Field(max_length=40, unique=True, index=True)
    # Where it was taken: a point, or None for the hub.
    point_id: uuid.UUID | None = Field(default=None, foreign_key="point.id", index=True)
    channel: str = Field(max_length=16)
    category: str = Field(max_length=16)
    # What it is about: a case (case_id), a department (department_code), a point (about_point_id), a staff member
    # (about_staff, by name), or nothing in particular.
    subject: str = Field(default="general", max_length=16)
    case_id: str | None = Field(default=None, max_length=36, index=True)
    department_code: str | None = Field(default=None, max_length=32)
    about_point_id: uuid.UUID | None = Field(default=None, foreign_key="point.id")
    about_staff: str = Field(default="", max_length=64)
    # The point as the complainant named it (about_point_id is set when the name is an enrolled point's).
    about_point_name: str = Field(default="", max_length=128)
    anonymous: bool = False
    # The complainant's name and phone (personal data; empty when anonymous) and the complaint's words.
    contact: dict = _json_column()
    text: str = Field(max_length=4000)
    taken_by: str = Field(default="", max_length=64)
    received_at: datetime
    hub_received_at: datetime = Field(default_factory=utc_now)
    # The code the complainant reads the answer with (hashed; none when anonymous).
    code_hash: str = Field(default="", max_length=200)
    status: str = Field(default="received", max_length=16, index=True)
    assigned_department: str | None = Field(default=None, max_length=32, foreign_key="department.code", index=True)
    assigned_by: str = Field(default="", max_length=64)
    assigned_at: datetime | None = None
    reply_days: int = DEFAULT_COMPLAINT_REPLY_DAYS
    reply_due: date | None = None
    reply: str = Field(default="", max_length=4000)
    replied_by: str = Field(default="", max_length=64)
    replied_at: datetime | None = None
    result: str = Field(default="", max_length=4000)
    closed_by: str = Field(default="", max_length=64)
    closed_at: datetime | None = None


# legal: past the legal limit (法定时限), a separate, stronger state than red.
CARD_COLOURS = ("yellow", "red", "legal")


# 黄牌 / 红牌: a record that a case passed its warning line (yellow), its promised limit (red) or its legal limit
# (legal) in one department, with the reviewer held responsible and the moment it was raised; cleared when the
# department decides.
class SupervisionCard(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("case_id", "department_code", "colour"),)
    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    colour: str = Field(max_length=8)
    case_id: str = Field(foreign_key="case.id", max_length=36, index=True)
    department_code: str = Field(foreign_key="department.code", max_length=32, index=True)
    # The reviewer responsible (their username; "" when the department has none to name).
    reviewer: str = Field(default="", max_length=64)
    raised_at: datetime = Field(default_factory=utc_now)
    due_date: date | None = None
    cleared_at: datetime | None = None


ORDER_SOURCES = ("office", "red_card", "legal_limit", "complaint", "rating")
ORDER_STATUSES = ("open", "answered", "closed")
DEFAULT_ORDER_DAYS = 3


# 督办单: the supervision office orders a department to act by a date and answer in writing; issued by the office or
# raised by the hub on a red card or a legal-limit breach (法定时限); closed by the office.
class SupervisionOrder(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    order_no: str = Field(max_length=40, unique=True, index=True)
    source: str = Field(max_length=16)
    case_id: str | None = Field(default=None, max_length=36, index=True)
    complaint_id: str | None = Field(default=None, max_length=36)
    card_id: uuid.UUID | None = Field(default=None)
    department_code: str = Field(foreign_key="department.code", max_length=32, index=True)
    reviewer: str = Field(default="", max_length=64)
    text: str = Field(max_length=4000)
    issued_by: str = Field(max_length=64)
    issued_at: datetime = Field(default_factory=utc_now)
    due_date: date
    status: str = Field(default="open", max_length=16, index=True)
    answer: str = Field(default="", max_length=4000)
    answered_by: str = Field(default="", max_length=64)
    answered_at: datetime | None = None
    result: str = Field(default="", max_length=4000)
    closed_by: str = Field(default="", max_length=64)
    closed_at: datetime | None = None


# 特别程序 (行政许可法 第四十五条): 听证, 检验, 专家评审, 公示, ... A department starts and ends each with a reason;
# while one is open the case's clock stands still, as in 补正 (sync/catalog.py SPECIAL_PROCEDURES).
class SpecialProcedure(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    case_id: str = Field(foreign_key="case.id", index=True, max_length=36)
    department_code: str = Field(foreign_key="department.code", max_length=32)
    kind: str = Field(max_length=24)
    reason: str = Field(max_length=2000)
    started_by: str = Field(max_length=64)
    started_at: datetime = Field(default_factory=utc_now)
    # When the department expects it to end (shown to the resident); None: not known.
    expected_end: date | None = None
    ended_by: str = Field(default="", max_length=64)
    ended_at: datetime | None = None
    end_note: str = Field(default="", max_length=2000)
    # What it added to the limits when it ended: working days and natural days.
    paused_days: int = 0
    paused_natural_days: int = 0


# 并联审批 under a lead department (牵头部门): the lead opens the joint review and issues the combined result.
class JointReview(SQLModel, table=True):
    case_id: str = Field(foreign_key="case.id", primary_key=True, max_length=36)
    lead_department: str = Field(foreign_key="department.code", max_length=32)
    opened_by: str = Field(default="", max_length=64)
    opened_at: datetime | None = None
    decided_by: str = Field(default="", max_length=64)
    decided_at: datetime | None = None


JOINT_MEETING_KINDS = ("site_survey", "review_meeting")  # 联合踏勘, 联合审查会
JOINT_OPINIONS = ("agree", "agree_with_conditions", "disagree")


# A joint site survey (联合踏勘) or review meeting the lead scheduled, with the departments it invited.
class JointMeeting(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    case_id: str = Field(foreign_key="case.id", index=True, max_length=36)
    kind: str = Field(max_length=16)
    scheduled_at: datetime
    place: str = Field(default="", max_length=200)
    departments: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    called_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utc_now)
    held_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str = Field(default="", max_length=500)


# One department's opinion in a joint review, at a meeting or on the papers.
class JointOpinion(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    case_id: str = Field(foreign_key="case.id", index=True, max_length=36)
    meeting_id: uuid.UUID | None = Field(default=None, index=True)
    department_code: str = Field(foreign_key="department.code", max_length=32)
    opinion: str = Field(max_length=24)
    text: str = Field(default="", max_length=4000)
    given_by: str = Field(max_length=64)
    given_at: datetime = Field(default_factory=utc_now)


PROJECT_STATUSES = ("open", "completed", "withdrawn")


# 项目: an enterprise's investment project that an agent (代办员) carries through its approvals, stage by stage.
class Project(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    project_no: str = Field(max_length=40, unique=True, index=True)
    name: str = Field(max_length=200)
    # The template it follows and its stages as the catalog had them when it was filed (sync/catalog.py).
    template_code: str = Field(max_length=32)
    stages: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    enterprise_name: str = Field(max_length=200)
    credit_code: str = Field(max_length=18, index=True)  # 统一社会信用代码, check character validated
    location: str = Field(default="", max_length=200)
    investment_yuan: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    contact_name: str = Field(default="", max_length=64)
    contact_phone: str = Field(default="", max_length=32)
    agent: str = Field(default="", max_length=64)  # the agent's username
    # The township centre it was filed at; None: the county centre.
    township_id: uuid.UUID | None = Field(default=None, index=True)
    filed_by: str = Field(max_length=64)
    filed_at: datetime = Field(default_factory=utc_now)
    # The enterprise's lookup code, hashed like a pickup code; told once, on the filing slip.
    code_hash: str = Field(default="", max_length=200)
    status: str = Field(default="open", max_length=16)
    completed_at: datetime | None = None
    # Withdrawn by its agent (status "withdrawn"): when, and why in the agent's words.
    withdrawn_at: datetime | None = None
    withdrawal_reason: str = Field(default="", max_length=500)
    # Wrong lookup codes in a row, from any point; the fifth locks the project's lookup for a while.
    lookup_failures: int = 0
    lookup_locked_until: datetime | None = None


# A material the enterprise has given for its project: not asked for again in its later applications.
class ProjectMaterial(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("project_id", "material_code"),)
    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    project_id: uuid.UUID = Field(foreign_key="project.id", index=True)
    material_code: str = Field(max_length=32)
    name_zh: str = Field(max_length=128)
    given_at: datetime = Field(default_factory=utc_now)
    received_by: str = Field(max_length=64)
    # The application it was first given with.
    case_id: str | None = Field(default=None, max_length=36)


# -- 预约 (appointments, issue 22; hub/approval/bookings.py) --------------------------------------------------------

# What a point last published of its booking ledger (BOOKING): its plan and how many residents each slot holds.
# The hub's site shows free slots from it and refuses at once a slot it shows full; the point decides the rest.
class PointBookingPlan(SQLModel, table=True):
    point_id: uuid.UUID = Field(primary_key=True, foreign_key="point.id")
    periods: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    capacity: int
    days_ahead: int
    taken: dict = _json_column()
    published_at: datetime
    received_at: datetime = Field(default_factory=utc_now)


# A booking as the hub knows it: one a resident asked for on the hub's site ("pending" until its point confirms or
# refuses it), or one the point took itself and reported. ``pending_*`` is a change or cancellation asked for here
# and not yet answered by the point. The point's record always wins (it owns its slots).
class Booking(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=36)
    booking_no: str = Field(max_length=40, unique=True, index=True)
    point_id: uuid.UUID = Field(foreign_key="point.id", index=True)
    slot: str = Field(max_length=16)
    status: str = Field(default="pending", max_length=16)
    origin: str = Field(max_length=8)
    name: str = Field(default="", max_length=64)
    phone: str = Field(default="", max_length=20)
    precheck_no: str = Field(default="", max_length=40)
    code_hash: str = Field(default="", max_length=200)
    pending_request_id: str = Field(default="", max_length=36)
    pending_action: str = Field(default="", max_length=8)
    pending_slot: str = Field(default="", max_length=16)
    refusal: str = Field(default="", max_length=16)
    wanted_slot: str = Field(default="", max_length=16)
    alternatives: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    requested_at: datetime = Field(default_factory=utc_now)
    point_at: datetime | None = None
    # Wrong codes typed for this booking, on a lock of its own (5 wrong: locked for 15 minutes).
    lookup_failures: int = Field(default=0)
    lookup_locked_until: datetime | None = None
# -- E-certificates (电子证照, issue 22): the register and the 免提交 references cases carry ---------------------

CERTIFICATE_STATUSES = ("valid", "expired", "revoked")


# A certificate or licence the hub issued with an approved result (hub/approval/certificates.py). ``signed`` is the
# CertificateDocument as signed by hub key generation ``key_generation``; status "expired" is worked out from
# ``valid_until`` when read, "revoked" is stored with who revoked it, when and why.
class Certificate(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("cert_type", "number"),)
    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    number: str = Field(max_length=64, index=True)
    cert_type: str = Field(max_length=64)
    name_zh: str = Field(default="", max_length=128)
    holder_id: str = Field(max_length=18, index=True)
    holder_name: str = Field(default="", max_length=64)
    item_code: str = Field(max_length=64)
    case_id: str = Field(max_length=36, index=True)
    issued_at: datetime
    valid_until: date | None = None
    status: str = Field(default="valid", max_length=16)
    revoked_at: datetime | None = None
    revoked_by: str = Field(default="", max_length=64)
    revoked_reason: str = Field(default="", max_length=500)
    key_generation: int = 1
    signed: dict = _json_column()


# A 免提交 reference a case came with: which material a certificate stood in for, what the hub found when it
# checked it at ingest ("valid", or why not: "unknown", "not_holder", "wrong_type", "revoked", "expired"), and,
# for a case parked on a bad one, how the department settled it ("go_on" or "supplement").
class CaseCertificate(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("case_id", "material_code"),)
    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    case_id: str = Field(foreign_key="case.id", max_length=36, index=True)
    material_code: str = Field(max_length=32)
    number: str = Field(max_length=64)
    finding: str = Field(max_length=16)
    settled: str = Field(default="", max_length=16)
    settled_by: str = Field(default="", max_length=64)
    settled_at: datetime | None = None
# --- Pre-checks (网上预审, issue 22): a resident's materials checked before she travels -------------------------

PRECHECK_STATUSES = ("submitted", "answered", "taken", "expired")  # 待审 已答复 已受理 已过期
PRECHECK_OUTCOMES = ("complete", "notice")  # 材料齐全 一次性告知


# A pre-check a resident submitted on the residents' site: who answers it (a clerk at the point she chose or the
# item's department), the answer, and the code she reads it by (hashed, locked after wrong tries like a project's).
class Precheck(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=36)
    precheck_no: str = Field(max_length=24, unique=True, index=True)
    item_code: str = Field(max_length=64)
    item_name: str = Field(default="", max_length=128)
    point_id: uuid.UUID = Field(foreign_key="point.id", index=True)
    reviewer: str = Field(max_length=16)  # "point" or "department" (ServiceItem.precheck)
    department_code: str = Field(default="", max_length=32)
    name: str = Field(max_length=64)
    id_number: str = Field(max_length=18)
    phone: str = Field(max_length=20)
    # Digests (never the values) the day's submission limits count by.
    id_key: str = Field(max_length=64, index=True)
    client_key: str = Field(max_length=64, index=True)
    status: str = Field(default="submitted", max_length=16, index=True)
    outcome: str = Field(default="", max_length=16)
    # The one-time notice: material code -> what is missing or wrong; "" -> a note on the whole.
    notes: dict = _json_column()
    answered_by: str = Field(default="", max_length=64)
    answered_at: datetime | None = None
    case_id: str | None = Field(default=None, max_length=36)
    created_at: datetime = Field(default_factory=utc_now, index=True)
    expires_at: datetime
    stored_bytes: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    code_hash: str = Field(max_length=200)
    lookup_failures: int = 0
    lookup_locked_until: datetime | None = None


# One photo or PDF of a pre-check's material, stored sealed under its own key (as a point's scan is), so an intake
# can name it and the hub attach the very file to the case as one of its scans.
class PrecheckPhoto(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=36)
    precheck_id: str = Field(foreign_key="precheck.id", index=True, max_length=36)
    material: str = Field(default="", max_length=64)
    name: str = Field(max_length=120)
    size: int
    sha256: str = Field(max_length=64)
    key_b64: str = Field(max_length=44)
    sealed_size: int
    created_at: datetime = Field(default_factory=utc_now)


# --- Timers across hub machines (issue 23; hub/core/leases.py) ----------------------------------------------------

# One periodic job every hub process runs a timer for (supervision, pre-check expiry, anchoring): the process
# whose atomic UPDATE takes the due round runs it, once across every machine on the database; a holder killed
# mid-round lets it go when ``lease_until`` passes. ``rounds`` and ``last_run_by`` tell the operator who ran what.
class TimerLease(SQLModel, table=True):
    name: str = Field(primary_key=True, max_length=96)
    holder: str = Field(default="", max_length=128)
    lease_id: str = Field(default="", max_length=32)
    lease_until: datetime | None = None
    last_run_at: datetime | None = None
    last_run_by: str = Field(default="", max_length=128)
    rounds: int = 0


# What one point made the hub store on one county day (issue 27): the bytes its accepted envelopes unpacked to,
# and when it first went over its daily ingest budget (the hub logs, audits and shows that once a day).
class PointIngestDay(SQLModel, table=True):
    point_id: uuid.UUID = Field(foreign_key="point.id", primary_key=True)
    day: date = Field(primary_key=True)
    stored_bytes: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    envelopes: int = 0
    over_budget_at: datetime | None = None


# Failed logins of one account from one client address (issue 27): every hub process reads what the next try of
# that name from that address waits for, and the departments page shows them to an admin. ``username`` "" holds
# the unknown names tried from the address (never the names themselves: a password typed in the name field).
# Written only for tries the throttle let through (sync/kit/throttle.py), so a flood is not a flood of writes.
class LoginFailure(SQLModel, table=True):
    username: str = Field(primary_key=True, max_length=64)
    address: str = Field(primary_key=True, max_length=64)
    failures: int = 0  # in a row: since the first, the last success or a quiet spell
    first_at: datetime
    last_at: datetime = Field(index=True)
    throttled_until: datetime | None = None
    succeeded_at: datetime | None = None
