"""What a request of the hub reaches: its database session, the serving hub's keys and its settings.

The domain below takes these as arguments; only the web layer reads them from Flask's app and request.
"""

from __future__ import annotations

from pathlib import Path

from flask import current_app, g, request
from sqlalchemy import Engine
from sqlmodel import Session

from sync.keys import Identity

from hub.approval.timelimits import DEFAULT_WARN_SHARE
from hub.core.db import write_lock
from hub.intake.budget import DEFAULT_INGEST_BUDGET_MIB
from hub.trust.keys import Keyring, keyring_state, load_keyring

# Sync endpoints take no request-wide lock: ingest is built for concurrency (unique keys, claimed rows).
UNLOCKED_PREFIXES = ("/sync/",)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def init_app(app, engine: Engine) -> None:
    """Keep ``engine`` on the app and close each request's session when the request ends.

    A staff action (a form post, an API call that changes something) holds the write lock from its
    first read, as every SQLite transaction does: a decision checked against a task's state cannot
    race the same decision through another hub process. Staff actions are few; the cost is nil.
    """
    app.extensions["hub_engine"] = engine

    @app.before_request
    def _lock_staff_writes() -> None:
        if request.method not in SAFE_METHODS and not request.path.startswith(UNLOCKED_PREFIXES):
            write_lock(get_session())

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


def get_session() -> Session:
    """The current request's session (Flask-tutorial style ``get_db``)."""
    if "db_session" not in g:
        g.db_session = Session(current_app.extensions["hub_engine"], expire_on_commit=False)
    return g.db_session


def current_keyring() -> Keyring:
    """The serving hub's keyring, reloaded when another process rotated or purged keys."""
    if "hub_keyring" in g:
        return g.hub_keyring
    session = get_session()
    state = keyring_state(session)
    cached = current_app.extensions.get("hub_keyring")
    if cached is None or cached[0] != state:
        cached = (state, load_keyring(session, Path(current_app.config["DATA_DIR"])))
        current_app.extensions["hub_keyring"] = cached
    g.hub_keyring = cached[1]
    return cached[1]


def current_identity() -> Identity:
    """The serving hub's current signing and sealing keys (inside a request)."""
    return current_keyring().current


def configured_budget_mib() -> int:
    """The county's default daily ingest budget of a point, in MiB (``serve --ingest-budget-mib``)."""
    return int(current_app.config.get("INGEST_BUDGET_MIB", DEFAULT_INGEST_BUDGET_MIB))


def configured_warn_share() -> float:
    """The serving app's warning share (``serve --warn-share`` or POINTKIT_HUB_WARN_SHARE)."""
    return float(current_app.config.get("WARN_SHARE", DEFAULT_WARN_SHARE))
