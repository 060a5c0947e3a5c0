"""Working days: the clock every time limit runs on.

Weekends are rest days unless listed as make-up workdays (调休); listed
public holidays are rest days. The official schedule of each year is a file
``sync/kit/holidays/YYYY.json`` (format and how to add a year:
docs/calendar.md); a year without a file counts weekends only, and pages warn.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import cache
from pathlib import Path

# Every county runs on China Standard Time (no DST), whatever a laptop's own zone is set to.
COUNTY_TIMEZONE = timezone(timedelta(hours=8), "CST")
SHIPPED_CALENDAR_DIR = Path(__file__).resolve().parent / "holidays"
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


# A year's schedule as the hub signs and sends it to points: {type, year, version, issued_at, source, holidays}.
CALENDAR_YEAR_TYPE = "pointkit.calendar-year/v1"
_YEAR_KEYS = {"year", "source", "holidays", "type", "version", "issued_at"}
_HOLIDAY_KEYS = {"name_zh", "name_en", "rest", "workdays"}


@dataclass(frozen=True)
class YearSchedule:
    """One year's official schedule: its rest days and make-up workdays, and the notice it cites."""

    year: int
    holidays: frozenset[date]
    makeup_days: frozenset[date]
    source: str
    # The holidays as the file lists them (what a signed year carries to points).
    entries: tuple[dict, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class Calendar:
    """The official schedule of the years we have files for; other years count weekends only.

    Build it with ``Calendar.load()`` (the shipped files) and ``with_years`` (the
    years the county hub published); both the point (promised dates on
    receipts) and the hub (time limits) count on the same object, so the two
    sides agree on every date.
    """

    holidays: frozenset[date] = frozenset()
    makeup_days: frozenset[date] = frozenset()
    years: frozenset[int] = frozenset()
    sources: dict[int, str] = field(default_factory=dict, compare=False)
    schedules: tuple[YearSchedule, ...] = field(default=(), compare=False)

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
        return cls.from_years(read_year_file(path) for _, path in sorted(files.items()))

    @classmethod
    def from_years(cls, schedules: Iterable[YearSchedule]) -> "Calendar":
        """The calendar of these years (a later schedule of the same year replaces an earlier one)."""
        by_year = {schedule.year: schedule for schedule in schedules}
        ordered = tuple(by_year[year] for year in sorted(by_year))
        holidays: set[date] = set()
        makeup_days: set[date] = set()
        for schedule in ordered:
            holidays |= schedule.holidays
            makeup_days |= schedule.makeup_days
        return cls(frozenset(holidays), frozenset(makeup_days), frozenset(by_year),
                   {schedule.year: schedule.source for schedule in ordered}, ordered)

    def with_years(self, schedules: Iterable[YearSchedule]) -> "Calendar":
        """This calendar with ``schedules`` in force: each replaces this calendar's schedule of its year."""
        return Calendar.from_years([*self.schedules, *schedules])

    def is_working_day(self, day: date) -> bool:
        return is_working_day(day, self.holidays, self.makeup_days)

    def add_working_days(self, start: date, days: int) -> date:
        """The day ``days`` working days after ``start``; the day of intake itself does not count."""
        return add_working_days(start, days, self.holidays, self.makeup_days)

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end``: the inverse of ``add_working_days``."""
        return count_working_days(start, end, self.holidays, self.makeup_days)

    def period_end(self, start: date, days: int, unit: str) -> date:
        """The last day of a limit of ``days`` counted from the day after ``start``: working days on this
        calendar (``unit`` "working_days") or natural days ("natural_days"), where a period that ends on a
        rest day ends on the next working day (民法典 第二百零三条)."""
        if unit == "working_days":
            return self.add_working_days(start, days)
        if days < 0:
            raise ValueError("days must not be negative")
        last = start + timedelta(days=days)
        while not self.is_working_day(last):
            last += timedelta(days=1)
        return last

    def days_between(self, start: date, end: date, unit: str) -> int:
        """Days of ``unit`` after ``start`` up to and including ``end`` (0 when ``end`` is not after it)."""
        if unit == "working_days":
            return self.working_days_between(start, end)
        return max(0, (end - start).days)

    def missing_years(self, start: date, end: date) -> list[int]:
        """Years from ``start`` to ``end`` with no schedule file: counted on weekends only, so warn."""
        return [year for year in range(start.year, end.year + 1) if year not in self.years]


def read_year_file(path: Path) -> YearSchedule:
    """One ``YYYY.json`` file (format: docs/calendar.md); its year must be the number in its name."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise CalendarError(f"{path}: not readable JSON ({exc})") from None
    return read_year(data, str(path), int(Path(path).stem) if Path(path).stem.isdigit() else None)


def read_year(data: object, where: str, year: int | None = None) -> YearSchedule:
    """One year's schedule from its JSON (a file, or a year the hub signed), checked against the rules of
    docs/calendar.md; CalendarError names ``where``, the entry and what to fix."""
    def fail(what: str) -> CalendarError:
        return CalendarError(f"{where}: {what}")

    if not isinstance(data, dict):
        raise fail("a year's schedule is a JSON object with \"year\", \"source\" and \"holidays\"")
    if year is None and (not isinstance(data.get("year"), int) or isinstance(data.get("year"), bool)):
        raise fail('"year" must be the year as a number, e.g. 2027')
    year = year if year is not None else data["year"]
    if data.get("year") != year:
        raise fail(f'"year" must be {year}, the number in the file name')
    if not 2000 <= year <= 2200:
        raise fail(f'"year" {year} is not a year this calendar can hold (2000 to 2200)')
    unknown = sorted(set(data) - _YEAR_KEYS)
    if unknown:
        raise fail(f"unknown field(s) {', '.join(unknown)}; a year has year, source and holidays")
    source = data.get("source", "")
    if not isinstance(source, str) or len(source) > 500:
        raise fail('"source" must be the notice it comes from, as text of at most 500 characters')
    listed = data.get("holidays", [])
    if not isinstance(listed, list):
        raise fail('"holidays" must be a list')
    rest: set[date] = set()
    work: set[date] = set()
    entries = []
    for number, holiday in enumerate(listed, start=1):
        name = holiday.get("name_zh", "?") if isinstance(holiday, dict) else "?"
        here = f"holiday {number} ({name})"
        if not isinstance(holiday, dict) or set(holiday) - _HOLIDAY_KEYS:
            raise fail(f"{here}: a holiday has name_zh, name_en, rest and workdays only")
        try:
            first, last = (date.fromisoformat(day) for day in holiday["rest"])
            makeups = [date.fromisoformat(day) for day in holiday.get("workdays", [])]
        except (KeyError, TypeError, ValueError):
            raise fail(f'{here}: "rest" must be ["YYYY-MM-DD", "YYYY-MM-DD"] (first and last day off) and '
                       f'"workdays" a list of YYYY-MM-DD') from None
        if not timedelta(0) <= last - first <= timedelta(days=MAX_HOLIDAY_DAYS):
            raise fail(f'{here}: "rest" must run forward from the first to the last day off, '
                       f"at most {MAX_HOLIDAY_DAYS + 1} days")
        far = [day.isoformat() for day in (first, last, *makeups) if not _near_year(day, year)]
        if far:
            raise fail(f"{here}: {', '.join(far)} is not in {year} (nor in the days at its edges); check the year")
        weekdays = [day.isoformat() for day in makeups if day.weekday() < 5]
        if weekdays:
            raise fail(f"{here}: make-up workdays must fall on a Saturday or Sunday, not {', '.join(weekdays)}")
        days_off = {first + timedelta(days=offset) for offset in range((last - first).days + 1)}
        twice = sorted(day.isoformat() for day in days_off & rest)
        if twice:
            raise fail(f"{here}: {', '.join(twice)} is already a day off of another holiday")
        clash = sorted(day.isoformat() for day in set(makeups) & (days_off | rest))
        if clash:
            raise fail(f"{here}: {', '.join(clash)} cannot be both a day off and a make-up workday")
        rest |= days_off
        work.update(makeups)
        entries.append({"name_zh": str(holiday.get("name_zh", "")), "name_en": str(holiday.get("name_en", "")),
                        "rest": [first.isoformat(), last.isoformat()],
                        "workdays": [day.isoformat() for day in makeups]})
    clash = sorted(day.isoformat() for day in rest & work)
    if clash:
        raise fail(f"{', '.join(clash)} cannot be both a day off and a make-up workday")
    return YearSchedule(year, frozenset(rest), frozenset(work), source, tuple(entries))


CALENDAR_YEARS_TYPE = "pointkit.calendar-years/v1"


def _near_year(day: date, year: int) -> bool:
    """In ``year``, or within a holiday's length of its edges (元旦 may start on 31 December)."""
    edge = timedelta(days=MAX_HOLIDAY_DAYS)
    return date(year, 1, 1) - edge <= day <= date(year, 12, 31) + edge


@cache
def default_calendar() -> Calendar:
    """The calendar this process counts on, loaded once (shipped files plus $POINTKIT_CALENDAR_DIR)."""
    return Calendar.load()
