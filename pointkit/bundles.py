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
The county data it carries (a catalog version, calendar years) is checked
and stored exactly as online, each signature on its own; a point's bundle
says what it holds, so the hub's next bundle carries what it lacks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import select

from sync.bundle import MAX_ITEMS, BundleError, read_bundle, write_bundle
from sync.clock import utcnow
from sync.envelope import HUB_SENDER_ID, Header
from sync.http import format_held_years
from sync.kit.workdays import CalendarError

from . import audit, db
from .calendar import held_versions, store_years
from .catalog import CatalogError, store_catalog
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
    # County data the bundle brought: the catalog version now held (None: none came), calendar years stored.
    catalog_version: int | None = None
    calendar_years: list[int] = field(default_factory=list)


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
        holds = {"catalog": state.catalog_version, "calendar": format_held_years(held_versions(session))}
        write_bundle(path, [row.envelope for row in rows], signer=identity.sign_key, sender_id=state.point_id,
                     recipient=state.hub_fingerprint, cursor=state.pull_cursor, scans=scans, holds=holds)
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
    county = _store_county_data(data_dir, bundle.county_data)
    with db.session_scope(data_dir) as session:
        state = get_state(session)
        state.last_sync_at, state.last_sync_path = utcnow(), "usb"
        cursor = _contiguous_cursor(state.pull_cursor, bundle.envelopes)
        applied = apply_messages(session, state, keys, bundle.envelopes, cursor, identity=identity)
        # Where this point's numbering stands at the hub, as its pull answers say it (after a restore).
        asked = take_hub_numbers(session, state, identity, last_seq=bundle.last_seq, last_receipt=bundle.last_receipt)
        keep_hub_head(session, state, bundle.audit_head)  # a village on USB holds the hub's head too
        cursor = state.pull_cursor
        audit.record(session, audit.HUB_ACTOR, "bundle_imported", state.point_id, messages=len(bundle.envelopes),
                     applied=applied.applied, cursor=cursor)
    settled = SyncReport()
    for ack in bundle.acks:
        _settle(data_dir, ack["envelope_id"], str(ack.get("status", "")), str(ack.get("reason", "")),
                "answered in a hub bundle", settled)
    complete = 0
    for ack in bundle.scan_acks:
        done = ack.get("status") == "complete"
        checkpoint(data_dir, ack["scan_id"], ack["offset"], uploaded=done)
        complete += done
    return BundleImport(len(bundle.envelopes), applied.applied, cursor, settled, complete,
                        [*county.errors, *(f"a hub message was refused: {error}" for error in applied.errors)], asked,
                        county.catalog_version, county.calendar_years)


@dataclass
class _CountyData:
    catalog_version: int | None = None
    calendar_years: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _store_county_data(data_dir: str | Path, county_data: dict) -> _CountyData:
    """Store the catalog and calendar years a hub bundle carries, checked as online; a piece that does not
    verify or apply is reported and left out, the rest is kept."""
    done = _CountyData()
    catalog, years = county_data.get("catalog"), county_data.get("calendar")
    if isinstance(catalog, dict):
        try:
            with db.session_scope(data_dir) as session:
                state = get_state(session)
                if store_catalog(session, state, catalog):
                    done.catalog_version = state.catalog_version
        except CatalogError as exc:
            done.errors.append(f"the catalog in the bundle was not applied: {exc}")
    if isinstance(years, list):
        try:
            with db.session_scope(data_dir) as session:
                done.calendar_years = store_years(session, get_state(session), years)
        except CalendarError as exc:
            done.errors.append(f"the holiday calendar in the bundle was not applied: {exc}")
    return done
