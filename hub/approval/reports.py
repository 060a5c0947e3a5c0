"""The monthly report (月度报告) the county service centre sends up every month: volumes, timeliness, 补正,
deemed approvals, complaints, cards, supervision orders and ratings, per department, item, point and clerk.

A month is a county month (Asia/Shanghai): a case belongs to the month its 受理 fell in on the hub's clock
(``timelimits.intake_moment``), a decision to the month it was made in. The figures are read from the tables
as they stand and change nothing; docs/reports.md says how each one is counted. The trend figures (on-time rate
per department over twelve months, backlog per point at the month's end) feed the report page's charts.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone

from sqlmodel import Session, or_, select

from sync.kit.workdays import COUNTY_TIMEZONE, Calendar, county_date

from hub.approval.timelimits import intake_moment, on_time
from hub.catalog.calendar import county_calendar
from hub.core.clock import as_utc, utc_now
from hub.core.models import (
    Case,
    Complaint,
    Department,
    Point,
    Rating,
    ReviewTask,
    SupervisionCard,
    SupervisionOrder,
    SupplementRound,
)
from hub.core.timeline import HUB_ACTOR

TREND_MONTHS = 12
LOW_SCORE = 2
# Duplicates an operator merged into another case and arrivals the conflict desk refused were never cases of
# their own: the case they were merged into counts once.
NOT_COUNTED = ("merged", "refused")
# Cases that left the backlog without being collected.
ENDED_OPEN = ("withdrawn", "merged", "refused")
# Case ids per IN (...) query: well under SQLite's and PostgreSQL's limits on bound parameters.
PREFETCH_CHUNK = 500
_MONTH = re.compile(r"(\d{4})-(\d{2})")


class ReportError(ValueError):
    """A month the report cannot be made for; ``reason`` is a stable word."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Month:
    """One county month: its first and last day and its bounds as UTC moments (end exclusive)."""

    first: date
    last: date

    @property
    def label(self) -> str:
        return f"{self.first:%Y-%m}"

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(0), COUNTY_TIMEZONE).astimezone(timezone.utc)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.following().first, time(0), COUNTY_TIMEZONE).astimezone(timezone.utc)

    def holds(self, moment: datetime | None) -> bool:
        return moment is not None and self.first <= county_date(as_utc(moment)) <= self.last

    def following(self) -> "Month":
        return month_of(date(self.first.year + self.first.month // 12, self.first.month % 12 + 1, 1))

    def previous(self) -> "Month":
        year, month = (self.first.year, self.first.month - 1) if self.first.month > 1 else (self.first.year - 1, 12)
        return month_of(date(year, month, 1))


def month_of(day: date) -> Month:
    """The county month ``day`` falls in."""
    first = day.replace(day=1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return Month(first, date.fromordinal(following.toordinal() - 1))


def parse_month(text: str, *, today: date) -> Month:
    """``YYYY-MM`` as a county month; a month not begun by ``today`` has nothing to report."""
    match = _MONTH.fullmatch(text.strip())
    if match is None or not 1 <= int(match.group(2)) <= 12 or not 2000 <= int(match.group(1)) <= 2200:
        raise ReportError("bad_month", f"month {text!r} is not a month: write it as YYYY-MM, e.g. 2026-11")
    month = month_of(date(int(match.group(1)), int(match.group(2)), 1))
    if month.first > today:
        raise ReportError("future_month", f"month {month.label} has not begun yet; pick {month_of(today).label} "
                                          "or an earlier month")
    return month


@dataclass
class Figures:
    """One row of the report: a department, an item, a point or a clerk (``place``: the clerk's point)."""

    key: str
    name: str
    place: str = ""
    received: int = 0
    decided: int = 0
    on_time: int = 0
    on_time_legal: int = 0
    working_days: list[int] = field(default_factory=list)
    supplemented: int = 0
    deemed: int = 0
    complaints: int = 0
    complaints_answered: int = 0
    complaints_on_time: int = 0
    yellow_cards: int = 0
    red_cards: int = 0
    legal_cards: int = 0
    orders: int = 0
    orders_answered: int = 0
    orders_on_time: int = 0
    scores: list[int] = field(default_factory=list)

    @property
    def on_time_rate(self) -> float | None:
        return _share(self.on_time, self.decided)

    @property
    def legal_on_time_rate(self) -> float | None:
        return _share(self.on_time_legal, self.decided)

    @property
    def average_working_days(self) -> float | None:
        return round(sum(self.working_days) / len(self.working_days), 1) if self.working_days else None

    @property
    def supplement_rate(self) -> float | None:
        return _share(self.supplemented, self.decided)

    @property
    def ratings(self) -> int:
        return len(self.scores)

    @property
    def rating_average(self) -> float | None:
        return round(sum(self.scores) / len(self.scores), 2) if self.scores else None

    @property
    def low_ratings(self) -> int:
        return sum(score <= LOW_SCORE for score in self.scores)

    def count_card(self, colour: str) -> None:
        if colour == "yellow":
            self.yellow_cards += 1
        elif colour == "red":
            self.red_cards += 1
        elif colour == "legal":
            self.legal_cards += 1


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True)
class TrendLine:
    """One department's on-time rate (promised limit) per month, oldest first; None where it decided nothing."""

    code: str
    name: str
    rates: list[float | None]


@dataclass
class MonthlyReport:
    """Everything the report's files and page show for one month."""

    month: Month
    generated_at: datetime
    departments: list[Figures]
    items: list[Figures]
    points: list[Figures]
    clerks: list[Figures]
    trend_months: list[str]
    trend: list[TrendLine]
    backlog: list[tuple[str, int]]

    def dimension(self, name: str) -> list[Figures]:
        return getattr(self, name)


@dataclass(frozen=True)
class Decision:
    """A decision counted in the month: the case, when it was decided and whether it was deemed (视为准予)."""

    case: Case
    decided_at: datetime
    deemed: bool


class _Rows:
    """The rows of one dimension, made on first use; listed by code (departments, items) or by place and name."""

    def __init__(self, *, by_code: bool):
        self.rows: dict[str, Figures] = {}
        self.by_code = by_code

    def get(self, key: str, name: str, place: str = "") -> Figures:
        if key not in self.rows:
            self.rows[key] = Figures(key, name, place)
        return self.rows[key]

    def sorted(self) -> list[Figures]:
        return sorted(self.rows.values(), key=lambda row: (row.key,) if self.by_code else (row.place, row.name, row.key))


class _Builder:
    """Reads the month's rows once and files each fact under every row it belongs to."""

    def __init__(self, session: Session, month: Month, *, chinese: bool):
        self.session, self.month = session, month
        self.calendar: Calendar = county_calendar(session)
        self.points = {point.id: point for point in session.exec(select(Point)).all()}
        self.department_names = {d.code: d.name_zh if chinese else d.name_en
                                 for d in session.exec(select(Department)).all()}
        self.departments, self.items = _Rows(by_code=True), _Rows(by_code=True)
        self.point_rows, self.clerks = _Rows(by_code=False), _Rows(by_code=False)
        for code, name in sorted(self.department_names.items()):
            self.departments.get(code, name)
        self._tasks: dict[str, list[ReviewTask]] = {}
        self._supplements: dict[str, set[str]] = {}

    # Where a case's facts go -------------------------------------------------------------------------------------

    def point_name(self, point_id: uuid.UUID | None) -> str:
        point = self.points.get(point_id) if point_id else None
        return point.name if point else ""

    def case_rows(self, case: Case) -> list[Figures]:
        """The item, point and clerk rows a case's facts count in (departments go by their own tasks)."""
        point = self.point_name(case.point_id)
        clerk = case.first_contact_name or case.staff
        return [self.items.get(case.item_code, case.item_name),
                self.point_rows.get(str(case.point_id), point),
                self.clerks.get(f"{case.point_id}/{clerk}", clerk, point)]

    def department_row(self, code: str) -> Figures:
        return self.departments.get(code, self.department_names.get(code, code))

    def prefetch(self, cases: list[Case]) -> list[Case]:
        """Read the tasks and 补正 rounds of ``cases`` in a few queries, not two per case (a month holds thousands)."""
        wanted = [case.id for case in cases if case.id not in self._tasks]
        for start in range(0, len(wanted), PREFETCH_CHUNK):
            chunk = wanted[start:start + PREFETCH_CHUNK]
            for case_id in chunk:
                self._tasks[case_id], self._supplements[case_id] = [], set()
            for task in self.session.exec(select(ReviewTask).where(ReviewTask.case_id.in_(chunk))):  # type: ignore[attr-defined]
                self._tasks[task.case_id].append(task)
            for case_id, code in self.session.exec(select(SupplementRound.case_id, SupplementRound.department_code)
                                                   .where(SupplementRound.case_id.in_(chunk))):  # type: ignore[attr-defined]
                self._supplements[case_id].add(code)
        return cases

    def tasks(self, case: Case) -> list[ReviewTask]:
        return self._tasks[self.prefetch([case])[0].id]

    def supplementing(self, case: Case) -> set[str]:
        """The departments that asked this case for 补正."""
        return self._supplements[self.prefetch([case])[0].id]

    def intake_day(self, case: Case) -> date:
        point = self.points.get(case.point_id)
        return county_date(intake_moment(case, point.clock_offset_ms if point else 0))

    # The facts ---------------------------------------------------------------------------------------------------

    def count_received(self) -> None:
        # 受理 is never after the hub's receipt: a case received this month reached the hub this month or later.
        arrived = self.session.exec(select(Case).where(Case.hub_received_at >= self.month.start,
                                                       Case.status.not_in(NOT_COUNTED))).all()  # type: ignore[attr-defined]
        for case in self.prefetch([case for case in arrived
                                   if self.month.first <= self.intake_day(case) <= self.month.last]):
            for row in self.case_rows(case):
                row.received += 1
            for code in {task.department_code for task in self.tasks(case)}:
                self.department_row(code).received += 1

    def count_decided(self) -> None:
        in_month = (Case.decided_at >= self.month.start, Case.decided_at < self.month.end)  # type: ignore[operator]
        for case in self.prefetch(list(self.session.exec(select(Case).where(
                *in_month, Case.decision.in_(("approved", "rejected")),  # type: ignore[union-attr]
                Case.status.not_in(NOT_COUNTED))))):  # type: ignore[attr-defined]
            decision = Decision(case, case.decided_at, bool(((case.result or {}).get("document") or {}).get(
                "deemed_approval")))
            self.count_decision(self.case_rows(case), decision, supplemented=bool(self.supplementing(case)))
        tasks = self.session.exec(select(ReviewTask, Case).join(Case, Case.id == ReviewTask.case_id).where(
            ReviewTask.decided_at >= self.month.start, ReviewTask.decided_at < self.month.end,  # type: ignore[operator]
            ReviewTask.status.in_(("approved", "rejected")), ReviewTask.decided_by != "",  # type: ignore[attr-defined]
            Case.status.not_in(NOT_COUNTED))).all()  # type: ignore[attr-defined]
        self.prefetch([case for _task, case in tasks])
        for task, case in tasks:
            decision = Decision(case, task.decided_at, task.decided_by == HUB_ACTOR and task.status == "approved")
            self.count_decision([self.department_row(task.department_code)], decision,
                                supplemented=task.department_code in self.supplementing(case))

    def count_decision(self, rows: Iterable[Figures], decision: Decision, *, supplemented: bool) -> None:
        case, decided_on = decision.case, county_date(as_utc(decision.decided_at))
        used = max(0, self.calendar.working_days_between(self.intake_day(case), decided_on) - case.paused_days)
        for row in rows:
            row.decided += 1
            row.on_time += bool(on_time(case, decision.decided_at))
            row.on_time_legal += case.legal_due_date is not None and decided_on <= case.legal_due_date
            row.working_days.append(used)
            row.supplemented += supplemented
            row.deemed += decision.deemed

    def count_complaints(self) -> None:
        complaints = self.session.exec(select(Complaint).where(or_(
            Complaint.received_at >= self.month.start, Complaint.replied_at >= self.month.start)))  # type: ignore[operator]
        for complaint in complaints:
            rows = self.complaint_rows(complaint)
            received, replied = self.month.holds(complaint.received_at), self.month.holds(complaint.replied_at)
            in_time = replied and complaint.reply_due is not None and county_date(
                as_utc(complaint.replied_at)) <= complaint.reply_due
            for row in rows:
                row.complaints += received
                row.complaints_answered += replied
                row.complaints_on_time += in_time

    def complaint_rows(self, complaint: Complaint) -> list[Figures]:
        """A complaint counts for the department that must answer it, the item and point it is about (or the point
        of the case it is about) and the clerk it names."""
        case = self.session.get(Case, complaint.case_id) if complaint.case_id else None
        rows = []
        department = complaint.assigned_department or complaint.department_code
        if department:
            rows.append(self.department_row(department))
        if case is not None:
            rows.append(self.items.get(case.item_code, case.item_name))
        point_id = complaint.about_point_id or (case.point_id if case else None) or complaint.point_id
        if complaint.about_point_id or case is not None:
            rows.append(self.point_rows.get(str(point_id), self.point_name(point_id)))
        if complaint.about_staff:
            point = self.point_name(point_id)
            rows.append(self.clerks.get(f"{point_id}/{complaint.about_staff}", complaint.about_staff, point))
        return rows

    def count_cards(self) -> None:
        cards = self.session.exec(select(SupervisionCard).where(SupervisionCard.raised_at >= self.month.start,
                                                                SupervisionCard.raised_at < self.month.end))
        for card in cards:
            case = self.session.get(Case, card.case_id)
            rows = [self.department_row(card.department_code)] + (self.case_rows(case) if case else [])
            for row in rows:
                row.count_card(card.colour)

    def count_orders(self) -> None:
        orders = self.session.exec(select(SupervisionOrder).where(or_(
            SupervisionOrder.issued_at >= self.month.start, SupervisionOrder.answered_at >= self.month.start)))  # type: ignore[operator]
        for order in orders:
            case = self.session.get(Case, order.case_id) if order.case_id else None
            answered = self.month.holds(order.answered_at)
            for row in [self.department_row(order.department_code)] + (self.case_rows(case) if case else []):
                row.orders += self.month.holds(order.issued_at)
                row.orders_answered += answered
                row.orders_on_time += answered and county_date(as_utc(order.answered_at)) <= order.due_date

    def count_ratings(self) -> None:
        ratings = self.session.exec(select(Rating, Case).join(Case, Case.id == Rating.case_id).where(
            Rating.rated_at >= self.month.start, Rating.rated_at < self.month.end)).all()
        self.prefetch([case for _rating, case in ratings])
        for rating, case in ratings:
            departments = {task.department_code for task in self.tasks(case) if task.status != "cancelled"}
            for row in self.case_rows(case) + [self.department_row(code) for code in sorted(departments)]:
                row.scores.append(rating.score)


def monthly_report(session: Session, month: Month, *, chinese: bool = True) -> MonthlyReport:
    """The report for ``month``: the four tables, the twelve months' on-time trend and the month-end backlog."""
    builder = _Builder(session, month, chinese=chinese)
    builder.count_received()
    builder.count_decided()
    builder.count_complaints()
    builder.count_cards()
    builder.count_orders()
    builder.count_ratings()
    months = trend_months(month)
    return MonthlyReport(
        month=month, generated_at=utc_now(), departments=builder.departments.sorted(), items=builder.items.sorted(),
        points=builder.point_rows.sorted(), clerks=builder.clerks.sorted(),
        trend_months=[m.label for m in months], trend=on_time_trend(session, months, builder.department_names),
        backlog=month_end_backlog(session, month, builder))


def trend_months(month: Month) -> list[Month]:
    """The ``TREND_MONTHS`` months ending with ``month``, oldest first."""
    months = [month]
    while len(months) < TREND_MONTHS:
        months.insert(0, months[0].previous())
    return months


def on_time_trend(session: Session, months: list[Month], names: dict[str, str]) -> list[TrendLine]:
    """Per department that decided anything in these months, its on-time rate (promised limit) in each."""
    counts: dict[str, list[list[int]]] = {}
    decided = session.exec(select(ReviewTask, Case).join(Case, Case.id == ReviewTask.case_id).where(
        ReviewTask.decided_at >= months[0].start, ReviewTask.decided_at < months[-1].end,  # type: ignore[operator]
        ReviewTask.status.in_(("approved", "rejected")), ReviewTask.decided_by != "",  # type: ignore[attr-defined]
        Case.status.not_in(NOT_COUNTED)))  # type: ignore[attr-defined]
    for task, case in decided:
        index = next(i for i, month in enumerate(months) if month.holds(task.decided_at))
        slots = counts.setdefault(task.department_code, [[0, 0] for _ in months])
        slots[index][0] += 1
        slots[index][1] += bool(on_time(case, task.decided_at))
    return [TrendLine(code, names.get(code, code), [_share(kept, total) for total, kept in counts[code]])
            for code in sorted(counts)]


def month_end_backlog(session: Session, month: Month, builder: _Builder) -> list[tuple[str, int]]:
    """Per active point, its cases received by the month's end and not yet collected (办结) then, largest first."""
    end = min(month.end, utc_now())
    backlog = {point.name: 0 for point in builder.points.values() if point.status == "active"}
    open_then = session.exec(select(Case).where(Case.status.not_in(ENDED_OPEN),  # type: ignore[attr-defined]
                                                or_(Case.closed_at.is_(None), Case.closed_at >= end)))  # type: ignore[union-attr]
    for case in open_then:
        if builder.intake_day(case) <= month.last:
            name = builder.point_name(case.point_id)
            backlog[name] = backlog.get(name, 0) + 1
    return sorted(backlog.items(), key=lambda pair: (-pair[1], pair[0]))
