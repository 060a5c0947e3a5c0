"""When the holiday calendar changes, the dates of every running case follow.

County IT imports next year's schedule (or a correction) at the hub
(hub/catalog/calendar.py). Every case still running then gets its promised and legal
dates counted again on the new calendar from its intake and the 补正 pause it
has had, and each open 补正 its return date; a decided case never changes. Each
change goes on the case's timeline and, in a STATUS message that says the
holiday calendar moved it, to the point that received the case, which shows
the new date on its pages, its kiosk and a reprinted receipt.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, select

from sync.kit.workdays import county_date

from hub.approval.timelimits import OPEN_STATUSES, set_deadlines, supplement_period, supplement_return_by
from hub.catalog.calendar import county_calendar
from hub.catalog.versions import find_item
from hub.core.clock import as_utc
from hub.core.models import Case, Point, SupplementRound
from hub.core.outbox import send_status
from hub.core.timeline import HUB_ACTOR, record_event

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recount:
    """How many running cases the new calendar moved, of how many counted."""

    moved: int
    counted: int


def recount_open_cases(session: Session, years: list[int]) -> Recount:
    """Count every running case's dates again on the county calendar now in force (after ``years`` arrived)."""
    calendar = county_calendar(session)
    reason = "calendar:" + ",".join(map(str, sorted(years)))
    schedule = ", ".join(map(str, sorted(years)))
    moved = counted = 0
    for case in session.exec(select(Case).where(Case.status.in_(OPEN_STATUSES))).all():  # type: ignore[attr-defined]
        item = find_item(session, case.item_code)
        if item is None or case.due_date is None:
            continue
        counted += 1
        point = session.get(Point, case.point_id)
        before = (case.due_date, case.legal_due_date)
        set_deadlines(case, item, point.clock_offset_ms if point else 0, calendar=calendar)
        open_round = _open_round(session, case)
        return_by = None
        returns_moved = False
        if open_round is not None:
            days, unit = supplement_period(item)
            return_by = supplement_return_by(county_date(as_utc(open_round.requested_at)), days, unit,
                                             calendar=calendar)
            returns_moved = return_by != open_round.return_by
            open_round.return_by = return_by
            session.add(open_round)
        if (case.due_date, case.legal_due_date) == before and not returns_moved:
            continue
        moved += 1
        session.add(case)
        record_event(session, case.id, actor=HUB_ACTOR, action="dates_recounted",
                     data={"schedule": schedule, "due": _iso(case.due_date), "legal_due": _iso(case.legal_due_date),
                           "return_by": _iso(return_by)},
                     note=f"the holiday schedule of {schedule} is in force: due {before[0]} -> {case.due_date}, "
                          f"legal limit {before[1]} -> {case.legal_due_date}"
                          + (f", materials due by {return_by}" if return_by else ""))
        if point is not None and point.enc_public_key:
            send_status(session, case, point, "dates_recounted", f"holiday schedule of {schedule}",
                        dates_reason=reason, return_by=return_by)
    log.info("holiday calendar %s: %d of %d running case(s) moved", schedule, moved, counted)
    return Recount(moved, counted)


def _open_round(session: Session, case: Case) -> SupplementRound | None:
    """The 补正 round still waiting for the resident's materials, if any."""
    if case.status != "supplement_requested":
        return None
    return session.exec(select(SupplementRound).where(SupplementRound.case_id == case.id,
                                                      SupplementRound.supplemented_at.is_(None))  # type: ignore
                        .order_by(SupplementRound.requested_at.desc())).first()


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None
