"""Clocks and ids: the one seam through which time enters, and UUIDv7 case ids."""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import datetime, timezone

# A village laptop's clock can be off by months. Setting POINTKIT_CLOCK_SKEW_MS makes this
# process's clock run that far off: the fault-injection seam for clock tests, never set in the field.
CLOCK_SKEW_ENV = "POINTKIT_CLOCK_SKEW_MS"
_SKEW_MS = int(os.environ.get(CLOCK_SKEW_ENV, "0") or 0)


def now_ms() -> int:
    """Wall-clock milliseconds since the epoch (this machine's clock)."""
    return time.time_ns() // 1_000_000 + _SKEW_MS


def monotonic_s() -> float:
    """Seconds on a clock that never jumps, for delays (the login throttle's), moved by the same seam."""
    return time.monotonic() + _SKEW_MS / 1000


def shift_clock(ms: int) -> None:
    """Move this process's clock ``ms`` milliseconds (tests move time through here instead of sleeping)."""
    global _SKEW_MS
    _SKEW_MS += ms


def utcnow() -> datetime:
    """Timezone-aware UTC now, on this machine's clock."""
    return from_ms(now_ms())


def as_utc(moment: datetime | None) -> datetime | None:
    """A stored datetime in UTC: SQLite hands datetimes back naive, and they were stored as UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=timezone.utc)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def uuid7(ms: int | None = None) -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48-bit millisecond time, then random bits.

    Ids made offline at many points sort by creation time and never collide. Ids this process makes
    within one millisecond increase in the order they are made (RFC 9562's monotonic random: the random
    bits of the next are the last one's plus one), so rows written in one millisecond, a case's timeline
    lines for one, still sort by id in the order they were written.
    """
    ms = (now_ms() if ms is None else ms) & ((1 << 48) - 1)
    global _last_uuid7
    with _UUID7_LOCK:
        last_ms, last_random = _last_uuid7
        if ms == last_ms and last_random + 1 < 1 << 74:
            random = last_random + 1
        else:
            random = int.from_bytes(os.urandom(10), "big") >> 6
        _last_uuid7 = (ms, random)
    value = ms << 80
    value |= 0x7 << 76
    value |= (random >> 62) << 64
    value |= 0b10 << 62
    value |= random & ((1 << 62) - 1)
    return uuid.UUID(int=value)


def _forget_last_uuid7() -> None:
    # A forked child must not count on from its parent's last id: both would make the same next one.
    global _last_uuid7, _UUID7_LOCK
    _last_uuid7, _UUID7_LOCK = (-1, 0), threading.Lock()


_UUID7_LOCK = threading.Lock()
_last_uuid7 = (-1, 0)  # (millisecond, 74 random bits) of the last id this process made
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_last_uuid7)
