"""Timers that run each round once across every hub process and machine on one database.

Every ``pointkit-hub serve`` starts the same timers (supervision, pre-check expiry, anchoring). Several
processes, on one machine or several, share the database; a round must still run once. Each timer has a row
in ``timerlease``. A process whose timer wakes takes the round with one atomic UPDATE that matches only
when the last round is at least ``every`` old and no one holds the lease; the loser's UPDATE matches no row
and it sleeps again. The winner runs the round and, in the round's own transaction, marks it done (counts
it, names who ran it, lets the lease go): the round's writes and its record commit together or not at all.

A holder killed mid-round commits nothing; its lease runs out after ``lease_for`` and the next process to
wake takes the round. A round whose work fails lets its lease go at once, for the next wake to try again. A holder that outlived its lease and was overtaken finds its lease gone when it marks
the round done, and rolls its round back (``LeaseLost``). Machines' clocks must agree (NTP) to well within
``lease_for``.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import Connection, Engine, or_, update
from sqlmodel import Session, select

from hub.core.clock import utc_now
from hub.core.db import session_scope, upsert
from hub.core.models import TimerLease

log = logging.getLogger(__name__)

# How long a round may run before another process may take it over from a holder that went silent.
DEFAULT_LEASE_S = 600
T = TypeVar("T")


class LeaseLost(RuntimeError):
    """The round ran past its lease and another process took it over: this one's work is rolled back."""


@dataclass(frozen=True)
class Lease:
    """A round one process took: which timer, who holds it, the take's own id and when it was taken."""

    name: str
    holder: str
    lease_id: str
    taken_at: datetime


@dataclass(frozen=True)
class Round:
    """A round that ran: its number in the timer's count and what the work returned."""

    number: int
    value: object


def take_round(engine: Engine, name: str, *, holder: str, every: timedelta, lease_for: timedelta,
               now: datetime | None = None) -> Lease | None:
    """Take the timer's round if it is due and free, in a transaction of its own; None when it is not."""
    now = now or utc_now()
    lease = Lease(name, holder, uuid.uuid4().hex, now)
    with engine.begin() as connection:
        _ensure_row(connection, name)
        taken = connection.execute(
            update(TimerLease)
            .where(TimerLease.name == name,
                   or_(TimerLease.last_run_at.is_(None), TimerLease.last_run_at <= now - every),  # type: ignore
                   or_(TimerLease.lease_until.is_(None), TimerLease.lease_until < now))  # type: ignore
            .values(holder=holder, lease_id=lease.lease_id, lease_until=now + lease_for)).rowcount
    return lease if taken == 1 else None


def _ensure_row(connection: Connection, name: str) -> None:
    """The timer's row, made by whichever process gets there first (the others' inserts do nothing)."""
    connection.execute(upsert(connection, TimerLease).values(name=name, holder="", lease_id="", last_run_by="", rounds=0)
                       .on_conflict_do_nothing(index_elements=["name"]))


def finish_round(session: Session, lease: Lease) -> int:
    """Mark ``lease``'s round done in the caller's transaction and let the lease go; the round's number.

    Raises ``LeaseLost`` when another process took the round over meanwhile: the caller must roll back.
    """
    done = session.exec(update(TimerLease)  # type: ignore[call-overload]
                        .where(TimerLease.name == lease.name, TimerLease.lease_id == lease.lease_id)
                        .values(lease_until=None, last_run_at=lease.taken_at, last_run_by=lease.holder,
                                rounds=TimerLease.rounds + 1))
    if done.rowcount != 1:
        raise LeaseLost(f"timer {lease.name}: {lease.holder} ran past its lease and another process took the "
                        f"round over; this round is rolled back")
    return session.exec(select(TimerLease.rounds).where(TimerLease.name == lease.name)).one()


def release_round(engine: Engine, lease: Lease) -> None:
    """Let a round whose work failed go at once: the next process to wake tries it again, instead of every
    process waiting out the lease."""
    with engine.begin() as connection:
        connection.execute(update(TimerLease)
                           .where(TimerLease.name == lease.name, TimerLease.lease_id == lease.lease_id)
                           .values(lease_until=None))


def run_round(engine: Engine, name: str, work: Callable[[Session], T], *, holder: str, every: timedelta,
              lease_for: timedelta) -> Round | None:
    """Run ``work`` if this process takes the timer's round, in one transaction with the round's record.

    None when the round was not due or another process holds it.
    """
    lease = take_round(engine, name, holder=holder, every=every, lease_for=lease_for)
    if lease is None:
        return None
    try:
        with session_scope(engine) as session:
            value = work(session)
            number = finish_round(session, lease)
    except LeaseLost:
        raise
    except BaseException:
        release_round(engine, lease)
        raise
    log.info("timer %s: round %d ran on %s", name, number, holder)
    return Round(number, value)


def start_timer(engine: Engine, name: str, every_s: float, work: Callable[[Session], object], *, holder: str,
                lease_s: float = DEFAULT_LEASE_S) -> threading.Event:
    """Try the timer's round every ``every_s`` seconds in a daemon thread; set the event to stop it."""
    stop = threading.Event()
    every, lease_for = timedelta(seconds=every_s), timedelta(seconds=lease_s)

    def loop() -> None:
        while not stop.wait(every_s):
            try:
                run_round(engine, name, work, holder=holder, every=every, lease_for=lease_for)
            except LeaseLost as lost:
                log.warning("%s", lost)
            except Exception as exc:  # one failed round must not end the timer; the next one retries
                log.error("timer %s: the round on %s failed (%s)", name, holder, type(exc).__name__)

    threading.Thread(target=loop, name=f"timer-{name}", daemon=True).start()
    return stop
