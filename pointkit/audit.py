"""The point's audit log: a hash chain of every case state change and every admin action.

``record`` appends in the caller's transaction, so an entry exists exactly
when the change it describes was committed. Each entry's hash covers its id,
time, actor, action, subject and detail and the hash before it
(``sync.audit.chain_hash``); the head row remembers where the chain ends, so
a row cut off the tail is noticed as well as one edited, removed or moved.
Details hold ids, numbers and reasons, never a resident's name, ID number,
phone or pickup code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from sync.audit import GENESIS, chain_hash, verify_chain
from sync.clock import utcnow

from .models import AuditEntry, AuditHead
from .state import as_utc

SYSTEM_ACTOR = "system"
HUB_ACTOR = "hub"


def _at_text(moment: datetime) -> str:
    return as_utc(moment).isoformat(timespec="microseconds")


def hashed_fields(entry_id: int, at: datetime, actor: str, action: str, subject: str,
                  detail: dict[str, Any]) -> dict[str, Any]:
    """What an entry's hash covers."""
    return {"id": entry_id, "at": _at_text(at), "actor": actor, "action": action, "subject": subject,
            "detail": detail}


def record(session: Session, actor: str, action: str, subject: str = "", **detail: Any) -> AuditEntry:
    """Append one entry to the chain in the caller's transaction."""
    head = session.get(AuditHead, 1)
    if head is None:
        head = AuditHead(id=1, last_id=0, last_hash=GENESIS)
    entry_id, at = head.last_id + 1, utcnow()
    actor, subject = actor[:64], subject[:64]
    entry_hash = chain_hash(head.last_hash, hashed_fields(entry_id, at, actor, action, subject, detail))
    entry = AuditEntry(id=entry_id, at=at, actor=actor, action=action, subject=subject,
                       detail=json.dumps(detail, ensure_ascii=False, sort_keys=True),
                       prev_hash=head.last_hash, entry_hash=entry_hash)
    head.last_id, head.last_hash = entry_id, entry_hash
    session.add(entry)
    session.add(head)
    session.flush()
    return entry


@dataclass(frozen=True)
class AuditCheck:
    """The outcome of verifying the chain: how many entries, and the first bad one if any."""

    count: int
    bad_entry_id: int | None = None
    problem: str = ""

    @property
    def holds(self) -> bool:
        return self.bad_entry_id is None and not self.problem


def _stored_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def verify(session: Session) -> AuditCheck:
    """Walk the chain in id order and name the first entry that was edited, removed or moved.

    Rows are read as stored (plain SQL), so a hand-edited value that no
    longer parses is reported, not raised.
    """
    rows = session.connection().exec_driver_sql(
        "SELECT id, at, actor, action, subject, detail, prev_hash, entry_hash FROM auditentry ORDER BY id").all()
    links = []
    for entry_id, at, actor, action, subject, detail_text, prev_hash, entry_hash in rows:
        try:
            detail = json.loads(detail_text)
        except (TypeError, ValueError):
            return AuditCheck(len(rows), entry_id, "its detail is no longer valid JSON (edited)")
        moment = _stored_time(at)
        if moment is None:
            return AuditCheck(len(rows), entry_id, "its time is no longer a time (edited)")
        links.append((entry_id, prev_hash, entry_hash,
                      hashed_fields(entry_id, moment, str(actor), str(action), str(subject), detail)))
    broken = verify_chain(links)
    if broken is not None:
        return AuditCheck(len(rows), broken.entry_id, broken.problem)
    head = session.get(AuditHead, 1)
    last_id, last_hash = (rows[-1][0], rows[-1][7]) if rows else (0, GENESIS)
    if head is not None and (head.last_id, head.last_hash) != (last_id, last_hash):
        if head.last_id > last_id:
            return AuditCheck(len(rows), last_id + 1,
                              f"it is missing: the chain should end at entry {head.last_id} (removed from the end)")
        return AuditCheck(len(rows), last_id, "it does not match the recorded end of the chain (edited or added)")
    return AuditCheck(len(rows))
