"""The hub's audit log: a hash chain of every case state change and admin action.

Entries are appended in the same transaction as the change they record, so
a change and its audit line commit or vanish together. Each entry's hash
covers its id, time, actor, action, subject and detail plus the previous
entry's hash (``sync.audit``); ``pointkit-hub audit verify`` walks the chain
in id order and names the first entry that no longer fits.

Appends are serialized by the hub's write lock (``hub.db.write_lock``): the
next id and the previous hash are read under it, so hub processes sharing
one PostgreSQL database never fork the chain.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, func, select

from sync.audit import GENESIS, ChainBreak, chain_hash, verify_chain

from .db import iso, transaction_memo, utc_now, write_lock
from .models import AuditEntry

_HEAD = "audit_head"  # (id, entry_hash) of the chain's last entry, in transaction_memo
_HEAD_ROW = select(AuditEntry.id, AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1)


def append_audit(session: Session, *, actor: str, action: str, subject: str = "",
                 detail: dict[str, Any] | None = None) -> AuditEntry:
    """Append one entry to the chain inside the caller's transaction (never personal data in ``detail``)."""
    entry = AuditEntry(**next_audit_row(session, actor=actor, action=action, subject=subject, detail=detail))
    session.add(entry)
    return entry


def next_audit_row(session: Session, *, actor: str, action: str, subject: str = "",
                   detail: dict[str, Any] | None = None) -> dict[str, Any]:
    """The chain's next entry as a row for the caller to insert in this transaction (the bulk path of ingest
    inserts many at once); the next call links to it."""
    write_lock(session)
    memo = transaction_memo(session)
    head = memo.get(_HEAD)
    if head is None:
        last = session.exec(_HEAD_ROW).first()
        head = tuple(last) if last else (0, GENESIS)
    row = {"id": head[0] + 1, "at": utc_now(), "actor": actor[:128], "action": action[:32],
           "subject": subject[:128], "detail": dict(detail or {}), "prev_hash": head[1]}
    row["entry_hash"] = chain_hash(row["prev_hash"], _hashed(row))
    # Under the write lock no one else appends until this transaction ends: the next append links to this
    # entry without reading it back, and the rows go out together at the next flush.
    memo[_HEAD] = (row["id"], row["entry_hash"])
    return row


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
