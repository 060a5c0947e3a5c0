"""Tables of the point database.

Personal data lives in ``case``, ``intakedraft``, ``onetimenotice`` and ``referral`` only; the ``outbox`` holds sealed envelope
bytes and ids, never plaintext, so a copied outbox (or a USB bundle made from
it) reveals nothing about residents. Times are stored as UTC.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, LargeBinary, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

CASE_STATUSES = ("received", "queued", "sent", "acked", "supplement_requested", "supplemented", "result_ready",
                 "collected")
OUTBOX_STATES = ("queued", "acked", "quarantined")
ROLES = ("staff", "admin")
# The post (岗位) an account gets when none is given: what most clerks at a point are.
DEFAULT_POST = "窗口工作人员"
REFERRAL_TARGETS = ("point", "department")


# The point's own table registry: a test process that also loads the hub's models (which share
# table names such as ``staff``) must not mix the two schemas in SQLModel's default metadata.
class PointTable(SQLModel, registry=registry()):
    pass


# A window clerk or point administrator who logs in to the point.
class Staff(PointTable, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    password_hash: str = Field(max_length=200)
    role: str = Field(default="staff", max_length=16)
    display_name: str = Field(default="", max_length=64)
    # The post (岗位: 窗口工作人员, 站长, 代办员 …) printed beside the name wherever the clerk is the first-contact
    # person (首问责任人).
    post: str = Field(default=DEFAULT_POST, max_length=64)
    created_at: datetime

    # What Flask-Login asks of a logged-in account (pointkit/auth.py), written out so the models import no web
    # library. An account is active until it is removed.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


# A bearer token for the JSON API; only its hash is kept.
class ApiToken(PointTable, table=True):
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    staff_id: int = Field(foreign_key="staff.id", index=True)
    expires_at: datetime


# The point's one row of identity and sync state: who we are, whom we trust, how far we synced.
class PointState(PointTable, table=True):
    id: int = Field(default=1, primary_key=True)
    point_id: str = Field(max_length=36)
    name: str = Field(max_length=128)
    level: str = Field(max_length=16)
    hub_url: str = Field(max_length=500)
    hub_sign_public_key: str = Field(max_length=64)
    hub_enc_public_key: str = Field(max_length=64)
    hub_fingerprint: str = Field(max_length=64)
    # The keys to seal to, preferred first (JSON list of {suite, public_key}); empty: the X25519 key above.
    hub_recipients: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    hub_generation: int = Field(default=1)
    # Which key files under keys/ sign for this point; a rotation waits for the hub's ack of its envelope.
    key_prefix: str = Field(default="point", max_length=32)
    pending_key_prefix: str = Field(default="", max_length=32)
    pending_key_envelope_id: str = Field(default="", max_length=36)
    revoked: bool = Field(default=False)
    revoked_at: datetime | None = None
    next_seq: int = Field(default=1)
    # The newest receipt number the hub holds from this point (its pull answers name it): after a restore
    # from an old backup, receipts are numbered on from it, not from the backup's last case.
    receipt_floor: str = Field(default="", max_length=40)
    pull_cursor: int = Field(default=0)
    catalog_version: int = Field(default=0)
    catalog_document: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    catalog_signature: str = Field(default="", max_length=200)
    catalog_checked_at: datetime | None = None
    clock_offset_ms: int = Field(default=0)
    online: bool = Field(default=False)
    last_sync_at: datetime | None = None
    last_attempt_at: datetime | None = None
    last_error: str = Field(default="", max_length=1000)
    # How the last successful sync came: "online" (with the hub), "relay" (through the township), "usb" (a bundle).
    last_sync_path: str = Field(default="", max_length=16)
    # The township this village syncs through ("" when it syncs with the hub itself).
    relay_name: str = Field(default="", max_length=128)
    # Each sync step's last success and what holds it now (JSON: step -> {ok_at, stuck, since}; syncagent.py).
    sync_steps: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # The longest head of the hub's audit chain it signed for this point (JSON {document, signature}; hubheads.py).
    hub_audit_head: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    enrolled_at: datetime
    # Scans (issue 4): on a metered link they wait for the unmetered hours ("22-6") or a manual send.
    metered: bool = Field(default=False)
    unmetered_hours: str = Field(default="", max_length=16)
    max_photo_kb: int = Field(default=0)
    scan_retention_days: int = Field(default=0)


# One year of the holiday calendar as the county hub signed it (replaces the shipped file of that year).
class CalendarYear(PointTable, table=True):
    year: int = Field(primary_key=True)
    version: int
    document: str = Field(sa_column=Column(Text, nullable=False))
    signature: str = Field(max_length=200)
    received_at: datetime


# One service item of the verified, hub-signed catalog.
class CatalogItem(PointTable, table=True):
    code: str = Field(primary_key=True, max_length=64)
    name_zh: str = Field(max_length=128)
    item_json: str = Field(sa_column=Column(Text, nullable=False))
    # Lowercase code, names, full pinyin and pinyin initials, computed when stored (pointkit/itemsearch.py).
    search_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


# An application received at this window (受理), followed until the result is collected.
class Case(PointTable, table=True):
    id: str = Field(primary_key=True, max_length=36)
    receipt_no: str = Field(max_length=40, unique=True, index=True)
    item_code: str = Field(max_length=64, index=True)
    item_name: str = Field(max_length=128)
    applicant_name: str = Field(max_length=64)
    id_number: str = Field(max_length=18)
    phone: str = Field(default="", max_length=20)
    form_json: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    materials_json: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    pickup_code_hash: str = Field(max_length=200)
    status: str = Field(default="received", max_length=16, index=True)
    # Where the case stands at the hub, as its last STATUS (or a RESULT) said, or what this point sent it.
    hub_status: str = Field(default="", max_length=64)
    received_at: datetime
    # The promised date printed at intake; the hub's due dates (moved by the working days 补正 paused the clock)
    # replace it on every page once the hub has given them (pointkit/progress.py).
    promised_date: date | None = None
    hub_promised_date: date | None = None
    hub_legal_date: date | None = None
    hub_paused_days: int = Field(default=0)
    # Why the hub last counted the dates again, when the holiday calendar moved them: "calendar:2031".
    hub_dates_reason: str = Field(default="", max_length=64)
    # The special procedure (特别程序) that stops the hub's clock now, since when and until when the department
    # expects it to run ("" and None when none runs): the pages and the kiosk tell the resident.
    hub_procedure: str = Field(default="", max_length=24)
    hub_procedure_since: date | None = None
    hub_procedure_until: date | None = None
    decision: str = Field(default="", max_length=16)
    result_document: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    result_signature: str = Field(default="", max_length=200)
    collected_at: datetime | None = None
    staff: str = Field(max_length=64)
    # The clerk's real name as the receipt prints it (经办人); the login above is what the audit names.
    staff_name: str = Field(default="", max_length=64)
    # With the name above, the first-contact person (首问责任人) of 首问责任制: the clerk's post at intake time.
    staff_post: str = Field(default="", max_length=64)
    # The referral slip (转办单) the resident brought from another point, typed at intake ("" when none).
    referral_no: str = Field(default="", max_length=40)
    # Why the clerk received it although the same resident had an open application for the same item here: the
    # receipt number of that case and the clerk's words (empty when there was none).
    duplicate_of: str = Field(default="", max_length=40)
    duplicate_reason: str = Field(default="", max_length=500)
    collected_by: str = Field(default="", max_length=64)
    pickup_failures: int = Field(default=0)
    pickup_locked_until: datetime | None = None
    # The residents' kiosk counts its own wrong codes: a lock there never keeps staff from handing a result over.
    kiosk_failures: int = Field(default=0)
    kiosk_locked_until: datetime | None = None
    # The case version last heard from the hub (the base of an amendment) and the hub's word on a conflict.
    hub_version: int = Field(default=1)
    hub_note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # The open supplement request (补正) as the hub sent it (JSON), shown and printed for the resident.
    supplement_json: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # The resident's rating (好差评) after pickup: 0 until she rates, then 1-5.
    rating: int = Field(default=0)
    rating_comment: str = Field(default="", max_length=500)
    # When the hub sent this case back (CASE_COPY) to this point, restored from a backup older than the case: its
    # pickup code is only on the laptop it replaced, so staff hand the result over on the full ID number instead.
    restored_at: datetime | None = None


# A sealed envelope waiting for (or done with) the hub's per-envelope answer.
class Outbox(PointTable, table=True):
    id: int | None = Field(default=None, primary_key=True)
    envelope_id: str = Field(max_length=36, unique=True)
    seq: int = Field(unique=True)
    kind: int
    # The case the envelope is about (for a COMPLAINT, the complaint: the sync page names either by its number).
    case_id: str = Field(default="", max_length=36, index=True)
    envelope: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    size: int = Field(default=0)
    state: str = Field(default="queued", max_length=16, index=True)
    attempts: int = Field(default=0)
    last_error: str = Field(default="", max_length=500)
    reason: str = Field(default="", max_length=200)
    created_at: datetime
    acked_at: datetime | None = None


# A hub message this point has seen, applied or refused, so a re-sent copy is never applied twice.
class InboxMessage(PointTable, table=True):
    id: int | None = Field(default=None, primary_key=True)
    envelope_id: str = Field(max_length=36, unique=True)
    seq: int = Field(default=0)
    kind: int = Field(default=0)
    case_id: str = Field(default="", max_length=36)
    outcome: str = Field(max_length=16)
    error: str = Field(default="", max_length=500)
    received_at: datetime


# A hub signing key this point trusts: the one pinned at enrollment and each one announced since.
class HubKey(PointTable, table=True):
    id: int | None = Field(default=None, primary_key=True)
    generation: int = Field(default=1)
    sign_public_key: str = Field(max_length=64, unique=True)
    added_at: datetime


# One link of the point's hash-chained audit log (see pointkit/audit.py).
class AuditEntry(PointTable, table=True):
    id: int = Field(primary_key=True)
    at: datetime
    actor: str = Field(max_length=64)
    action: str = Field(max_length=64, index=True)
    subject: str = Field(default="", max_length=64)
    detail: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    prev_hash: str = Field(max_length=64)
    entry_hash: str = Field(max_length=64)


# Where the audit chain ends, so cutting entries off its tail is noticed too.
class AuditHead(PointTable, table=True):
    id: int = Field(default=1, primary_key=True)
    last_id: int = Field(default=0)
    last_hash: str = Field(max_length=64)


# A scan or photo of a material, sealed on disk under scans/ (its key went to the hub inside the sealed case).
class ScanFile(PointTable, table=True):
    scan_id: str = Field(primary_key=True, max_length=36)
    case_id: str = Field(max_length=36, index=True)
    name: str = Field(max_length=120)
    material: str = Field(default="", max_length=64)
    size: int
    sealed_size: int
    state: str = Field(default="waiting", max_length=16, index=True)
    hub_offset: int = Field(default=0)
    # Set when a photo was re-encoded: the original, sealed under this key, stays until the case is collected.
    original_size: int = Field(default=0)
    original_key_b64: str = Field(default="", max_length=44)
    created_at: datetime
    uploaded_at: datetime | None = None
    removed_at: datetime | None = None
    # Set when a USB bundle carried the scan: the hub may hold it whole already, so ask before streaming it.
    bundled_at: datetime | None = None


# An unfinished intake saved at the window, to resume when the resident comes back; deleted once received.
class IntakeDraft(PointTable, table=True):
    id: int | None = Field(default=None, primary_key=True)
    item_code: str = Field(max_length=64)
    applicant_name: str = Field(default="", max_length=64)
    values_json: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    staff: str = Field(max_length=64)
    updated_at: datetime


# A one-time notice (一次性告知书) printed at the window: every required material that was missing, at once.
class OneTimeNotice(PointTable, table=True):
    id: str = Field(primary_key=True, max_length=36)
    notice_no: str = Field(max_length=40, unique=True, index=True)
    item_code: str = Field(max_length=64)
    item_name: str = Field(max_length=128)
    applicant_name: str = Field(max_length=64)
    id_number: str = Field(max_length=18)
    missing_json: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    staff: str = Field(max_length=64)
    # The clerk's real name and post, printed on the notice as 经办人 and first-contact person (首问责任人).
    staff_name: str = Field(default="", max_length=64)
    staff_post: str = Field(default="", max_length=64)
    issued_at: datetime


# 转办: a matter the clerk could not handle here, referred to another point or a department; the resident took a
# referral slip, and the clerk stays named as her first-contact person. Sent sealed to the hub (REFERRAL).
class Referral(PointTable, table=True):
    id: str = Field(primary_key=True, max_length=36)
    slip_no: str = Field(max_length=40, unique=True, index=True)
    resident_name: str = Field(max_length=64)
    resident_phone: str = Field(default="", max_length=20)
    resident_id_number: str = Field(default="", max_length=18)
    # What she came for: an item of the local catalog, or words.
    item_code: str = Field(default="", max_length=64)
    item_name: str = Field(default="", max_length=128)
    matter: str = Field(default="", max_length=500)
    # Where she is sent: "point" (to_name) or "department" (to_code; to_name as the slip printed it).
    to_kind: str = Field(max_length=16)
    to_code: str = Field(default="", max_length=32)
    to_name: str = Field(default="", max_length=128)
    reason: str = Field(max_length=500)
    staff: str = Field(max_length=64)
    staff_name: str = Field(max_length=64)
    staff_post: str = Field(default="", max_length=64)
    referred_at: datetime
    # The REFERRAL envelope in the outbox: its state says whether the hub has it.
    envelope_id: str = Field(default="", max_length=36)


# A complaint (投诉) taken at this window, in person, by phone or from the box; sealed to the hub like a case. The
# complainant's name and phone are personal data (empty when anonymous); the code on its receipt is stored hashed.
class Complaint(PointTable, table=True):
    id: str = Field(primary_key=True, max_length=36)
    complaint_no: str = Field(max_length=40, unique=True, index=True)
    channel: str = Field(max_length=16)
    category: str = Field(max_length=16)
    # What it is about: a case here (its receipt number), a department (its code and name), a point or a staff
    # member (by name), or nothing in particular ("general").
    subject: str = Field(default="general", max_length=16)
    about_case_id: str = Field(default="", max_length=36)
    about_receipt_no: str = Field(default="", max_length=40)
    department_code: str = Field(default="", max_length=32)
    about_name: str = Field(default="", max_length=128)
    anonymous: bool = Field(default=False)
    contact_name: str = Field(default="", max_length=64)
    contact_phone: str = Field(default="", max_length=20)
    text: str = Field(sa_column=Column(Text, nullable=False))
    code_hash: str = Field(default="", max_length=200)
    staff: str = Field(max_length=64)
    staff_name: str = Field(default="", max_length=64)
    taken_at: datetime
    # Where it stands at the hub, as its last COMPLAINT_ANSWER said ("" until the hub answers).
    hub_status: str = Field(default="", max_length=16)
    department_name: str = Field(default="", max_length=64)
    reply_due: date | None = None
    reply: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    result: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    answered_at: datetime | None = None
    # The kiosk's wrong codes for this complaint, on a lock of its own (as a case's).
    kiosk_failures: int = Field(default=0)
    kiosk_locked_until: datetime | None = None


# -- 预约 (appointments, issue 22; pointkit/bookings.py) ----------------------------------------------------------

# The point's booking plan (one row, id 1): opening periods on working days ("09:00-12:00,13:30-17:00", county
# time), residents per half-hour and days bookable ahead. No row: the defaults of sync/kit/slots.py.
class BookingPlan(PointTable, table=True):
    id: int = Field(default=1, primary_key=True)
    periods: str = Field(max_length=64)
    capacity: int
    days_ahead: int
    updated_by: str = Field(default="", max_length=64)
    updated_at: datetime


# A booked half-hour (预约) in this point's ledger, which owns its slots: taken at the kiosk, by a clerk on the
# phone, or asked for on the hub's site (then ``id`` and ``booking_no`` are the hub's). A request the point refused
# is kept too (status "refused", with why and the nearest free slots), so the clerk sees who was turned away. The
# resident's code is stored hashed; name and phone are personal data.
class Booking(PointTable, table=True):
    id: str = Field(primary_key=True, max_length=36)
    booking_no: str = Field(max_length=40, unique=True, index=True)
    day: date = Field(index=True)
    start: str = Field(max_length=5)
    status: str = Field(max_length=16)
    origin: str = Field(max_length=8)
    name: str = Field(default="", max_length=64)
    phone: str = Field(default="", max_length=20)
    precheck_no: str = Field(default="", max_length=40)
    code_hash: str = Field(default="", max_length=200)
    staff: str = Field(default="", max_length=64)
    # The last refused request about this booking: why, the slot it wanted, the free slots offered (comma-joined).
    refusal: str = Field(default="", max_length=16)
    wanted_slot: str = Field(default="", max_length=16)
    alternatives: str = Field(default="", max_length=120)
    request_id: str = Field(default="", max_length=36)
    created_at: datetime
    updated_at: datetime
    # Wrong codes typed for this booking, on a lock of its own (5 wrong: locked for 15 minutes).
    lookup_failures: int = Field(default=0)
    lookup_locked_until: datetime | None = None
# -- E-certificates (电子证照, issue 22) -------------------------------------------------------------------------

# A certificate the hub sent on a clerk's lookup for a resident at the window (pointkit/certificates.py): the
# signed record as received, kept so the case can cite it and the receipt can name it.
class CertificateCopy(PointTable, table=True):
    number: str = Field(primary_key=True, max_length=64)
    cert_type: str = Field(max_length=64)
    name_zh: str = Field(default="", max_length=128)
    holder_id: str = Field(max_length=18, index=True)
    valid_until: date | None = None
    code: str = Field(sa_column=Column(Text, nullable=False))
    fetched_at: datetime


# A revocation the hub announced (CERTIFICATE_REVOKED): the offline check of a certificate's QR code reads it.
class CertificateRevocation(PointTable, table=True):
    number: str = Field(primary_key=True, max_length=64)
    cert_type: str = Field(max_length=64)
    reason: str = Field(default="", max_length=500)
    revoked_at: datetime
    learned_at: datetime


# A material a case received here was spared (免提交) by a certificate: the receipt and the case page name it, and
# ``hub_finding`` is what the hub found when it checked the reference ("" until the hub says).
class CaseCertificate(PointTable, table=True):
    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(max_length=36, index=True)
    material_code: str = Field(max_length=32)
    number: str = Field(max_length=64)
    name_zh: str = Field(default="", max_length=128)
    hub_finding: str = Field(default="", max_length=16)
# --- Pre-checks (网上预审, issue 22): the hub's copy of each pre-check a resident sent for this point ------------

# A pre-check as the hub last sent it (PRECHECK), replaced whole by each newer copy: its clerk answers it (when the
# point reviews it) and takes it into an intake; the kiosk shows its answer offline, checking the code's hash. The
# files stay at the hub: their keys are here, and a file crosses the link only when a clerk opens it.
class Precheck(PointTable, table=True):
    id: str = Field(primary_key=True, max_length=36)
    precheck_no: str = Field(max_length=24, unique=True, index=True)
    item_code: str = Field(max_length=64)
    reviewer: str = Field(max_length=16)
    applicant_name: str = Field(max_length=64)
    id_number: str = Field(max_length=18)
    phone: str = Field(default="", max_length=20)
    files_json: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    status: str = Field(max_length=16, index=True)
    outcome: str = Field(default="", max_length=16)
    notes_json: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    answered_by: str = Field(default="", max_length=64)
    answered_at: datetime | None = None
    submitted_at: datetime
    expires_at: datetime
    hub_at: datetime  # the copy's moment at the hub: an older copy never replaces a newer one
    code_hash: str = Field(max_length=200)
    case_id: str = Field(default="", max_length=36)
    kiosk_failures: int = Field(default=0)
    kiosk_locked_until: datetime | None = None


# Failed logins of one account from one client address (issue 27): what the next try of that name from there
# waits for, shown to the point's admin on the sync page. ``username`` "" holds the unknown names tried from the
# address (never the names: a password typed in the name field). Written only for tries the throttle let
# through (sync/kit/throttle.py), so a flood is not a flood of writes.
class LoginFailure(PointTable, table=True):
    username: str = Field(primary_key=True, max_length=64)
    address: str = Field(primary_key=True, max_length=64)
    failures: int = Field(default=0)  # in a row: since the first, the last success or a quiet spell
    first_at: datetime
    last_at: datetime = Field(index=True)
    throttled_until: datetime | None = None
    succeeded_at: datetime | None = None
