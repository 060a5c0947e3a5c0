"""Signed audit heads: where a hash chain ended, kept outside the database that holds the chain.

A chain proves that no entry was edited or removed from its middle, but
whoever can write the database can cut entries off its end and leave a
shorter chain that holds. So the chain's keeper signs its head (how many
entries, the last one's hash, when) and the head is kept where the database
cannot reach: appended to ``DATA/audit-heads.log`` (one signed head per
line, fsynced) and, for the hub's chain, held by every point it answered.
``check_heads`` then finds the chain shorter than any head it once had, or
rewritten up to it, and names the entry.

A head says nothing about residents: a count, a hash and a time.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlmodel import Session, select

from sync.audit import GENESIS, AuditProblem
from sync.canonical import canonical_json
from sync.clock import utcnow
from sync.signing import SignatureError, sign_document, verify_document

HEAD_TYPE = "pointkit.audit-head/v1"
HEADS_FILE = "audit-heads.log"
HUB_CHAIN = "hub"
# The county heads' own chain: each binds the heads of every chain of the hub (hub/trust/countyheads.py); what
# the hub signs for points since its chains were split per point.
COUNTY_CHAIN = "county"
# In a head a point exports (``pointkit audit head``): which point held it (not signed: the hub's signature is
# what counts).
HELD_BY = "held_by"
# How far back from the end of the heads file the last line is looked for (a line is about 300 bytes).
_TAIL_BYTES = 4096
# Entry ids per lookup of their hashes (well under any database's parameter limit).
_LOOKUP_CHUNK = 500


def point_chain(point_id: str) -> str:
    """The name a point's own chain goes by in its signed heads."""
    return f"point:{point_id}"


@dataclass(frozen=True)
class SignedHead:
    """A chain's head as its keeper signed it: the chain, how many entries it had, the last one's hash, when."""

    chain: str
    entries: int
    head: str
    signed_at: str
    signed: dict[str, Any]


def sign_head(chain: str, entries: int, head: str, key: Ed25519PrivateKey) -> dict[str, Any]:
    """``{document, signature}`` naming ``chain``'s head now (sync/signing.py documents)."""
    return sign_document({"type": HEAD_TYPE, "chain": chain, "entries": entries, "head": head,
                          "signed_at": utcnow().isoformat(timespec="seconds")}, key)


def read_head(signed: Any) -> SignedHead:
    """The head ``signed`` names, its signature not yet checked; ValueError when it is no signed head."""
    document = signed.get("document") if isinstance(signed, dict) else None
    if not isinstance(document, dict) or document.get("type") != HEAD_TYPE \
            or not isinstance(signed.get("signature"), str):
        raise ValueError("not a signed audit head")
    entries, head = document.get("entries"), document.get("head")
    if not isinstance(entries, int) or isinstance(entries, bool) or entries < 0 or not isinstance(head, str) \
            or not isinstance(document.get("chain"), str) or not isinstance(document.get("signed_at"), str):
        raise ValueError("not a signed audit head")
    return SignedHead(document["chain"], entries, head, document["signed_at"],
                      {"document": document, "signature": signed["signature"]})


def signed_by(head: SignedHead, keys: Sequence[Ed25519PublicKey]) -> bool:
    """Did one of ``keys`` sign ``head``?"""
    for key in keys:
        try:
            verify_document(head.signed, key)
            return True
        except SignatureError:
            continue
    return False


def anchor_head(path: Path, signed: Mapping[str, Any]) -> bool:
    """Append ``signed`` to the heads file ``path`` as one line and fsync it, unless its last line already
    names the same head; True when a line was written.

    One ``write`` of a whole line in append mode: hub processes sharing a data directory never interleave
    their lines, and a crash leaves at worst the last line cut short.
    """
    head = read_head(signed)
    last = _last_line(path)
    if last is not None:
        try:
            before = read_head(json.loads(last))
            if (before.chain, before.entries, before.head) == (head.chain, head.entries, head.head):
                return False
        except ValueError:
            pass  # a damaged last line: the new one goes after it, and verify names the damaged one
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o600)
    try:
        os.write(descriptor, canonical_json(head.signed) + b"\n")
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return True


def _last_line(path: Path) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - _TAIL_BYTES))
            lines = handle.read().splitlines()
    except FileNotFoundError:
        return None
    return lines[-1] if lines else None


def anchored_heads(path: Path) -> list[tuple[str, Any]]:
    """Every line of the heads file ``path`` as (where it is, its JSON or None when unreadable)."""
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return []
    heads = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                heads.append((f"{path.name} line {number}", json.loads(line)))
            except ValueError:
                heads.append((f"{path.name} line {number}", None))
    return heads


def entry_hashes(session: Session, entry_model: Any, ids: Collection[int], *, position: Any = None,
                 where: Sequence[Any] = ()) -> dict[int, str]:
    """position -> entry hash of those of ``ids`` the chain (the table of ``entry_model``, narrowed by ``where``)
    has; the position is ``entry_model.id`` unless ``position`` names another column (a chain's ``seq``)."""
    position = entry_model.id if position is None else position
    wanted, found = sorted(set(ids)), {}
    for start in range(0, len(wanted), _LOOKUP_CHUNK):
        rows = session.exec(select(position, entry_model.entry_hash)
                            .where(position.in_(wanted[start:start + _LOOKUP_CHUNK]), *where))
        found.update({entry_id: entry_hash for entry_id, entry_hash in rows})
    return found


def check_heads(heads: Iterable[tuple[str, Any]], *, chain: str, last_id: int,
                hashes: Callable[[Collection[int]], Mapping[int, str]], keys: Sequence[Ed25519PublicKey],
                keeper: str, verify_every: bool = False) -> list[AuditProblem]:
    """Check a chain that ends at entry ``last_id`` against signed heads, each given as (where it was found,
    its JSON): each must name an entry the chain still has, with the same hash.

    ``hashes`` looks up the entry hashes of the given entry ids. A head that disagrees with the chain is
    reported whether or not its signature holds (only the message differs); one that agrees has its
    signature checked only with ``verify_every`` (heads a person brings, rather than the keeper's own file).
    """
    read: list[tuple[str, SignedHead]] = []
    problems: list[AuditProblem] = []
    for source, signed in heads:
        try:
            head = read_head(signed)
        except ValueError:
            problems.append(AuditProblem(None, f"{source} is not a signed audit head (damaged or cut short)"))
            continue
        if head.chain != chain:
            problems.append(AuditProblem(None, f"{source} is the head of another chain ({head.chain}), not "
                                               f"this one ({chain})"))
            continue
        read.append((source, head))
    found = hashes({head.entries for _, head in read if head.entries})
    for source, head in read:
        held = found.get(head.entries) if head.entries else GENESIS
        if held == head.head:
            if verify_every and not signed_by(head, keys):
                problems.append(AuditProblem(None, f"{source} is not signed by {keeper} (altered, or signed by "
                                                   "someone else)"))
            continue
        if not signed_by(head, keys):
            problems.append(AuditProblem(head.entries, f"{source} names a head not signed by {keeper} (altered, or "
                                                       "signed by someone else)"))
        elif held is None:
            problems.append(AuditProblem(head.entries, (
                f"it is missing: {source} is a head {keeper} signed at {head.signed_at} when the chain had "
                f"{head.entries} entries; the chain now ends at entry {last_id} (entries removed from the end)")))
        else:
            problems.append(AuditProblem(head.entries, (
                f"it is not the entry named by {source}, a head {keeper} signed at {head.signed_at} (the chain "
                "was rewritten up to it)")))
    return problems
