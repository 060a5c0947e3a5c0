"""A hub data directory: what ``pointkit-hub init`` creates and ``serve`` expects."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, inspect, make_url
from sqlmodel import SQLModel, select

from hub.core.db import DATABASE_FILE, DATABASE_MARKER, database_url, is_sqlite, make_engine, session_scope
from hub.core.models import HubKey
from hub.migrate import init_db
from hub.trust.accounts import create_staff
from hub.trust.keys import ensure_keys, has_identity

SECRET_KEY_FILE = "secret_key"
LOG_FILE = "hub.log"


class InstanceError(RuntimeError):
    """A data directory that cannot be used as asked."""


@dataclass(frozen=True)
class Initialized:
    data_dir: Path
    fingerprint: str
    admin_user: str
    admin_password: str
    password_generated: bool


def is_initialized(data_dir: Path) -> bool:
    return (Path(data_dir) / DATABASE_FILE).exists() or has_identity(data_dir)


def initialize(data_dir: Path, *, admin_user: str = "admin", admin_password: str | None = None,
               post_quantum: bool = False) -> Initialized:
    """Create the database, the hub's keys (generation 1) and the first admin account in a new directory.

    ``post_quantum`` gives generation 1 an ML-KEM-768 key, so points seal with the hybrid suite.
    """
    data_dir = Path(data_dir)
    if is_initialized(data_dir):
        raise InstanceError(f"{data_dir} already holds a hub; refusing to overwrite it")
    data_dir.mkdir(parents=True, exist_ok=True)
    generated = admin_password is None
    password = admin_password if admin_password is not None else secrets.token_urlsafe(12)
    url = database_url(data_dir)
    engine = make_engine(url)
    if _holds_hub(engine):
        engine.dispose()
        raise InstanceError(f"the database at {_without_password(url)} already holds a hub; refusing to overwrite "
                            f"it (give a new, empty database, or use the data directory that hub was made with)")
    try:
        init_db(engine)
        with session_scope(engine) as session:
            create_staff(session, username=admin_user, password=password, role="admin", actor="init")
            keyring = ensure_keys(session, data_dir, post_quantum=post_quantum)
    except Exception:
        if not is_sqlite(url):
            SQLModel.metadata.drop_all(engine)
        engine.dispose()
        for name in (DATABASE_FILE, DATABASE_FILE + "-wal", DATABASE_FILE + "-shm"):
            (data_dir / name).unlink(missing_ok=True)
        raise
    engine.dispose()
    if url != f"sqlite:///{data_dir / DATABASE_FILE}":  # tables outside the data directory
        (data_dir / DATABASE_MARKER).write_text(make_url(url).get_backend_name() + "\n", encoding="utf-8")
    secret_key(data_dir)
    return Initialized(data_dir, keyring.fingerprint, admin_user, password, generated)


def _holds_hub(engine: Engine) -> bool:
    """Whether the database already has a hub's keys (a second init must not take over its database)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(HubKey.__tablename__):
            return False
        return connection.execute(select(HubKey.generation).limit(1)).first() is not None


def _without_password(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def secret_key(data_dir: Path) -> bytes:
    """The session-signing key, generated into DATA/secret_key the first time."""
    path = Path(data_dir) / SECRET_KEY_FILE
    if path.exists():
        return path.read_bytes()
    value = secrets.token_hex(32).encode("ascii")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(value)
    return value
