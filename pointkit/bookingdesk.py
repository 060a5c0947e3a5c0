"""The point's booking pages (预约): the kiosk's resident pages (blueprint ``bookings``, the same endpoints as the
hub's site, served from this point's own ledger and so working offline) and the clerk's (``bookingdesk``): the day
page with arrivals and no-shows, a booking taken on the phone, and the opening hours and capacity. The steps
themselves are pointkit/bookings.py."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask_babel import lazy_gettext
from sqlmodel import select

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

from . import bookings as steps
from . import db
from .auth import login_required
from .calendar import point_calendar
from .models import Booking, Precheck
from .runtime import data_dir, identity, wake_sync
from .state import get_state

bp = Blueprint("bookings", __name__, url_prefix="/residents/bookings")
desk_bp = Blueprint("bookingdesk", __name__, url_prefix="/bookings")

ORIGINS = {"kiosk": lazy_gettext("Kiosk"), "phone": lazy_gettext("Phone"), "hub": lazy_gettext("Online")}
STATUS_WORDS = {"confirmed": lazy_gettext("Booked"), "arrived": lazy_gettext("Arrived"),
                "no_show": lazy_gettext("No-show"), "cancelled": lazy_gettext("Cancelled"),
                "refused": lazy_gettext("Refused")}
# What the clerk reads about a request from the hub's site this point refused.
REQUEST_REFUSED = {"slot_full": lazy_gettext("the time was already taken here"),
                   "no_such_slot": lazy_gettext("not a bookable time here"),
                   "booking_over": lazy_gettext("the booking was already over")}
PLAN_PROBLEM = lazy_gettext("Give 1 to 4 opening periods like 09:00-12:00, 1 to 20 residents a half-hour and 1 to "
                            "60 days ahead.")


def _view(booking: Booking, point_name: str) -> BookingView:
    return BookingView(no=booking.booking_no, slot=f"{booking.day.isoformat()} {booking.start}",
                       status=booking.status, point_name=point_name, precheck_no=booking.precheck_no,
                       refusal=booking.refusal, alternatives=[k for k in booking.alternatives.split(",") if k])


def _site() -> tuple[str, dict[date, list[str]]]:
    """This point's name and its free times now."""
    with db.session_scope(data_dir()) as session:
        return get_state(session).name, steps.free_slots(session)


# -- the kiosk ----------------------------------------------------------------------------------------------------

@bp.route("/", methods=("GET", "POST"))
def book():
    """A resident books a time at this point's kiosk: confirmed at once from the point's own ledger."""
    name, free = _site()
    point = {"name": name}
    if request.method == "GET":
        return render_book(site_name=name, kiosk=True, point=point, free=free, day=chosen_day(free))
    form = form_values()
    try:
        with db.session_scope(data_dir()) as session:
            booking, code = steps.book(session, steps.BookingForm(**form), origin="kiosk", staff="kiosk",
                                       identity=identity())
    except steps.BookingError as exc:
        name, free = _site()
        day = date.fromisoformat(form["slot"][:10]) if form["slot"][:10] else None
        return render_book(site_name=name, kiosk=True, point=point, free=free,
                           day=day if day in free else next(iter(free), None), form=form, problems=exc.fields,
                           refusal=words.REFUSALS[exc.reason], alternatives=exc.alternatives, status=422)
    wake_sync()
    return render_booking(_view(booking, name), site_name=name, kiosk=True, code=code)


@bp.route("/lookup", methods=("GET", "POST"))
def lookup():
    """A booking by number and code (made here, on the phone, or online and confirmed here); change or cancel."""
    name, _free = _site()
    if request.method == "GET":
        return render_lookup(site_name=name, kiosk=True)
    booking_no, code, action, slot = lookup_values()
    notice = ""
    try:
        with db.session_scope(data_dir()) as session:
            booking = steps.look_up_booking(session, booking_no, code)
    except steps.BookingError as exc:
        return render_lookup(site_name=name, kiosk=True, refusal=words.REFUSALS[exc.reason], booking_no=booking_no,
                             status=422)
    try:
        with db.session_scope(data_dir()) as session:
            booking = session.get(Booking, booking.id)
            if action == "cancel":
                steps.cancel_booking(session, booking, actor="kiosk", identity=identity())
            elif action == "change":
                steps.change_booking(session, booking, slot, actor="kiosk", identity=identity())
    except steps.BookingError as exc:
        notice = words.REFUSALS[exc.reason]
    else:
        wake_sync()
    with db.session_scope(data_dir()) as session:
        booking = session.get(Booking, booking.id)
    name, free = _site()
    return render_booking(_view(booking, name), site_name=name, kiosk=True, lookup_code=code, free=free,
                          notice=notice, status=422 if notice else 200)


# -- the clerk's pages ---------------------------------------------------------------------------------------------

def _day_arg() -> date:
    try:
        return date.fromisoformat(request.args.get("day", ""))
    except ValueError:
        return steps.today()


@desk_bp.get("/")
@login_required
def day_page():
    """The day's bookings by half-hour, to mark arrivals and no-shows, and the online requests refused here."""
    day = _day_arg()
    with db.session_scope(data_dir()) as session:
        steps.record_no_shows(session, identity=identity())
        by_start = steps.day_bookings(session, day)
        plan, open_day = steps.current_plan(session), point_calendar(session).is_working_day(day)
        refused = steps.refused_requests(session, steps.today())
        prechecks = _prechecks_of(session, [booking for bookings in by_start.values() for booking in bookings])
    starts = sorted(set(plan.times() if open_day else []) | set(by_start))
    return render_template("bookings_day.html", day=day, before=day - timedelta(days=1), after=day + timedelta(days=1),
                           starts=starts, by_start=by_start, plan=plan,
                           open_day=open_day, refused=refused, origins=ORIGINS, status_words=STATUS_WORDS,
                           request_refused=REQUEST_REFUSED, slot_label=words.slot_label, day_label=words.day_label,
                           offered=_offered, prechecks=prechecks)


def _prechecks_of(session, bookings: list[Booking]) -> dict[str, str]:
    """Pre-check number -> the id of the pre-check this point holds, for the bookings that name one: the day page
    links each to the pre-check the clerk will take the application from."""
    numbers = {booking.precheck_no for booking in bookings if booking.precheck_no}
    if not numbers:
        return {}
    rows = session.exec(select(Precheck.precheck_no, Precheck.id).where(Precheck.precheck_no.in_(numbers))).all()
    return dict(rows)


def _offered(booking: Booking) -> str:
    """The free times a refusal offered, as the clerk reads them out."""
    return "、".join(words.slot_label(key) for key in booking.alternatives.split(",") if key)


@desk_bp.post("/<booking_id>/mark")
@login_required
def mark(booking_id: str):
    """Mark a booked resident arrived or a no-show."""
    with db.session_scope(data_dir()) as session:
        booking = session.get(Booking, booking_id[:36])
        if booking is None:
            abort(404)
        try:
            steps.mark(session, booking, request.form.get("status", ""), staff=g.staff.username,
                       identity=identity())
        except steps.BookingError:
            abort(409)
        day = booking.day
    wake_sync()
    return redirect(url_for("bookingdesk.day_page", day=day.isoformat()))


@desk_bp.route("/phone", methods=("GET", "POST"))
@login_required
def phone():
    """A clerk books a time for a resident on the phone and reads her the number and code."""
    name, free = _site()
    form, problems, refusal, alternatives = {"slot": "", "name": "", "phone": "", "precheck_no": ""}, {}, "", []
    if request.method == "POST":
        form = form_values()
        try:
            with db.session_scope(data_dir()) as session:
                booking, code = steps.book(session, steps.BookingForm(**form), origin="phone",
                                           staff=g.staff.username, identity=identity())
        except steps.BookingError as exc:
            problems, refusal, alternatives = exc.fields, words.REFUSALS[exc.reason], exc.alternatives
            name, free = _site()
        else:
            wake_sync()
            return render_booking(_view(booking, name), site_name=name, kiosk=False, code=code)
    return render_template("bookings_phone.html", free=free, form=form, problems=problems, refusal=refusal,
                           alternatives=alternatives, field_words=words.FIELDS, slot_label=words.slot_label,
                           day_label=words.day_label), (422 if refusal else 200)


@desk_bp.route("/plan", methods=("GET", "POST"))
@login_required
def plan():
    """Opening periods on working days and residents per half-hour; published to the hub's site."""
    problem = ""
    if request.method == "POST":
        periods = [p.strip() for p in request.form.get("periods", "").replace("，", ",").split(",") if p.strip()]
        try:
            with db.session_scope(data_dir()) as session:
                steps.set_plan(session, g.staff.username, periods, _int(request.form.get("capacity")),
                               _int(request.form.get("days_ahead")), identity=identity())
        except steps.BookingError:
            problem = PLAN_PROBLEM
        else:
            wake_sync()
            return redirect(url_for("bookingdesk.day_page"))
    with db.session_scope(data_dir()) as session:
        current = steps.current_plan(session)
    return render_template("bookings_plan.html", plan=current, problem=problem), (422 if problem else 200)


def _int(value: str | None) -> int:
    try:
        return int(value or "")
    except ValueError:
        return 0

