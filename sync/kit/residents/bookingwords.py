"""The words the booking pages (预约) show on both apps: a booking's state, why a step was refused, a slot in the
reader's language. Both apps' catalogs translate them (babel extracts this folder for each)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import format_date, get_locale, lazy_gettext

from sync.kit.slots import SLOT_MINUTES, parse_slot

STATES = {
    "pending": lazy_gettext("Awaiting the service point's confirmation. Check again later with your booking number "
                            "and code."),
    "confirmed": lazy_gettext("Confirmed. Please come at the booked time and bring your ID card."),
    "refused": lazy_gettext("Not booked: the service point had already given this time to another resident."),
    "cancelled": lazy_gettext("Cancelled."),
    "arrived": lazy_gettext("You came: the booking is used."),
    "no_show": lazy_gettext("Recorded as not come: the booked time passed without you."),
}
REFUSALS = {
    "slot_full": lazy_gettext("This time is fully booked. Choose another time."),
    "no_such_slot": lazy_gettext("The service point does not take bookings at this time (a holiday, outside its "
                                 "opening hours, or too far ahead). Choose another time."),
    "not_bookable": lazy_gettext("This service point does not take bookings online yet. Call it or go there."),
    "wrong_code": lazy_gettext("The booking number or the code is wrong. Check both and type them again."),
    "locked": lazy_gettext("This booking's lookup is locked after 5 wrong codes. Try again in 15 minutes, or ask "
                           "the service point."),
    "booking_over": lazy_gettext("This booking can no longer be changed or cancelled."),
    "invalid_input": lazy_gettext("Some fields are missing or wrong; see the marks below."),
}
# Why the point refused a change asked for on the site (the booking keeps its time).
CHANGE_REFUSED = lazy_gettext("Your change was not made: the service point had already given that time to another "
                              "resident. Your booking keeps its time.")
FIELDS = {
    "required": lazy_gettext("required"),
    "too long": lazy_gettext("too long"),
    "must be 11 digits starting with 1": lazy_gettext("must be 11 digits starting with 1"),
}


def slot_label(key: str) -> str:
    """A slot as a resident reads it: "12月7日 周一 09:00–09:30" (English: "Mon 7 Dec 09:00–09:30")."""
    parsed = parse_slot(key)
    if parsed is None:
        return key
    day, start = parsed
    end = (datetime.fromisoformat(f"{day} {start}") + timedelta(minutes=SLOT_MINUTES)).strftime("%H:%M")
    pattern = "M月d日 EEE" if str(get_locale()).startswith("zh") else "EEE d MMM"
    return f"{format_date(day, pattern)} {start}–{end}"


def day_label(day) -> str:
    return format_date(day, "M月d日 EEE" if str(get_locale()).startswith("zh") else "EEE d MMM")
