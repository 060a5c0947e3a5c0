"""Failed logins at the point: the delay the next try of a name from an address waits for, audited when the
delays begin, and listed for the point's admin on the sync page (issue 27).

The in-process ``LoginGate`` (sync/kit/throttle.py) answers first and writes nothing, so a flood of guesses
costs neither scrypt nor database writes; only the tries it lets through are recorded here, one row per
account and address (``LoginFailure``), plus one row per address for every unknown name tried from it. The
point is one process on SQLite, whose transactions take the write lock as they begin (pointkit/db.py): a
row is read and written without a race.
"""

from __future__ import annotations

import logging

from sqlmodel import Session, delete, select

from sync.clock import utcnow
from sync.kit.throttle import (ADDRESS_FREE_FAILURES, FREE_FAILURES, RECENT_FAILURES, UNKNOWN_NAMES, note_failure,
                               note_success, record_wait)

from . import audit
from .models import LoginFailure

log = logging.getLogger("pointkit.logins")
# Rows the sync page lists, newest first.
SHOWN_FAILURES = 50


def stored_wait(session: Session, username: str, address: str) -> int:
    """Seconds the record of this account's failures from this address still makes it wait (after a restart)."""
    return record_wait(session.get(LoginFailure, (username, address)), utcnow())


def record_failure(session: Session, username: str | None, address: str) -> None:
    """Count a failed try that was let through: of the account ``username``, or of an unknown name (None); the
    failure that brings the first delay is audited, once, with its count (never a name that does not exist: it
    may be a password typed in the wrong field)."""
    now = utcnow()
    key = (username if username is not None else UNKNOWN_NAMES, address)
    record = session.get(LoginFailure, key) or LoginFailure(username=key[0], address=address, first_at=now,
                                                            last_at=now)
    free = FREE_FAILURES if username is not None else ADDRESS_FREE_FAILURES
    if note_failure(record, now, free=free):
        log.warning("failed logins %s from %s: from now on each try waits, %d s and growing",
                    f"of {username}" if username is not None else "of unknown names", address,
                    record_wait(record, now))
        if username is not None:
            audit.record(session, audit.SYSTEM_ACTOR, "login_throttled", username, address=address,
                         failures=record.failures)
        else:
            audit.record(session, audit.SYSTEM_ACTOR, "login_throttled", f"address:{address}",
                         unknown_names=record.failures)
    session.add(record)
    session.exec(delete(LoginFailure).where(LoginFailure.last_at < now - RECENT_FAILURES))  # type: ignore


def record_success(session: Session, username: str, address: str) -> None:
    """The right password: the account's delay from this address ends; its failures stay listed, with the success."""
    record = session.get(LoginFailure, (username, address))
    if record is not None:
        note_success(record, utcnow())
        session.add(record)


def recent_failures(session: Session) -> list[LoginFailure]:
    """Failed logins of the last day, newest first: what the sync page shows the point's admin."""
    return list(session.exec(select(LoginFailure).where(LoginFailure.last_at >= utcnow() - RECENT_FAILURES)
                             .order_by(LoginFailure.last_at.desc()).limit(SHOWN_FAILURES)).all())  # type: ignore
