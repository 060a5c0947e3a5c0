"""How a streamed upload sizes and paces its chunks, from what the link shows (sync/streaming.py).

Each chunk costs its head (the signed request and its answer), and a drop
loses whatever was sent and not yet answered. So:

- Chunk size: about sqrt(2 x head bytes x bytes between drops) once the link
  drops (a drop loses about a chunk); until it drops, up to a quarter of how
  long it has been up, so chunks are large at once on a fast steady link.
- Window and pace: answers to chunks that queued behind each other come one
  chunk's time on the link apart, which gives the link's rate; the round trip
  is what remains of a chunk's wait. A chunk goes about when the link is done
  with those before it, not before: one queued earlier is lost with them.
- The link's pace: many village links drop at a steady pace (a radio losing
  its cell every few seconds). Once two drops agree (a first guess: the link
  stays up at least as long as it was up before its first drop), chunks are a
  quarter of the usual uptime, their answers are planned to be in by 0.9 of
  it, and nothing more is sent until the drop comes: a drop then finds
  nothing in flight. A drop that keeps no pace ends the planning until two
  drops agree again; one that does not come within 1.25 uptimes stops the wait.
- After a drop, the oldest chunk whose answer was most likely on its way back
  is asked about (HEAD) rather than sent again.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")

START_PIECE = 8 * 1024
MIN_PIECE = 8 * 1024
MAX_PIECE = 256 * 1024
# What one chunk costs beyond its bytes: the signed request head up (~550 bytes), the answer down (~400).
PIECE_OVERHEAD = 950
# Bytes in flight beyond one chunk, at most. The link idles unless a chunk is queued while the answers travel:
# twice the round trip's worth (the hub's fsync per chunk rides in the round trip measured), 19 KB at
# 256 kbit/s x 600 ms. Bytes queued when the link drops are sent for nothing: no more than that.
WINDOW_EXTRA = 48 * 1024
# A chunk may take this share of the time the link stays up (its usual uptime when it drops at a steady pace,
# else how long it has been up so far): a drop then costs at most that share of what the link carries, and on a
# fast link that has stayed up chunks are large at once.
PIECE_SHARE = 0.25
# A link that drops at a steady pace (a radio losing its cell every few seconds): the answers to all chunks in
# by this share of its usual uptime, and nothing more sent until the drop comes (past this share of it without
# the drop, the pace is not trusted until the next one).
UPTIME_MARGIN = 0.9
OVERDUE = 1.25
# A drop within this share of the usual uptime of when it was due keeps the pace trusted.
REGULAR_WITHIN = 0.25
# How much an answer's weight in the link's rate keeps from one answer to the next.
RATE_MEMORY = 0.75
# A chunk smaller than this is not worth its head: wait for the drop instead.
MIN_FIT = 2 * PIECE_OVERHEAD
# A chunk is sent this share of the round trip before the link is expected to be done with those in flight
# (its rate and the round trip are estimates; an idle link costs time).
PACE_LEAD = 0.25


@dataclass
class PieceSizer:
    """The chunk size, window and pace of a streamed upload, from what the link showed (module docstring)."""

    size: int = START_PIECE
    minimum: int = MIN_PIECE
    maximum: int = MAX_PIECE
    # Bytes acknowledged between drops (a running mean), and since the last one.
    between_drops: float | None = None
    since_drop: int = 0
    # Answers to chunks that queued behind each other (the gap between their answers is a chunk's time on the
    # link): their gaps and bytes, older ones weighing less. Sums rather than a mean of ratios, so answers that
    # come bunched after a stall (a busy hub) average out. And the round trip beyond a chunk's time on the link.
    busy_seconds: float = 0.0
    busy_bytes: float = 0.0
    round_trip: float | None = None
    # Since when the link has been up (the stream's first connection, then each drop), when it last dropped,
    # how long it tends to stay up (``uptime_guessed``: at least; from a first drop), and whether the last drop
    # came when due.
    up_since: float | None = None
    last_drop: float | None = None
    uptime: float | None = None
    uptime_guessed: bool = False
    regular: bool = False
    # An answer that came onto an idle link before the rate was known: (cost, elapsed), for the round trip.
    first_answer: tuple[int, float] | None = None

    @property
    def seconds_per_byte(self) -> float | None:
        """Seconds a byte takes on the link, once measured."""
        return self.busy_seconds / self.busy_bytes if self.busy_seconds and self.busy_bytes else None

    @property
    def rate(self) -> float | None:
        """Bytes per second across the link, once measured."""
        return self.busy_bytes / self.busy_seconds if self.busy_seconds and self.busy_bytes else None

    def acked(self, sent: int, now: float | None = None) -> None:
        self.since_drop += sent
        self._resize(now)

    def connected(self, now: float) -> None:
        if self.up_since is None:
            self.up_since = now

    def answered(self, cost: int, elapsed: float, *, queued: bool) -> None:
        """An answer to a chunk of ``cost`` bytes on the wire: ``elapsed`` seconds after the previous answer when
        the chunk had queued behind that one (its time on the link), else after it was sent."""
        seconds_per_byte = self.seconds_per_byte
        if queued:
            self.busy_seconds = RATE_MEMORY * self.busy_seconds + elapsed
            self.busy_bytes = RATE_MEMORY * self.busy_bytes + cost
            if self.first_answer is not None and self.round_trip is None and self.seconds_per_byte is not None:
                cost, elapsed = self.first_answer
                self.round_trip = max(elapsed - cost * self.seconds_per_byte, 0.0)
        elif seconds_per_byte is not None:
            sample = max(elapsed - cost * seconds_per_byte, 0.0)
            self.round_trip = sample if self.round_trip is None else (self.round_trip + sample) / 2
        else:
            self.first_answer = (cost, elapsed)

    def dropped(self, now: float | None = None) -> None:
        """The link dropped (at ``now``). A first drop gives a first guess at its pace (it stays up at least as
        long as it was), replaced by the next gap if longer."""
        seen = float(self.since_drop)
        self.between_drops = seen if self.between_drops is None else (self.between_drops + seen) / 2
        self.since_drop = 0
        if now is not None:
            start = self.last_drop if self.last_drop is not None else self.up_since
            if start is not None:
                gap = now - start
                if self.uptime is None or (self.uptime_guessed and gap >= self.uptime):
                    self.regular, self.uptime = True, gap
                else:
                    self.regular = abs(gap - self.uptime) <= REGULAR_WITHIN * self.uptime
                    self.uptime = (self.uptime + gap) / 2 if self.regular else gap
                self.uptime_guessed = self.last_drop is None
            self.last_drop = self.up_since = now
        self._resize(now)

    def _resize(self, now: float | None) -> None:
        """About sqrt(2 x head x bytes between drops): a drop loses about a chunk, each chunk costs its head. Until
        the link drops (or once it has steadied) up to a share of how long it has been up, so chunks are large
        at once on a fast link; a share of its uptime when it drops at a steady pace (the drop then comes when
        nothing is in flight)."""
        if self.between_drops is not None and self.since_drop <= 4 * self.between_drops:
            best = math.sqrt(2 * PIECE_OVERHEAD * self.between_drops)
        else:
            best = math.sqrt(2 * PIECE_OVERHEAD * self.since_drop)
            if self.rate is not None and now is not None and self.up_since is not None:
                best = max(best, self.rate * (now - self.up_since) * PIECE_SHARE)
        if self.rate is not None and self.regular and self.uptime is not None:
            best = max(best, self.rate * self.uptime * PIECE_SHARE)
        # Grown at most twofold at a time: what the link showed so far may be a fluke.
        self.size = int(max(self.minimum, min(self.maximum, 2 * self.size, best)))

    def window(self, extra: int) -> int:
        """Bytes to keep in flight: a chunk and at most ``extra`` more (two chunks at least), so the link never
        waits for an answer: twice the round trip's worth once measured, a chunk before; at most half of what
        gets through between drops more, as a drop loses what is in flight."""
        if self.rate is None or self.round_trip is None:
            extra = min(extra, self.size)
        else:
            extra = min(extra, int(2 * self.rate * self.round_trip))
        if self.between_drops is not None:
            extra = min(extra, int(self.between_drops / 2))
        return max(2 * self.size, self.size + extra)

    def deadline(self, now: float) -> float | None:
        """By when answers should be in, a drop being due; None when the link keeps no steady pace (or the drop
        it made due has not come)."""
        if not self.regular or self.uptime is None or self.last_drop is None or self.rate is None \
                or self.round_trip is None or now > self.overdue():
            return None
        return self.last_drop + UPTIME_MARGIN * self.uptime

    def overdue(self) -> float:
        """When a drop the pace made due is late enough not to wait for any more."""
        return (self.last_drop or 0.0) + OVERDUE * (self.uptime or 0.0)

    def answer_due(self, now: float, after: float | None, size: int) -> float | None:
        """When the answer to a chunk of ``size`` sent now is due, behind answers due until ``after``."""
        if self.seconds_per_byte is None or self.round_trip is None:
            return None
        return max(after or 0.0, now + self.round_trip) + (size + PIECE_OVERHEAD) * self.seconds_per_byte

    def fit(self, now: float, after: float | None, size: int) -> int:
        """The most of ``size`` bytes to send now whose answer is in before a due drop (0: send nothing more
        until it came); ``after`` is when the last answer in flight is due."""
        deadline = self.deadline(now)
        due = self.answer_due(now, after, size)
        if deadline is None or due is None or due <= deadline:
            return size
        room = int((deadline - due) * (self.rate or 0.0)) + size
        return room if room >= MIN_FIT else 0

    def likely_held(self, sent_at: float, after: float | None, size: int, now: float) -> bool:
        """Whether a chunk of ``size`` sent at ``sent_at`` (behind an answer that came at ``after``) had most
        likely crossed whole by ``now``, its answer on the way back."""
        due = self.answer_due(sent_at, after, size)
        return due is not None and now >= due - (self.round_trip or 0.0) / 2

    def answers_due(self, now: float, sizes: Iterable[int]) -> float | None:
        """When the last of the answers still in flight is due (chunks of ``sizes``, queued), one having come now."""
        if self.seconds_per_byte is None:
            return None
        return now + sum(size + PIECE_OVERHEAD for size in sizes) * self.seconds_per_byte


@dataclass
class Flight(Generic[T]):
    """The chunks sent on one connection and not yet answered (what each is for, its size, when it was sent),
    when the last of their answers is due and when the previous answer came: what the sizer learns from."""

    sizer: PieceSizer
    chunks: deque[tuple[T, int, float]] = field(default_factory=deque)
    waiting: int = 0
    due: float | None = None
    answered_at: float | None = None

    def room(self, size: int, window: int) -> int:
        """How much of a ``size`` chunk to send now: 0 when the window is full or nothing fits before a due drop."""
        if self.chunks and self.waiting + size > window:
            return 0
        return self.sizer.fit(time.monotonic(), self.due if self.chunks else None, size)

    def paced_until(self) -> float | None:
        """Until when to hold the next chunk back: the link is busy with those in flight until about a round
        trip before the last answer is due, and a chunk queued behind them is lost with them in a drop."""
        if not self.chunks or self.due is None or self.sizer.round_trip is None:
            return None
        start = self.due - (1 + PACE_LEAD) * self.sizer.round_trip
        return start if start > time.monotonic() else None

    def sent(self, item: T, size: int) -> None:
        now = time.monotonic()
        self.due = self.sizer.answer_due(now, self.due if self.chunks else None, size)
        self.chunks.append((item, size, now))
        self.waiting += size

    def answered(self) -> tuple[T, int]:
        """The oldest chunk's answer came: what it was for, and its size."""
        item, size, sent_at = self.chunks.popleft()
        self.waiting -= size
        now = time.monotonic()
        queued = self.answered_at is not None and sent_at <= self.answered_at
        self.sizer.answered(size + PIECE_OVERHEAD, now - (self.answered_at if queued else sent_at), queued=queued)
        self.answered_at = now
        self.due = self.sizer.answers_due(now, (size for _, size, _ in self.chunks))
        return item, size

    def likely_held(self) -> T | None:
        """The connection dropped: the oldest chunk if it had most likely crossed whole (its answer was on its
        way back), so that where it stands is asked before it is sent again."""
        if self.chunks:
            item, size, sent_at = self.chunks[0]
            if self.sizer.likely_held(sent_at, self.answered_at, size, time.monotonic()):
                return item
        return None
