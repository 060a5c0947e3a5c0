"""Clocks and ids: the one seam through which time enters, and UUIDv7 case ids."""

from __future__ import annotations

import os
import time
import uuid
from datetime import datetime, timezone


def now_ms() -> int:
    """Wall-clock milliseconds since the epoch (this machine's clock)."""
    return time.time_ns() // 1_000_000


def utcnow() -> datetime:
    """Timezone-aware UTC now."""
    return datetime.now(timezone.utc)


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
