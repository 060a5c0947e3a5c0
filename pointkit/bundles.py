"""USB bundles at the point: export what the hub has not acknowledged, import what the hub sent.

Export writes every queued (unacknowledged) envelope and every scan the hub
does not hold whole (its sealed file, as stored), signed as this point, with
this point's pull cursor so the hub learns which of its messages arrived.
An envelope stays queued and a scan waiting until the hub's answer comes
back, by a hub bundle's ``acks`` and ``scan_acks`` or online, and whichever
comes first settles it (the other is a duplicate); a carried scan is marked,
so an online upload first asks the hub what it already holds.

Import verifies the hub bundle whole with the trusted hub keys, applies its
messages and moves the pull cursor in one transaction (forward only, and
only over messages it holds without a gap), then settles the acks one by
one as push answers are settled, and records what the hub holds of each scan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import select

from sync.bundle import MAX_ITEMS, BundleError, read_bundle, write_bundle
from sync.clock import utcnow
from sync.envelope import HUB_SENDER_ID, Header

from . import audit, db
from .hubheads import keep_hub_head
from .inbox import apply_messages
from .models import Outbox, ScanFile
from .outbox import queued
from .restored import take_hub_numbers
from .scans import checkpoint, sealed_path
from .state import get_state, load_identity
from .syncagent import SyncReport, _settle
from .trust import opening_keys, trusted_hub_keys

EXPORT_MAX_ENVELOPES = 10_000


@dataclass
class BundleExport:
    """What a point's bundle holds."""

    envelopes: int
    size: int
    cursor: int
    scans: int = 0
    # Scans left for a later bundle: their files are missing or the bundle is full.
    scans_left: int = 0


@dataclass
class BundleImport:
    """What a hub bundle did at the point."""

    messages: int
    applied: int
    cursor: int
    settled: SyncReport
    scans_complete: int = 0
    errors: list[str] = field(default_factory=list)
    # This point was restored from an older backup: it asked for copies of its cases (in its next bundle).
    copies_asked: bool = False


def _waiting_scans(data_dir: str | Path, session, room: int) -> tuple[list[tuple[str, bytes]], int]:
    """The sealed files of the scans the hub does not hold whole (smallest first), within ``room`` bytes;
    and how many were left out."""
    rows = session.exec(select(ScanFile).where(ScanFile.state == "waiting")
                        .order_by(ScanFile.sealed_size, ScanFile.created_at)).all()
    carried: list[tuple[str, bytes]] = []
    for row in rows:
        if row.sealed_size > room:
            break
        try:
            carried.append((row.scan_id, sealed_path(data_dir, row.scan_id).read_bytes()))
        except OSError:
            continue
        room -= row.sealed_size
    return carried, len(rows) - len(carried)


def export_bundle(data_dir: str | Path, path: str | Path) -> BundleExport:
    """Write every queued envelope and waiting scan to ``path``, signed by this point."""
    identity = load_identity(data_dir)
    with db.session_scope(data_dir) as session:
        state = get_state(session)
        rows: list[Outbox] = queued(session, EXPORT_MAX_ENVELOPES)
        size = sum(row.size for row in rows)
        scans, scans_left = _waiting_scans(data_dir, session, MAX_ITEMS - size - 8 * (len(rows) + 2))
        write_bundle(path, [row.envelope for row in rows], signer=identity.sign_key, sender_id=state.point_id,
                     recipient=state.hub_fingerprint, cursor=state.pull_cursor, scans=scans)
        now = utcnow()
        for scan_id, _ in scans:
            carried = session.get(ScanFile, scan_id)
            carried.bundled_at = now
            session.add(carried)
        audit.record(session, audit.SYSTEM_ACTOR, "bundle_exported", state.point_id, envelopes=len(rows),
                     cursor=state.pull_cursor, scans=len(scans))
        return BundleExport(len(rows), size + sum(len(sealed) for _, sealed in scans), state.pull_cursor,
                            len(scans), scans_left)


def _contiguous_cursor(current: int, envelopes: list[bytes]) -> int:
    """The highest message number reachable from ``current`` without a gap among ``envelopes``."""
    numbers = set()
    for data in envelopes:
        try:
            numbers.add(Header.unpack(data).seq)
        except ValueError:
            continue
    while current + 1 in numbers:
        current += 1
    return current


def import_bundle(data_dir: str | Path, path: str | Path) -> BundleImport:
    """Verify a hub bundle whole, apply its messages with the cursor, then settle its acks."""
    with db.session_scope(data_dir) as session:
        state = get_state(session)
        trusted = trusted_hub_keys(session, state)
    bundle = read_bundle(path, trusted)
    if bundle.sender_id != str(HUB_SENDER_ID):
        raise BundleError("not_from_hub", f"{Path(path).name} was not written by the county hub; nothing was applied")
    if bundle.recipient != state.point_id:
        raise BundleError("wrong_point", f"{Path(path).name} is for another point; nothing was applied "
                          "(ask the county for this point's bundle)")
    keys, identity = opening_keys(data_dir), load_identity(data_dir)
    with db.session_scope(data_dir) as session:
        state = get_state(session)
        cursor = _contiguous_cursor(state.pull_cursor, bundle.envelopes)
        applied = apply_messages(session, state, keys, bundle.envelopes, cursor)
        # Where this point's numbering stands at the hub, as its pull answers say it (after a restore).
        asked = take_hub_numbers(session, state, identity, last_seq=bundle.last_seq, last_receipt=bundle.last_receipt)
        keep_hub_head(session, state, bundle.audit_head)  # a village on USB holds the hub's head too
        cursor = state.pull_cursor
        audit.record(session, audit.HUB_ACTOR, "bundle_imported", state.point_id, messages=len(bundle.envelopes),
                     applied=applied.applied, cursor=cursor)
    settled = SyncReport()
    for ack in bundle.acks:
        if isinstance(ack, dict) and isinstance(ack.get("envelope_id"), str):
            _settle(data_dir, ack["envelope_id"], str(ack.get("status", "")), str(ack.get("reason", "")),
                    "answered in a hub bundle", settled)
    complete = 0
    for ack in bundle.scan_acks:
        if isinstance(ack, dict) and isinstance(ack.get("scan_id"), str) and isinstance(ack.get("offset"), int):
            done = ack.get("status") == "complete"
            checkpoint(data_dir, ack["scan_id"], ack["offset"], uploaded=done)
            complete += done
    return BundleImport(len(bundle.envelopes), applied.applied, cursor, settled, complete, applied.errors, asked)
