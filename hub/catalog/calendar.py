"""The county's holiday calendar (节假日安排): kept, signed and versioned at the hub, like the catalog.

The State Council publishes next year's schedule each November. County IT
imports it once at the hub (``pointkit-hub calendar import 2027.json``); the
hub checks it against the rules of docs/calendar.md, signs it as version 1 of
that year (a later correction is version 2), records who imported it in the
audit chain, and every point gets it with its catalog: online, through its
township, or on a USB bundle. A year the hub holds replaces the file of the
same year shipped with the release; the shipped files stay the floor for a
point that never synced.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session, func, select

from sync.keys import Identity
from sync.kit.workdays import CALENDAR_YEAR_TYPE, Calendar, CalendarError, YearSchedule, default_calendar, read_year
from sync.signing import sign_document

from hub.core.audit import append_audit
from hub.core.clock import iso, utc_now
from hub.core.db import transaction_memo
from hub.core.models import CalendarYear

__all__ = ["CalendarError", "CalendarImport", "calendar_versions", "county_calendar", "held_years", "import_year", "missing_next_year",
           "year_documents"]

_CALENDAR = "county_calendar"
# (year, version) pairs in force -> the calendar built from them: rebuilt only when a year arrives.
_BUILT: dict[tuple[tuple[int, int, str], ...], Calendar] = {}
# From this day of a year on, supervision warns when next year's schedule is missing (published in November).
NEXT_YEAR_DUE = (11, 1)


@dataclass(frozen=True)
class CalendarImport:
    """What ``import_year`` did: the year, the version now in force, and whether it is new."""

    year: int
    version: int
    changed: bool
    source: str


def import_year(session: Session, data: Any, *, identity: Identity, actor: str, where: str = "the file",
                year: int | None = None) -> CalendarImport:
    """Check ``data`` (one year's schedule, docs/calendar.md) and keep it as the next signed version of its year
    unless it is the version in force already; CalendarError (nothing changed) names what to fix."""
    schedule = read_year(data, where, year)
    latest = _latest(session, schedule.year)
    content = {"source": schedule.source, "holidays": list(schedule.entries)}
    if latest is not None and {"source": latest.signed["document"]["source"],
                               "holidays": latest.signed["document"]["holidays"]} == content:
        return CalendarImport(schedule.year, latest.version, False, schedule.source)
    version = (latest.version if latest else 0) + 1
    document = {"type": CALENDAR_YEAR_TYPE, "year": schedule.year, "version": version, "issued_at": iso(utc_now()),
                **content}
    session.add(CalendarYear(year=schedule.year, version=version, signed=sign_document(document, identity.sign_key),
                             source=schedule.source[:500], imported_by=actor[:64]))
    append_audit(session, actor=actor, action="calendar_imported", subject=f"calendar:{schedule.year}",
                 detail={"year": schedule.year, "version": version, "source": schedule.source[:200],
                         "holidays": len(schedule.entries)})
    transaction_memo(session).pop(_CALENDAR, None)
    session.flush()
    return CalendarImport(schedule.year, version, True, schedule.source)


def _latest(session: Session, year: int) -> CalendarYear | None:
    return session.exec(select(CalendarYear).where(CalendarYear.year == year)
                        .order_by(CalendarYear.version.desc()).limit(1)).first()


def held_years(session: Session) -> list[CalendarYear]:
    """The version in force of every year the hub holds, oldest year first."""
    newest = (select(CalendarYear.year, func.max(CalendarYear.version).label("version"))
              .group_by(CalendarYear.year).subquery())
    return list(session.exec(select(CalendarYear).join(
        newest, (CalendarYear.year == newest.c.year) & (CalendarYear.version == newest.c.version))
        .order_by(CalendarYear.year)).all())


def year_documents(session: Session, have: dict[int, int] | None = None) -> list[dict[str, Any]]:
    """The signed years in force that a point holding ``have`` (year -> version) lacks; all of them without it."""
    have = have or {}
    return [row.signed for row in held_years(session) if have.get(row.year, 0) < row.version]


def calendar_versions(session: Session) -> dict[int, int]:
    """Year -> the version in force, for every year the hub holds (what pull answers announce)."""
    return {int(year): int(version) for year, version in session.exec(
        select(CalendarYear.year, func.max(CalendarYear.version)).group_by(CalendarYear.year)).all()}


def county_calendar(session: Session) -> Calendar:
    """The calendar the hub counts on: the shipped years, each replaced by the hub's version of it; read once
    per transaction, built once per set of versions."""
    memo = transaction_memo(session)
    if _CALENDAR not in memo:
        # Keyed by each year's signature, not only its version number: two hubs in one process (tests, a
        # restored backup beside the live hub) can hold different documents under the same version numbers.
        rows = held_years(session)
        key = tuple((row.year, row.version, row.signed.get("signature", "")) for row in rows)
        if key not in _BUILT:
            _BUILT[key] = default_calendar().with_years(schedule_of(row.signed) for row in rows)
        memo[_CALENDAR] = _BUILT[key]
    return memo[_CALENDAR]


def schedule_of(signed: dict[str, Any]) -> YearSchedule:
    """The schedule a signed year carries (checked again: it came from the database)."""
    document = signed["document"]
    return read_year(document, f"calendar year {document.get('year')} version {document.get('version')}")


def missing_next_year(session: Session, today: date) -> int | None:
    """Next year, when from 1 November on neither the hub nor the release holds its schedule; else None."""
    if (today.month, today.day) < NEXT_YEAR_DUE:
        return None
    upcoming = today.year + 1
    return None if upcoming in county_calendar(session).years else upcoming
