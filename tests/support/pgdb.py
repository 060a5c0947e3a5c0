"""Scratch PostgreSQL databases for tests and benchmarks: made fresh, dropped after.

The server is POINTKIT_TEST_POSTGRES_URL (default: the local server's
``postgres`` database, user postgres); each scratch database gets a unique
name on it, so parallel runs and leftover databases never meet.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

SERVER_URL_ENV = "POINTKIT_TEST_POSTGRES_URL"
DEFAULT_SERVER_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
START_HINT = "start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
NAME_PREFIX = "pointkit_test_"


def server_url() -> str:
    return os.environ.get(SERVER_URL_ENV, DEFAULT_SERVER_URL)


def _admin_connection():
    import psycopg
    from sqlalchemy import make_url

    url = make_url(server_url())
    return psycopg.connect(host=url.host, port=url.port or 5432, user=url.username, password=url.password,
                           dbname=url.database or "postgres", autocommit=True, connect_timeout=5)


def unreachable() -> str | None:
    """Why the PostgreSQL server cannot be used, or None when it can."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed; run: pip install -e '.[pg]'"
    try:
        with _admin_connection() as connection:
            connection.execute("SELECT 1")
    except Exception as exc:
        return f"PostgreSQL at {server_url()} is not reachable ({type(exc).__name__}: {exc}); {START_HINT}"
    return None


def database_name(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).database


def create(template_url: str | None = None) -> str:
    """Create a uniquely named database, empty or a copy of the scratch database at ``template_url`` (which must
    have no open connections); return its SQLAlchemy URL (``drop`` it after)."""
    from sqlalchemy import make_url

    name = NAME_PREFIX + uuid.uuid4().hex[:12]
    template = f' TEMPLATE "{database_name(template_url)}"' if template_url else ""
    with _admin_connection() as connection:
        connection.execute(f'CREATE DATABASE "{name}"{template}')
    return make_url(server_url()).set(database=name).render_as_string(hide_password=False)


def drop(url: str) -> None:
    with _admin_connection() as connection:
        # FORCE: a hub process still shutting down must not keep the database alive.
        connection.execute(f'DROP DATABASE IF EXISTS "{database_name(url)}" WITH (FORCE)')


@contextmanager
def scratch_database(template_url: str | None = None) -> Iterator[str]:
    """Create a uniquely named database (empty, or a copy of ``template_url``); yield its SQLAlchemy URL; drop it
    (and its connections) after."""
    url = create(template_url)
    try:
        yield url
    finally:
        drop(url)
