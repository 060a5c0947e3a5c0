"""The hub's database: one engine per data directory, sessions, schema creation.

SQLite (WAL) by default; the engine is built from a database URL so the same
code runs on PostgreSQL when a region outgrows one file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Engine, event, inspect
from sqlmodel import Session, SQLModel, create_engine

from sync.clock import utcnow

DATABASE_FILE = "hub.db"
SQLITE_BUSY_TIMEOUT_S = 30


def database_url(data_dir: Path) -> str:
    """The default SQLite URL inside a hub data directory."""
    return f"sqlite:///{Path(data_dir) / DATABASE_FILE}"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite connections get WAL, foreign keys and immediate transactions."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, hide_parameters=True)
    # hide_parameters: an error message must never carry a resident's data into hub.log.
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S},
                           hide_parameters=True)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record) -> None:
        # Take transaction control from pysqlite so BEGIN IMMEDIATE below is what runs:
        # a deferred read that later writes can fail with SQLITE_BUSY under WAL.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # The hub acknowledges envelopes; an ack must survive a power cut.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def init_db(engine: Engine) -> None:
    """Create any missing tables and add columns newer code expects (idempotent)."""
    from . import models  # noqa: F401  (registers the tables on SQLModel.metadata)

    SQLModel.metadata.create_all(engine)
    _add_missing_columns(engine)


def _add_missing_columns(engine: Engine) -> None:
    """The additive migration: a hub made by an older release gains the nullable or defaulted columns
    added since (create_all makes new tables but never alters old ones)."""
    with engine.begin() as connection:
        inspector = inspect(connection)
        for table in SQLModel.metadata.sorted_tables:
            present = {column["name"] for column in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name in present:
                    continue
                kind = column.type.compile(dialect=engine.dialect)
                default = " DEFAULT 0" if not column.nullable else ""
                connection.exec_driver_sql(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}{default}')


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session committed on success and rolled back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def utc_now() -> datetime:
    """Timezone-aware UTC now, through the one clock seam (sync.clock)."""
    return utcnow()


def as_utc(value: datetime) -> datetime:
    """A datetime from the wire in UTC; a value without a zone is taken as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def iso(value: datetime | None) -> str | None:
    """A stored datetime as ISO 8601 with its zone."""
    return None if value is None else as_utc(value).isoformat()


def init_app(app, engine: Engine) -> None:
    """Keep ``engine`` on the app and close each request's session when the request ends."""
    app.extensions["hub_engine"] = engine

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        from flask import g

        session = g.pop("db_session", None)
        if session is not None:
            session.close()


def get_session() -> Session:
    """The current request's session (Flask-tutorial style ``get_db``)."""
    from flask import current_app, g

    if "db_session" not in g:
        g.db_session = Session(current_app.extensions["hub_engine"], expire_on_commit=False)
    return g.db_session
