"""The hub's audit log: hash chains of every case state change and admin action.

Entries are appended in the same transaction as the change they record, so
a change and its audit line commit or vanish together. Each entry's hash
covers its chain and position, time, actor, action, subject and detail plus
the previous entry's hash in its chain (``sync.audit``); ``pointkit-hub audit
verify`` walks every chain in order and names the first entry that no longer fits.

There is one chain per point and one for the hub. The entries about a case go
to the chain of the point that took it in (``point:<uuid>``); what a push
records about anything else goes to its point's chain; the rest (staff and
admin actions on no case, timers) to the hub's chain (``hub``), which also
holds every entry written before the chains were split. Positions (``seq``)
run 1, 2, 3, … without gaps within a chain. Appends to one chain are serialized
by that chain's lock (``hub.core.db.key_lock``), which a push holds for its
point anyway, so pushes of different points never wait for each other here; a
staff action holds the whole write lock. A county head (hub/trust/countyheads.py)
signs a Merkle root over every chain's head now and then.

Every transaction that adds or changes a case's rows also appends one
``case_state`` entry recording them (``CASE_ROWS``, hub/core/auditrows.py), so
``audit verify`` can check the live rows against the chain.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Any

from sqlalchemy import bindparam, event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, func, select

from sync.audit import GENESIS, ChainBreak, chain_hash, verify_chain
from sync.auditheads import entry_hashes, point_chain
from sync.auditrows import CASE_STATE, RowWatch

from hub.core.auditrows import WATCHED, case_of, state_detail
from hub.core.clock import iso, utc_now
from hub.core.db import key_lock, transaction_memo, upsert
from hub.core.models import AuditChain, AuditEntry, Case

HUB_CHAIN = "hub"
_HEADS = "audit_heads"  # chain -> (seq, entry_hash) of its last entry, in transaction_memo
_CHAIN_OF_TRANSACTION = "audit_chain"  # the chain a push's other entries go to, in transaction_memo
_HEAD_ROW = (select(AuditEntry.seq, AuditEntry.entry_hash).where(AuditEntry.chain == bindparam("chain"))
             .order_by(AuditEntry.seq.desc()).limit(1))  # type: ignore[union-attr]
_CASE_POINT = select(Case.point_id).where(Case.id == bindparam("case_id"))
# Who a case's state entry names when no entry about the case in its transaction named anyone.
SYSTEM_ACTOR = "hub"


def write_for_point(session: Session, point_id: Any) -> None:
    """The entries this transaction appends about no case go to ``point_id``'s chain (a push's own)."""
    transaction_memo(session)[_CHAIN_OF_TRANSACTION] = point_chain(point_id)


def chain_of(session: Session, subject: str) -> str:
    """The chain an entry about ``subject`` goes to: its case's point's, else the transaction's, else the hub's."""
    if subject.startswith("case:"):
        case_id = subject.removeprefix("case:")
        memo = transaction_memo(session)
        known = memo.setdefault("audit_case_points", {})
        if case_id not in known:
            case = session.identity_map.get(session.identity_key(Case, case_id)) if case_id else None
            point_id = case.point_id if case is not None else session.exec(_CASE_POINT,
                                                                           params={"case_id": case_id}).first()
            known[case_id] = point_chain(point_id) if point_id is not None else None
        if known[case_id]:
            return known[case_id]
    return transaction_memo(session).get(_CHAIN_OF_TRANSACTION, HUB_CHAIN)


def append_audit(session: Session, *, actor: str, action: str, subject: str = "",
                 detail: dict[str, Any] | None = None) -> AuditEntry:
    """Append one entry to its chain inside the caller's transaction (never personal data in ``detail``)."""
    entry = AuditEntry(**next_audit_row(session, actor=actor, action=action, subject=subject, detail=detail))
    session.add(entry)
    return entry


def next_audit_row(session: Session, *, actor: str, action: str, subject: str = "",
                   detail: dict[str, Any] | None = None, at: datetime | None = None,
                   chain: str | None = None) -> dict[str, Any]:
    """The next entry of its chain as a row for the caller to insert in this transaction (the bulk path of
    ingest inserts many at once); the next call links to it. ``at``: the time of the row it records (now);
    ``chain``: where it goes, when the caller knows (else ``chain_of``)."""
    chain = chain or chain_of(session, subject)
    key_lock(session, chain)
    heads = transaction_memo(session).setdefault(_HEADS, {})
    head = heads.get(chain)
    if head is None:
        head = chain_head(session, chain)
    if subject.startswith("case:"):
        CASE_ROWS.note_actor(session, subject.removeprefix("case:"), actor)
    row = {"chain": chain, "seq": head[0] + 1, "at": at or utc_now(), "actor": actor[:128], "action": action[:32],
           "subject": subject[:128], "detail": dict(detail or {}), "prev_hash": head[1]}
    row["entry_hash"] = chain_hash(row["prev_hash"], _hashed(row))
    # Under the chain's lock no one else appends to it until this transaction ends: the next append links to
    # this entry without reading it back, and the rows go out together at the next flush.
    heads[chain] = (row["seq"], row["entry_hash"])
    return row


def chain_head(session: Session, chain: str = HUB_CHAIN) -> tuple[int, str]:
    """(seq, hash) of ``chain``'s last entry as this transaction sees it; (0, GENESIS) for an empty chain."""
    last = session.exec(_HEAD_ROW, params={"chain": chain}).first()
    return (last[0], last[1]) if last else (0, GENESIS)


def chain_entry_hashes(session: Session, chain: str, seqs: Iterable[int]) -> dict[int, str]:
    """seq -> entry hash of those positions ``seqs`` of ``chain`` the chain still has."""
    return entry_hashes(session, AuditEntry, list(seqs), position=AuditEntry.seq, where=(AuditEntry.chain == chain,))


def _record_case_states(session: Session, rows_by_case: dict[str, list[Any]], actors: dict[str, str]) -> None:
    """Just before a transaction commits: one state entry for each case whose rows it added or changed."""
    for case_id, rows in rows_by_case.items():
        case = next((row for row in rows if isinstance(row, Case)), None) or session.get(Case, case_id)
        if case is not None:
            append_audit(session, actor=actors.get(case_id, SYSTEM_ACTOR), action=CASE_STATE,
                         subject=f"case:{case_id}", detail=state_detail(case, rows))


CASE_ROWS = RowWatch("hub", WATCHED, case_of, _record_case_states)


def _record_chain_ends(session: OrmSession) -> None:
    """As a transaction commits (after CASE_ROWS appended its state entries): where each chain it appended to
    ends now, in ``auditchain``, for the next county head."""
    heads = transaction_memo(session).get(_HEADS)  # type: ignore[arg-type]
    if not heads:
        return
    statement = upsert(session, AuditChain).values(
        [{"chain": chain, "seq": seq, "entry_hash": entry_hash, "anchored_seq": 0}
         for chain, (seq, entry_hash) in sorted(heads.items())])
    session.execute(statement.on_conflict_do_update(
        index_elements=["chain"], set_={"seq": statement.excluded.seq, "entry_hash": statement.excluded.entry_hash}))
    heads.clear()  # written: a second commit hook call in this transaction has nothing to add


event.listen(OrmSession, "before_commit", _record_chain_ends)


def hashed_fields(entry: AuditEntry) -> dict[str, Any]:
    """What an entry's hash covers (its position too, so renumbering rows breaks the chain)."""
    return _hashed({"chain": entry.chain, "seq": entry.seq, "at": entry.at, "actor": entry.actor,
                    "action": entry.action, "subject": entry.subject, "detail": entry.detail})


def _hashed(row: dict[str, Any]) -> dict[str, Any]:
    # The hub's chain hashes what it hashed before the chains were split (its position was the entry's id).
    fields = {"id": row["seq"], "at": iso(row["at"]), "actor": row["actor"], "action": row["action"],
              "subject": row["subject"], "detail": row["detail"]}
    return fields if row["chain"] == HUB_CHAIN else {"chain": row["chain"], **fields}


@dataclass(frozen=True)
class ChainReport:
    """The outcome of walking every chain: how many entries, the hub chain's head, the first break."""

    entries: int
    head: str
    broken: ChainBreak | None


def verify_audit(session: Session) -> ChainReport:
    """Walk every chain in order of position; a break names the entry's id (and its chain)."""
    count = session.exec(select(func.count()).select_from(AuditEntry)).one()

    def rows() -> Iterator[tuple[str, int, int, str, str, dict[str, Any]]]:
        for entry in session.exec(select(AuditEntry).order_by(AuditEntry.chain, AuditEntry.seq)):
            yield entry.chain, entry.seq, entry.id, entry.prev_hash, entry.entry_hash, hashed_fields(entry)

    broken = None
    for chain, entries in groupby(rows(), key=lambda row: row[0]):
        entries = list(entries)
        gap = next((index for index, row in enumerate(entries) if row[1] != index + 1), None)
        broken = verify_chain((entry_id, prev, entry_hash, fields) for _, _, entry_id, prev, entry_hash, fields
                              in entries[:gap])
        if broken is None and gap is not None:
            broken = ChainBreak(gap, entries[gap][2], f"is at position {entries[gap][1]} where {gap + 1} was due "
                                                      "(entries removed or renumbered)")
        if broken is not None:
            broken = ChainBreak(broken.position, broken.entry_id, f"{broken.problem}, in the chain {chain}")
            break
    return ChainReport(count, chain_head(session)[1], broken)
