"""Time limits on the hub's working-day clock: deadlines, the 补正 pause, warning and overdue.

The clock starts at 受理 at the point: the case's received time as the
point's clock said, corrected by the offset the point measured against the
hub (never later than the hub's own receipt). Limits count working days on
the county calendar (sync.kit.workdays). While a supplement request is open the
clock stands still; the working days it stood still extend both deadlines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from sync.catalog import DEFAULT_SUPPLEMENT_DAYS, DEFAULT_SUPPLEMENT_UNIT, DayUnit, ServiceItem
from sync.kit.workdays import Calendar, county_date

from hub.core.clock import as_utc
from hub.core.models import Case, SupplementRound

DEFAULT_WARN_SHARE = 0.8
# What supervision calls each state; "paused" is a case waiting for the resident's materials.
NORMAL, WARNING, OVERDUE, PAUSED, DONE = "normal", "warning", "overdue", "paused", "done"
OPEN_STATUSES = ("routed", "in_review", "supplement_requested")


@dataclass(frozen=True)
class TimeState:
    """Where a case stands against its promised limit on ``today``."""

    state: str
    elapsed_days: int
    limit_days: int
    due_date: date | None

    def to_dict(self) -> dict:
        return {"state": self.state, "elapsed_days": self.elapsed_days, "limit_days": self.limit_days,
                "due_date": self.due_date.isoformat() if self.due_date else None}


def intake_moment(case: Case, point_offset_ms: int) -> datetime:
    """受理 on the hub's clock: the point's received time plus its offset, capped at the hub's receipt.

    The case's own offset (measured when it was received) wins over the point's latest one. A time an
    operator accepted for a claim the hub could not believe (hub/intake/intaketime.py) wins over both.
    """
    if case.vouched_intake is not None:
        return as_utc(case.vouched_intake)
    return intake_on_hub_clock(case.received_at, case.clock_offset_ms, point_offset_ms, case.hub_received_at)


def intake_on_hub_clock(received_at: datetime, case_offset_ms: int | None, point_offset_ms: int,
                        hub_received_at: datetime) -> datetime:
    """intake_moment of a case not built yet (the bulk path of ingest)."""
    offset = case_offset_ms if case_offset_ms is not None else point_offset_ms
    return min(as_utc(received_at) + timedelta(milliseconds=offset), as_utc(hub_received_at))


def set_deadlines(case: Case, item: ServiceItem, point_offset_ms: int, *, calendar: Calendar) -> None:
    """Promised and legal due dates, extended by the working days paused so far."""
    case.due_date, case.legal_due_date = due_dates(county_date(intake_moment(case, point_offset_ms)), item,
                                                   case.paused_days, calendar=calendar)


def due_dates(start: date, item: ServiceItem, paused_days: int = 0, *, calendar: Calendar) -> tuple[date, date]:
    """(promised, legal) due dates of a case received on ``start`` after ``paused_days`` of 补正 pause, counted on
    ``calendar`` (the county's: hub/catalog/calendar.py)."""
    return (_working_days_after(calendar, start, item.promised_days + paused_days),
            _working_days_after(calendar, start, item.legal_days + paused_days))


@lru_cache(maxsize=4096)
def _working_days_after(calendar: Calendar, start: date, days: int) -> date:
    # Counted day by day; a day's cases share a handful of answers (ingest asks for every case it routes).
    return calendar.add_working_days(start, days)


def supplement_period(item: ServiceItem | None) -> tuple[int, DayUnit]:
    """How long a resident has to answer a 补正 of ``item``: (days, unit), the catalog's default without one."""
    return (item.supplement_days, item.supplement_unit) if item else (DEFAULT_SUPPLEMENT_DAYS, DEFAULT_SUPPLEMENT_UNIT)


def supplement_return_by(requested_on: date, days: int, unit: DayUnit, *, calendar: Calendar) -> date:
    """The last day for the resident to bring what a 补正 asks for: ``days`` counted from the day after the
    request, working days on the county calendar or natural days. A natural-day period that ends on a rest day
    ends on the next working day (民法典 第二百零三条)."""
    if unit == "working_days":
        return calendar.add_working_days(requested_on, days)
    last = requested_on + timedelta(days=days)
    while not calendar.is_working_day(last):
        last += timedelta(days=1)
    return last


def supplement_overdue(supplement: SupplementRound, case: Case, today: date) -> bool:
    """Whether the resident let the 补正 round's return date pass without bringing the materials while the
    case still waits for them (the clock stays paused: the department decides what follows)."""
    return (supplement.supplemented_at is None and supplement.return_by is not None
            and today > supplement.return_by and case.status == "supplement_requested")


def pause(case: Case, at: datetime) -> None:
    """A supplement was requested: the clock stops at ``at`` (a second request keeps the first stop)."""
    if case.paused_since is None:
        case.paused_since = at


def resume(case: Case, at: datetime, *, calendar: Calendar) -> int:
    """The materials came back: add the working days the clock stood still and move both deadlines
    that far; return those days."""
    if case.paused_since is None:
        return 0
    stood = calendar.working_days_between(county_date(as_utc(case.paused_since)), county_date(at))
    case.paused_since = None
    case.paused_days += stood
    if case.due_date is not None:
        case.due_date = calendar.add_working_days(case.due_date, stood)
    if case.legal_due_date is not None:
        case.legal_due_date = calendar.add_working_days(case.legal_due_date, stood)
    return stood


def time_state(case: Case, limit_days: int, today: date, warn_share: float = DEFAULT_WARN_SHARE, *,
               calendar: Calendar) -> TimeState:
    """Normal, warning (yellow: ``warn_share`` of the limit used), overdue (red: past the due date),
    paused (补正) or done (decided), counted on ``today``; a decided case's clock stopped on the day of
    its decision, so its elapsed days stay what they were then."""
    if case.due_date is None:
        return TimeState(NORMAL, 0, limit_days, None)
    decided = case.status not in OPEN_STATUSES and case.paused_since is None
    counted_to = county_date(as_utc(case.decided_at)) if decided and case.decided_at is not None else today
    elapsed = (limit_days - calendar.working_days_between(counted_to, case.due_date) if counted_to <= case.due_date
               else limit_days + calendar.working_days_between(case.due_date, counted_to))
    if case.paused_since is not None:
        stood = calendar.working_days_between(county_date(as_utc(case.paused_since)), today)
        return TimeState(PAUSED, max(0, elapsed - stood), limit_days, case.due_date)
    if decided:
        return TimeState(DONE, max(0, elapsed), limit_days, case.due_date)
    if today > case.due_date:
        return TimeState(OVERDUE, elapsed, limit_days, case.due_date)
    if limit_days == 0 or elapsed >= warn_share * limit_days:
        return TimeState(WARNING, max(0, elapsed), limit_days, case.due_date)
    return TimeState(NORMAL, max(0, elapsed), limit_days, case.due_date)


def calendar_gaps(case: Case, *, calendar: Calendar) -> list[int]:
    """Years from 受理 to the case's later deadline that ``calendar`` holds no schedule for: there its
    limits count weekends only, and a public holiday would move them (say so to staff)."""
    ends = [day for day in (case.due_date, case.legal_due_date) if day is not None]
    if not ends:
        return []
    return calendar.missing_years(county_date(intake_moment(case, 0)), max(ends))


def on_time(case: Case, decided_at: datetime | None) -> bool | None:
    """Whether a decision made at ``decided_at`` kept the promised limit (None: not decided yet)."""
    if decided_at is None or case.due_date is None:
        return None
    return county_date(as_utc(decided_at)) <= case.due_date
