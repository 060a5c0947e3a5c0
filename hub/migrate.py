"""The hub's schema migrations (hub/migrations/versions): what ``pointkit-hub upgrade`` runs.

Every other command and ``serve`` only create a new database at the newest
revision or check that an existing one is there (``hub.migrate.init_db``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, make_url
from sqlmodel import Session, SQLModel, select

from sync.auditrows import CASE_BASELINE
from sync.kit.migrate import Migrations, SchemaError, Upgraded
from sync.kit.workdays import county_date

from hub.approval.timelimits import OPEN_STATUSES, due_dates, intake_moment, supplement_period, supplement_return_by
from hub.catalog.calendar import county_calendar
from hub.catalog.versions import find_item
from hub.core.audit import SYSTEM_ACTOR, append_audit
from hub.core.auditrows import unrecorded_rows
from hub.core.clock import as_utc
from hub.core.db import (
    DATABASE_FILE,
    DATABASE_URL_ENV,
    database_kind,
    database_url,
    hold_write_lock,
    is_sqlite,
    make_engine,
    session_scope,
)
from hub.core.models import Case, Point, SupplementRound
from hub.core.timeline import record_event

# The previous release (4315ee0) made its tables without migrations; upgrade stamps such a database here.
MIGRATIONS = Migrations(Path(__file__).with_name("migrations"), SQLModel.metadata, baseline="0001")


def upgrade_advice(data_dir: Path | None, sqlite: bool = True) -> str:
    """What to do about an older schema: the backup and the upgrade command, for error messages."""
    data = data_dir or "DIR"
    if sqlite:
        return f"back it up (pointkit-hub backup --data {data} FILE), then run: pointkit-hub upgrade --data {data}"
    return (f"back it up (pg_dump), then run: pointkit-hub upgrade --data {data} --database-url URL "
            "(the hub's PostgreSQL)")


def upgrade(data_dir: Path) -> Upgraded:
    """Bring the hub's database (SQLite in the data directory or the configured URL) to the newest revision."""
    url = database_url(data_dir)
    if is_sqlite(url):
        return MIGRATIONS.upgrade_sqlite(make_url(url).database)
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            hold_write_lock(connection)  # two upgrades at once: the second waits, then has nothing to do
            return MIGRATIONS.upgrade(connection)
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Completed:
    """What ``complete_data`` filled in: open cases given their legal limit, open 补正 rounds given a return date,
    cases given an audit baseline."""

    legal_limits: int = 0
    return_dates: int = 0
    baselines: int = 0


def complete_data(data_dir: Path) -> Completed:
    """After the schema: fill in what older releases did not record and today's code can work out (the legal
    time limits of open cases, the return dates of open 补正 rounds), then record in the audit chain the case rows
    no entry records yet. Their own transactions (the baseline sees the first committed), and a second run finds
    nothing to do."""
    engine = make_engine(database_url(data_dir))
    try:
        with session_scope(engine) as session:
            counted = _count_missing_legal_limits(session), _count_missing_return_dates(session)
        with session_scope(engine) as session:
            return Completed(*counted, record_audit_baseline(session))
    finally:
        engine.dispose()


def _count_missing_return_dates(session: Session) -> int:
    """Give 补正 rounds still waiting for the resident, requested before the hub kept return dates, theirs (the
    item's period from the request), so supervision lists them once they are overdue. Returns how many."""
    rounds = session.exec(select(SupplementRound, Case).join(Case, Case.id == SupplementRound.case_id).where(
        SupplementRound.return_by.is_(None), SupplementRound.supplemented_at.is_(None),  # type: ignore[union-attr]
        Case.status == "supplement_requested")).all()
    for open_round, case in rounds:
        days, unit = supplement_period(find_item(session, case.item_code))
        open_round.return_by = supplement_return_by(county_date(as_utc(open_round.requested_at)), days, unit,
                                                    calendar=county_calendar(session))
        session.add(open_round)
        record_event(session, case.id, actor="hub", action="return_date_counted",
                     note=f"{open_round.department_code}: materials due by {open_round.return_by.isoformat()}, "
                          "counted when the hub was upgraded",
                     data={"department": open_round.department_code, "return_by": open_round.return_by.isoformat()})
    return len(rounds)


def record_audit_baseline(session: Session) -> int:
    """One ``case_baseline`` entry per case with rows no audit entry records (a hub from before the chain
    recorded case contents): what they hold now, so ``audit verify`` checks them from here on. Rows an entry
    records already are never taken again, so a row edited since is still found. Returns how many cases."""
    baselines = unrecorded_rows(session)
    for case_id, detail in baselines.items():
        append_audit(session, actor=SYSTEM_ACTOR, action=CASE_BASELINE, subject=f"case:{case_id}", detail=detail)
    return len(baselines)


def _count_missing_legal_limits(session: Session) -> int:
    """Give open cases received before the hub kept legal limits (the release before migrations) theirs,
    from their intake, item and pauses, so supervision can deem them approved when it passes (视为准予);
    each gets a timeline line. Returns how many; a second run finds none."""
    counted = 0
    for case in session.exec(select(Case).where(Case.legal_due_date.is_(None),  # type: ignore[union-attr]
                                                Case.status.in_(OPEN_STATUSES))).all():  # type: ignore[attr-defined]
        item = find_item(session, case.item_code)
        if item is None:
            continue
        point = session.get(Point, case.point_id)
        start = county_date(intake_moment(case, point.clock_offset_ms if point else 0))
        case.legal_due_date = due_dates(start, item, case.paused_days, calendar=county_calendar(session),
                                        paused_natural_days=case.paused_natural_days)[1]
        session.add(case)
        record_event(session, case.id, actor="hub", action="legal_limit_counted",
                     note=f"legal limit {case.legal_due_date.isoformat()} ({item.legal_days} "
                          f"{item.legal_unit.replace('_', ' ')}), counted when the hub was upgraded",
                     data={"legal_due": case.legal_due_date.isoformat(), "legal_days": item.legal_days,
                           "legal_unit": item.legal_unit})
        counted += 1
    return counted


def init_db(engine: Engine, data_dir: Path | None = None) -> None:
    """Create the tables at the newest schema revision in an empty database; check an existing one is there.

    Only ``pointkit-hub upgrade`` changes an existing schema: an older one raises ``SchemaError`` naming
    that command. One transaction: on PostgreSQL, hub processes starting together on a new database wait
    for each other instead of racing to create the same table.
    """
    elsewhere = database_kind(data_dir) if data_dir is not None else None
    if elsewhere and engine.dialect.name == "sqlite" and engine.url.database and \
            Path(engine.url.database).resolve() == (Path(data_dir) / DATABASE_FILE).resolve():
        raise SchemaError(f"this hub's tables are in a {elsewhere} database outside {data_dir}: give its "
                          f"--database-url or set {DATABASE_URL_ENV}")
    with engine.begin() as connection:
        hold_write_lock(connection)
        MIGRATIONS.ensure(connection, upgrade_advice(data_dir, sqlite=connection.dialect.name == "sqlite"))
