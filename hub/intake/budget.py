"""The daily ingest budget: how much one point may make the hub store in a county day before an operator hears.

Every envelope's payload is bounded on its own (sync/messages.py, sync/envelope.py MAX_PLAINTEXT_BY_KIND), but a
stolen laptop with a point's keys could still send bounded envelopes all day (issue 27). So the hub counts, per
point and county-local day, the bytes of what it accepted (the envelope as it came, plus its payload as it
unpacked: what the database holds of it). A point past its budget keeps being served: its envelopes are still
accepted, because a real surge of residents at a window must never be refused, and a case refused at the hub is
a resident's application lost until someone notices. Instead the hub logs a warning, writes an audit entry (both
once per point and day), and the points page flags the point with today's bytes against its budget; the
operator decides (call the point; revoke a stolen laptop).

A push costs one UPSERT per point it carries (and one more statement the moment a point crosses its budget).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import update
from sqlmodel import Session, select

from sync.kit.workdays import county_date

from hub.core.audit import append_audit, write_for_point
from hub.core.clock import utc_now
from hub.core.db import upsert
from hub.core.models import Point, PointIngestDay

log = logging.getLogger(__name__)

MIB = 1024 * 1024
# A point's daily ingest budget unless ``points budget`` set its own (``serve --ingest-budget-mib`` changes the
# county's default): a busy township window takes some 200 cases a day of 5-20 KB each, about 4 MB; 20 MiB leaves
# room for five times that before anyone is alerted.
DEFAULT_INGEST_BUDGET_MIB = 20
# The most ``points budget`` takes (a point past 10 GiB a day is not a window).
MAX_INGEST_BUDGET_MIB = 10_240
OVER_BUDGET = "ingest_over_budget"
BUDGET_SET = "ingest_budget_set"


class BudgetError(ValueError):
    """A budget that cannot be set (no such point, a number out of range)."""


@dataclass(frozen=True)
class DayIngest:
    """What a point made the hub store today, against its budget."""

    stored_bytes: int
    envelopes: int
    budget_bytes: int

    @property
    def over(self) -> bool:
        return self.stored_bytes > self.budget_bytes


def budget_bytes(point: Point, default_mib: int = DEFAULT_INGEST_BUDGET_MIB) -> int:
    """``point``'s daily ingest budget in bytes: its own, else the county's default."""
    return (point.ingest_budget_mib if point.ingest_budget_mib is not None else default_mib) * MIB


def count_ingest(session: Session, stored: dict[uuid.UUID, tuple[int, int]], points: dict[uuid.UUID, Point], *,
                 default_mib: int = DEFAULT_INGEST_BUDGET_MIB) -> None:
    """Add what one push stored, point id -> (bytes, envelopes), to each point's count for today; a point that
    this push takes past its budget is logged and audited (once a day: the first push over it does)."""
    today = county_date(utc_now())
    for point_id, (added_bytes, added_envelopes) in stored.items():
        total = _add(session, point_id, today, added_bytes, added_envelopes)
        budget = budget_bytes(points[point_id], default_mib)
        if total > budget and _first_over(session, point_id, today):
            _alert(session, points[point_id], today, total, budget)


def _add(session: Session, point_id: uuid.UUID, day: date, added_bytes: int, added_envelopes: int) -> int:
    """One UPSERT: today's row made or added to; the new total comes back."""
    table = PointIngestDay.__table__
    statement = upsert(session, table).values(point_id=point_id, day=day, stored_bytes=added_bytes, envelopes=added_envelopes)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.point_id, table.c.day],
        set_={"stored_bytes": table.c.stored_bytes + statement.excluded.stored_bytes,
              "envelopes": table.c.envelopes + statement.excluded.envelopes},
    ).returning(table.c.stored_bytes)
    return session.execute(statement).scalar_one()


def _first_over(session: Session, point_id: uuid.UUID, day: date) -> bool:
    """Mark today's row over budget; True only for the push that marks it (the alert goes out once)."""
    table = PointIngestDay.__table__
    marked = session.execute(update(table).where(
        table.c.point_id == point_id, table.c.day == day, table.c.over_budget_at.is_(None)).values(
        over_budget_at=utc_now()))
    return marked.rowcount == 1


def _alert(session: Session, point: Point, day: date, total: int, budget: int) -> None:
    log.warning("point %s (%s) went over its daily ingest budget on %s: %d bytes stored, budget %d bytes; its "
                "envelopes are still accepted: check the point, and revoke it if its laptop is lost",
                point.id, point.name, day.isoformat(), total, budget)
    write_for_point(session, point.id)
    append_audit(session, actor="hub", action=OVER_BUDGET, subject=f"point:{point.name}",
                 detail={"day": day.isoformat(), "stored_bytes": total, "budget_bytes": budget})


def ingest_today(session: Session, *, default_mib: int = DEFAULT_INGEST_BUDGET_MIB) -> dict[str, DayIngest]:
    """Every point's count for today against its budget, by point id (zero for a point that sent nothing yet)."""
    today = county_date(utc_now())
    rows = {row.point_id: row for row in session.exec(
        select(PointIngestDay).where(PointIngestDay.day == today)).all()}
    counts = {}
    for point in session.exec(select(Point).where(Point.status != "hub")).all():
        row = rows.get(point.id)
        counts[str(point.id)] = DayIngest(row.stored_bytes if row else 0, row.envelopes if row else 0,
                                          budget_bytes(point, default_mib))
    return counts


def over_budget_today(session: Session) -> list[str]:
    """The names of the points that went over their budget today (alerted), for the operators' queue page."""
    today = county_date(utc_now())
    return list(session.exec(select(Point.name).join(PointIngestDay, PointIngestDay.point_id == Point.id).where(
        PointIngestDay.day == today, PointIngestDay.over_budget_at.is_not(None)).order_by(Point.name)).all())


def set_budget(session: Session, name: str, mib: int | None, *, actor: str) -> Point:
    """Give point ``name`` a daily ingest budget of its own (``mib``), or back the county's default (None)."""
    point = session.exec(select(Point).where(Point.name == name)).first()
    if point is None:
        raise BudgetError(f"no point named {name!r}; see 'pointkit-hub points list'")
    if mib is not None and not 1 <= mib <= MAX_INGEST_BUDGET_MIB:
        raise BudgetError(f"a daily ingest budget is 1 to {MAX_INGEST_BUDGET_MIB} MiB")
    point.ingest_budget_mib = mib
    session.add(point)
    write_for_point(session, point.id)
    append_audit(session, actor=actor, action=BUDGET_SET, subject=f"point:{point.name}",
                 detail={"budget_mib": mib})
    return point
