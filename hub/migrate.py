"""The hub's schema migrations (hub/migrations/versions): what ``pointkit-hub upgrade`` runs.

Every other command and ``serve`` only create a new database at the newest
revision or check that an existing one is there (``hub.db.init_db``).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import make_url
from sqlmodel import SQLModel

from sync.migrate import Migrations, Upgraded

from . import models  # noqa: F401  (registers the tables on SQLModel.metadata)
from .db import database_url, is_sqlite, make_engine, session_scope
from .timelimits import count_missing_legal_limits

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
            return MIGRATIONS.upgrade(connection)
    finally:
        engine.dispose()


def complete_data(data_dir: Path) -> int:
    """After the schema: fill in what older releases did not record and today's code can work out (the legal
    time limits of open cases). Its own transaction, and a second run finds nothing to do; returns how many
    cases it completed."""
    engine = make_engine(database_url(data_dir))
    try:
        with session_scope(engine) as session:
            return count_missing_legal_limits(session)
    finally:
        engine.dispose()
