"""Working days: the clock every time limit runs on.

Weekends are rest days unless listed as make-up workdays (调休); listed
public holidays are rest days. The official schedule of each year is a file
``sync/data/calendar/YYYY.json`` (format and how to add a year:
docs/calendar.md); a year without a file counts weekends only, and pages warn.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import cache
from pathlib import Path

# Every county runs on China Standard Time (no DST), whatever a laptop's own zone is set to.
COUNTY_TIMEZONE = timezone(timedelta(hours=8), "CST")
SHIPPED_CALENDAR_DIR = Path(__file__).resolve().parent / "data" / "calendar"
# A directory of extra or corrected YYYY.json files, read after the shipped ones (no reinstall needed).
CALENDAR_DIR_ENV = "POINTKIT_CALENDAR_DIR"
# The longest official break (春节) is 9 days; a longer range is a typo in the file.
MAX_HOLIDAY_DAYS = 14


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


def count_working_days(start: date, end: date, holidays: Collection[date] = (),
                       makeup_days: Collection[date] = ()) -> int:
    """Working days after ``start`` up to and including ``end`` (0 when ``end`` is not after ``start``)."""
    return sum(1 for offset in range(1, (end - start).days + 1)
               if is_working_day(start + timedelta(days=offset), holidays, makeup_days))


class CalendarError(ValueError):
    """A calendar file that cannot be used; the message names the file and what to fix."""


@dataclass(frozen=True)
class Calendar:
    """The official schedule of the years we have files for; other years count weekends only.

    Build it with ``Calendar.load()``; both the point (promised dates on
    receipts) and the hub (time limits) count on the same object, so the two
    sides agree on every date.
    """

    holidays: frozenset[date] = frozenset()
    makeup_days: frozenset[date] = frozenset()
    years: frozenset[int] = frozenset()
    sources: dict[int, str] = field(default_factory=dict, compare=False)

    @classmethod
    def load(cls, *directories: str | Path) -> "Calendar":
        """Read ``YYYY.json`` from the shipped schedules, ``$POINTKIT_CALENDAR_DIR`` and ``directories``.

        A later directory's file for a year replaces an earlier one's, so a
        county can correct or add a year without a new release.
        """
        extra = os.environ.get(CALENDAR_DIR_ENV, "")
        files: dict[int, Path] = {}
        for directory in (SHIPPED_CALENDAR_DIR, *([extra] if extra else []), *directories):
            for path in sorted(Path(directory).glob("[0-9][0-9][0-9][0-9].json")):
                files[int(path.stem)] = path
        holidays: set[date] = set()
        makeup_days: set[date] = set()
        sources: dict[int, str] = {}
        for year, path in sorted(files.items()):
            rest, work, sources[year] = read_year_file(path)
            holidays |= rest
            makeup_days |= work
        return cls(frozenset(holidays), frozenset(makeup_days), frozenset(files), sources)

    def is_working_day(self, day: date) -> bool:
        return is_working_day(day, self.holidays, self.makeup_days)

    def add_working_days(self, start: date, days: int) -> date:
        """The day ``days`` working days after ``start``; the day of intake itself does not count."""
        return add_working_days(start, days, self.holidays, self.makeup_days)

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end``: the inverse of ``add_working_days``."""
        return count_working_days(start, end, self.holidays, self.makeup_days)

    def missing_years(self, start: date, end: date) -> list[int]:
        """Years from ``start`` to ``end`` with no schedule file: counted on weekends only, so warn."""
        return [year for year in range(start.year, end.year + 1) if year not in self.years]


def read_year_file(path: Path) -> tuple[set[date], set[date], str]:
    """Rest days, make-up workdays and the cited source of one ``YYYY.json`` file (format: docs/calendar.md)."""
    def fail(what: str) -> CalendarError:
        return CalendarError(f"{path}: {what}")

    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise fail(f"not readable JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("year") != int(path.stem):
        raise fail(f'"year" must be {path.stem}, the number in the file name')
    rest: set[date] = set()
    work: set[date] = set()
    for number, holiday in enumerate(data.get("holidays", []), start=1):
        where = f"holiday {number} ({holiday.get('name_zh', '?')})" if isinstance(holiday, dict) else f"holiday {number}"
        try:
            first, last = (date.fromisoformat(day) for day in holiday["rest"])
            makeups = [date.fromisoformat(day) for day in holiday.get("workdays", [])]
        except (KeyError, TypeError, ValueError):
            raise fail(f'{where}: "rest" must be ["YYYY-MM-DD", "YYYY-MM-DD"] (first and last day off) and '
                       f'"workdays" a list of YYYY-MM-DD') from None
        if not timedelta(0) <= last - first <= timedelta(days=MAX_HOLIDAY_DAYS):
            raise fail(f'{where}: "rest" must run forward from the first to the last day off, '
                       f"at most {MAX_HOLIDAY_DAYS + 1} days")
        weekdays = [day.isoformat() for day in makeups if day.weekday() < 5]
        if weekdays:
            raise fail(f"{where}: make-up workdays must fall on a Saturday or Sunday, not {', '.join(weekdays)}")
        rest.update(first + timedelta(days=offset) for offset in range((last - first).days + 1))
        work.update(makeups)
    return rest, work, str(data.get("source", ""))


@cache
def default_calendar() -> Calendar:
    """The calendar this process counts on, loaded once (shipped files plus $POINTKIT_CALENDAR_DIR)."""
    return Calendar.load()
