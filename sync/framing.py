"""Wire framing for push and pull bodies: a count of length-prefixed envelopes.

    magic  b"PKF1"
    count  u32
    count x (u32 length, envelope bytes)

No base64, no JSON around binary data: a 40-byte case costs 40 bytes plus 8.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from sync.envelope import EnvelopeError

FRAME_MAGIC = b"PKF1"
MAX_FRAMES = 10_000
MAX_BODY = 32 * 1024 * 1024
CONTENT_TYPE = "application/vnd.pointkit.frames"
T = TypeVar("T")


def encode_frames(items: Iterable[bytes]) -> bytes:
    items = list(items)
    parts = [FRAME_MAGIC, struct.pack(">I", len(items))]
    for item in items:
        parts.append(struct.pack(">I", len(item)))
        parts.append(item)
    return b"".join(parts)


def take_within(items: Sequence[T], max_bytes: int, size: Callable[[T], int]) -> list[T]:
    """The longest prefix of ``items`` whose sizes add up to at most ``max_bytes``; the first item is
    always taken, so one large envelope still moves on its own."""
    chosen, total = [], 0
    for item in items:
        if chosen and total + size(item) > max_bytes:
            break
        chosen.append(item)
        total += size(item)
    return chosen


def decode_frames(body: bytes, *, max_body: int = MAX_BODY) -> list[bytes]:
    """Split a frames body; raise EnvelopeError on any malformed or truncated input."""
    if len(body) > max_body:
        raise EnvelopeError("too_large", f"body of {len(body)} bytes exceeds {max_body}")
    if len(body) < 8 or body[:4] != FRAME_MAGIC:
        raise EnvelopeError("malformed", "body is not a pointkit frames body (bad magic)")
    (count,) = struct.unpack_from(">I", body, 4)
    if count > MAX_FRAMES:
        raise EnvelopeError("too_large", f"{count} frames exceed the limit of {MAX_FRAMES}")
    offset, items = 8, []
    for index in range(count):
        if offset + 4 > len(body):
            raise EnvelopeError("truncated", f"frame {index} has no length")
        (length,) = struct.unpack_from(">I", body, offset)
        offset += 4
        if offset + length > len(body):
            raise EnvelopeError("truncated", f"frame {index} is cut short")
        items.append(body[offset : offset + length])
        offset += length
    if offset != len(body):
        raise EnvelopeError("malformed", "trailing bytes after the last frame")
    return items
