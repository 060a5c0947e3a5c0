"""预约 at the hub: residents book a point's half-hour on the public site, through the point's own ledger.

The point owns its slots (docs/appointments.md says why): the hub holds what each point last published (BOOKING:
its plan and the residents per slot), refuses at once a slot that shows full there, and otherwise sends the
resident's booking, change or cancellation down as a BOOKING_REQUEST. The point confirms or refuses it against its
ledger, first come at the point, and its verdict comes back as BOOKING. Until then the site says the booking awaits
the point's confirmation. The point's record of a booking always replaces the hub's.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

from sqlmodel import Session, select

from sync.clock import uuid7
from sync.envelope import Kind
from sync.kit.passwords import hash_password, verify_password
from sync.kit.slots import SlotPlan, free_slots, nearest_free, parse_slot, slot_exists
from sync.kit.workdays import county_date
from sync.messages import BookingRequest, PointBookings

from hub.catalog.calendar import county_calendar
from hub.core.audit import append_audit
from hub.core.clock import as_utc, utc_now
from hub.core.models import Booking, Point, PointBookingPlan
from hub.core.outbox import enqueue, readable
from hub.core.outcome import Outcome

CODE_DIGITS = 6
# What the hub counts as holding a place: the point's own, and the requests it has not answered yet.
HOLDING = ("pending", "confirmed", "arrived", "no_show")
SLOT_FULL, NO_SUCH_SLOT, NOT_BOOKABLE, WRONG_CODE, LOCKED, BOOKING_OVER = (
    "slot_full", "no_such_slot", "not_bookable", "wrong_code", "locked", "booking_over")
MAX_LOOKUP_TRIES = 5
LOOKUP_LOCK = timedelta(minutes=15)


class BookingError(ValueError):
    """Why a booking step is refused at the hub: ``reason`` (pages translate it), wrong fields, and the nearest
    free slots of the point's last published plan when the wanted one is full."""

    def __init__(self, reason: str, message: str, *, fields: dict[str, str] | None = None,
                 alternatives: list[str] | None = None):
        super().__init__(message)
        self.reason, self.fields, self.alternatives = reason, fields or {}, alternatives or []


@dataclass(frozen=True)
class Availability:
    """A point's slots as the hub last heard of them."""

    point: Point
    plan: SlotPlan
    taken: dict[str, int]

    def free(self, session: Session) -> dict[date, list[str]]:
        return free_slots(self.plan, county_calendar(session), _today(), self.taken)


def _today() -> date:
    return county_date(utc_now())


# -- what the points publish ------------------------------------------------------------------------------------

def receive_point_bookings(session: Session, intent: PointBookings, point: Point) -> Outcome:
    """Keep the point's newest plan and counts, and its record of the booking that changed."""
    at = as_utc(intent.at)
    published = session.get(PointBookingPlan, point.id)
    if published is None or as_utc(published.published_at) <= at:
        published = published or PointBookingPlan(point_id=point.id, capacity=1, days_ahead=1, published_at=at)
        published.periods, published.capacity = list(intent.plan.periods), intent.plan.capacity
        published.days_ahead, published.taken, published.published_at = intent.plan.days_ahead, intent.taken, at
        published.received_at = utc_now()
        session.add(published)
    if intent.booking is None:
        return Outcome.accepted("booking plan recorded")
    record = intent.booking
    booking = session.get(Booking, record.booking_id)
    if booking is not None and booking.point_id != point.id:
        return Outcome.rejected("booking_id_taken", "another point's booking has this id")
    if booking is None:
        booking = Booking(id=record.booking_id, booking_no=record.booking_no, point_id=point.id, slot=record.slot,
                          origin=record.origin)
    elif booking.point_at is not None and as_utc(booking.point_at) > as_utc(record.at):
        return Outcome.duplicate("booking_older", "a newer record of this booking is already here")
    _take_record(booking, record)
    session.add(booking)
    _audit(session, booking, point.name, "booking_recorded", status=booking.status, refusal=booking.refusal)
    return Outcome.accepted("booking recorded")


def _take_record(booking: Booking, record) -> None:
    booking.slot, booking.status, booking.origin = record.slot, record.status, record.origin
    booking.name, booking.phone, booking.precheck_no = record.name, record.phone, record.precheck_no
    booking.code_hash = record.code_hash or booking.code_hash
    booking.refusal, booking.wanted_slot, booking.alternatives = record.refusal, record.wanted_slot, \
        list(record.alternatives)
    booking.point_at = as_utc(record.at)
    if record.request_id and record.request_id == booking.pending_request_id:
        booking.pending_request_id, booking.pending_action, booking.pending_slot = "", "", ""


# -- the site's requests ----------------------------------------------------------------------------------------

def availability(session: Session, point: Point) -> Availability:
    """The point's last published slots, with the hub's unanswered requests counted as taken."""
    published = session.get(PointBookingPlan, point.id)
    if published is None or point.status != "active" or not readable(point, Kind.BOOKING_REQUEST):
        raise BookingError(NOT_BOOKABLE, f"{point.name} does not take bookings online")
    taken = dict(published.taken)
    for booking in session.exec(select(Booking).where(Booking.point_id == point.id,
                                                       Booking.pending_request_id != "")).all():
        slot = booking.pending_slot if booking.pending_action != "cancel" else ""
        if slot and (booking.status == "pending" or booking.pending_action == "change"):
            taken[slot] = taken.get(slot, 0) + 1
    return Availability(point, SlotPlan(tuple(published.periods), published.capacity, published.days_ahead), taken)


def bookable_points(session: Session) -> list[Point]:
    """Points that published a booking plan, by name."""
    ids = session.exec(select(PointBookingPlan.point_id)).all()
    points = [session.get(Point, point_id) for point_id in ids]
    return sorted((p for p in points if p is not None and p.status == "active"), key=lambda p: p.name)


def _check_slot(session: Session, available: Availability, slot: str) -> str:
    parsed = parse_slot(slot)
    calendar, today = county_calendar(session), _today()
    if parsed is None or not slot_exists(available.plan, calendar, today, *parsed):
        raise BookingError(NO_SUCH_SLOT, f"{slot} is not a bookable slot of {available.point.name}")
    if available.taken.get(slot, 0) >= available.plan.capacity:
        raise BookingError(SLOT_FULL, f"{slot} is fully booked", alternatives=nearest_free(
            available.plan, calendar, today, available.taken, *parsed))
    return slot


def request_booking(session: Session, point: Point, *, slot: str, name: str, phone: str,
                    precheck_no: str = "") -> tuple[Booking, str]:
    """A resident's booking on the site: held against the point's last published slots and sent to the point;
    return it ("pending") and its code (shown once, stored hashed)."""
    _check_contact(name, phone, precheck_no)
    _check_slot(session, availability(session, point), slot)
    code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
    booking = Booking(id=str(uuid7()), booking_no=_next_number(session, _today()), point_id=point.id, slot=slot,
                      status="pending", origin="hub", name=name, phone=phone, precheck_no=precheck_no.upper(),
                      code_hash=hash_password(code))
    session.add(booking)
    _send(session, booking, "book", slot)
    _audit(session, booking, "resident", "booking_requested", point=point.name)
    return booking, code


def request_change(session: Session, booking: Booking, slot: str) -> Booking:
    """Ask the point to move a confirmed booking (it keeps its slot until the point says yes), or to book one of
    the times offered after a refusal (the booking awaits the point again)."""
    if booking.status not in ("confirmed", "refused") or booking.pending_request_id:
        raise BookingError(BOOKING_OVER, "only a confirmed or refused booking with nothing awaiting the point "
                                         "can change")
    point = session.get(Point, booking.point_id)
    _check_slot(session, availability(session, point), slot)
    if booking.status == "refused":
        booking.status, booking.slot = "pending", slot
        _send(session, booking, "book", slot)
    else:
        _send(session, booking, "change", slot)
    _audit(session, booking, "resident", "booking_change_requested")
    return booking


def request_cancel(session: Session, booking: Booking) -> Booking:
    """Ask the point to cancel; the booking shows as cancelled at once (the point always accepts a cancellation)."""
    if booking.status not in ("pending", "confirmed"):
        raise BookingError(BOOKING_OVER, "this booking is already over")
    _send(session, booking, "cancel", "")
    booking.status = "cancelled"
    _audit(session, booking, "resident", "booking_cancel_requested")
    return booking


def _send(session: Session, booking: Booking, action: str, slot: str) -> None:
    request = BookingRequest(request_id=str(uuid7()), action=action, booking_id=booking.id,
                             booking_no=booking.booking_no, slot=slot, name=booking.name, phone=booking.phone,
                             precheck_no=booking.precheck_no, code_hash=booking.code_hash, at=utc_now())
    booking.pending_request_id, booking.pending_action, booking.pending_slot = request.request_id, action, slot
    session.add(booking)
    enqueue(session, point=session.get(Point, booking.point_id), kind=Kind.BOOKING_REQUEST,
            payload=request.model_dump(mode="json"))


def _check_contact(name: str, phone: str, precheck_no: str) -> None:
    fields = {}
    if not name or len(name) > 64:
        fields["name"] = "required" if not name else "too long"
    if not (len(phone) == 11 and phone.isdigit() and phone.startswith("1")):
        fields["phone"] = "required" if not phone else "must be 11 digits starting with 1"
    if len(precheck_no) > 40:
        fields["precheck_no"] = "too long"
    if fields:
        raise BookingError("invalid_input", "some fields are missing or invalid", fields=fields)


def _next_number(session: Session, day: date) -> str:
    prefix = f"Y-{day:%Y%m%d}-COUNTY-"
    numbers = session.exec(select(Booking.booking_no).where(Booking.booking_no.startswith(prefix))).all()
    highest = max((int(n[len(prefix):]) for n in numbers if n[len(prefix):].isdigit()), default=0)
    return f"{prefix}{highest + 1:04d}"


def look_up_booking(session: Session, booking_no: str, code: str) -> Booking:
    """A booking by number and code (an unknown number and a wrong code are refused alike, ``wrong_code``). Five
    wrong codes in a row lock the booking's lookup for LOOKUP_LOCK (``locked``): a six-digit code is no secret
    against a script otherwise."""
    booking = session.exec(select(Booking).where(Booking.booking_no == booking_no.strip().upper())).first()
    if booking is None or not booking.code_hash:
        verify_password(code or "", _no_booking_hash())
        raise BookingError(WRONG_CODE, "wrong booking number or code")
    locked = as_utc(booking.lookup_locked_until) if booking.lookup_locked_until else None
    if locked is not None and locked > utc_now():
        raise BookingError(LOCKED, f"this booking's lookup is locked until {locked.isoformat(timespec='minutes')}")
    if not verify_password((code or "").strip(), booking.code_hash):
        booking.lookup_failures += 1
        if booking.lookup_failures >= MAX_LOOKUP_TRIES:
            booking.lookup_failures, booking.lookup_locked_until = 0, utc_now() + LOOKUP_LOCK
        session.add(booking)
        _audit(session, booking, "resident", "booking_lookup_failed", locked=booking.lookup_failures == 0)
        session.commit()  # the refusal must not undo the count
        raise BookingError(WRONG_CODE, "wrong booking number or code")
    if booking.lookup_failures:
        booking.lookup_failures = 0
        session.add(booking)
    return booking


@cache
def _no_booking_hash() -> str:
    return hash_password(secrets.token_hex(8))


def _audit(session: Session, booking: Booking, actor: str, action: str, **detail) -> None:
    """One step in the audit chain: the booking's number and slot, never the resident."""
    append_audit(session, actor=actor, action=action, subject=f"booking:{booking.id}",
                 detail={"booking_no": booking.booking_no, "slot": booking.slot, **detail})


def point_of(session: Session, point_id: str) -> Point | None:
    try:
        return session.get(Point, uuid.UUID(point_id))
    except ValueError:
        return None
