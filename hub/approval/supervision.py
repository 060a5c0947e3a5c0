"""Electronic supervision (电子监察): time-limit states, silence-is-consent, cards, orders, on-time rates, ratings.

``supervision_round`` is the periodic check (the serving process runs it on a timer,
``pointkit-hub supervise`` runs it once): every open case of an item that
says silence is consent and whose legal limit has passed without a decision
is deemed approved, audited, and its result goes to the point like any
other; then cards are cleared where their department decided, new yellow, red and
legal-limit cards are raised (hub/approval/cards.py), red and legal ones raise a
supervision order (hub/approval/orders.py), and low ratings from before follow-ups
had a due date get one. The rest of the module reads figures for the supervision
page and its CSV export; it changes nothing.
"""

from __future__ import annotations

import csv
import io
import logging
import threading
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, func, or_, select

from sync.catalog import ServiceItem
from sync.keys import Identity
from sync.kit.cells import spreadsheet_cell
from sync.kit.workdays import Calendar, county_date

from hub.approval.cards import LEGAL, RED, YELLOW, clear_settled_cards, open_cards, raise_cards, waiting_for_leads
from hub.approval.orders import is_overdue, order_for_card
from hub.approval.review import deem_approved
from hub.approval.timelimits import (
    DEFAULT_WARN_SHARE,
    OPEN_STATUSES,
    OVERDUE,
    WARNING,
    calendar_gaps,
    on_time,
    promised_time_state,
    supplement_overdue,
)
from hub.catalog.calendar import county_calendar
from hub.catalog.versions import find_item
from hub.core.clock import as_utc, iso, utc_now
from hub.core.db import session_scope, write_lock
from hub.core.leases import DEFAULT_LEASE_S, start_timer
from hub.core.models import (
    Case,
    Department,
    Point,
    Rating,
    ReviewTask,
    SupervisionCard,
    SpecialProcedure,
    SupervisionOrder,
    SupplementRound,
)
from hub.core.timeline import HUB_ACTOR, record_event
from hub.trust.keys import ensure_keys

log = logging.getLogger(__name__)
# A low rating (差评, 1 or 2) is followed up within this many working days of its arrival at the hub.
FOLLOW_UP_DAYS = 3
LOW_SCORE = 2
SUPERVISION_TIMER = "supervision"


def item_lookup(session: Session):
    """``code -> ServiceItem | None``, each code read once per call site."""
    return cache(lambda code: find_item(session, code))


def supervise(session: Session, identity: Identity, *, now: datetime | None = None) -> list[str]:
    """Deem approved every silent-consent case past its legal limit; return their ids (caller commits)."""
    today = county_date(now or utc_now())
    items = item_lookup(session)
    deemed = []
    candidates = session.exec(select(Case).where(
        Case.status.in_(("routed", "in_review")),  # type: ignore[attr-defined]
        or_(Case.legal_due_date < today, Case.deemed_on <= today))).all()  # type: ignore[operator]
    for case in candidates:
        item = items(case.item_code)
        if item is None or not item.deemed_approval or case.paused_since is not None:
            continue
        # A renewal (第五十条) must be decided before the licence expires: undecided on its expiry date, it is
        # deemed granted that day, whatever its limit says. Anything else is deemed the day after its legal limit.
        if item.renewal is not None and case.deemed_on is not None:
            if case.deemed_on > today:
                continue
        elif case.legal_due_date is None or case.legal_due_date >= today:
            continue
        deem_approved(session, case, identity)
        log.info("case %s deemed approved on %s", case.id, today)
        deemed.append(case.id)
    return deemed


@dataclass(frozen=True)
class SupervisionRound:
    """What one round did: cases deemed approved, cards raised (by colour) and cleared, orders raised, low
    ratings given a follow-up due date."""

    deemed: list[str]
    cards: dict[str, int]
    cleared: int
    orders: list[str]
    follow_ups_dated: int


def supervision_round(session: Session, identity: Identity, *, now: datetime | None = None,
                      warn_share: float = DEFAULT_WARN_SHARE) -> SupervisionRound:
    """Deem approvals, clear and raise cards, raise the orders red and legal cards call for, date follow-ups
    (caller holds the write lock and commits)."""
    now = now or utc_now()
    today = county_date(now)
    deemed = supervise(session, identity, now=now)
    cleared = clear_settled_cards(session, now=now)
    items = item_lookup(session)
    cards = raise_cards(session, items=items, today=today, warn_share=warn_share, now=now)
    orders = [order.order_no for card in cards
              if (order := order_for_card(session, card, session.get(Case, card.case_id))) is not None]
    counts = {colour: sum(card.colour == colour for card in cards) for colour in (YELLOW, RED, LEGAL)}
    if cards or cleared:
        log.info("supervision: %s card(s) raised %s, %s cleared, %s order(s)", len(cards), counts, cleared,
                 len(orders))
    return SupervisionRound(deemed, counts, cleared, orders, date_open_follow_ups(session))


def supervise_once(engine: Engine, data_dir: Path, *, warn_share: float = DEFAULT_WARN_SHARE) -> SupervisionRound:
    """One supervision round in its own transaction, signing with the hub's current keys."""
    with session_scope(engine) as session:
        return supervise_in(session, data_dir, warn_share=warn_share)


def supervise_in(session: Session, data_dir: Path, *, warn_share: float = DEFAULT_WARN_SHARE) -> SupervisionRound:
    """One supervision round in the caller's transaction (the caller commits)."""
    # From its first read a round holds the write lock, so a round run by hand (``pointkit-hub supervise``)
    # and the timer's never deem the same case approved twice nor raise a card twice.
    write_lock(session)
    return supervision_round(session, ensure_keys(session, data_dir).current, warn_share=warn_share)


def start_supervisor(engine: Engine, data_dir: Path, interval_s: float, *, holder: str,
                     lease_s: float = DEFAULT_LEASE_S, warn_share: float = DEFAULT_WARN_SHARE) -> threading.Event:
    """Run a supervision round every ``interval_s`` seconds, once across every hub process on the database
    (hub/core/leases.py); set the event to stop it."""
    return start_timer(engine, SUPERVISION_TIMER, interval_s,
                       lambda session: supervise_in(session, data_dir, warn_share=warn_share),
                       holder=holder, lease_s=lease_s)


def case_time_state(case: Case, item: ServiceItem | None, today: date, warn_share: float, *,
                    calendar: Calendar) -> dict:
    return promised_time_state(case, item, today, warn_share, calendar=calendar).to_dict()


@dataclass
class DepartmentFigures:
    """One department's row on the supervision page."""

    code: str
    name: str
    decided: int = 0
    on_time: int = 0
    open: int = 0
    warning: int = 0
    overdue: int = 0
    supplement_overdue: int = 0
    ratings: list[int] = field(default_factory=list)
    # Cards not cleared yet, by colour; past the legal limit is counted apart from red.
    yellow_cards: int = 0
    red_cards: int = 0
    legal_cards: int = 0
    # Supervision orders not answered yet, and how many of them are past their deadline.
    open_orders: int = 0
    overdue_orders: int = 0

    @property
    def on_time_rate(self) -> float | None:
        return round(self.on_time / self.decided, 3) if self.decided else None

    @property
    def rating_average(self) -> float | None:
        return round(sum(self.ratings) / len(self.ratings), 2) if self.ratings else None

    def to_dict(self) -> dict:
        return {"code": self.code, "name": self.name, "decided": self.decided, "on_time": self.on_time,
                "on_time_rate": self.on_time_rate, "open": self.open, "warning": self.warning,
                "overdue": self.overdue, "supplement_overdue": self.supplement_overdue,
                "rating_average": self.rating_average, "yellow_cards": self.yellow_cards,
                "red_cards": self.red_cards, "legal_cards": self.legal_cards, "open_orders": self.open_orders,
                "overdue_orders": self.overdue_orders}


def department_figures(session: Session, *, today: date, warn_share: float = DEFAULT_WARN_SHARE,
                       chinese: bool = True) -> list[DepartmentFigures]:
    """Per department: decisions on time, open work and how much of it is yellow or red, ratings."""
    rows = {d.code: DepartmentFigures(d.code, d.name_zh if chinese else d.name_en)
            for d in session.exec(select(Department).order_by(Department.code)).all()}
    items = item_lookup(session)
    ratings = {r.case_id: r.score for r in session.exec(select(Rating)).all()}
    for task, case in session.exec(select(ReviewTask, Case).join(Case, Case.id == ReviewTask.case_id)).all():
        figures = rows.get(task.department_code)
        if figures is None:
            continue
        if task.status in ("approved", "rejected") and task.decided_by:
            figures.decided += 1
            figures.on_time += bool(on_time(case, task.decided_at))
        elif task.status in ("open", "supplement") and case.status in OPEN_STATUSES:
            figures.open += 1
            state = case_time_state(case, items(case.item_code), today, warn_share,
                                    calendar=county_calendar(session))["state"]
            figures.warning += state == WARNING
            figures.overdue += state == OVERDUE
        if case.id in ratings and task.status != "cancelled":
            figures.ratings.append(ratings[case.id])
    # A joint case waiting only for its lead's result (待牵头部门出具结论) is the lead's open work.
    for department, case in waiting_for_leads(session):
        if (figures := rows.get(department)) is not None:
            figures.open += 1
            state = case_time_state(case, items(case.item_code), today, warn_share,
                                    calendar=county_calendar(session))["state"]
            figures.warning += state == WARNING
            figures.overdue += state == OVERDUE
    for supplement in overdue_supplements(session, today=today):
        if supplement["department"] in rows:
            rows[supplement["department"]].supplement_overdue += 1
    for colour, department, count in session.exec(select(
            SupervisionCard.colour, SupervisionCard.department_code, func.count()).where(
            SupervisionCard.cleared_at.is_(None)).group_by(  # type: ignore[union-attr]
            SupervisionCard.colour, SupervisionCard.department_code)).all():
        if department in rows:
            setattr(rows[department], f"{colour}_cards", count)
    for order in session.exec(select(SupervisionOrder).where(SupervisionOrder.status == "open")).all():
        if order.department_code in rows:
            rows[order.department_code].open_orders += 1
            rows[order.department_code].overdue_orders += is_overdue(order, today)
    return list(rows.values())


def township_figures(session: Session, *, today: date, warn_share: float = DEFAULT_WARN_SHARE,
                     chinese: bool = True) -> list[dict]:
    """The township-scoped departments' open work and cards per township (每个乡镇的乡镇审批), every township point
    listed, then the villages under no township ("township" None) when they have any: each township answers for
    its own (hub/trust/townships.py)."""
    scoped = {d.code: d.name_zh if chinese else d.name_en
              for d in session.exec(select(Department).where(Department.scope == "township")).all()}
    if not scoped:
        return []
    points = {point.id: point for point in session.exec(select(Point)).all()}

    def township_of(point_id) -> str | None:
        point = points.get(point_id)
        if point is not None and point.level == "township":
            return point.name
        township = points.get(point.township_id) if point is not None and point.township_id else None
        return township.name if township is not None else None

    rows: dict[tuple[str | None, str], dict] = {}

    def row(township: str | None, code: str) -> dict:
        return rows.setdefault((township, code), {
            "township": township, "department": code, "department_name": scoped[code], "open": 0, "warning": 0,
            "overdue": 0, "yellow_cards": 0, "red_cards": 0, "legal_cards": 0})

    for point in sorted((p for p in points.values() if p.level == "township" and p.status != "revoked"),
                        key=lambda p: p.name):
        for code in sorted(scoped):
            row(point.name, code)
    items = item_lookup(session)
    for task, case in session.exec(select(ReviewTask, Case).join(Case, Case.id == ReviewTask.case_id).where(
            ReviewTask.department_code.in_(list(scoped)),  # type: ignore[attr-defined]
            ReviewTask.status.in_(("open", "supplement")),  # type: ignore[attr-defined]
            Case.status.in_(OPEN_STATUSES))).all():  # type: ignore[attr-defined]
        figures = row(township_of(case.point_id), task.department_code)
        figures["open"] += 1
        state = case_time_state(case, items(case.item_code), today, warn_share, calendar=county_calendar(session))
        figures["warning"] += state["state"] == WARNING
        figures["overdue"] += state["state"] == OVERDUE
    for card, case in open_cards(session):
        if card.department_code in scoped:
            row(township_of(case.point_id), card.department_code)[f"{card.colour}_cards"] += 1
    return sorted(rows.values(), key=lambda r: (r["township"] is None, r["township"] or "", r["department"]))


def card_rows(session: Session) -> list[dict]:
    """Cards not cleared yet, legal first, then red, then yellow: what each names."""
    names = {point.id: point.name for point in session.exec(select(Point)).all()}
    leads = {(case.id, department) for department, case in waiting_for_leads(session)}
    return [{"card_id": str(card.id), "waiting_for_lead": (case.id, card.department_code) in leads, "colour": card.colour, "case_id": case.id, "receipt_no": case.receipt_no,
             "item_name": case.item_name, "point": names.get(case.point_id, ""), "department": card.department_code,
             "reviewer": card.reviewer, "raised_at": iso(card.raised_at),
             "due_date": card.due_date.isoformat() if card.due_date else None}
            for card, case in open_cards(session)]


def overdue_supplements(session: Session, *, today: date) -> list[dict]:
    """补正 rounds whose return date passed while the case still waits for the resident's materials, longest
    overdue first: the department should decide what follows (the application counts as withdrawn)."""
    names = {point.id: point.name for point in session.exec(select(Point)).all()}
    rounds = session.exec(select(SupplementRound, Case).join(Case, Case.id == SupplementRound.case_id).where(
        SupplementRound.supplemented_at.is_(None), SupplementRound.return_by < today,  # type: ignore[union-attr]
        Case.status == "supplement_requested").order_by(SupplementRound.return_by, Case.receipt_no)).all()
    return [{"case_id": case.id, "receipt_no": case.receipt_no, "item_name": case.item_name,
             "department": supplement.department_code, "point": names.get(case.point_id, ""),
             "requested_at": iso(supplement.requested_at), "return_by": supplement.return_by.isoformat(),
             "days_overdue": (today - supplement.return_by).days}
            for supplement, case in rounds if supplement_overdue(supplement, case, today)]


def procedure_pauses(session: Session, *, today: date) -> list[dict]:
    """Open cases whose clock a special procedure (特别程序) stands still now, apart from 补正: which procedure, for
    which department, since when and until when expected, longest running first (past its expected end: late)."""
    names = {point.id: point.name for point in session.exec(select(Point)).all()}
    running = session.exec(select(SpecialProcedure, Case).join(Case, Case.id == SpecialProcedure.case_id).where(
        SpecialProcedure.ended_at.is_(None), Case.status.in_(OPEN_STATUSES))  # type: ignore[union-attr,attr-defined]
        .order_by(SpecialProcedure.started_at, Case.receipt_no)).all()
    return [{"case_id": case.id, "receipt_no": case.receipt_no, "item_name": case.item_name,
             "kind": procedure.kind, "department": procedure.department_code, "point": names.get(case.point_id, ""),
             "started_at": iso(procedure.started_at),
             "expected_end": procedure.expected_end.isoformat() if procedure.expected_end else None,
             "days": (today - county_date(as_utc(procedure.started_at))).days,
             "past_expected_end": procedure.expected_end is not None and today > procedure.expected_end}
            for procedure, case in running]


def point_figures(session: Session) -> list[dict]:
    """Per point: cases not yet closed (backlog), results waiting to be fetched, last sync, ratings."""
    backlog = dict(session.exec(select(Case.point_id, func.count()).where(Case.status != "closed")
                                .group_by(Case.point_id)).all())
    undelivered = dict(session.exec(select(Case.point_id, func.count()).where(Case.status == "result_issued")
                                    .group_by(Case.point_id)).all())
    averages = {point_id: (float(avg), count) for point_id, avg, count in session.exec(
        select(Rating.point_id, func.avg(Rating.score), func.count()).group_by(Rating.point_id)).all()}
    rows = []
    for point in session.exec(select(Point).where(Point.status == "active").order_by(Point.name)).all():
        average, count = averages.get(point.id, (None, 0))
        rows.append({"point": point.name, "level": point.level, "backlog": backlog.get(point.id, 0),
                     "undelivered": undelivered.get(point.id, 0), "last_sync": iso(point.last_contact),
                     "rating_average": round(average, 2) if average is not None else None, "ratings": count})
    return rows


def follow_up_due(session: Session, arrived: datetime) -> date:
    """The day a low rating that reached the hub at ``arrived`` must be followed up by: ``FOLLOW_UP_DAYS`` working
    days on the county calendar, counted from the day after."""
    return county_calendar(session).add_working_days(county_date(arrived), FOLLOW_UP_DAYS)


def date_open_follow_ups(session: Session) -> int:
    """Give open follow-ups of low ratings that arrived before the hub kept a due date theirs, counted from the
    rating's day (the point's claim, never later than now); a timeline line each. Returns how many."""
    undated = session.exec(select(Rating).where(Rating.score <= LOW_SCORE, Rating.follow_up == "open",
                                                Rating.follow_up_due.is_(None))).all()  # type: ignore[union-attr]
    for rating in undated:
        rating.follow_up_due = follow_up_due(session, min(as_utc(rating.rated_at), utc_now()))
        session.add(rating)
        record_event(session, rating.case_id, actor=HUB_ACTOR, action="follow_up_due_counted",
                     note=f"rating follow-up due {rating.follow_up_due}, counted from the rating's day",
                     data={"due": rating.follow_up_due.isoformat()})
    return len(undated)


def follow_up_overdue(rating: Rating, today: date) -> bool:
    """An open follow-up past its due date."""
    return rating.follow_up == "open" and rating.follow_up_due is not None and today > rating.follow_up_due


def low_ratings(session: Session, *, include_closed: bool = False) -> list[tuple[Rating, Case]]:
    """Ratings of 1 or 2, open follow-ups first."""
    query = select(Rating, Case).join(Case, Case.id == Rating.case_id).where(Rating.score <= LOW_SCORE)
    if not include_closed:
        query = query.where(Rating.follow_up == "open")
    return list(session.exec(query.order_by(Rating.follow_up.desc(), Rating.rated_at)).all())  # type: ignore[union-attr]


class FollowUpError(ValueError):
    """A follow-up that cannot be saved; ``reason`` is a stable word."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def follow_up(session: Session, case_id: str, *, note: str, close: bool, actor: str) -> Rating:
    """Write what was done about a low rating; ``close`` ends the follow-up (a note is required)."""
    rating = session.get(Rating, case_id)
    if rating is None or rating.score > LOW_SCORE:
        raise FollowUpError("not_found", "no low rating on this case")
    note = note.strip()
    if not note:
        raise FollowUpError("note_required", "write what was done about the rating")
    rating.follow_up_note, rating.followed_up_by, rating.followed_up_at = note[:2000], actor, utc_now()
    if close:
        rating.follow_up = "closed"
    session.add(rating)
    record_event(session, case_id, actor=actor, action="follow_up_closed" if close else "follow_up",
                 note="rating follow-up " + ("closed" if close else "noted"), data={"closed": close})
    return rating


def open_calendar_gaps(session: Session) -> dict:
    """Which years open cases' limits run into with no holiday calendar file, and how many cases do."""
    years: set[int] = set()
    cases = 0
    for case in session.exec(select(Case).where(Case.status.in_(OPEN_STATUSES))).all():  # type: ignore[attr-defined]
        gaps = calendar_gaps(case, calendar=county_calendar(session))
        years.update(gaps)
        cases += bool(gaps)
    return {"years": sorted(years), "cases": cases}


def supervision_report(session: Session, *, today: date, warn_share: float = DEFAULT_WARN_SHARE,
                       chinese: bool = True) -> dict:
    """Everything the supervision page, its API and its CSV show."""
    return {
        "departments": [row.to_dict() for row in department_figures(session, today=today, warn_share=warn_share,
                                                                    chinese=chinese)],
        "points": point_figures(session),
        "townships": township_figures(session, today=today, warn_share=warn_share, chinese=chinese),
        "low_ratings": [{"case_id": case.id, "receipt_no": case.receipt_no, "item_name": case.item_name,
                         "score": rating.score, "comment": rating.comment, "rated_at": iso(rating.rated_at),
                         "follow_up": rating.follow_up, "follow_up_note": rating.follow_up_note,
                         "follow_up_due": rating.follow_up_due.isoformat() if rating.follow_up_due else None,
                         "follow_up_overdue": follow_up_overdue(rating, today)}
                        for rating, case in low_ratings(session, include_closed=True)],
        "cards": card_rows(session),
        "calendar_missing": open_calendar_gaps(session),
        "overdue_supplements": overdue_supplements(session, today=today),
        "procedure_pauses": procedure_pauses(session, today=today),
    }


def report_csv(report: dict) -> str:
    """The department and point figures, the overdue 补正 and the cards not cleared as CSV (UTF-8 with BOM, so
    spreadsheet programs read the Chinese); names and words that would start a formula are quoted
    (sync/kit/cells.py)."""
    out = io.StringIO()
    writer = csv.writer(out)
    for rows in (report["departments"], report["points"], report["overdue_supplements"], report["cards"]):
        if not rows:
            continue
        writer.writerow(list(rows[0]))
        writer.writerows([[spreadsheet_cell(value) for value in row.values()] for row in rows])
        writer.writerow([])
    return "\ufeff" + out.getvalue()

