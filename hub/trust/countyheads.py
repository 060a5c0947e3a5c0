"""County heads: one signed root over every audit chain's head, so the hub's chains are anchored as one.

Each point's cases have their own audit chain (hub/core/audit.py), so pushes of different points never wait on
one lock. A county head binds them together again now and then: the heads of every chain at that moment
(``auditchain``), a Merkle root over them, and the hash of the county head before it. County heads form a chain of
their own (``county``), which the hub signs like any chain head (sync/auditheads.py): every push answer carries
the newest, points keep the longest they saw, and ``DATA/audit-heads.log`` gets one on the anchoring timer.

A county head stores only the chains that moved since the one before it; ``verify_county_heads`` replays them from
the first, checks each link and root, and that every chain still has the entry each head recorded with the same
hash. Whoever cuts a point's chain short, or rewrites it, then fails against the county heads; whoever also
removes the county heads fails against the heads the points and the heads file hold.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, select

from sync.audit import GENESIS, AuditProblem, chain_hash
from sync.auditheads import COUNTY_CHAIN, entry_hashes, sign_head
from sync.keys import Identity

from hub.core.clock import iso, utc_now
from hub.core.db import key_lock, try_key_lock
from hub.core.models import AuditChain, AuditEntry, CountyHead

log = logging.getLogger(__name__)

# A push writes a county head after its batch when the newest is older than this (pushes never wait for it).
DEFAULT_COUNTY_HEAD_EVERY_S = 5.0
_LATEST = select(CountyHead).order_by(CountyHead.seq.desc()).limit(1)  # type: ignore[union-attr]


def merkle_root(heads: dict[str, tuple[int, str]]) -> str:
    """SHA-256 Merkle root over ``heads`` (chain -> (seq, hash)) in chain order; leaves and nodes are hashed
    apart (0x00, 0x01), an odd node goes up as it is; GENESIS when there are none."""
    level = [hashlib.sha256(b"\x00" + f"{chain}\n{seq}\n{entry_hash}".encode("utf-8")).digest()
             for chain, (seq, entry_hash) in sorted(heads.items())]
    if not level:
        return GENESIS
    while len(level) > 1:
        level = [hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest() if i + 1 < len(level) else level[i]
                 for i in range(0, len(level), 2)]
    return level[0].hex()


def latest_county_head(session: Session) -> CountyHead | None:
    return session.exec(_LATEST).first()


def write_county_head(session: Session, *, wait: bool = True) -> CountyHead | None:
    """Add a county head over every chain's head as committed now, unless no chain moved since the newest one;
    the caller commits. ``wait=False`` (a push): on PostgreSQL, do nothing when another process is writing one."""
    if not _county_lock(session, wait):
        return None
    latest = latest_county_head(session)
    chains = session.exec(select(AuditChain)).all()
    moved = {row.chain: [row.seq, row.entry_hash] for row in chains if row.seq != row.anchored_seq}
    if not moved and latest is not None:
        return None
    heads = {row.chain: (row.seq, row.entry_hash) for row in chains}
    seq, prev_hash, at = (latest.seq + 1 if latest else 1), (latest.entry_hash if latest else GENESIS), utc_now()
    root = merkle_root(heads)
    head = CountyHead(seq=seq, at=at, heads=moved, root=root, prev_hash=prev_hash,
                      entry_hash=chain_hash(prev_hash, _hashed(seq, at, moved, root)))
    session.add(head)
    for chain, (chain_seq, _) in moved.items():
        # Only if the chain did not move again meanwhile: then it is still "moved" for the next county head.
        session.exec(update(AuditChain).where(AuditChain.chain == chain, AuditChain.seq == chain_seq)  # type: ignore[arg-type]
                     .values(anchored_seq=chain_seq))
    log.info("county head %d: %d chain(s) moved, root %s", head.seq, len(moved), root[:16])
    return head


def _county_lock(session: Session, wait: bool) -> bool:
    """The county chain's lock (SQLite: the writer already holds the database)."""
    if wait:
        key_lock(session, COUNTY_CHAIN)
        return True
    return try_key_lock(session, COUNTY_CHAIN)


def county_head_due(session: Session, every_s: float) -> bool:
    """Whether a push should write a county head: none yet, or the newest is older than ``every_s``."""
    latest = latest_county_head(session)
    return latest is None or latest.at <= utc_now() - timedelta(seconds=every_s)


def signed_county_head(session: Session, identity: Identity) -> dict[str, Any] | None:
    """The newest county head signed with ``identity``'s key, as points keep it; None before the first."""
    latest = latest_county_head(session)
    return None if latest is None else sign_head(COUNTY_CHAIN, latest.seq, latest.entry_hash, identity.sign_key)


def county_hashes(session: Session, seqs: Iterable[int]) -> dict[int, str]:
    """seq -> entry hash of those county heads ``seqs`` the hub still has."""
    return entry_hashes(session, CountyHead, list(seqs), position=CountyHead.seq)


def _hashed(seq: int, at: Any, heads: dict[str, Any], root: str) -> dict[str, Any]:
    return {"id": seq, "at": iso(at), "heads": heads, "root": root}


def verify_county_heads(session: Session) -> list[AuditProblem]:
    """Replay the county heads from the first: each links to the one before it, its root is the root of every
    chain's head as it recorded them, and every head it recorded is still that chain's entry, with that hash."""
    problems: list[AuditProblem] = []
    state: dict[str, tuple[int, str]] = {}
    prev, position = GENESIS, 0
    for head in session.exec(select(CountyHead).order_by(CountyHead.seq)):  # type: ignore[arg-type]
        position += 1
        where = f"county head {head.seq}"
        if head.seq != position or head.prev_hash != prev:
            problems.append(AuditProblem(None, f"{where} does not follow the county head before it (removed or "
                                               "reordered)"))
        if chain_hash(head.prev_hash, _hashed(head.seq, head.at, head.heads, head.root)) != head.entry_hash:
            problems.append(AuditProblem(None, f"{where}: its content does not match its hash (edited)"))
        state.update({chain: (int(value[0]), str(value[1])) for chain, value in head.heads.items()})
        if merkle_root(state) != head.root:
            problems.append(AuditProblem(None, f"{where}: its root is not the root of the chain heads it recorded"))
        problems += _recorded_entries(session, where, head.heads)
        prev = head.entry_hash
        if len(problems) > 20:
            break
    return problems


def _recorded_entries(session: Session, where: str, heads: dict[str, Any]) -> list[AuditProblem]:
    """The entries ``heads`` (chain -> [seq, hash]) name, as the chains hold them now."""
    problems = []
    for chain, (seq, entry_hash) in heads.items():
        held = session.exec(select(AuditEntry.id, AuditEntry.entry_hash)
                            .where(AuditEntry.chain == chain, AuditEntry.seq == seq)).first()
        if held is None:
            problems.append(AuditProblem(None, f"it is missing: {where} recorded the chain {chain} at entry {seq}, "
                                               "which the chain no longer has (entries removed from its end)"))
        elif held[1] != entry_hash:
            problems.append(AuditProblem(held[0], f"it is not the entry {where} recorded at position {seq} of the "
                                                  f"chain {chain} (the chain was rewritten up to it)"))
    return problems
