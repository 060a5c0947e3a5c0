"""Hash-chained audit logs, the same on hub and point.

Each entry stores ``entry_hash = SHA-256(prev_hash || canonical JSON of the
entry)``. Editing, removing or reordering any row breaks every hash after it,
and ``verify_chain`` names the first entry that no longer fits. What else
``audit verify`` checks on both sides is beside it: the signed heads kept
outside the database (sync/auditheads.py) and the live rows against what
the chain recorded of them (sync/auditrows.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sync.canonical import canonical_json

GENESIS = "0" * 64


def chain_hash(prev_hash: str, entry: Mapping[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_json(dict(entry))).hexdigest()


@dataclass(frozen=True)
class ChainBreak:
    """Where a chain stops holding: the entry's position, its id and what is wrong."""

    position: int
    entry_id: Any
    problem: str


@dataclass(frozen=True)
class AuditProblem:
    """Something ``audit verify`` found beyond the links: the entry it concerns (None: no entry) and what."""

    entry_id: int | None
    problem: str


def verify_chain(entries: Iterable[tuple[Any, str, str, Mapping[str, Any]]]) -> ChainBreak | None:
    """Check ``(entry_id, prev_hash, entry_hash, fields)`` tuples in stored order.

    Returns None when the whole chain holds, else the first break.
    """
    expected_prev = GENESIS
    for position, (entry_id, prev_hash, entry_hash, fields) in enumerate(entries):
        if prev_hash != expected_prev:
            return ChainBreak(position, entry_id, "does not follow the entry before it (removed or reordered)")
        if chain_hash(prev_hash, fields) != entry_hash:
            return ChainBreak(position, entry_id, "its content does not match its hash (edited)")
        expected_prev = entry_hash
    return None
