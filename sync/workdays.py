"""Working days: the clock every time limit runs on.

Weekends are rest days unless listed as make-up workdays (调休); listed
public holidays are rest days. The fuller yearly calendar data comes with
the time-limits work; this is the arithmetic both sides share.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, timedelta, timezone

# Every county runs on China Standard Time (no DST), whatever a laptop's own zone is set to.
COUNTY_TIMEZONE = timezone(timedelta(hours=8), "CST")


def county_date(moment: datetime) -> date:
    """The calendar day ``moment`` falls on in the county."""
    return moment.astimezone(COUNTY_TIMEZONE).date()


def is_working_day(day: date, holidays: Collection[date] = (), makeup_days: Collection[date] = ()) -> bool:
    if day in makeup_days:
        return True
    if day in holidays:
        return False
    return day.weekday() < 5


def add_working_days(
    start: date, days: int, holidays: Collection[date] = (), makeup_days: Collection[date] = ()
) -> date:
    """The date on which ``days`` working days counted after ``start`` have passed.

    The day of intake does not count (limits run from the next working day).
    """
    if days < 0:
        raise ValueError("days must not be negative")
    current = start
    remaining = days
    while remaining:
        current += timedelta(days=1)
        if is_working_day(current, holidays, makeup_days):
            remaining -= 1
    return current
