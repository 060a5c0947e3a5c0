"""What a chain records of the rows it is about, so ``audit verify`` can check the live rows against it.

The chain alone proves only that its own rows are untouched: someone with
the database could still edit a case's decision, an applicant's name or a
timeline note and leave the chain whole. So each transaction that adds or
changes a case's rows appends one ``case_state`` entry recording them, and
verify compares every live row with the newest entry that recorded it.

``RowWatch`` finds those rows without every writer having to remember: it
notes each row of the watched tables a session flushes, and hands them over
grouped by case just before the transaction commits, in time for one more
entry in the same commit. Rows written by plain SQL (a bulk insert) are the
caller's to record.

An entry records a row as its *fingerprint*: the fields that matter as they
are (status, decision, reason, who decided and when) and, for anything that
may hold personal data (an applicant, a form, a result document, a note a
resident wrote), only ``content_digest``: SHA-256 over the value with the
case id as salt. The chain then holds nothing about a resident that the row
beside it does not, and what leaves the database (a head, an export of the
chain for an auditor) none of it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session as OrmSession

from sync.canonical import canonical_json

CASE_STATE = "case_state"
# Written once, when an upgraded side first records the rows it held from before (``audit verify`` needs an
# entry for every row; the baseline says what they held then).
CASE_BASELINE = "case_baseline"
STATE_ACTIONS = (CASE_STATE, CASE_BASELINE)
DIGEST_SUFFIX = "_sha256"


def content_digest(salt: str, value: Any) -> str:
    """SHA-256 (hex) of ``value`` as canonical JSON, salted with ``salt`` (the case id)."""
    return hashlib.sha256(canonical_json({"salt": salt, "value": value})).hexdigest()


def difference(recorded: Any, live: Mapping[str, Any]) -> str | None:
    """How ``live`` (a row's fingerprint now) differs from ``recorded`` (the fingerprint an entry holds), in
    words; None when they agree."""
    if not isinstance(recorded, Mapping):
        return "the entry does not record it as a row (edited)"
    for name in sorted(set(recorded) | set(live)):
        was, now = recorded.get(name), live.get(name)
        if was != now:
            if name.endswith(DIGEST_SUFFIX):
                return f"its {name.removesuffix(DIGEST_SUFFIX)} is not what the entry recorded (compared by digest)"
            return f"its {name} is {now!r}, the entry recorded {was!r}"
    return None


@dataclass
class _Touched:
    """What one transaction of a session added or changed: (model, primary key) -> case id, in order; and who
    wrote the last entry about each case."""

    transaction: Any
    rows: dict[tuple[type, tuple], str] = field(default_factory=dict)
    actors: dict[str, str] = field(default_factory=dict)


class RowWatch:
    """Notes the rows of ``models`` each transaction adds or changes and, just before the transaction (the
    outermost one: a savepoint may still roll back) commits, calls ``on_commit(session, rows_by_case,
    actors)``: the rows as they are now, grouped by the case ``case_of`` names, and the actor ``note_actor``
    last named for each case.

    Rows a savepoint rolled back may still be handed over (as they now stand, or not at all when gone): an
    entry recording a row's current state is never wrong, only once more than needed.
    """

    def __init__(self, name: str, models: tuple[type, ...], case_of: Callable[[Any], str],
                 on_commit: Callable[[OrmSession, dict[str, list[Any]], dict[str, str]], None]):
        self._key, self._models, self._case_of, self._on_commit = f"pointkit_rowwatch_{name}", models, case_of, on_commit
        event.listen(OrmSession, "before_flush", self._note)
        event.listen(OrmSession, "before_commit", self.hand_over)
        event.listen(OrmSession, "after_transaction_end", self._forget)

    def _touched(self, session: OrmSession) -> _Touched:
        transaction = session.get_transaction()
        touched = session.info.get(self._key)
        if touched is None or touched.transaction is not transaction:
            touched = session.info[self._key] = _Touched(transaction)
        return touched

    def note_actor(self, session: OrmSession, case_id: str, actor: str) -> None:
        """``actor`` wrote an audit entry about ``case_id`` in this transaction: its state entry names them."""
        self._touched(session).actors[case_id] = actor

    def _note(self, session: OrmSession, _context: Any, _instances: Any) -> None:
        changed = [row for row in (*session.new, *session.dirty) if isinstance(row, self._models)]
        if changed:
            rows = self._touched(session).rows
            for row in changed:
                rows.setdefault((type(row), tuple(inspect(row).mapper.primary_key_from_instance(row))),
                                self._case_of(row))

    def hand_over(self, session: OrmSession) -> None:
        """Hand the rows noted so far over now (the commit hands over only what comes after)."""
        if session.in_nested_transaction():
            return
        if any(isinstance(row, self._models) for row in (*session.new, *session.dirty)):
            session.flush()
        touched = session.info.get(self._key)
        if touched is None or touched.transaction is not session.get_transaction() or not touched.rows:
            return
        by_case: dict[str, list[Any]] = {}
        for (model, key), case_id in list(touched.rows.items()):
            row = session.get(model, key)
            if row is not None:
                by_case.setdefault(case_id, []).append(row)
        touched.rows.clear()
        if by_case:
            self._on_commit(session, by_case, dict(touched.actors))

    def _forget(self, session: OrmSession, transaction: Any) -> None:
        if transaction.parent is None:
            session.info.pop(self._key, None)
