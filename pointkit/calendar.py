"""The holiday calendar as the point holds it: the years shipped with the release, each replaced by the year the
county hub signed and sent (online, through the township, or on a USB bundle).

Every date the point works out itself (the promised date on a receipt, the warning that a year has no schedule)
counts on ``point_calendar``; dates the hub has moved come from the hub in its messages.
"""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session, select

from sync.clock import utcnow
from sync.kit.workdays import CALENDAR_YEAR_TYPE, Calendar, CalendarError, default_calendar, read_year
from sync.signing import SignatureError

from .models import CalendarYear, PointState
from .trust import verify_hub_document

# (year, version) pairs held -> the calendar built from them.
_BUILT: dict[tuple[tuple[int, int], ...], Calendar] = {}


def held_versions(session: Session) -> dict[int, int]:
    """Year -> version of every year this point holds from the hub."""
    return {row.year: row.version for row in session.exec(select(CalendarYear)).all()}


def point_calendar(session: Session) -> Calendar:
    """The calendar this point counts on now."""
    rows = session.exec(select(CalendarYear).order_by(CalendarYear.year)).all()
    key = tuple((row.year, row.version) for row in rows)
    if key not in _BUILT:
        _BUILT[key] = default_calendar().with_years(
            read_year(json.loads(row.document), f"calendar year {row.year}") for row in rows)
    return _BUILT[key]


def store_years(session: Session, state: PointState, signed_years: list[Any]) -> list[int]:
    """Verify each hub-signed year and keep it unless this point holds that version or a newer one already;
    return the years stored. CalendarError names the first year refused (nothing of it is stored)."""
    stored = []
    for signed in signed_years:
        try:
            document = verify_hub_document(session, state, signed)
        except (SignatureError, TypeError, KeyError):
            raise CalendarError("a calendar year from the hub does not verify with any trusted hub key") from None
        if document.get("type") != CALENDAR_YEAR_TYPE:
            raise CalendarError(f"not a calendar year (type {document.get('type')!r})")
        schedule = read_year(document, f"calendar year {document.get('year')} from the hub")
        version = document.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise CalendarError(f"calendar year {schedule.year} from the hub has no version")
        held = session.get(CalendarYear, schedule.year)
        if held is not None and held.version >= version:
            continue
        row = held or CalendarYear(year=schedule.year, version=version, document="", signature="",
                                   received_at=utcnow())
        row.version, row.received_at = version, utcnow()
        row.document, row.signature = json.dumps(document, ensure_ascii=False), str(signed["signature"])
        session.add(row)
        stored.append(schedule.year)
    return stored


def calendar_sources(session: Session) -> list[tuple[int, str, str]]:
    """(year, where it comes from, the notice it cites) for every year this point counts on: "hub vN" or
    "shipped"."""
    held = {row.year: row for row in session.exec(select(CalendarYear)).all()}
    calendar = point_calendar(session)
    return [(year, f"hub v{held[year].version}" if year in held else "shipped", calendar.sources.get(year, ""))
            for year in sorted(calendar.years)]
