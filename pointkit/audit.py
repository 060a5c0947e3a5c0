"""The point's audit log: a hash chain of every case state change and every admin action.

``record`` appends in the caller's transaction, so an entry exists exactly
when the change it describes was committed. Each entry's hash covers its id,
time, actor, action, subject and detail and the hash before it
(``sync.audit.chain_hash``); the head row remembers where the chain ends, so
a row cut off the tail is noticed as well as one edited, removed or moved.
Details hold ids, numbers and reasons, never a resident's name, ID number,
phone or pickup code.

Every transaction that adds or changes a case also appends a ``case_state``
entry recording it (``CASE_ROWS``; what it holds: pointkit/auditrows.py),
and ``check_rows_and_heads`` compares the live cases with those entries. The
head row is inside the database; so the point also signs its head and
appends it to ``DATA/audit-heads.log`` after each sync round and each
verify that holds (``anchor_own_head``), and verify fails when the chain no
longer reaches a head written there (sync/auditheads.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, func, select

from sync.audit import GENESIS, AuditProblem, chain_hash, verify_chain
from sync.auditheads import HEADS_FILE, anchor_head, anchored_heads, check_heads, entry_hashes, point_chain, sign_head
from sync.auditrows import CASE_BASELINE, CASE_STATE, RowWatch
from sync.clock import utcnow
from sync.keys import Identity

from .auditrows import case_fingerprint, cross_check, unrecorded_cases
from .models import AuditEntry, AuditHead, Case
from .state import as_utc, get_state, point_sign_keys

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
    CASE_ROWS.note_actor(session, subject, actor)
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


def _record_case_states(session: Session, rows_by_case: dict[str, list[Any]], actors: dict[str, str]) -> None:
    """Just before a transaction commits: one state entry for each case it added or changed."""
    for case_id, rows in rows_by_case.items():
        record(session, actors.get(case_id, SYSTEM_ACTOR), CASE_STATE, case_id, case=case_fingerprint(rows[0]))


CASE_ROWS = RowWatch("point", (Case,), lambda case: case.id, _record_case_states)


def record_baseline(session: Session) -> int:
    """One ``case_baseline`` entry per case no entry records yet (taken before the chain recorded case
    contents): what it holds now, checked by verify from here on. Returns how many."""
    cases = unrecorded_cases(session)
    for case in cases:
        record(session, SYSTEM_ACTOR, CASE_BASELINE, case.id, case=case_fingerprint(case))
    return len(cases)


def heads_file(data_dir: str | Path) -> Path:
    return Path(data_dir) / HEADS_FILE


def _head(session: Session) -> tuple[int, str]:
    head = session.get(AuditHead, 1)
    return (head.last_id, head.last_hash) if head is not None else (0, GENESIS)


def anchor_own_head(session: Session, data_dir: str | Path, identity: Identity) -> bool:
    """Append the chain's head, signed with this point's key, to its heads file unless it is the last one
    there; True when it was appended."""
    entries, head = _head(session)
    return anchor_head(heads_file(data_dir), sign_head(point_chain(get_state(session).point_id), entries, head,
                                                       identity.sign_key))


def check_rows_and_heads(session: Session, data_dir: str | Path) -> list[AuditProblem]:
    """What verify checks beyond the links: the heads in the heads file, then the cases against their entries."""
    last_id = session.exec(select(func.max(AuditEntry.id))).one() or 0
    problems = check_heads(anchored_heads(heads_file(data_dir)), chain=point_chain(get_state(session).point_id),
                           last_id=last_id, hashes=lambda ids: entry_hashes(session, AuditEntry, ids),
                           keys=point_sign_keys(data_dir), keeper="this point")
    return problems + cross_check(session)
