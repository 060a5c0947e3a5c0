"""How the pushes of one hub process take turns, and how long each waited for the write lock and held it.

Within one hub process, one push at a time verifies and opens, and one at a time writes: the two steps of
different pushes overlap, while the other server threads wait here instead of contending for the GIL (one
thread runs Python at a time anyway) and polling the database's write lock. Each process still gives the
database one writer in line, and processes run their crypto side by side.

None of this decides anything about an envelope (hub/intake/ingest.py does); it only schedules.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any
from contextlib import contextmanager
from dataclasses import dataclass

from sqlmodel import Session

from hub.core.db import ingest_lock, queue_for_writing
from hub.core.outcome import Answer, Fate

log = logging.getLogger(__name__)

ARRIVING = threading.Lock()
_WRITING = threading.Lock()

# What the push line below says about the write lock, for tools that read hub.log (scripts/bench_hub.py).
PUSH_LINE_LOCK_TIMES = re.compile(r"push of \d+ envelope\(s\) for point\(s\) ([0-9a-f,-]*): .*; waited ([\d.]+) ms "
                                  r"for its locks, held them ([\d.]+) ms")


class WriterFirst:
    """While a push of this process holds the hub's write lock, the push verifying and opening waits.

    Every hub process queues for that one lock, so how long a push holds it bounds the whole hub's ingest.
    A verifying thread of the same process would take half the GIL meanwhile and stretch the hold to about
    twice its work. It pauses between envelopes instead, and does its crypto while this process waits for
    the lock or another process holds it (bench_hub prints how busy the lock is).
    """

    def __init__(self) -> None:
        self._turn = threading.Condition()
        self._writing = False

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._turn:
            self._writing = True
        try:
            yield
        finally:
            with self._turn:
                self._writing = False
                self._turn.notify_all()

    def wait(self) -> None:
        """Before the next envelope's crypto: wait while this process's writing push holds the lock."""
        with self._turn:
            self._turn.wait_for(lambda: not self._writing)


WRITER_FIRST = WriterFirst()


@dataclass
class LockTimes:
    """When a push queued for the write lock, got it, and let it go (``time.perf_counter``)."""

    queued: float
    locked: float = 0.0
    released: float = 0.0


@contextmanager
def writing_turn(session: Session, keys: Iterable[str] = ()) -> Iterator[LockTimes]:
    """This process's one writing push, holding its locks from its first statement: on PostgreSQL the hub's
    write lock in shared mode and the keys of what it writes (hub.core.db.ingest_lock), so pushes of other
    processes for other points write meanwhile; on SQLite the database's one writer lock.

    The body commits; the time it let go is read before leaving the writers' queue (queue_for_writing):
    summed over pushes, the times held then stay within the run, where a process preempted after letting go
    would count the next one's hold too (on PostgreSQL the commit lets go; that gap is one reply).
    """
    times = LockTimes(queued=time.perf_counter())
    with _WRITING, queue_for_writing(session):
        ingest_lock(session, keys)
        session.connection()  # on SQLite the lock is taken as the transaction begins (BEGIN IMMEDIATE)
        times.locked = time.perf_counter()
        with WRITER_FIRST.writing():
            yield times
            times.released = time.perf_counter()


def log_push(answers: list[Answer], times: LockTimes, points: Iterable[Any] = ()) -> None:
    """One line per push, and one per envelope that was not simply accepted (a busy hub takes thousands of
    plain cases a minute; their own timelines say when each arrived).

    The push's line names the points whose envelopes it carried (their ids) and says how
    long it waited for its locks and held them: on SQLite the database's one writer lock, on PostgreSQL its
    points' keys under the shared write lock (hub/core/db.py ``ingest_lock``). Summed over a while, per point
    on PostgreSQL, the time held says how busy a lock is, which bounds what more hub processes can add
    (docs/architecture.md, "How far more processes help").
    """
    counts = Counter(str(answer.outcome.fate) for answer in answers)
    log.info("push of %d envelope(s) for point(s) %s: %s; waited %.1f ms for its locks, held them %.1f ms",
             len(answers), ",".join(sorted({str(point) for point in points})),
             ", ".join(f"{count} {fate}" for fate, count in sorted(counts.items())),
             (times.locked - times.queued) * 1000, (times.released - times.locked) * 1000)
    for answer in answers:
        if answer.outcome.fate is not Fate.ACCEPTED or answer.outcome.reason:
            log.info("envelope %s: %s %s", answer.envelope_id, answer.outcome.fate, answer.outcome.reason)
