"""预约: the point's booking ledger, which owns its slots (docs/appointments.md).

Residents book a half-hour at the kiosk, a clerk books one taking a phone call, and the hub's site asks for one
(BOOKING_REQUEST). All three meet here, one transaction at a time (the point's database takes one writer at a
time), so a slot never holds more residents than its capacity: the first to reach the point wins. A request from
the hub that finds its slot taken is refused with the nearest free slots, and the refusal is kept for the clerk.
Every change goes up to the hub as a BOOKING envelope carrying the plan and the count per slot, which is what the
hub's site shows. A booking not marked arrived by NO_SHOW_AFTER past its start is recorded as a no-show.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache

from sqlmodel import Session, col, select

from sync.clock import utcnow, uuid7
from sync.envelope import Kind
from sync.keys import Identity
from sync.kit.passwords import hash_password, verify_password
from sync.kit import slots
from sync.kit.slots import SlotPlan, nearest_free, parse_slot, plan_problem, slot_exists, slot_key
from sync.kit.workdays import COUNTY_TIMEZONE
from sync.messages import BookingRecord, BookingRequest, PointBookings, SlotPlanMessage

from . import audit
from .calendar import point_calendar
from .intake import next_number, phone_problem, point_code
from .models import Booking, BookingPlan
from .outbox import seal_into_outbox
from .pickup import MAX_PICKUP_TRIES, PICKUP_LOCK
from .state import as_utc, get_state, local_now

CODE_DIGITS = 6
# Statuses that hold a place in their slot (a no-show's slot is past; it still counted when it was booked).
HOLDING = ("confirmed", "arrived", "no_show")
# A booking not marked arrived this long after its slot started counts as a no-show: the slot and the next one
# have passed, and the window has moved on to other residents.
NO_SHOW_AFTER = timedelta(minutes=60)
MARKS = ("arrived", "no_show")
# Why a booking cannot be made or changed, in English (logs); pages say it in their own language.
SLOT_FULL = "slot_full"
NO_SUCH_SLOT = "no_such_slot"
BOOKING_OVER = "booking_over"
WRONG_CODE = "wrong_code"
LOCKED = "locked"


class BookingError(Exception):
    """Why a booking step is refused: ``reason`` (a word pages translate), the fields that are wrong, and the
    nearest free slots when the wanted one is full or does not exist."""

    def __init__(self, reason: str, message: str, *, fields: dict[str, str] | None = None,
                 alternatives: list[str] | None = None):
        super().__init__(message)
        self.reason, self.fields, self.alternatives = reason, fields or {}, alternatives or []


@dataclass
class BookingForm:
    """What the resident (or the clerk for her) gives."""

    slot: str
    name: str
    phone: str
    precheck_no: str = ""
    problems: dict[str, str] = field(default_factory=dict)


# -- the plan -------------------------------------------------------------------------------------------------

def current_plan(session: Session) -> SlotPlan:
    row = session.get(BookingPlan, 1)
    if row is None:
        return SlotPlan()
    return SlotPlan(tuple(row.periods.split(",")), row.capacity, row.days_ahead)


def set_plan(session: Session, staff: str, periods: list[str], capacity: int, days_ahead: int, *,
             identity: Identity) -> SlotPlan:
    """Set the opening periods and residents per half-hour, and publish them to the hub. Bookings already made
    stay as they are (a clerk calls the residents of a slot that closes)."""
    problem = plan_problem(periods, capacity, days_ahead)
    if problem:
        raise BookingError("invalid_plan", problem)
    row = session.get(BookingPlan, 1) or BookingPlan(periods="", capacity=1, days_ahead=1, updated_at=utcnow())
    row.periods, row.capacity, row.days_ahead = ",".join(periods), capacity, days_ahead
    row.updated_by, row.updated_at = staff, utcnow()
    session.add(row)
    audit.record(session, staff, "booking_plan_set", get_state(session).point_id, periods=row.periods,
                 capacity=capacity, days_ahead=days_ahead)
    publish(session, identity, None, actor=staff)
    return current_plan(session)


def today() -> date:
    return local_now().date()


def taken(session: Session, since: date) -> dict[str, int]:
    """Slot key -> residents booked there, from ``since`` on."""
    counts: dict[str, int] = {}
    rows = session.exec(select(Booking.day, Booking.start).where(
        Booking.day >= since, col(Booking.status).in_(HOLDING))).all()
    for day, start in rows:
        key = slot_key(day, start)
        counts[key] = counts.get(key, 0) + 1
    return counts


def free_slots(session: Session) -> dict[date, list[str]]:
    """Day -> starts with room, as the booking pages offer them."""
    return slots.free_slots(current_plan(session), point_calendar(session), today(), taken(session, today()))


def _check_slot(session: Session, slot: str, *, ignore: Booking | None = None) -> tuple[date, str]:
    """The slot's day and start if it has room; BookingError with the nearest free slots if not."""
    parsed = parse_slot(slot)
    plan, calendar, now = current_plan(session), point_calendar(session), today()
    counts = taken(session, now)
    if ignore is not None and ignore.status in HOLDING:
        key = slot_key(ignore.day, ignore.start)
        counts[key] = counts.get(key, 0) - 1
    if parsed is None or not slot_exists(plan, calendar, now, *parsed):
        day, start = parsed or (now, "09:00")
        raise BookingError(NO_SUCH_SLOT, f"{slot} is not a bookable slot of this point",
                           alternatives=nearest_free(plan, calendar, now, counts, day, start))
    if counts.get(slot_key(*parsed), 0) >= plan.capacity:
        raise BookingError(SLOT_FULL, f"{slot} is fully booked",
                           alternatives=nearest_free(plan, calendar, now, counts, *parsed))
    return parsed


def _check_form(form: BookingForm) -> None:
    if not form.name:
        form.problems["name"] = "required"
    elif len(form.name) > 64:
        form.problems["name"] = "too long"
    if not form.phone:
        form.problems["phone"] = "required"
    elif phone_problem(form.phone):
        form.problems["phone"] = phone_problem(form.phone)
    if len(form.precheck_no) > 40:
        form.problems["precheck_no"] = "too long"
    if not parse_slot(form.slot):
        form.problems["slot"] = "required"
    if form.problems:
        raise BookingError("invalid_input", "some fields are missing or invalid", fields=dict(form.problems))


# -- booking, changing, cancelling ------------------------------------------------------------------------------

def book(session: Session, form: BookingForm, *, origin: str, staff: str, identity: Identity) -> tuple[Booking, str]:
    """Book a slot at the kiosk ("kiosk") or for a caller ("phone"); return the booking and its code (shown once,
    stored hashed). Nothing is written when the slot is full or a field is wrong."""
    _check_form(form)
    day, start = _check_slot(session, form.slot)
    state = get_state(session)
    code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
    now = utcnow()
    booking = Booking(id=str(uuid7()), booking_no=next_number(
        session, Booking.booking_no, f"Y-{today():%Y%m%d}-{point_code(state.point_id)}-"),
        day=day, start=start, status="confirmed", origin=origin, name=form.name, phone=form.phone,
        precheck_no=form.precheck_no.strip().upper(), code_hash=hash_password(code), staff=staff,
        created_at=now, updated_at=now)
    session.add(booking)
    audit.record(session, staff, "booking_made", booking.id, booking_no=booking.booking_no, origin=origin,
                 slot=form.slot)
    publish(session, identity, booking, actor=staff)
    return booking, code


def change_booking(session: Session, booking: Booking, slot: str, *, actor: str, identity: Identity) -> Booking:
    """Move a booking to another slot with room; the old slot is freed."""
    if booking.status != "confirmed":
        raise BookingError(BOOKING_OVER, "only a confirmed booking can be changed")
    booking.day, booking.start = _check_slot(session, slot, ignore=booking)
    booking.refusal, booking.wanted_slot, booking.alternatives = "", "", ""
    booking.updated_at = utcnow()
    session.add(booking)
    audit.record(session, actor, "booking_changed", booking.id, slot=slot)
    publish(session, identity, booking, actor=actor)
    return booking


def cancel_booking(session: Session, booking: Booking, *, actor: str, identity: Identity) -> Booking:
    if booking.status != "confirmed":
        raise BookingError(BOOKING_OVER, "only a confirmed booking can be cancelled")
    booking.status, booking.updated_at = "cancelled", utcnow()
    session.add(booking)
    audit.record(session, actor, "booking_cancelled", booking.id)
    publish(session, identity, booking, actor=actor)
    return booking


def mark(session: Session, booking: Booking, status: str, *, staff: str, identity: Identity) -> Booking:
    """The clerk marks a resident arrived or a no-show (a late arrival overrides a no-show recorded for her)."""
    if status not in MARKS or booking.status not in ("confirmed", *MARKS):
        raise BookingError(BOOKING_OVER, "only a booking that was confirmed can be marked")
    booking.status, booking.updated_at = status, utcnow()
    session.add(booking)
    audit.record(session, staff, f"booking_{status}", booking.id)
    publish(session, identity, booking, actor=staff)
    return booking


def record_no_shows(session: Session, *, identity: Identity, now: datetime | None = None) -> int:
    """Record as no-shows the confirmed bookings whose start is NO_SHOW_AFTER past; return how many."""
    moment = (now or utcnow()).astimezone(COUNTY_TIMEZONE)
    late = [booking for booking in session.exec(select(Booking).where(
        Booking.status == "confirmed", Booking.day <= moment.date())).all()
        if _starts_at(booking) + NO_SHOW_AFTER <= moment]
    for booking in late:
        booking.status, booking.updated_at = "no_show", utcnow()
        session.add(booking)
        audit.record(session, audit.SYSTEM_ACTOR, "booking_no_show", booking.id)
        publish(session, identity, booking)
    return len(late)


def _starts_at(booking: Booking) -> datetime:
    return datetime.combine(booking.day, time.fromisoformat(booking.start), tzinfo=COUNTY_TIMEZONE)


# -- the hub's requests -----------------------------------------------------------------------------------------

def apply_booking_request(session: Session, payload: dict, identity: Identity) -> Booking:
    """Confirm or refuse a booking, change or cancellation asked for on the hub's site, against this ledger, and
    send the verdict up. A request already answered (a repeated message) changes nothing."""
    request = BookingRequest.model_validate(payload)
    booking = session.get(Booking, request.booking_id)
    if booking is not None and booking.request_id == request.request_id:
        return booking
    if request.action == "book":
        booking = booking or _hub_booking(request)
        return _answer(session, booking, request, identity, lambda: _check_slot(session, request.slot))
    if booking is None:
        raise ValueError(f"the hub asks to {request.action} booking {request.booking_no}, unknown here")
    if request.action == "cancel":
        if booking.status == "confirmed":
            booking.status = "cancelled"
        return _answer(session, booking, request, identity, None)
    return _answer(session, booking, request, identity, lambda: _check_slot(session, request.slot, ignore=booking))


def _hub_booking(request: BookingRequest) -> Booking:
    now = utcnow()
    day, start = parse_slot(request.slot) or (date.min, "00:00")
    return Booking(id=request.booking_id, booking_no=request.booking_no, day=day, start=start, status="requested",
                   origin="hub", name=request.name, phone=request.phone, precheck_no=request.precheck_no,
                   code_hash=request.code_hash, staff="hub", created_at=now, updated_at=now)


def _answer(session: Session, booking: Booking, request: BookingRequest, identity: Identity, check) -> Booking:
    """Apply a request's check: the slot it wants when there is room, else its refusal; then tell the hub."""
    booking.request_id, booking.updated_at = request.request_id, utcnow()
    booking.refusal, booking.wanted_slot, booking.alternatives = "", "", ""
    if check is not None:
        try:
            if booking.status not in ("confirmed", "requested", "refused"):
                raise BookingError(BOOKING_OVER, "the booking is over")
            booking.day, booking.start = check()
            booking.status = "confirmed"
        except BookingError as refused:
            booking.refusal, booking.wanted_slot = refused.reason, request.slot
            booking.alternatives = ",".join(refused.alternatives)
            if booking.status in ("requested", "refused"):
                booking.status = "refused"
    session.add(booking)
    audit.record(session, audit.HUB_ACTOR, "booking_request_answered", booking.id, asked=request.action,
                 refusal=booking.refusal)
    publish(session, identity, booking, actor=audit.HUB_ACTOR)
    return booking


# -- what goes up -----------------------------------------------------------------------------------------------

def publish(session: Session, identity: Identity, booking: Booking | None, *,
            actor: str = audit.SYSTEM_ACTOR) -> None:
    """Queue the plan, the count per slot from today on, and the booking that changed, for the hub."""
    session.flush()
    plan = current_plan(session)
    payload = PointBookings(
        plan=SlotPlanMessage(periods=list(plan.periods), capacity=plan.capacity, days_ahead=plan.days_ahead),
        taken=taken(session, today()), booking=record_of(booking) if booking else None, at=utcnow())
    state = get_state(session)
    seal_into_outbox(session, state, identity, kind=Kind.BOOKING, payload=payload.model_dump(mode="json"),
                     actor=actor)


def record_of(booking: Booking) -> BookingRecord:
    return BookingRecord(
        booking_id=booking.id, booking_no=booking.booking_no, slot=slot_key(booking.day, booking.start),
        status=booking.status, origin=booking.origin, name=booking.name, phone=booking.phone,
        precheck_no=booking.precheck_no, code_hash=booking.code_hash, request_id=booking.request_id,
        refusal=booking.refusal, wanted_slot=booking.wanted_slot,
        alternatives=[key for key in booking.alternatives.split(",") if key], at=booking.updated_at)


# -- reading ----------------------------------------------------------------------------------------------------

def day_bookings(session: Session, day: date) -> dict[str, list[Booking]]:
    """Start -> the bookings holding a place that day, for the clerk's day page."""
    rows = session.exec(select(Booking).where(Booking.day == day, col(Booking.status).in_(HOLDING))
                        .order_by(Booking.start, Booking.booking_no)).all()
    by_start: dict[str, list[Booking]] = {}
    for row in rows:
        by_start.setdefault(row.start, []).append(row)
    return by_start


def refused_requests(session: Session, since: date) -> list[Booking]:
    """Requests from the hub's site this point refused (a new booking or a change), newest first."""
    return list(session.exec(select(Booking).where(Booking.refusal != "", Booking.day >= since - timedelta(days=1))
                             .order_by(col(Booking.updated_at).desc()).limit(50)).all())


def look_up_booking(session: Session, booking_no: str, code: str) -> Booking:
    """A booking by its number and code; an unknown number and a wrong code are refused alike. Wrong codes count
    towards a lock of the booking's own (``locked``), as a receipt's at the kiosk."""
    booking = session.exec(select(Booking).where(Booking.booking_no == booking_no.strip().upper())).first()
    if booking is None or not booking.code_hash:
        verify_password(code or "", _no_booking_hash())
        raise BookingError(WRONG_CODE, "wrong booking number or code")
    locked = as_utc(booking.lookup_locked_until)
    if locked is not None and locked > utcnow():
        raise BookingError(LOCKED, "this booking's lookup is locked for now")
    if not verify_password((code or "").strip(), booking.code_hash):
        booking.lookup_failures += 1
        if booking.lookup_failures >= MAX_PICKUP_TRIES:
            booking.lookup_failures, booking.lookup_locked_until = 0, utcnow() + PICKUP_LOCK
        session.add(booking)
        audit.record(session, "kiosk", "booking_lookup_failed", booking.id)
        session.commit()  # the refusal must not undo the count
        raise BookingError(WRONG_CODE, "wrong booking number or code")
    booking.lookup_failures = 0
    session.add(booking)
    return booking


@cache
def _no_booking_hash() -> str:
    return hash_password(secrets.token_hex(8))
