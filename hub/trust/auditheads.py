"""The hub's audit chain head, signed and kept where the hub's database cannot reach it.

Three places hold signed heads (sync/auditheads.py):

- every push answer carries the head as the push left it (``audit_head``, beside ``results``); each point keeps
  the newest it saw, a village behind a township gets its township's, and a USB bundle from the hub carries one;
- ``pointkit-hub serve`` appends the head to ``DATA/audit-heads.log`` every ``--anchor-every`` seconds when it
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
from sync.auditheads import (
    HEADS_FILE,
    HELD_BY,
    HUB_CHAIN,
    anchor_head,
    anchored_heads,
    check_heads,
    entry_hashes,
    sign_head,
)
from sync.keys import Identity

from hub.core.audit import chain_head
from hub.core.db import reads_only
from hub.core.leases import DEFAULT_LEASE_S, start_timer
from hub.core.models import AuditEntry
from hub.trust.keys import Keyring, load_keyring

DEFAULT_ANCHOR_EVERY_S = 300
ANCHOR_TIMER = "audit-anchor"


def heads_file(data_dir: Path) -> Path:
    return Path(data_dir) / HEADS_FILE


def signed_head(session: Session, identity: Identity) -> dict[str, Any]:
    """The chain's head as ``session`` sees it, signed with ``identity``'s key."""
    entries, head = chain_head(session)
    return sign_head(HUB_CHAIN, entries, head, identity.sign_key)


def anchor_now(session: Session, data_dir: Path, keyring: Keyring) -> bool:
    """Append the chain's head to the heads file unless it is the last one there; True when it was appended."""
    return anchor_head(heads_file(data_dir), signed_head(session, keyring.current))


def anchor_once(engine: Engine, data_dir: Path) -> bool:
    """Anchor the head as one read; True when it was appended."""
    with Session(engine) as session:
        reads_only(session)  # one read: never queue behind ingest for the write lock
        return anchor_now(session, data_dir, load_keyring(session, data_dir))


def start_anchoring(engine: Engine, data_dir: Path, interval_s: float, *, machine: str, holder: str,
                    lease_s: float = DEFAULT_LEASE_S) -> threading.Event:
    """Anchor the head every ``interval_s`` seconds, once per machine across its hub processes; set the event
    to stop it.

    The heads file is the machine's own (no machine shares a disk), so each machine's timer has a lease of its
    own: every machine keeps every head, and processes sharing a data directory never append the same one twice.
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
    """The chain against the heads file and against ``point_heads`` (see ``read_point_heads``)."""
    last_id = chain_head(session)[0]
    keys = [identity.sign_key.public_key() for identity in keyring.held.values()]

    def check(heads: list[tuple[str, Any]], verify_every: bool) -> list[AuditProblem]:
        return check_heads(heads, chain=HUB_CHAIN, last_id=last_id, hashes=lambda ids: entry_hashes(session, AuditEntry, ids),
                           keys=keys, keeper="this hub", verify_every=verify_every)

    return check(anchored_heads(heads_file(data_dir)), False) + check(list(point_heads), True)
