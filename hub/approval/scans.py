"""Scans of materials at the hub: expected from the sealed case, received in resumable chunks, checked, shown.

A SUBMIT lists its scans (id, name, size, SHA-256 and the file key); the hub
records them as "in transit" and the case is shown as 材料传输中 until every
one is complete. Chunks of the sealed file go to the hub's scan store
(hub/approval/scanstore.py: DATA/scans/<scan_id>.sealed, or chunk objects in
S3-compatible storage); the database says how many bytes are committed, and
only those count. A chunk is stored while its scan's row is claimed for it,
then committed: a hub that stops in between just makes the point send that
chunk again, and two hubs sent the same offset never both store it. When the
last byte arrives the hub decrypts with the key from the case and checks
size and SHA-256: a mismatch is recorded and shown, never accepted silently.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, select

from sync.attachments import AttachmentError, decrypt_attachment, decrypt_chunks, sealed_size
from sync.keys import unb64
from sync.messages import Scan
from sync.signing import SignatureError
from sync.uploads import ScanError, read_scan_grant, unheld_part

from hub.approval.scanstore import ScanStore, ScanStoreError, read_whole, scan_store

from hub.core.clock import iso, utc_now
from hub.core.models import CaseScan, Point
from hub.core.timeline import HUB_ACTOR, record_event
from hub.trust.points import point_verifiers

log = logging.getLogger(__name__)

MAX_CHUNK_BYTES = 1024 * 1024
IN_TRANSIT, COMPLETE, MISMATCH = "in_transit", "complete", "mismatch"
CONTENT_TYPES = {
    "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp",
    "tif": "image/tiff", "tiff": "image/tiff", "bmp": "image/bmp", "pdf": "application/pdf",
}

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock(scan_id: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(scan_id, threading.Lock())


def expect_scans(session: Session, case_id: str, point_id: uuid.UUID, scans: list[Scan]) -> None:
    """Record the scans a case lists, before any of their bytes arrive."""
    for scan in scans:
        row = expected_scan(scan, case_id, point_id)
        if session.get(CaseScan, row["scan_id"]) is not None:
            raise ScanError(409, "scan_id_taken", "another case already lists a scan with this id")
        session.add(CaseScan(**row))


def expected_scan(scan: Scan, case_id: str, point_id: uuid.UUID) -> dict[str, Any]:
    """The CaseScan row of one scan a case lists (not yet stored), or ScanError when the listing is unusable."""
    try:
        scan_id = str(uuid.UUID(scan.scan_id))
    except ValueError:
        raise ScanError(422, "invalid_payload", "a scan_id is not a UUID") from None
    try:
        key_ok = len(unb64(scan.key_b64)) == 32
    except ValueError:
        key_ok = False
    if not key_ok:
        raise ScanError(422, "invalid_payload", "a scan key is not 32 bytes of base64")
    return {"scan_id": scan_id, "case_id": case_id, "point_id": point_id, "name": scan.name,
            "material": scan.material, "size": scan.size, "sha256": scan.sha256, "key_b64": scan.key_b64,
            "total": sealed_size(scan.size), "received": 0, "status": IN_TRANSIT, "problem": "",
            "created_at": utc_now(), "completed_at": None, "purged_at": None}


def find_scan(session: Session, point_id: uuid.UUID, scan_id: str, *, grant: str = "") -> CaseScan:
    """The scan ``point_id`` may upload, or ScanError 404 (unknown yet) / 403 (another point's).

    A township may carry its village's scan with the village's ``grant`` (sync.uploads).
    """
    return _authorized_scan(session, point_id, scan_id, grant)[0]


def scan_offset(session: Session, data_dir: str | Path, point_id: uuid.UUID, scan_id: str, *,
                grant: str = "") -> CaseScan:
    """What the hub holds of a scan ``point_id`` may upload (find_scan), checked first if every byte is here
    but the hub stopped before checking it: answering "whole" then would leave the scan in transit for good
    (a point that carried it in a bundle, or its relay, asks before sending anything)."""
    row, granted = _authorized_scan(session, point_id, scan_id, grant)
    if _whole_unchecked(row):
        with _lock(row.scan_id):
            session.refresh(row)
            if _whole_unchecked(row):
                _complete(session, scan_store(data_dir), row, granted)
    return row


def _whole_unchecked(row: CaseScan) -> bool:
    """Every byte is here but the scan was not checked against its case (the hub stopped in between)."""
    return row.received == row.total and row.status not in (COMPLETE, MISMATCH)


def _authorized_scan(session: Session, point_id: uuid.UUID, scan_id: str, grant: str) -> tuple[CaseScan, str | None]:
    """find_scan, and the sealed SHA-256 the scan's point granted when a relay carries it."""
    try:
        scan_id = str(uuid.UUID(scan_id))
    except ValueError:
        raise ScanError(404, "unknown_scan", "no scan has this id") from None
    row = session.get(CaseScan, scan_id)
    if row is None:
        raise ScanError(404, "unknown_scan", "the hub knows no case listing this scan yet; push the case first")
    if row.point_id == point_id:
        return row, None
    return row, _relay_grant(session, row, point_id, grant)


def _relay_grant(session: Session, row: CaseScan, relay_id: uuid.UUID, grant: str) -> str:
    """The sealed SHA-256 the scan's point granted, if ``relay_id`` is its relay; else ScanError 403."""
    owner = session.get(Point, row.point_id)
    if not grant or owner is None or owner.relay_id != relay_id:
        raise ScanError(403, "not_your_scan", "this scan belongs to a case of another point")
    try:
        return read_scan_grant(grant, point_verifiers(session, owner), scan_id=row.scan_id, point_id=str(owner.id),
                               total=row.total)
    except SignatureError as exc:
        raise ScanError(403, exc.reason, f"{exc}; a relay carries a scan only with its point's grant") from None


def append_chunk(session: Session, data_dir: str | Path, point_id: uuid.UUID, scan_id: str, *, offset: int,
                 chunk: bytes, chunk_sha256: str, total: int | None, grant: str = "") -> CaseScan:
    """Verify and append one chunk at ``offset``; return the scan row with its new offset."""
    row, granted = _authorized_scan(session, point_id, scan_id, grant)
    if hashlib.sha256(chunk).hexdigest() != chunk_sha256.lower():
        raise ScanError(400, "bad_chunk_hash", "the chunk does not match its X-Pointkit-Chunk-SHA256; send it again")
    if total is not None and total != row.total:
        raise ScanError(400, "bad_total", f"the case says this sealed scan has {row.total} bytes, not {total}")
    store = scan_store(data_dir)
    with _lock(row.scan_id):
        session.refresh(row)
        if not chunk:
            raise ScanError(400, "empty_chunk", "send at least one byte")
        if offset + len(chunk) > row.total:
            raise ScanError(400, "too_long", f"the sealed scan has {row.total} bytes; this chunk runs past its end")
        offset, chunk = _unheld_part(store, row, offset, chunk)
        if not chunk:
            # The hub may have stopped between storing the last byte and checking the whole scan: do it now.
            if _whole_unchecked(row):
                _complete(session, store, row, granted)
            return row
        _store_claimed(session, store, row, offset, chunk)
        session.refresh(row)
        if row.received == row.total:
            _complete(session, store, row, granted)
    return row


def _unheld_part(store: ScanStore, row: CaseScan, offset: int, chunk: bytes) -> tuple[int, bytes]:
    """What a chunk at ``offset`` adds to what the hub holds (sync.uploads.unheld_part), read from its store."""
    return unheld_part(lambda at, size: _held_bytes(store, row.scan_id, at, size), row.received, offset, chunk,
                       holder="the hub")


def _held_bytes(store: ScanStore, scan_id: str, offset: int, size: int) -> bytes:
    try:
        return store.read_at(scan_id, offset, size)
    except ScanStoreError as exc:
        raise _unavailable(exc) from exc


def _store_claimed(session: Session, store: ScanStore, row: CaseScan, offset: int, chunk: bytes) -> None:
    """Claim the scan's row for this chunk, store the chunk, then commit: the claim waits for (and then fails on)
    any other hub process that stores the same offset, so only the committed chunk's bytes are ever kept there."""
    moved = session.exec(update(CaseScan).where(CaseScan.scan_id == row.scan_id, CaseScan.received == offset)
                         .values(received=offset + len(chunk)))
    if moved.rowcount != 1:
        session.rollback()
        session.refresh(row)
        raise ScanError(409, "offset_mismatch", f"the hub holds {row.received} bytes of this scan",
                        offset=row.received)
    try:
        store.write_at(row.scan_id, offset, chunk)
    except (ScanStoreError, OSError) as exc:
        session.rollback()
        raise _unavailable(exc) from exc
    session.commit()


def _unavailable(exc: Exception) -> ScanError:
    log.error("scan store unavailable: %s", exc)
    return ScanError(503, "scan_store_unavailable", "the hub cannot reach its scan store just now; send the "
                     "chunk again later")


def _complete(session: Session, store: ScanStore, row: CaseScan, granted: str | None) -> None:
    """Every byte is here: check a relayed scan against its grant, then the whole scan against its case."""
    try:
        if granted is not None and _sealed_sha256(store, row) != granted:
            # Relayed bytes that are not the ones the point sealed: start over rather than record a mismatch.
            log.warning("scan %s relayed for point %s differs from the granted file; starting it over",
                        row.scan_id, row.point_id)
            row.received = 0
            session.add(row)
            session.commit()
            store.delete(row.scan_id)
            raise ScanError(422, "relay_mismatch", "the relayed scan differs from the one its point granted; "
                            "get it from the point again and send it from the start")
        _finish(session, store, row)
    except ScanStoreError as exc:
        # Left whole but unchecked: the next offset request or chunk checks it again.
        session.rollback()
        raise _unavailable(exc) from exc


def _sealed_sha256(store: ScanStore, row: CaseScan) -> str:
    digest = hashlib.sha256()
    for piece in store.pieces(row.scan_id, row.total):
        digest.update(piece)
    return digest.hexdigest()


def store_bundled_scan(session: Session, data_dir: str | Path, point_id: uuid.UUID, scan_id: str,
                       sealed: bytes) -> str:
    """Take a whole sealed scan from a point's USB bundle: append what the hub lacks of it.

    Answers like a push: "accepted" (now held whole), "duplicate" (already
    held), or "rejected: why". Bytes the hub already holds (from an online
    upload cut short) stay; the completed file is checked against the case
    as any upload is.
    """
    try:
        row = find_scan(session, point_id, scan_id)
    except ScanError as exc:
        session.rollback()
        return f"rejected: {exc.reason}"
    if len(sealed) != row.total:
        return f"rejected: the case says this sealed scan has {row.total} bytes, the bundle {len(sealed)}"
    offset = row.received
    while offset < row.total:
        rest = sealed[offset:]
        try:
            append_chunk(session, data_dir, point_id, scan_id, offset=offset, chunk=rest,
                         chunk_sha256=hashlib.sha256(rest).hexdigest(), total=row.total)
            return "accepted"
        except ScanError as exc:
            session.rollback()
            if exc.offset is None or exc.offset <= offset:
                return f"rejected: {exc.reason}"
            offset = exc.offset  # an online upload moved on meanwhile
    return "duplicate"


def _finish(session: Session, store: ScanStore, row: CaseScan) -> None:
    """The last byte arrived: decrypt with the case's key and check size and digest."""
    digest, size, problem, problem_kind = hashlib.sha256(), 0, "", ""
    try:
        for piece in decrypt_chunks(store.pieces(row.scan_id, row.total), unb64(row.key_b64)):
            digest.update(piece)
            size += len(piece)
    except AttachmentError as exc:
        problem, problem_kind = f"does not decrypt with the key in the case: {exc}", "key"
    if not problem and size != row.size:
        problem, problem_kind = f"decrypts to {size} bytes; the case says {row.size}", "size"
    if not problem and digest.hexdigest() != row.sha256:
        problem, problem_kind = "its SHA-256 differs from the one in the case", "digest"
    row.status, row.problem, row.completed_at = (MISMATCH if problem else COMPLETE), problem[:500], utc_now()
    session.add(row)
    if problem:
        log.warning("scan %s of case %s does not match its case: %s", row.scan_id, row.case_id, problem)
        record_event(session, row.case_id, actor=HUB_ACTOR, action="scan_mismatch",
                     note=f"scan {row.scan_id[:8]}: {problem}",
                     data={"scan": row.scan_id[:8], "material": row.material, "problem": problem_kind})
    else:
        log.info("scan %s of case %s complete (%d bytes)", row.scan_id, row.case_id, row.size)
        record_event(session, row.case_id, actor=HUB_ACTOR, action="scan_received",
                     note=f"scan {row.scan_id[:8]} complete, {row.size} bytes",
                     data={"scan": row.scan_id[:8], "material": row.material, "size": row.size})
    session.commit()


def case_scans(session: Session, case_id: str) -> list[CaseScan]:
    return list(session.exec(select(CaseScan).where(CaseScan.case_id == case_id).order_by(CaseScan.created_at,
                                                                                           CaseScan.scan_id)).all())


def materials_in_transit(scans: list[CaseScan]) -> bool:
    return any(scan.status == IN_TRANSIT for scan in scans)


def scans_public(scans: list[CaseScan]) -> list[dict[str, Any]]:
    """What pages and the API show of a case's scans (never the key)."""
    return [{"scan_id": scan.scan_id, "name": scan.name, "material": scan.material, "size": scan.size,
             "received": scan.received, "total": scan.total, "status": scan.status, "problem": scan.problem,
             "completed_at": iso(scan.completed_at), "purged_at": iso(scan.purged_at)} for scan in scans]


def open_scan(session: Session, data_dir: str | Path, case_id: str, scan_id: str) -> tuple[CaseScan, bytes]:
    """The decrypted scan of a case, checked against the case; ScanError 404 when it is not (yet) readable."""
    row = session.get(CaseScan, scan_id[:36])
    if row is None or row.case_id != case_id:
        raise ScanError(404, "unknown_scan", "this case lists no such scan")
    if row.status != COMPLETE:
        raise ScanError(404, "not_complete", "this scan has not fully arrived (or did not match its case)")
    if row.purged_at is not None:
        raise ScanError(410, "purged", "this scan was removed after the county's retention period")
    try:
        data = decrypt_attachment(read_whole(scan_store(data_dir), row.scan_id, row.total), unb64(row.key_b64))
    except (ScanStoreError, AttachmentError):
        log.error("scan %s was complete but can no longer be read", row.scan_id)
        raise ScanError(404, "unreadable", "the stored scan cannot be read") from None
    return row, data


