"""Failed logins: the delay the next try of a name from an address waits for, recorded where every hub process
reads it, audited when the delays begin, and listed for admins (issue 27).

The in-process ``LoginGate`` (sync/kit/throttle.py) answers first and writes nothing, so a flood of guesses
costs neither scrypt nor database writes; only the tries it lets through are recorded here, one row per
account and address (``LoginFailure``), plus one row per address for every unknown name tried from it.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete
from sqlmodel import Session, select

from sync.kit.throttle import (ADDRESS_FREE_FAILURES, FREE_FAILURES, RECENT_FAILURES, UNKNOWN_NAMES, note_failure,
                               note_success, record_wait)

from hub.core.audit import append_audit
from hub.core.clock import utc_now
from hub.core.db import upsert
from hub.core.models import LoginFailure

log = logging.getLogger(__name__)
# Rows the departments page lists, newest first.
SHOWN_FAILURES = 50


def stored_wait(session: Session, username: str, address: str) -> int:
    """Seconds another hub process (or this one, before a restart) made this account wait from this address."""
    return record_wait(session.get(LoginFailure, (username, address)), utc_now())


def record_failure(session: Session, username: str | None, address: str) -> None:
    """Count a failed try that was let through: of the account ``username``, or of an unknown name (None); the
    first failure that brings delays is audited, once, with its count (never a name that does not exist: it may
    be a password typed in the wrong field)."""
    now = utc_now()
    key = (username if username is not None else UNKNOWN_NAMES, address)
    _ensure_row(session, key)
    record = session.exec(select(LoginFailure).where(LoginFailure.username == key[0], LoginFailure.address == address)
                          .with_for_update().execution_options(populate_existing=True)).one()
    free = FREE_FAILURES if username is not None else ADDRESS_FREE_FAILURES
    if note_failure(record, now, free=free):
        log.warning("failed logins %s from %s: from now on each try waits, %d s and growing",
                    f"of {username}" if username is not None else "of unknown names", address,
                    record_wait(record, now))
        subject, detail = ((f"staff:{username}", {"address": address, "failures": record.failures})
                           if username is not None else
                           (f"address:{address}", {"unknown_names": record.failures}))
        append_audit(session, actor="hub", action="login_throttled", subject=subject, detail=detail)
    session.add(record)
    session.exec(delete(LoginFailure).where(LoginFailure.last_at < now - RECENT_FAILURES))  # type: ignore


def record_success(session: Session, username: str, address: str) -> None:
    """The right password: the account's delay from this address ends; its failures stay listed, with the success."""
    record = session.get(LoginFailure, (username, address))
    if record is not None:
        note_success(record, utc_now())
        session.add(record)


def recent_failures(session: Session) -> list[LoginFailure]:
    """Failed logins of the last day, newest first: what the departments page shows an admin."""
    return list(session.exec(select(LoginFailure).where(LoginFailure.last_at >= utc_now() - RECENT_FAILURES)
                             .order_by(LoginFailure.last_at.desc()).limit(SHOWN_FAILURES)).all())  # type: ignore


def _ensure_row(session: Session, key: tuple[str, str]) -> None:
    """The row, made by whichever process gets there first (the others' inserts do nothing)."""
    now = utc_now()
    session.execute(upsert(session, LoginFailure).values(username=key[0], address=key[1], failures=0, first_at=now,
                                                         last_at=now).on_conflict_do_nothing())
