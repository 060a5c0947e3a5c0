"""What the shared booking pages (预约) need from either app, and how both render them: the hub's site and every
point's kiosk register a ``bookings`` blueprint with the same endpoints (``book``, ``lookup``) and call these.

Each app keeps its own booking rows (the hub: hub/approval/bookings.py, the point: pointkit/bookings.py) and hands
the pages a ``BookingView``, so the templates never see either app's model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from flask import render_template, request

from . import bookingwords as words

MAX_CHANGE_DAYS = 5


@dataclass(frozen=True)
class BookingView:
    """A booking as a resident's page shows it."""

    no: str
    slot: str
    status: str
    point_name: str
    precheck_no: str = ""
    refusal: str = ""
    alternatives: list[str] = field(default_factory=list)
    pending_action: str = ""
    pending_slot: str = ""

    @property
    def rebook(self) -> bool:
        """Can the resident take one of the offered times in one step (refused, or confirmed after a refused
        change)?"""
        return self.status in ("refused", "confirmed") and bool(self.refusal) and not self.pending_action


def form_values() -> dict[str, str]:
    return {"slot": request.form.get("slot", "").strip()[:16], "name": request.form.get("name", "").strip()[:65],
            "phone": request.form.get("phone", "").strip()[:20],
            "precheck_no": request.form.get("precheck_no", "").strip()[:41]}


def lookup_values() -> tuple[str, str, str, str]:
    """(booking number, code, action, slot) posted on the lookup page."""
    form = request.form
    return (form.get("booking_no", "").strip().upper()[:40], form.get("code", "").strip()[:12],
            form.get("action", "show"), form.get("slot", "").strip()[:16])


def render_book(*, site_name: str, kiosk: bool, points=None, point=None, point_arg: str = "",
                free: dict[date, list[str]] | None = None, day: date | None = None, form: dict | None = None,
                problems: dict | None = None, refusal: str = "", alternatives: list[str] | None = None,
                status: int = 200):
    free = free or {}
    return render_template(
        "residents/bookings_book.html", site_name=site_name, kiosk=kiosk, points=points, point=point,
        point_arg=point_arg, days=[(d, len(starts)) for d, starts in free.items()], day=day,
        starts=[f"{day.isoformat()} {start}" for start in free.get(day, [])] if day else [],
        form=form or {"slot": "", "name": "", "phone": "", "precheck_no": ""}, problems=problems or {},
        refusal=refusal, alternatives=alternatives or [], field_words=words.FIELDS, slot_label=words.slot_label,
        day_label=words.day_label), status


def chosen_day(free: dict[date, list[str]]) -> date | None:
    """The day asked for in the address, if it is one the point has free times on (else the day list shows)."""
    try:
        day = date.fromisoformat(request.args.get("day", ""))
    except ValueError:
        return None
    return day if day in free else None


def render_booking(booking: BookingView, *, site_name: str, kiosk: bool, code: str = "", lookup_code: str = "",
                   free: dict[date, list[str]] | None = None, notice: str = "", status: int = 200):
    """The booking page: right after booking (``code``) or found by number and code (``lookup_code``: the forms to
    change or cancel carry it)."""
    refusal_words = ""
    if booking.refusal and booking.status == "confirmed":
        refusal_words = words.CHANGE_REFUSED
    elif booking.refusal in ("no_such_slot",) and booking.status == "refused":
        refusal_words = words.REFUSALS["no_such_slot"]
    change_days = list((free or {}).items())[:MAX_CHANGE_DAYS]
    return render_template(
        "residents/bookings_done.html", site_name=site_name, kiosk=kiosk, booking=booking, code=code,
        lookup={"code": lookup_code} if lookup_code else None, state_words=words.STATES.get(booking.status, ""),
        refusal_words=refusal_words, slot_label=words.slot_label, notice=notice,
        can_change=bool(lookup_code) and booking.status == "confirmed" and not booking.pending_action,
        free=[(words.day_label(day), [f"{day.isoformat()} {s}" for s in starts]) for day, starts in change_days]), \
        status


def render_lookup(*, site_name: str, kiosk: bool, refusal: str = "", booking_no: str = "", status: int = 200):
    return render_template("residents/bookings_lookup.html", site_name=site_name, kiosk=kiosk, refusal=refusal,
                           booking_no=booking_no), status
