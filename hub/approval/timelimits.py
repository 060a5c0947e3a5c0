"""Time limits on the hub's clock: deadlines in each limit's unit, pauses, warning and overdue.

The clock starts at 受理 at the point: the case's received time as the
point's clock said, corrected by the offset the point measured against the
hub (never later than the hub's own receipt). Each limit counts in the unit
its rule states (ServiceItem.legal_unit / promised_unit): working days on the
county calendar (sync.kit.workdays) or natural days, where a natural-day
period that ends on a rest day ends on the next working day (民法典 第二百零三条).
While a 补正 or a special procedure (hub/approval/procedures.py, 行政许可法
第四十五条) is open the clock stands still; when the last pause ends, a
working-day limit moves by the working days it stood still and a natural-day
limit by the natural days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from sync.catalog import DEFAULT_SUPPLEMENT_DAYS, DEFAULT_SUPPLEMENT_UNIT, DayUnit, Renewal, ServiceItem
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
    # The unit elapsed_days and limit_days count in.
    unit: DayUnit = "working_days"

    def to_dict(self) -> dict:
        return {"state": self.state, "elapsed_days": self.elapsed_days, "limit_days": self.limit_days,
                "due_date": self.due_date.isoformat() if self.due_date else None, "unit": self.unit}


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
    """Promised and legal due dates in their units, extended by the pauses so far."""
    case.due_date, case.legal_due_date = due_dates(county_date(intake_moment(case, point_offset_ms)), item,
                                                   case.paused_days, calendar=calendar,
                                                   paused_natural_days=case.paused_natural_days)


def due_dates(start: date, item: ServiceItem, paused_days: int = 0, *, calendar: Calendar,
              paused_natural_days: int = 0) -> tuple[date, date]:
    """(promised, legal) due dates of a case received on ``start``, each in its limit's unit, after pauses
    that stood ``paused_days`` working days and ``paused_natural_days`` natural days, counted on ``calendar``
    (the county's: hub/catalog/calendar.py)."""
    return (limit_end(start, item.promised_days, item.promised_unit, paused_days, paused_natural_days,
                      calendar=calendar),
            limit_end(start, item.legal_days, item.legal_unit, paused_days, paused_natural_days, calendar=calendar))


def limit_end(start: date, days: int, unit: DayUnit, paused_days: int = 0, paused_natural_days: int = 0, *,
              calendar: Calendar) -> date:
    """The last day of a limit of ``days`` in ``unit`` from ``start``, moved by the pause in the same unit."""
    return _period_end(calendar, start, days + (paused_days if unit == "working_days" else paused_natural_days),
                       unit)


@lru_cache(maxsize=4096)
def _period_end(calendar: Calendar, start: date, days: int, unit: DayUnit) -> date:
    # Counted day by day; a day's cases share a handful of answers (ingest asks for every case it routes).
    return calendar.period_end(start, days, unit)


def limit_units(item: ServiceItem | None) -> dict:
    """Both limits with their units, as the API and the pages give them."""
    if item is None:
        return {}
    return {"promised_days": item.promised_days, "promised_unit": item.promised_unit,
            "legal_days": item.legal_days, "legal_unit": item.legal_unit}


def supplement_period(item: ServiceItem | None) -> tuple[int, DayUnit]:
    """How long a resident has to answer a 补正 of ``item``: (days, unit), the catalog's default without one."""
    return (item.supplement_days, item.supplement_unit) if item else (DEFAULT_SUPPLEMENT_DAYS, DEFAULT_SUPPLEMENT_UNIT)


def supplement_return_by(requested_on: date, days: int, unit: DayUnit, *, calendar: Calendar) -> date:
    """The last day for the resident to bring what a 补正 asks for: ``days`` counted from the day after the
    request, working days on the county calendar or natural days. A natural-day period that ends on a rest day
    ends on the next working day (民法典 第二百零三条)."""
    return calendar.period_end(requested_on, days, unit)


def supplement_overdue(supplement: SupplementRound, case: Case, today: date) -> bool:
    """Whether the resident let the 补正 round's return date pass without bringing the materials while the
    case still waits for them (the clock stays paused: the department decides what follows)."""
    return (supplement.supplemented_at is None and supplement.return_by is not None
            and today > supplement.return_by and case.status == "supplement_requested")


def pause(case: Case, at: datetime) -> None:
    """A 补正 or a special procedure began: the clock stops at ``at`` (a pause begun while another is open
    keeps the first stop; the clock runs again when the last one ends)."""
    if case.paused_since is None:
        case.paused_since = at


def resume(case: Case, at: datetime, *, calendar: Calendar, item: ServiceItem | None = None,
           point_offset_ms: int = 0) -> int:
    """The last open pause ended: add the working days and the natural days the clock stood still and move
    both deadlines, each in its unit (counted again from intake with ``item``; without it, both limits are
    taken as working days, as before units); return the working days."""
    if case.paused_since is None:
        return 0
    stopped_on, resumed_on = county_date(as_utc(case.paused_since)), county_date(as_utc(at))
    stood = calendar.working_days_between(stopped_on, resumed_on)
    case.paused_since = None
    case.paused_days += stood
    case.paused_natural_days += calendar.days_between(stopped_on, resumed_on, "natural_days")
    if item is not None and case.due_date is not None:
        set_deadlines(case, item, point_offset_ms, calendar=calendar)
        return stood
    if case.due_date is not None:
        case.due_date = calendar.add_working_days(case.due_date, stood)
    if case.legal_due_date is not None:
        case.legal_due_date = calendar.add_working_days(case.legal_due_date, stood)
    return stood


def time_state(case: Case, limit_days: int, today: date, warn_share: float = DEFAULT_WARN_SHARE, *,
               calendar: Calendar, unit: DayUnit = "working_days") -> TimeState:
    """Normal, warning (yellow: ``warn_share`` of the limit used), overdue (red: past the due date),
    paused (补正 or a special procedure) or done (decided), counted on ``today`` in the limit's ``unit``; a
    decided case's clock stopped on the day of its decision, so its elapsed days stay what they were then."""
    if case.due_date is None:
        return TimeState(NORMAL, 0, limit_days, None, unit)
    decided = case.status not in OPEN_STATUSES and case.paused_since is None
    counted_to = county_date(as_utc(case.decided_at)) if decided and case.decided_at is not None else today
    if unit == "natural_days":
        # Counted from intake: the due date may lie past the limit's last day (moved off a rest day).
        elapsed = (counted_to - county_date(intake_moment(case, 0))).days - case.paused_natural_days
    else:
        elapsed = (limit_days - calendar.days_between(counted_to, case.due_date, unit) if counted_to <= case.due_date
                   else limit_days + calendar.days_between(case.due_date, counted_to, unit))
    if case.paused_since is not None:
        stood = calendar.days_between(county_date(as_utc(case.paused_since)), today, unit)
        return TimeState(PAUSED, max(0, elapsed - stood), limit_days, case.due_date, unit)
    if decided:
        return TimeState(DONE, max(0, elapsed), limit_days, case.due_date, unit)
    if today > case.due_date:
        return TimeState(OVERDUE, elapsed, limit_days, case.due_date, unit)
    if limit_days == 0 or elapsed >= warn_share * limit_days:
        return TimeState(WARNING, max(0, elapsed), limit_days, case.due_date, unit)
    return TimeState(NORMAL, max(0, elapsed), limit_days, case.due_date, unit)


def promised_time_state(case: Case, item: ServiceItem | None, today: date, warn_share: float = DEFAULT_WARN_SHARE,
                        *, calendar: Calendar) -> TimeState:
    """``time_state`` against the item's promised limit in its unit (a limit of 0 without the item)."""
    return time_state(case, item.promised_days if item else 0, today, warn_share, calendar=calendar,
                      unit=item.promised_unit if item else "working_days")


def renewal_expiry(form: dict, renewal: Renewal | None) -> date | None:
    """The licence's current expiry as the renewal's form gives it (None: not a renewal, or no valid date)."""
    if renewal is None:
        return None
    try:
        return date.fromisoformat(str(form.get(renewal.expiry_field, "")))
    except ValueError:
        return None


def renewed_validity(expiry: date, years: int) -> date:
    """The renewed licence's last valid day: ``years`` after the old expiry. The renewed period starts the day
    after the old one ends, so its last day is the old expiry's date ``years`` on (28 February for 29 February)."""
    try:
        return expiry.replace(year=expiry.year + years)
    except ValueError:
        return expiry.replace(year=expiry.year + years, day=28)


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
