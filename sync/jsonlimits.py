"""JSON that arrives from outside, read within limits: size, depth, numbers and text.

Python's json module parses nesting by recursion, so a document nested
200,000 deep raises RecursionError (not the ValueError callers expect); it
accepts NaN and Infinity, which are not JSON; and it hands back strings with
NUL characters or unpaired surrogates, which PostgreSQL refuses to store and
UTF-8 cannot encode. Each of those used to surface far from the parser, as a
500 for a whole push. Every JSON document a stranger can send (a sealed
payload, a USB bundle's manifest, a request body) is read with
``load_json``, which refuses them all with one exception and a reason.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

# How deeply a document may nest objects and arrays. Payloads and bodies need 4 or 5 levels.
MAX_DEPTH = 32
# Characters no stored text may hold: NUL (PostgreSQL) and unpaired surrogates (not encodable as UTF-8).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class JSONRefused(ValueError):
    """A document refused before anything used it; ``reason`` is ``malformed``, ``too_large`` or ``too_deep``."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number {text[:20]} is out of range")
    return number


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def load_json(data: bytes | str, *, max_bytes: int | None = None, max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``data`` (UTF-8 JSON); raise JSONRefused when it is over ``max_bytes``, nested deeper than
    ``max_depth``, not JSON, or holds a non-finite number or a string no database can store."""
    if max_bytes is not None and len(data) > max_bytes:
        raise JSONRefused("too_large", f"the JSON document is {len(data)} bytes, more than the {max_bytes} allowed")
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        value = json.loads(text, parse_float=_finite, parse_constant=_no_constant)
    except RecursionError:
        raise JSONRefused("too_deep", f"the JSON document is nested more than {max_depth} levels deep") from None
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise JSONRefused("malformed", f"not JSON: {str(exc)[:120]}") from None
    _check(value, max_depth)
    return value


def _check(value: Any, max_depth: int) -> None:
    """Walk ``value`` without recursion: its depth and every string in it, keys included."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                raise JSONRefused("malformed", "a string holds a NUL character or an unpaired surrogate")
            continue
        if not isinstance(item, (dict, list)):
            continue
        if depth > max_depth:
            raise JSONRefused("too_deep", f"the JSON document is nested more than {max_depth} levels deep")
        children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
        pending.extend((child, depth + 1) for child in children)
