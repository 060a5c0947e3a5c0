"""The point's SQLite database: one file under the data directory, built to survive power cuts.

WAL lets the sync thread write while pages read; ``synchronous=FULL`` makes a
commit durable before it returns, because village laptops lose power. Every
transaction starts with ``BEGIN IMMEDIATE`` so two writers queue on the busy
timeout instead of failing when one upgrades a read lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from .migrate import MIGRATIONS, upgrade_advice

DATABASE_FILE = "point.db"
BUSY_TIMEOUT_MS = 10_000

_engines: dict[Path, Engine] = {}
_engines_lock = threading.Lock()


def database_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / DATABASE_FILE


def _configure(dbapi_connection, _record) -> None:
    # Take transaction control away from the sqlite3 module so BEGIN IMMEDIATE below is ours.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


def _begin_immediate(connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def get_engine(data_dir: str | Path) -> Engine:
    """The one engine per data directory (created on first use)."""
    path = database_path(data_dir).resolve()
    with _engines_lock:
        engine = _engines.get(path)
        if engine is None:
            engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})
            event.listen(engine, "connect", _configure)
            event.listen(engine, "begin", _begin_immediate)
            _engines[path] = engine
        return engine


def init_db(data_dir: str | Path) -> Engine:
    """Create the data directory and, in a new database, every table at the newest schema revision.

    An existing database must already be at that revision: only ``pointkit upgrade`` changes a schema
    (raises ``SchemaError`` naming it).
    """
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    engine = get_engine(data_dir)
    with engine.begin() as connection:
        MIGRATIONS.ensure(connection, upgrade_advice(data_dir))
    return engine


def dispose(data_dir: str | Path) -> None:
    """Close the pooled connections of one data directory (tests, shutdown)."""
    path = database_path(data_dir).resolve()
    with _engines_lock:
        engine = _engines.pop(path, None)
    if engine is not None:
        engine.dispose()


@contextmanager
def session_scope(data_dir: str | Path) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back if it raises."""
    with Session(get_engine(data_dir), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
