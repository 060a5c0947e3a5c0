"""The hub's audit log: a hash chain of every case state change and admin action.

Entries are appended in the same transaction as the change they record, so
a change and its audit line commit or vanish together. Each entry's hash
covers its id, time, actor, action, subject and detail plus the previous
entry's hash (``sync.audit``); ``pointkit-hub audit verify`` walks the chain
in id order and names the first entry that no longer fits.

Appends are serialized by the hub's write lock (``hub.core.db.write_lock``): the
next id and the previous hash are read under it, so hub processes sharing
one PostgreSQL database never fork the chain.

Every transaction that adds or changes a case's rows also appends one
``case_state`` entry recording them (``CASE_ROWS``, hub/core/auditrows.py), so
``audit verify`` can check the live rows against the chain. Ids run 1, 2,
3, … without gaps: the chain's head is (last id, its hash), which the hub
signs for points and anchors outside the database (hub/trust/auditheads.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, func, select

from sync.audit import GENESIS, ChainBreak, chain_hash, verify_chain
from sync.auditrows import CASE_STATE, RowWatch

from hub.core.auditrows import WATCHED, case_of, state_detail
from hub.core.clock import iso, utc_now
from hub.core.db import transaction_memo, write_lock
from hub.core.models import AuditEntry, Case

_HEAD = "audit_head"  # (id, entry_hash) of the chain's last entry, in transaction_memo
_HEAD_ROW = select(AuditEntry.id, AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1)
# Who a case's state entry names when no entry about the case in its transaction named anyone.
SYSTEM_ACTOR = "hub"


def append_audit(session: Session, *, actor: str, action: str, subject: str = "",
                 detail: dict[str, Any] | None = None) -> AuditEntry:
    """Append one entry to the chain inside the caller's transaction (never personal data in ``detail``)."""
    entry = AuditEntry(**next_audit_row(session, actor=actor, action=action, subject=subject, detail=detail))
    session.add(entry)
    return entry


def next_audit_row(session: Session, *, actor: str, action: str, subject: str = "",
                   detail: dict[str, Any] | None = None, at: datetime | None = None) -> dict[str, Any]:
    """The chain's next entry as a row for the caller to insert in this transaction (the bulk path of ingest
    inserts many at once); the next call links to it. ``at``: the time of the row it records (now)."""
    write_lock(session)
    memo = transaction_memo(session)
    head = memo.get(_HEAD)
    if head is None:
        head = chain_head(session)
    if subject.startswith("case:"):
        CASE_ROWS.note_actor(session, subject.removeprefix("case:"), actor)
    row = {"id": head[0] + 1, "at": at or utc_now(), "actor": actor[:128], "action": action[:32],
           "subject": subject[:128], "detail": dict(detail or {}), "prev_hash": head[1]}
    row["entry_hash"] = chain_hash(row["prev_hash"], _hashed(row))
    # Under the write lock no one else appends until this transaction ends: the next append links to this
    # entry without reading it back, and the rows go out together at the next flush.
    memo[_HEAD] = (row["id"], row["entry_hash"])
    return row


def head_under_lock(session: Session) -> tuple[int, str]:
    """(id, hash) of the chain's last entry as this transaction will commit it (the state entries of the rows it
    changed appended first), for a caller about to commit: without a query when it appended anything."""
    write_lock(session)
    CASE_ROWS.hand_over(session)
    return transaction_memo(session).get(_HEAD) or chain_head(session)


def chain_head(session: Session) -> tuple[int, str]:
    """(id, hash) of the chain's last entry as this transaction sees it; (0, GENESIS) for an empty chain."""
    last = session.exec(_HEAD_ROW).first()
    return (last[0], last[1]) if last else (0, GENESIS)


def _record_case_states(session: Session, rows_by_case: dict[str, list[Any]], actors: dict[str, str]) -> None:
    """Just before a transaction commits: one state entry for each case whose rows it added or changed."""
    for case_id, rows in rows_by_case.items():
        case = next((row for row in rows if isinstance(row, Case)), None) or session.get(Case, case_id)
        if case is not None:
            append_audit(session, actor=actors.get(case_id, SYSTEM_ACTOR), action=CASE_STATE,
                         subject=f"case:{case_id}", detail=state_detail(case, rows))


CASE_ROWS = RowWatch("hub", WATCHED, case_of, _record_case_states)


def hashed_fields(entry: AuditEntry) -> dict[str, Any]:
    """What an entry's hash covers (the id too, so renumbering rows breaks the chain)."""
    return _hashed({"id": entry.id, "at": entry.at, "actor": entry.actor, "action": entry.action,
                    "subject": entry.subject, "detail": entry.detail})


def _hashed(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "at": iso(row["at"]), "actor": row["actor"], "action": row["action"],
            "subject": row["subject"], "detail": row["detail"]}


@dataclass(frozen=True)
class ChainReport:
    """The outcome of walking the chain: how many entries, the head hash, the first break."""

    entries: int
    head: str
    broken: ChainBreak | None


def verify_audit(session: Session) -> ChainReport:
    """Walk the whole chain in id order."""
    count = session.exec(select(func.count()).select_from(AuditEntry)).one()

    def rows() -> Iterator[tuple[int, str, str, dict[str, Any]]]:
        for entry in session.exec(select(AuditEntry).order_by(AuditEntry.id)):
            yield entry.id, entry.prev_hash, entry.entry_hash, hashed_fields(entry)

    broken = verify_chain(rows())
    last = session.exec(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).first()
    return ChainReport(count, last.entry_hash if last else GENESIS, broken)
