"""A township holds its villages' scans and carries them to the hub (the scan grant in sync/uploads.py).

A village uploads to its township exactly as to the hub (HEAD for the
offset, PATCH chunks with their SHA-256; a chunk sent again is skipped
where it repeats what the township holds, as at the hub). The first chunk brings the
village's grant: signed by the village, it names the scan, its sealed size
and the SHA-256 of the sealed file. The township keeps the chunks under
DATA/relay-scans/ (sealed: it cannot read them), answers ``relayed`` until
the hub holds the scan whole and ``complete`` after, so a village marks a
scan uploaded only once the hub has it. In its own round it forwards every
scan it holds whole, resuming from what the hub holds, with the village's
grant on each request; the hub checks the grant and the finished file's
SHA-256, so a township can neither forge nor spoil a village's scan.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from pathlib import Path

from sqlmodel import select

from sync.client import HubRefused
from sync.clock import utcnow
from sync.kit.web import ChunkRequest
from sync.signing import SignatureError
from sync.uploads import (
    COMPLETE,
    HEADER_SCAN_GRANT,
    RELAYED,
    ScanError,
    ScanUploader,
    append_durably,
    file_bytes,
    read_scan_grant,
    unheld_part,
)

from . import db
from .relaystore import RelayScan

log = logging.getLogger("pointkit.relay")

RELAY_SCANS_DIR = "relay-scans"
MAX_CHUNK_BYTES = 1024 * 1024

# One chunk at a time per township: appends to a file and its row must not interleave.
_append_lock = threading.Lock()


def held_path(data_dir: str | Path, scan_id: str) -> Path:
    return Path(data_dir) / RELAY_SCANS_DIR / f"{uuid.UUID(scan_id)}.sealed"


def status_of(row: RelayScan) -> str:
    return COMPLETE if row.hub_status == COMPLETE else RELAYED


def held_scan(data_dir: str | Path, village_id: str, scan_id: str) -> RelayScan:
    """What this township holds of a village's scan (an empty row for one it has not seen); ScanError if not its."""
    scan_id = _scan_id(scan_id)
    with db.session_scope(data_dir) as session:
        row = session.get(RelayScan, scan_id)
    if row is None:
        return RelayScan(scan_id=scan_id, village_id=village_id, total=0, grant="", received_at=utcnow())
    if row.village_id != village_id:
        raise ScanError(403, "not_your_scan", "this scan belongs to another point")
    return row


def _scan_id(raw: str) -> str:
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise ScanError(404, "unknown_scan", "no scan has this id") from None


def receive_chunk(data_dir: str | Path, village_id: str, keys, scan_id: str, asked: ChunkRequest) -> RelayScan:
    """Verify and keep one chunk of a village's scan; the first chunk must carry the village's grant."""
    scan_id = _scan_id(scan_id)
    if hashlib.sha256(asked.chunk).hexdigest() != asked.chunk_sha256.lower():
        raise ScanError(400, "bad_chunk_hash", "the chunk does not match its X-Pointkit-Chunk-SHA256; send it again")
    with _append_lock, db.session_scope(data_dir) as session:
        row = session.get(RelayScan, scan_id)
        new = row is None
        if row is None:
            if asked.offset != 0:
                raise ScanError(409, "offset_mismatch", "this township holds none of this scan", offset=0)
            try:
                granted = read_scan_grant(asked.grant, keys, scan_id=scan_id, point_id=village_id,
                                          total=asked.total or 0)
            except SignatureError as exc:
                raise ScanError(403, exc.reason, f"{exc}; send the first chunk with {HEADER_SCAN_GRANT}") from None
            row = RelayScan(scan_id=scan_id, village_id=village_id, total=asked.total or 0, grant=asked.grant,
                            sealed_sha256=granted, received_at=utcnow())
        elif row.village_id != village_id:
            raise ScanError(403, "not_your_scan", "this scan belongs to another point")
        if asked.total is not None and asked.total != row.total:
            raise ScanError(400, "bad_total", f"this sealed scan has {row.total} bytes, not {asked.total}")
        if not asked.chunk or asked.offset + len(asked.chunk) > row.total:
            raise ScanError(400, "bad_chunk", f"the sealed scan has {row.total} bytes; send 1 to "
                            f"{row.total - row.received} bytes from offset {row.received}")
        path = held_path(data_dir, scan_id)
        offset, chunk = unheld_part(file_bytes(path), row.received, asked.offset, asked.chunk, holder="this township")
        if not chunk:
            return row
        append_durably(path, offset, chunk)
        row.received = offset + len(chunk)
        spoilt = row.received == row.total and _file_sha256(path) != row.sealed_sha256
        if not spoilt:
            session.add(row)
        elif not new:
            session.delete(row)
    if spoilt:
        path.unlink(missing_ok=True)
        raise ScanError(422, "grant_mismatch", "the scan's bytes are not the ones its grant names; "
                        "send it again from the start")
    return row


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while piece := handle.read(1024 * 1024):
            digest.update(piece)
    return digest.hexdigest()


def forward_scans(data_dir: str | Path, client, report) -> None:
    """Carry every village scan held whole to the hub, from what the hub holds; drop the copy once it is there."""
    with db.session_scope(data_dir) as session:
        rows = session.exec(select(RelayScan).where(RelayScan.hub_status != COMPLETE, RelayScan.total > 0,
                                                    RelayScan.received == RelayScan.total)
                            .order_by(RelayScan.received_at)).all()
    for row in rows:
        path = held_path(data_dir, row.scan_id)
        uploader = ScanUploader(client, headers={HEADER_SCAN_GRANT: row.grant})
        try:
            result = uploader.upload(row.scan_id, path.read_bytes(), start_offset=row.hub_offset,
                                     on_progress=lambda offset, _total, scan_id=row.scan_id:
                                     _note_hub_offset(data_dir, scan_id, offset))
        except HubRefused as exc:
            # 404: the village's case has not reached the hub yet; asked again next round.
            if exc.status != 404:
                report.errors.append(f"the hub refused a relayed scan ({exc.reason}): {exc}")
            if exc.reason == "relay_mismatch":
                _drop(data_dir, row.scan_id)  # this copy went bad here: the village sends it again
            continue
        if result.complete:
            _note_hub_offset(data_dir, row.scan_id, result.offset, complete=True)
            path.unlink(missing_ok=True)
            report.relayed += 1
            log.info("relayed village scan %s to the hub (%d bytes sealed)", row.scan_id, result.total)


def _drop(data_dir: str | Path, scan_id: str) -> None:
    with db.session_scope(data_dir) as session:
        row = session.get(RelayScan, scan_id)
        if row is not None:
            session.delete(row)
    held_path(data_dir, scan_id).unlink(missing_ok=True)


def _note_hub_offset(data_dir: str | Path, scan_id: str, offset: int, *, complete: bool = False) -> None:
    with db.session_scope(data_dir) as session:
        row = session.get(RelayScan, scan_id)
        row.hub_offset = offset
        if complete:
            row.hub_status, row.forwarded_at = COMPLETE, utcnow()
        session.add(row)
