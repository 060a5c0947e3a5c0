"""Canonical JSON: the one byte form every signature and hash is taken over."""

from __future__ import annotations

import json
from typing import Any


def canonical_json(value: Any) -> bytes:
    """Return ``value`` as UTF-8 JSON with sorted keys and no spaces.

    Both sides sign and verify these exact bytes, so the encoding must never
    depend on dict order or platform defaults.
    """
    return json.dumps(
        value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")
