"""The hub's public booking pages (预约, /residents/bookings): a resident picks a point, a day and a half-hour, and
the booking goes to the point to confirm (hub/approval/bookings.py); she reads the verdict by number and code."""

from __future__ import annotations

from flask import Blueprint, abort, request
from flask_babel import lazy_gettext

from sync.kit.residents import bookingwords as words
from sync.kit.residents.bookingpages import (
    BookingView,
    chosen_day,
    form_values,
    lookup_values,
    render_book,
    render_booking,
    render_lookup,
)

from hub.approval import bookings as steps
from hub.core.models import Booking, Point
from hub.web.context import get_session

bp = Blueprint("bookings", __name__, url_prefix="/residents/bookings")

SITE_NAME = lazy_gettext("County government service centre")


def _view(booking: Booking, point: Point | None) -> BookingView:
    return BookingView(no=booking.booking_no, slot=booking.slot, status=booking.status,
                       point_name=point.name if point else "", precheck_no=booking.precheck_no,
                       refusal=booking.refusal, alternatives=list(booking.alternatives),
                       pending_action=booking.pending_action, pending_slot=booking.pending_slot)


@bp.route("/", methods=("GET", "POST"))
def book():
    """Choose a point, then a day, then a time; the booking awaits the point's confirmation."""
    session = get_session()
    point_arg = request.args.get("point", "")[:36]
    if not point_arg:
        return render_book(site_name=SITE_NAME, kiosk=False, points=steps.bookable_points(session))
    point = steps.point_of(session, point_arg)
    if point is None:
        abort(404)
    try:
        available = steps.availability(session, point)
    except steps.BookingError as exc:
        return render_book(site_name=SITE_NAME, kiosk=False, points=steps.bookable_points(session),
                           refusal=words.REFUSALS[exc.reason], status=422)
    free = available.free(session)
    if request.method == "GET":
        return render_book(site_name=SITE_NAME, kiosk=False, point=point, point_arg=point_arg, free=free,
                           day=chosen_day(free))
    form = form_values()
    try:
        booking, code = steps.request_booking(session, point, **form)
    except steps.BookingError as exc:
        session.rollback()
        day = form["slot"][:10]
        return render_book(site_name=SITE_NAME, kiosk=False, point=point, point_arg=point_arg, free=free,
                           day=next((d for d in free if d.isoformat() == day), None) or next(iter(free), None),
                           form=form, problems=exc.fields, refusal=words.REFUSALS[exc.reason],
                           alternatives=exc.alternatives, status=422)
    session.commit()
    return render_booking(_view(booking, point), site_name=SITE_NAME, kiosk=False, code=code)


@bp.route("/lookup", methods=("GET", "POST"))
def lookup():
    """Find a booking by number and code; change its time or cancel it."""
    if request.method == "GET":
        return render_lookup(site_name=SITE_NAME, kiosk=False)
    session = get_session()
    booking_no, code, action, slot = lookup_values()
    try:
        booking = steps.look_up_booking(session, booking_no, code)
    except steps.BookingError as exc:
        return render_lookup(site_name=SITE_NAME, kiosk=False, refusal=words.REFUSALS[exc.reason],
                             booking_no=booking_no, status=422)
    notice = ""
    try:
        if action == "cancel":
            steps.request_cancel(session, booking)
        elif action == "change":
            steps.request_change(session, booking, slot)
    except steps.BookingError as exc:
        session.rollback()
        booking = steps.look_up_booking(session, booking_no, code)
        notice = words.REFUSALS[exc.reason]
    else:
        session.commit()
    point = session.get(Point, booking.point_id)
    try:
        free = steps.availability(session, point).free(session)
    except steps.BookingError:
        free = {}
    return render_booking(_view(booking, point), site_name=SITE_NAME, kiosk=False, lookup_code=code, free=free,
                          notice=notice, status=422 if notice else 200)
