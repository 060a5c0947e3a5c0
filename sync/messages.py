"""Payload schemas of the envelopes and signed documents both sides exchange.

Points send intents (submit, collected, ...); the hub sends results and
status. The hub validates every opened payload against these models, so a
point speaking nonsense is rejected with a reason instead of half-applied.

The bounds are part of the contract: every number fits the column that
stores it (the hub's are 32-bit on PostgreSQL), every time and date lies in
the years the hub can add clock offsets and working days to, every string
and list has a length. A payload outside them is refused as a whole
(``payload_refusal``) before anything is written.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from sync.catalog import MAX_ITEM_FIELDS, MAX_ITEM_MATERIALS, DayUnit
from sync.envelope import Kind

RESULT_DOCUMENT_TYPE = "pointkit.result/v1"
CATALOG_DOCUMENT_TYPE = "pointkit.catalog/v1"
# The longest receipt number a point may give (and the hub and points store).
RECEIPT_MAX = 40
# The highest envelope sequence number both sides store (a signed 64-bit integer in SQL).
SEQ_MAX = (1 << 63) - 1


# The largest number a payload may put in a hub column (PostgreSQL INTEGER).
MAX_STORED_INT = 2**31 - 1
# A clock offset a point may report: a laptop whose clock battery died can be decades off, never a century.
MAX_CLOCK_OFFSET_MS = 100 * 366 * 86_400_000
# The years a payload's times and dates may fall in: with any clock offset added, and working days counted on,
# they stay inside what a datetime holds (years 1 to 9999).
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2200, 1, 1, tzinfo=timezone.utc)
# A scan's size: once sealed it must still fit the hub's 32-bit size columns.
MAX_SCAN_BYTES = 1 << 30
# The scans one SUBMIT or SUPPLEMENT carries the keys of (a point refuses an intake with more, pointkit/scans.py).
MAX_SCANS = 64
# What a case may carry: never more than the point's own API and pages take (pointkit/schemas.py CaseCreate,
# pointkit/intake.py MAX_TEXT), so a stolen laptop's keys buy no more room at the hub than its window has (issue
# 27). A form has an entry per field of its item and names materials of its item: a catalog item has at most
# MAX_ITEM_FIELDS fields and MAX_ITEM_MATERIALS materials (sync/catalog.py), so no point ever needs more.
MAX_FORM_ENTRIES = MAX_ITEM_FIELDS
MAX_MATERIALS = MAX_ITEM_MATERIALS
MAX_NAME = 64
MAX_FORM_VALUE = 200
# A pre-check note on one material (pointkit/prechecks.py MAX_NOTE, the hub's the same): one per material and
# one for the whole pre-check.
MAX_NOTE = 500
MAX_NOTES = MAX_ITEM_MATERIALS + 1
# Pydantic error types that say "a value beyond its bounds", "a text or list longer than its limit" (the rest say
# "the wrong shape").
_RANGE_ERRORS = frozenset({"greater_than", "greater_than_equal", "less_than", "less_than_equal", "out_of_range"})
_SIZE_ERRORS = frozenset({"string_too_long", "too_long"})


def _iso_text(value: object) -> object:
    """Times and dates travel as ISO 8601 text: a number is not taken for a Unix timestamp."""
    if not isinstance(value, (str, date)):
        raise PydanticCustomError("iso_text", "must be an ISO 8601 string")
    return value


def _moment_within_years(value: datetime) -> datetime:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
    if not EARLIEST <= aware < LATEST:
        raise PydanticCustomError("out_of_range", "time must lie between {earliest} and {latest}",
                                  {"earliest": EARLIEST.date().isoformat(), "latest": LATEST.date().isoformat()})
    return value


def _day_within_years(value: date) -> date:
    if not EARLIEST.date() <= value < LATEST.date():
        raise PydanticCustomError("out_of_range", "date must lie between {earliest} and {latest}",
                                  {"earliest": EARLIEST.date().isoformat(), "latest": LATEST.date().isoformat()})
    return value


# A time or a date a point reports (its clock's claim; the hub corrects and bounds it further).
Moment = Annotated[datetime, BeforeValidator(_iso_text), AfterValidator(_moment_within_years)]
Day = Annotated[date, BeforeValidator(_iso_text), AfterValidator(_day_within_years)]
StoredInt = Annotated[int, Field(ge=0, le=MAX_STORED_INT)]
Name = Annotated[str, Field(max_length=MAX_NAME)]
FormValue = Annotated[str, Field(max_length=MAX_FORM_VALUE)]
Note = Annotated[str, Field(max_length=MAX_NOTE)]


def payload_refusal(error: ValidationError) -> tuple[str, str]:
    """(reason, message) for a payload that does not match its schema: ``too_large`` when a text or list is
    longer than its limit (issue 27: refused alone, like an envelope too large to open) and every other problem
    is one of bounds, ``out_of_range`` when every problem is a value beyond its bounds, else ``invalid_payload``;
    the message names the fields (never their values)."""
    problems = error.errors()
    kinds = {problem["type"] for problem in problems}
    if kinds <= _RANGE_ERRORS | _SIZE_ERRORS:
        reason = "too_large" if kinds & _SIZE_ERRORS else "out_of_range"
    else:
        reason = "invalid_payload"
    fields = "; ".join(f"{'.'.join(str(part)[:MAX_NAME] for part in problem['loc'])}: {problem['msg']}"
                       for problem in problems[:5])
    return reason, (f"payload refused ({fields}); the hub keeps the envelope for an operator: correct the "
                    f"point's data or upgrade its software, then send it again")


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
    size: int = Field(ge=0, le=MAX_SCAN_BYTES)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    key_b64: str = Field(min_length=43, max_length=44)


class CertificateRef(_Strict):
    """A material spared by a certificate (免提交): the material's code and the certificate's type and number."""

    material: Name = Field(min_length=1)
    cert_type: str = Field(min_length=1, max_length=64)
    number: str = Field(min_length=1, max_length=64)


class SubmitCase(_Strict):
    """A case received (受理) at a point."""

    case_id: str = Field(min_length=36, max_length=36)
    receipt_no: str = Field(min_length=1, max_length=RECEIPT_MAX)
    item_code: str = Field(min_length=1, max_length=64)
    catalog_version: StoredInt
    applicant: Applicant
    form: dict[Name, FormValue] = Field(default_factory=dict, max_length=MAX_FORM_ENTRIES)
    materials: list[Name] = Field(default_factory=list, max_length=MAX_MATERIALS)
    received_at: Moment
    promised_date: Day | None = None
    staff: str = Field(max_length=64)
    # Added in issue 4; a point from before sends none, so the hub accepts SUBMIT without it.
    scans: list[Scan] = Field(default_factory=list, max_length=MAX_SCANS)
    # Added in issue 6: the hub's clock minus this point's clock as the point last measured it, so the
    # hub starts the time limit at the true moment of intake (None: the point never reached the hub).
    clock_offset_ms: int | None = Field(default=None, ge=-MAX_CLOCK_OFFSET_MS, le=MAX_CLOCK_OFFSET_MS)
    # Added in issue 20 (首问责任制): the clerk who received the case, by real name and post, and the referral
    # slip the resident brought from another point, if any. A point from before sends none of them.
    first_contact_name: str = Field(default="", max_length=64)
    first_contact_post: str = Field(default="", max_length=64)
    referral_no: str = Field(default="", max_length=RECEIPT_MAX)
    # Added in issue 22 (免提交): materials the resident did not hand over because the hub's certificate register
    # holds them; the hub checks every reference at ingest. A point from before sends none.
    certificates: list[CertificateRef] = Field(default_factory=list, max_length=MAX_MATERIALS)
    # Added in issue 22 (网上预审, protocol 5): the pre-check this intake took in, and which of its files (stored at
    # the hub already) the case keeps as scans; the hub attaches its own copies, so the point sends them never.
    precheck_id: str = Field(default="", max_length=36)
    precheck_scans: list[Annotated[str, Field(max_length=36)]] = Field(default_factory=list, max_length=MAX_SCANS)


# What a SUBMIT gained in issue 20: the hub leaves them out of a CASE_COPY for a point that did not send them.
FIRST_CONTACT_FIELDS = frozenset({"first_contact_name", "first_contact_post", "referral_no"})


class Resident(_Strict):
    """A resident a clerk referred elsewhere; personal data, so it only travels sealed. The ID number is optional."""

    name: str = Field(min_length=1, max_length=64)
    phone: str = Field(default="", max_length=20)
    id_number: str = Field(default="", max_length=18)


class ReferCase(_Strict):
    """A matter a clerk could not handle here, referred to another point or a department (转办, REFERRAL).

    The resident took a slip numbered ``slip_no``; ``first_contact_name`` and ``first_contact_post`` name the clerk
    who stays responsible (首问责任人). What she came for is a catalog item (``item_code``) or words (``matter``);
    where she was sent is a point (``to_name``) or a department (``to_code``, and its name as the slip printed it).
    """

    referral_id: str = Field(min_length=36, max_length=36)
    slip_no: str = Field(min_length=1, max_length=RECEIPT_MAX)
    resident: Resident
    item_code: str = Field(default="", max_length=64)
    matter: str = Field(default="", max_length=500)
    to_kind: Literal["point", "department"]
    to_code: str = Field(default="", max_length=32)
    to_name: str = Field(default="", max_length=128)
    reason: str = Field(min_length=1, max_length=500)
    first_contact_name: str = Field(min_length=1, max_length=64)
    first_contact_post: str = Field(default="", max_length=64)
    staff: str = Field(max_length=64)
    referred_at: Moment

    @model_validator(mode="after")
    def _complete(self) -> "ReferCase":
        if not (self.item_code or self.matter):
            raise ValueError("name the item or the matter the resident came for")
        if self.to_kind == "department" and not self.to_code:
            raise ValueError("a referral to a department names its code")
        if self.to_kind == "point" and not self.to_name:
            raise ValueError("a referral to a point names it")
        return self


class CaseCollected(_Strict):
    """The resident collected the result at the point (办结)."""

    case_id: str = Field(min_length=36, max_length=36)
    collected_at: Moment
    staff: str = Field(max_length=64)


class AmendCase(_Strict):
    """Staff corrected form fields of a case before its decision.

    ``base_version`` is the case version the point last heard from the hub
    (1 for a case it submitted): the hub compares it with the changes made
    since, to merge a parallel update or park a conflict for an operator.
    """

    case_id: str = Field(min_length=36, max_length=36)
    base_version: StoredInt
    form: dict[Name, FormValue] = Field(min_length=1, max_length=MAX_FORM_ENTRIES)
    amended_at: Moment
    staff: str = Field(max_length=64)


class WithdrawCase(_Strict):
    """The resident withdrew the application at the point (撤回)."""

    case_id: str = Field(min_length=36, max_length=36)
    base_version: StoredInt
    reason: str = Field(default="", max_length=500)
    withdrawn_at: Moment
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
    materials: list[Name] = Field(default_factory=list, max_length=MAX_MATERIALS)
    note: str = Field(default="", max_length=2000)
    supplemented_at: Moment
    staff: str = Field(max_length=64)
    scans: list[Scan] = Field(default_factory=list, max_length=MAX_SCANS)


class RateCase(_Strict):
    """The resident's rating (好差评) of a collected case: 1 (very bad) to 5 (very good)."""

    case_id: str = Field(min_length=36, max_length=36)
    score: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=500)
    rated_at: Moment


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
    # When the hub counted the dates again because the holiday calendar changed: "calendar:2031" (the years), and
    # the open 补正's return date as counted now (the point shows both).
    dates_reason: str = Field(default="", max_length=64)
    return_by: date | None = None
    # Protocol 4: the special procedure (特别程序, sync.catalog.SPECIAL_PROCEDURES) that stops the clock now, the
    # day it began and the day the department expects it to end; the natural days all pauses stood still so far
    # (a natural-day limit moves by these, a working-day one by ``paused_days``).
    procedure: str = Field(default="", max_length=24)
    procedure_since: date | None = None
    procedure_until: date | None = None
    paused_natural_days: int = Field(default=0, ge=0)


# The fields hub messages gained in protocol 3. A point speaking an older protocol refuses any field it does not
# know (``_Strict``), so the hub leaves them out of what it seals for such a point (hub/core/outbox.py).
PROTOCOL_3_FIELDS: dict[Kind, frozenset[str]] = {
    Kind.STATUS: frozenset({"state", "promised_date", "legal_date", "paused_days", "dates_reason", "return_by"}),
    Kind.SUPPLEMENT_REQUEST: frozenset({"return_by", "return_within", "return_unit"}),
}


# The fields hub messages gained in protocol 4 (left out for points speaking protocol 3 or older).
PROTOCOL_4_FIELDS: dict[Kind, frozenset[str]] = {
    Kind.STATUS: frozenset({"procedure", "procedure_since", "procedure_until", "paused_natural_days"}),
}


def payload_for_protocol(kind: Kind, payload: dict[str, Any], protocol: int) -> dict[str, Any]:
    """A hub message's ``payload`` as a point speaking ``protocol`` reads it: fields added since left out."""
    dropped = (PROTOCOL_4_FIELDS.get(kind, frozenset()) if protocol < 4 else frozenset()) | (
        PROTOCOL_3_FIELDS.get(kind, frozenset()) if protocol < 3 else frozenset())
    if not dropped:
        return payload
    return {name: value for name, value in payload.items() if name not in dropped}


# The outcomes of a RECONCILED message and what each means, in the words the hub sends when the
# operator wrote no note; the point shows them in its language (pointkit/i18n.py).
RECONCILED_OUTCOMES = {
    "take_left": "the hub kept the version it already had",
    "take_right": "the hub took the version this point sent",
    "merge": "the hub merged the two versions field by field",
    "merge_cases": "the two applications were merged into one; both receipts stay valid for pickup",
    "keep_both": "the hub keeps both",
    "accept_old": "accepted under the catalog version in force at intake",
    "accept_claimed": "the county accepted the time of intake; the case goes to its department",
    "accept_earliest": "the county counts the time limit from the earliest time it can confirm",
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
    version: int = Field(default=0, ge=0, le=MAX_STORED_INT)
    resume_seq: int = Field(default=0, ge=0, le=MAX_STORED_INT)
    at: datetime


COMPLAINT_NO_MAX = 40
# The words a complaint travels with (the hub's columns say the same, hub/core/models.py). "hub": taken at the hub.
ComplaintChannel = Literal["in_person", "phone", "box"]
ComplaintCategory = Literal["attitude", "overdue", "repeated_trips", "fees", "other"]
ComplaintSubject = Literal["case", "department", "point", "staff", "general"]
ComplaintStatus = Literal["received", "assigned", "replied", "closed"]


class ComplaintContact(_Strict):
    """How to reach the complainant: personal data, so it only travels sealed."""

    name: str = Field(default="", max_length=64)
    phone: str = Field(default="", max_length=20)


class FileComplaint(_Strict):
    """A complaint (投诉) taken at a point's window, by phone or from its box (COMPLAINT).

    The point makes the id and the number, as it does a case's; ``code_hash`` is the hashed code printed on the
    complaint receipt (none when anonymous: an anonymous complaint has no contact and no lookup). What it is about
    (``subject``) names a case by the id the point gave it, a department by its code, a point or a staff member by
    name, or nothing.
    """

    complaint_id: str = Field(min_length=36, max_length=36)
    complaint_no: str = Field(min_length=1, max_length=COMPLAINT_NO_MAX)
    channel: ComplaintChannel
    category: ComplaintCategory
    subject: ComplaintSubject = "general"
    about_case_id: str = Field(default="", max_length=36)
    about_receipt_no: str = Field(default="", max_length=RECEIPT_MAX)
    department_code: str = Field(default="", max_length=32)
    about_point: str = Field(default="", max_length=128)
    about_staff: str = Field(default="", max_length=64)
    anonymous: bool = False
    contact: ComplaintContact = Field(default_factory=ComplaintContact)
    text: str = Field(min_length=1, max_length=4000)
    code_hash: str = Field(default="", max_length=200)
    taken_at: Moment
    staff: str = Field(max_length=64)
    staff_name: str = Field(default="", max_length=64)

    @model_validator(mode="after")
    def _consistent(self) -> "FileComplaint":
        if self.anonymous and (self.contact.name or self.contact.phone or self.code_hash):
            raise ValueError("an anonymous complaint carries no contact and no code")
        if not self.anonymous and not (self.contact.name or self.contact.phone):
            raise ValueError("a complaint that is not anonymous names the complainant or a phone number")
        needed = {"case": self.about_case_id, "department": self.department_code, "point": self.about_point,
                  "staff": self.about_staff}
        if self.subject in needed and not needed[self.subject]:
            raise ValueError(f"a complaint about a {self.subject} names it")
        return self


class ComplaintAnswer(_Strict):
    """Where a complaint a point sent stands at the hub (COMPLAINT_ANSWER): assigned to a department with the date
    its reply is due, replied, or closed with the supervision office's result. Sent only to the point that took it."""

    complaint_id: str = Field(min_length=36, max_length=36)
    status: ComplaintStatus
    at: datetime
    department: str = Field(default="", max_length=64)
    reply_due: date | None = None
    reply: str = Field(default="", max_length=4000)
    result: str = Field(default="", max_length=4000)


# 预约 (appointments, docs/appointments.md). A slot is "YYYY-MM-DD HH:MM" in county time (sync/kit/slots.py).
BOOKING_NO_MAX = 40
SLOT_KEY_PATTERN = r"^\d{4}-\d{2}-\d{2} ([01]\d|2[0-3]):[0-5]\d$"
BookingStatus = Literal["confirmed", "refused", "cancelled", "arrived", "no_show"]
BookingOrigin = Literal["kiosk", "phone", "hub"]
BookingAction = Literal["book", "change", "cancel"]
# Why the point refused a request from the hub: the slot is full, not a slot of its plan (a holiday, outside its
# hours or too far ahead), or the booking is over (cancelled, arrived, no-show) and can no longer change.
BookingRefusal = Literal["", "slot_full", "no_such_slot", "booking_over", "unknown_booking"]


class SlotPlanMessage(_Strict):
    """A point's opening hours on working days, residents per half-hour and days bookable ahead."""

    periods: list[Annotated[str, Field(pattern=r"^\d{2}:\d{2}-\d{2}:\d{2}$")]] = Field(min_length=1, max_length=4)
    capacity: int = Field(ge=1, le=20)
    days_ahead: int = Field(ge=1, le=60)


class BookingRecord(_Strict):
    """One booking as the point's ledger holds it now. ``request_id`` names the hub's request this is the verdict
    on ("" for a change the point made itself); ``refusal`` says why a request was refused, with the nearest free
    slots in ``alternatives``. Name and phone are personal data: the envelope is sealed."""

    booking_id: str = Field(min_length=36, max_length=36)
    booking_no: str = Field(min_length=1, max_length=BOOKING_NO_MAX)
    slot: str = Field(pattern=SLOT_KEY_PATTERN)
    status: BookingStatus
    origin: BookingOrigin
    name: str = Field(default="", max_length=64)
    phone: str = Field(default="", max_length=20)
    precheck_no: str = Field(default="", max_length=40)
    code_hash: str = Field(default="", max_length=200)
    request_id: str = Field(default="", max_length=36)
    refusal: BookingRefusal = ""
    wanted_slot: str = Field(default="", max_length=16)
    alternatives: list[Annotated[str, Field(pattern=SLOT_KEY_PATTERN)]] = Field(default_factory=list, max_length=6)
    at: Moment


class PointBookings(_Strict):
    """The point's booking ledger as it changed (BOOKING): its plan, how many residents each slot from today on
    holds, and the booking that changed (none when only the plan did). The hub shows free slots from this."""

    plan: SlotPlanMessage
    taken: dict[Annotated[str, Field(pattern=SLOT_KEY_PATTERN)], Annotated[int, Field(ge=0, le=20)]] = Field(
        default_factory=dict, max_length=2000)
    booking: BookingRecord | None = None
    at: Moment


class BookingRequest(_Strict):
    """A resident's booking, change or cancellation made on the hub's site (BOOKING_REQUEST), for the point to
    confirm or refuse against its own ledger. ``request_id`` is new for each request; ``booking_id`` and
    ``booking_no`` are the hub's for a new booking, the booking's own for a change or cancellation."""

    request_id: str = Field(min_length=36, max_length=36)
    action: BookingAction
    booking_id: str = Field(min_length=36, max_length=36)
    booking_no: str = Field(min_length=1, max_length=BOOKING_NO_MAX)
    slot: str = Field(default="", pattern=r"^(\d{4}-\d{2}-\d{2} ([01]\d|2[0-3]):[0-5]\d)?$")
    name: str = Field(default="", max_length=64)
    phone: str = Field(default="", max_length=20)
    precheck_no: str = Field(default="", max_length=40)
    code_hash: str = Field(default="", max_length=200)
    at: datetime

    @model_validator(mode="after")
    def _slot_named(self) -> "BookingRequest":
        if self.action != "cancel" and not self.slot:
            raise ValueError(f"a {self.action} request names the slot")
        return self
class CertificateRevoked(_Strict):
    """The county revoked a certificate of the register (CERTIFICATE_REVOKED, to every protocol-5 point)."""

    number: str = Field(min_length=1, max_length=64)
    cert_type: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=500)
    revoked_at: datetime
PrecheckOutcome = Literal["complete", "notice"]


class PrecheckFile(_Strict):
    """One photo or PDF of a pre-check as the hub stores it (sealed under ``key_b64``, which travels only here): a
    clerk's point fetches the sealed file when the clerk opens it (sync/http.py PRECHECK_FILE_PATH)."""

    file_id: str = Field(min_length=36, max_length=36)
    material: str = Field(default="", max_length=64)
    name: str = Field(min_length=1, max_length=120)
    size: int = Field(ge=0, le=MAX_SCAN_BYTES)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    key_b64: str = Field(min_length=43, max_length=44)


class PrecheckCopy(_Strict):
    """A resident's pre-check as the point she chose holds it (PRECHECK): to answer when ``reviewer`` is "point",
    to show at the kiosk, and to take into an intake when she comes. Sent again whenever its answer or state
    changes at the hub; the newest replaces the point's copy. ``code_hash`` lets the kiosk check her code offline."""

    precheck_id: str = Field(min_length=36, max_length=36)
    precheck_no: str = Field(min_length=1, max_length=24)
    item_code: str = Field(min_length=1, max_length=64)
    reviewer: Literal["point", "department"]
    applicant: Applicant
    files: list[PrecheckFile] = Field(default_factory=list, max_length=64)
    status: Literal["submitted", "answered", "taken", "expired"]
    outcome: PrecheckOutcome | Literal[""] = ""
    notes: dict[Name, Note] = Field(default_factory=dict, max_length=MAX_NOTES)
    answered_by: str = Field(default="", max_length=64)
    submitted_at: datetime
    expires_at: datetime
    at: datetime
    code_hash: str = Field(max_length=200)


class AnswerPrecheck(_Strict):
    """A clerk's answer to a pre-check the point reviews (PRECHECK_ANSWER): complete, or a one-time notice naming
    per material (its code; "" for the whole) what is missing or wrong."""

    precheck_id: str = Field(min_length=36, max_length=36)
    outcome: PrecheckOutcome
    notes: dict[Name, Note] = Field(default_factory=dict, max_length=MAX_NOTES)
    staff: str = Field(max_length=64)
    answered_at: Moment


POINT_INTENTS: dict[Kind, type[BaseModel]] = {
    Kind.SUBMIT: SubmitCase,
    Kind.AMEND: AmendCase,
    Kind.WITHDRAW: WithdrawCase,
    Kind.COLLECTED: CaseCollected,
    Kind.SUPPLEMENT: SupplementCase,
    Kind.RATE: RateCase,
    Kind.COPY_REQUEST: CopyRequest,
    Kind.REFERRAL: ReferCase,
    Kind.COMPLAINT: FileComplaint,
    Kind.BOOKING: PointBookings,
    Kind.PRECHECK_ANSWER: AnswerPrecheck,
}
