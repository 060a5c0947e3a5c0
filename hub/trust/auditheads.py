"""The hub's audit heads, signed and kept where the hub's database cannot reach it.

What is signed is the newest county head (hub/trust/countyheads.py), which binds every chain's head. Three places
hold signed heads (sync/auditheads.py):

- every push answer carries the newest county head (``audit_head``, beside ``results``); each point keeps
  the newest it saw, a village behind a township gets its township's, and a USB bundle from the hub carries one;
- ``pointkit-hub serve`` appends the head to ``DATA/audit-heads.log`` every ``--anchor-every`` seconds when a chain
  moved, and so does every ``audit verify`` that finds the chain whole;
- county IT brings the heads points hold (``pointkit audit head``) to ``audit verify --with-point-heads``.

``check_anchored_heads`` fails when the chain is shorter than any of them, or its entry at a head's position
is another one. Heads are checked against every key generation the hub still holds; a head signed by a purged
generation that disagrees with the chain is reported as unsigned.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from sync.audit import AuditProblem
from sync.auditheads import HEADS_FILE, HELD_BY, anchor_head, anchored_heads, check_heads, read_head
from sync.keys import Identity

from hub.core.audit import chain_entry_hashes, chain_head
from hub.core.leases import DEFAULT_LEASE_S, start_timer
from hub.trust.countyheads import (
    COUNTY_CHAIN,
    county_hashes,
    latest_county_head,
    signed_county_head,
    write_county_head,
)
from hub.trust.keys import Keyring, load_keyring

DEFAULT_ANCHOR_EVERY_S = 300
ANCHOR_TIMER = "audit-anchor"


def heads_file(data_dir: Path) -> Path:
    return Path(data_dir) / HEADS_FILE


def signed_head(session: Session, identity: Identity) -> dict[str, Any] | None:
    """The newest county head as ``session`` sees it, signed with ``identity``'s key (None before the first)."""
    return signed_county_head(session, identity)


def anchor_now(session: Session, data_dir: Path, keyring: Keyring) -> bool:
    """Write a county head if a chain moved, commit, and append the newest to the heads file unless it is the
    last one there; True when it was appended."""
    write_county_head(session)
    session.commit()
    head = signed_head(session, keyring.current)
    return head is not None and anchor_head(heads_file(data_dir), head)


def anchor_once(engine: Engine, data_dir: Path) -> bool:
    """Write a county head if a chain moved and anchor the newest; True when it was appended."""
    with Session(engine) as session:
        return anchor_now(session, data_dir, load_keyring(session, data_dir))


def start_anchoring(engine: Engine, data_dir: Path, interval_s: float, *, machine: str, holder: str,
                    lease_s: float = DEFAULT_LEASE_S) -> threading.Event:
    """Write and anchor a county head every ``interval_s`` seconds, once per machine across its hub processes;
    set the event to stop it.

    The heads file is the machine's own (no machine shares a disk), so each machine's timer has a lease of its
    own: every machine keeps every head, and processes sharing a data directory never append the same one twice.
    County heads themselves are serialized by their own lock, and a machine that finds no chain moved since the
    newest writes none.
    """
    return start_timer(engine, f"{ANCHOR_TIMER}:{machine}", interval_s, lambda _session: anchor_once(engine, data_dir),
                       holder=holder, lease_s=lease_s)


def read_point_heads(paths: list[Path]) -> list[tuple[str, Any]]:
    """The heads in files exported from points (``pointkit audit head``), or in every ``*.json`` of a folder, as
    (where it came from, its JSON); a file may hold one head or one per line."""
    files = [file for path in paths for file in (sorted(path.glob("*.json")) if path.is_dir() else [path])]
    heads: list[tuple[str, Any]] = []
    for file in files:
        text = file.read_text(encoding="utf-8-sig", errors="replace")
        try:
            found = [json.loads(text)]
        except ValueError:
            found = [_json_or_none(line) for line in text.splitlines() if line.strip()]
        for head in found:
            held_by = head.get(HELD_BY) if isinstance(head, dict) else None
            holder = held_by.get("name") if isinstance(held_by, dict) else None
            heads.append((f"the head {holder} holds ({file.name})" if holder else f"the head in {file.name}", head))
    return heads


def _json_or_none(line: str) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return None


def check_anchored_heads(session: Session, data_dir: Path, keyring: Keyring,
                         point_heads: list[tuple[str, Any]] = ()) -> list[AuditProblem]:
    """The county heads and the chains against the heads file and against ``point_heads`` (see
    ``read_point_heads``): each head is checked against the chain it names (county heads; the hub's chain for
    heads signed before the chains were split; a point's chain)."""
    keys = [identity.sign_key.public_key() for identity in keyring.held.values()]

    def check(heads: list[tuple[str, Any]], verify_every: bool) -> list[AuditProblem]:
        problems: list[AuditProblem] = []
        for chain, group in _by_chain(heads).items():
            if chain == COUNTY_CHAIN:
                latest = latest_county_head(session)
                last, hashes = (latest.seq if latest else 0), (lambda seqs: county_hashes(session, seqs))
            else:
                last = chain_head(session, chain)[0]
                hashes = (lambda seqs, chain=chain: chain_entry_hashes(session, chain, seqs))
            problems += check_heads(group, chain=chain, last_id=last, hashes=hashes, keys=keys, keeper="this hub",
                                    verify_every=verify_every)
        return problems

    return check(anchored_heads(heads_file(data_dir)), False) + check(list(point_heads), True)


def _by_chain(heads: list[tuple[str, Any]]) -> dict[str, list[tuple[str, Any]]]:
    """Heads grouped by the chain they name (an unreadable one goes with the county heads, which reports it)."""
    groups: dict[str, list[tuple[str, Any]]] = {}
    for source, signed in heads:
        try:
            chain = read_head(signed).chain
        except ValueError:
            chain = COUNTY_CHAIN
        groups.setdefault(chain, []).append((source, signed))
    return groups
