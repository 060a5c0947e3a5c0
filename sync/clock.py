"""Clocks and ids: the one seam through which time enters, and UUIDv7 case ids."""

from __future__ import annotations

import os
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


def shift_clock(ms: int) -> None:
    """Move this process's clock ``ms`` milliseconds (tests move time through here instead of sleeping)."""
    global _SKEW_MS
    _SKEW_MS += ms


def utcnow() -> datetime:
    """Timezone-aware UTC now, on this machine's clock."""
    return from_ms(now_ms())


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def uuid7(ms: int | None = None) -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48-bit millisecond time, then random bits.

    Ids made offline at many points sort by creation time and never collide.
    """
    ms = now_ms() if ms is None else ms
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)
