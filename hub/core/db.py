"""The hub's database: one engine per data directory, sessions, schema creation.

SQLite (WAL) in the data directory by default; ``--database-url`` or
POINTKIT_HUB_DATABASE_URL puts the same tables on PostgreSQL when a region
outgrows one file and runs several hub processes (or machines). Keys stay in
the data directory either way.

Concurrency: on SQLite every transaction starts with BEGIN IMMEDIATE, so one
writer runs at a time and a read that decides a write cannot go stale. On
PostgreSQL transactions run in parallel (READ COMMITTED); staff actions and
timer rounds that read-then-write call ``write_lock``, which holds every other
writer off. Pushes hold it only in shared mode (``ingest_lock``) and take keyed
locks for what two pushes could both take: a point's audit chain and message
numbers (``key_lock``), a resident's pending applications. Unique constraints
and row locks do the rest.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Insert, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, create_engine

try:
    import fcntl
except ImportError:  # Windows: writers poll the SQLite lock as before
    fcntl = None  # type: ignore[assignment]

DATABASE_FILE = "hub.db"
DATABASE_URL_ENV = "POINTKIT_HUB_DATABASE_URL"
DATABASE_MARKER = "database-kind"
SQLITE_BUSY_TIMEOUT_S = 30
# A transaction-scoped PostgreSQL advisory lock under any fixed key: the hub's one write lock.
_WRITE_LOCK_KEY = 0x706B6175
_PG_WRITE_LOCK = text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=_WRITE_LOCK_KEY)
# The same lock in shared mode: what pushes hold while they write (see ingest_lock).
_PG_SHARED_LOCK = text("SELECT pg_advisory_xact_lock_shared(:key)").bindparams(key=_WRITE_LOCK_KEY)
# Keyed locks: class _KEY_CLASS, one 32-bit number per key (a point's chain, a resident), taken in sorted order.
_KEY_CLASS = 0x706B
_PG_KEY_LOCK = text("SELECT pg_advisory_xact_lock(:cls, :key)").bindparams(cls=_KEY_CLASS)
_PG_TRY_KEY_LOCK = text("SELECT pg_try_advisory_xact_lock(:cls, :key)").bindparams(cls=_KEY_CLASS)
_PG_KEY_LOCKS = text("SELECT count(pg_advisory_xact_lock(:cls, k)) FROM "
                     "(SELECT k FROM unnest(CAST(:keys AS integer[])) AS k ORDER BY k) AS ordered"
                     ).bindparams(cls=_KEY_CLASS)
_KEYS_HELD = "pointkit_keys_held"
# Execution option: begin this transaction deferred on SQLite (see reads_only).
_READS_ONLY = "pointkit_reads_only"
_MEMO = "pointkit_transaction_memo"


def database_url(data_dir: Path, url: str | None = None) -> str:
    """The hub's database: ``url`` if given, else POINTKIT_HUB_DATABASE_URL, else SQLite in the data directory."""
    return url or os.environ.get(DATABASE_URL_ENV) or f"sqlite:///{Path(data_dir) / DATABASE_FILE}"


def database_kind(data_dir: Path) -> str | None:
    """The kind of database outside the data directory ``init`` made this hub's tables in (never the URL: it
    may hold a password), so a command run without the URL refuses instead of starting an empty SQLite hub."""
    marker = Path(data_dir) / DATABASE_MARKER
    return marker.read_text(encoding="utf-8").strip() if marker.exists() else None


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite connections get WAL, foreign keys and immediate transactions."""
    if not is_sqlite(url):
        # UTC sessions: the tables hold naive UTC datetimes, and an aware value must not be shifted
        # into the server's zone on the way in.
        return create_engine(url, pool_pre_ping=True, hide_parameters=True,
                             connect_args={"options": "-c timezone=UTC"})
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
        # NORMAL in WAL mode: a commit is durable once in the WAL file, which survives any kill of the
        # process; only a power cut or OS crash can lose the last transactions (syncing the WAL at each
        # checkpoint, not at each commit). See docs/architecture.md, "Ingest speed and durability".
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection) -> None:
        connection.exec_driver_sql("BEGIN" if connection.get_execution_options().get(_READS_ONLY) else
                                   "BEGIN IMMEDIATE")

    return engine


def upsert(connection: Connection | Session, table: Any) -> Insert:
    """An INSERT into ``table`` in the dialect of ``connection``'s database, so it takes ``on_conflict_do_nothing``
    or ``on_conflict_do_update`` (SQLite and PostgreSQL both speak ON CONFLICT; SQLAlchemy builds each its own)."""
    dialect = connection.dialect if isinstance(connection, Connection) else connection.get_bind().dialect
    return (postgresql.insert if dialect.name == "postgresql" else sqlite.insert)(table)


def reads_only(session: Session) -> None:
    """Begin ``session``'s next transaction without the write lock; it must only read.

    On SQLite it begins deferred: under WAL it reads the last commit while another process writes, instead
    of queueing for the lock (what ingest needs while it verifies and opens envelopes). A no-op on PostgreSQL,
    whose reads never wait for writers. The transaction after this one begins as usual again.
    """
    session.connection(execution_options={_READS_ONLY: True})


def transaction_memo(session: Session) -> dict[Any, Any]:
    """A dict that lives as long as ``session``'s current transaction and no longer.

    Any rollback, a savepoint's included, empties it (see ``_forget_on_rollback``), so what a transaction
    holding the write lock remembers here (the lock itself, the audit chain's head, the next message
    number of a point) is never older than the rows it describes.
    """
    transaction = session.get_transaction()
    if transaction is None:
        return {}  # nothing begun yet: nothing to remember about it
    memo = session.info.get(_MEMO)
    if memo is None or memo[0] is not transaction:
        memo = (transaction, {})
        session.info[_MEMO] = memo
    return memo[1]


@event.listens_for(OrmSession, "after_soft_rollback")
def _forget_on_rollback(session: Session, _previous) -> None:
    session.info.pop(_MEMO, None)


def write_lock(session: Session) -> None:
    """Hold the hub's one write lock until the caller's transaction ends.

    Call it before a read whose answer decides a write (the next number in a
    sequence, check-then-insert). SQLite transactions already hold it (BEGIN
    IMMEDIATE); on PostgreSQL it is a transaction-scoped advisory lock, and a
    statement after it sees every transaction committed before.
    """
    memo = transaction_memo(session)
    if session.get_bind().dialect.name == "postgresql" and not memo.get(_PG_WRITE_LOCK):
        session.exec(_PG_WRITE_LOCK)
        memo[_PG_WRITE_LOCK] = True


def ingest_lock(session: Session, keys: Iterable[str] = ()) -> None:
    """Hold the hub's write lock in shared mode, and the locks of ``keys`` (points, residents), until the
    caller's transaction ends: what a push's writing turn takes instead of the one write lock.

    Pushes of different points then write side by side; a staff action or a timer round (``write_lock``) still
    waits for every push in flight and holds them all off. What two pushes could both take, they take by key
    (``key_lock``): a point's audit chain and message numbers, a resident's pending applications. The keys are
    taken in one sorted order, so two pushes never wait for each other's. SQLite: its one writer already holds
    the database (BEGIN IMMEDIATE).
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    memo = transaction_memo(session)
    if not memo.get(_PG_WRITE_LOCK) and not memo.get(_PG_SHARED_LOCK):
        session.exec(_PG_SHARED_LOCK)
        memo[_PG_SHARED_LOCK] = True
    wanted = sorted({_lock_number(key) for key in keys} - memo.setdefault(_KEYS_HELD, set()))
    if wanted and not memo.get(_PG_WRITE_LOCK):
        session.exec(_PG_KEY_LOCKS, params={"keys": wanted})
        memo[_KEYS_HELD].update(wanted)


def key_lock(session: Session, key: str) -> None:
    """Hold the lock of ``key`` (e.g. one point's audit chain) until the caller's transaction ends, unless the
    transaction holds the whole write lock already. Taken out of ``ingest_lock``'s order (a push that reaches
    another point's case), it can meet a push waiting the other way round: PostgreSQL then fails one of the
    two, which ingest runs again (hub/intake/ingest.py)."""
    _take_key(session, key, wait=True)


def try_key_lock(session: Session, key: str) -> bool:
    """``key_lock`` if no other transaction holds it now; False (without waiting) when one does."""
    return _take_key(session, key, wait=False)


def _take_key(session: Session, key: str, *, wait: bool) -> bool:
    if session.get_bind().dialect.name != "postgresql":
        return True
    memo = transaction_memo(session)
    number = _lock_number(key)
    if memo.get(_PG_WRITE_LOCK) or number in memo.setdefault(_KEYS_HELD, set()):
        return True
    if wait:
        session.exec(_PG_KEY_LOCK, params={"key": number})
    elif not session.exec(_PG_TRY_KEY_LOCK, params={"key": number}).one()[0]:
        return False
    memo[_KEYS_HELD].add(number)
    return True


def _lock_number(key: str) -> int:
    """A stable 32-bit lock number for ``key`` (PostgreSQL's two-number advisory locks: ours are class
    ``_KEY_CLASS``, apart from the write lock's single 64-bit number)."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:4], "big", signed=True)


def hold_write_lock(connection: Connection) -> None:
    """On PostgreSQL, hold the hub's write lock until ``connection``'s transaction ends, for schema work
    (creating the tables, an upgrade): a second process doing the same waits, then finds it done, and no hub
    process writes in between. An SQLite file has its own lock for that (see sync.kit.migrate)."""
    if connection.dialect.name == "postgresql":
        connection.execute(_PG_WRITE_LOCK)


@contextmanager
def queue_for_writing(session: Session) -> Iterator[None]:
    """Wait in line for the write lock with the other hub processes, woken the moment it is free.

    On SQLite a writer that finds the database locked sleeps and retries (up to 100 ms between tries), so
    busy hub processes leave the lock idle while each sleeps. A push holds an exclusive ``flock`` on a file
    beside the database through its write transaction instead, and the next process's push wakes as soon as
    it is released. A no-op on PostgreSQL (its advisory lock already wakes waiters) and where ``flock``
    does not exist.
    """
    bind = session.get_bind()
    path = bind.url.database if bind.dialect.name == "sqlite" else None
    if fcntl is None or not path or path == ":memory:":
        yield
        return
    with open(f"{path}.writers", "a+b") as lock:  # closing it releases the lock, whatever happens
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        yield


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


