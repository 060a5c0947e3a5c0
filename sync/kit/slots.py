"""预约 slots: which half-hours a point takes bookings for, on which days, and how many residents each.

The point owns its slots (docs/appointments.md): it books them in its own ledger and sends its plan and the count
taken per slot up with every change (sync/messages.py PointBookings). The hub shows the same slots from that plan,
so both sides work them out here, on the same working-day calendar (sync/kit/workdays.py): no slots on a holiday,
slots on a 调休 working weekend.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sync.kit.workdays import Calendar

SLOT_MINUTES = 30
DEFAULT_PERIODS = ("09:00-12:00", "13:30-17:00")
DEFAULT_CAPACITY = 1
DEFAULT_DAYS_AHEAD = 14
MAX_CAPACITY = 20
MAX_DAYS_AHEAD = 60
MAX_PERIODS = 4
# How many free slots a refusal offers instead.
ALTERNATIVES = 3
PERIOD_PATTERN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class SlotPlan:
    """A point's opening hours on working days (``periods``, "HH:MM-HH:MM", county time), how many residents one
    half-hour takes, and how many days ahead it takes bookings."""

    periods: tuple[str, ...] = DEFAULT_PERIODS
    capacity: int = DEFAULT_CAPACITY
    days_ahead: int = DEFAULT_DAYS_AHEAD

    def times(self) -> list[str]:
        """The start of every half-hour slot of a working day, in order."""
        starts: list[str] = []
        for period in self.periods:
            first, last = (_minutes(part) for part in period.split("-"))
            starts += [f"{m // 60:02d}:{m % 60:02d}" for m in range(first, last - SLOT_MINUTES + 1, SLOT_MINUTES)]
        return sorted(set(starts))


def plan_problem(periods: Iterable[str], capacity: int, days_ahead: int) -> str | None:
    """What is wrong with a plan, in English, or None."""
    periods = list(periods)
    if not periods or len(periods) > MAX_PERIODS:
        return f"give 1 to {MAX_PERIODS} opening periods"
    for period in periods:
        match = PERIOD_PATTERN.match(period)
        if not match or _minutes(period[:5]) + SLOT_MINUTES > _minutes(period[6:]):
            return f"{period!r} is not an opening period like 09:00-12:00 (at least half an hour)"
    if not 1 <= capacity <= MAX_CAPACITY:
        return f"capacity must be 1 to {MAX_CAPACITY} residents a half-hour"
    if not 1 <= days_ahead <= MAX_DAYS_AHEAD:
        return f"bookings may be taken 1 to {MAX_DAYS_AHEAD} days ahead"
    return None


def _minutes(hhmm: str) -> int:
    return int(hhmm[:2]) * 60 + int(hhmm[3:5])


def slot_key(day: date, start: str) -> str:
    """A slot's name on the wire and in forms: "YYYY-MM-DD HH:MM" (county time)."""
    return f"{day.isoformat()} {start}"


def parse_slot(key: str) -> tuple[date, str] | None:
    """(day, start) of a slot key, or None when it is not one."""
    try:
        day, start = key.split(" ")
        return date.fromisoformat(day), time.fromisoformat(start).strftime("%H:%M")
    except ValueError:
        return None


def open_days(plan: SlotPlan, calendar: Calendar, today: date) -> list[date]:
    """The working days from tomorrow on within ``plan.days_ahead`` days (holidays out, 调休 weekends in). Today is
    not booked ahead: a resident who comes today walks in."""
    days = (today + timedelta(days=n) for n in range(1, plan.days_ahead + 1))
    return [day for day in days if calendar.is_working_day(day)]


def slot_exists(plan: SlotPlan, calendar: Calendar, today: date, day: date, start: str) -> bool:
    return day in open_days(plan, calendar, today) and start in plan.times()


def free_slots(plan: SlotPlan, calendar: Calendar, today: date, taken: Mapping[str, int]) -> dict[date, list[str]]:
    """Day -> the starts with room left, given how many are ``taken`` per slot key."""
    free: dict[date, list[str]] = {}
    for day in open_days(plan, calendar, today):
        starts = [start for start in plan.times() if taken.get(slot_key(day, start), 0) < plan.capacity]
        if starts:
            free[day] = starts
    return free


def nearest_free(plan: SlotPlan, calendar: Calendar, today: date, taken: Mapping[str, int], day: date,
                 start: str, count: int = ALTERNATIVES) -> list[str]:
    """The ``count`` free slot keys nearest in time to the wanted one (it excluded), for a refusal to offer."""
    wanted = datetime.combine(day, time.fromisoformat(start))
    keys = [slot_key(d, s) for d, starts in free_slots(plan, calendar, today, taken).items() for s in starts]
    keys = [key for key in keys if key != slot_key(day, start)]
    nearest = sorted(keys, key=lambda key: abs((datetime.fromisoformat(key) - wanted).total_seconds()))[:count]
    return sorted(nearest)
