"""Scans and photos of materials at the point: sealed at intake, uploaded after their case, removed after pickup.

Each file gets its own random key (sync.attachments) and is written sealed
under DATA/scans/; the key, name, size and SHA-256 travel only inside the
sealed SUBMIT, so neither the database nor the outbox nor the scans folder
holds a scan in the clear. A photo above the point's limit is re-encoded to
a legible size before sealing; the original is kept (sealed under a key of
its own) until the case is collected.

Uploads run after the outbox in each sync round (small before large), in
resumable chunks (sync.uploads) streamed on one connection (sync.streaming),
and step aside whenever a new envelope is queued. On a metered link they wait for the unmetered hours or a manual send.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlmodel import Session, func, select
from werkzeug.datastructures import MultiDict

from sync.attachments import encrypt_attachment, new_file_key, safe_file_name, sealed_size, sha256_hex
from sync.client import HubClient
from sync.clock import utcnow, uuid7
from sync.keys import b64
from sync.kit import photos
from sync.kit.photos import reencode_photo
from sync.messages import MAX_SCANS, Scan
from sync.streaming import Outgoing, StreamingUploader
from sync.uploads import RELAYED, make_scan_grant

from . import audit, db
from .models import Case, Outbox, PointState, ScanFile
from .state import as_utc, get_state, local_now

log = logging.getLogger("pointkit.scans")

SCANS_DIR = "scans"
# The files one intake or one 补正 may attach: the SUBMIT and SUPPLEMENT messages carry at most this many scans'
# keys (sync/messages.py MAX_SCANS). More are refused whole, naming the limit: never silently cut (issue 27).
MAX_SCANS_PER_CASE = MAX_SCANS
# A case's scans go up once the hub has its case (an unknown scan id is refused there).
SENDABLE_CASE_STATUSES = ("acked", "supplement_requested", "supplemented", "result_ready", "collected")
MAX_PASSES = 8


MAX_SCAN_BYTES = 10 * 1024 * 1024
# Why a scan is refused, in English (the API's "fields", logs); pages show them in their own language (i18n.py).
NOT_A_SCAN = photos.NOT_A_SCAN
SCAN_TOO_LARGE = "larger than 10 MB"
EMPTY_SCAN = photos.EMPTY_SCAN
TOO_MANY_PIXELS = f"more than {photos.MAX_PIXELS // 1_000_000} megapixels"
TOO_MANY_SCANS = f"more than {MAX_SCANS_PER_CASE} files: attach at most {MAX_SCANS_PER_CASE} (put the pages of one " \
                 "material into one PDF)"
# The API names each limit it met; sync/kit/photos.py says which in stable words.
_NAMED_LIMITS = {photos.TOO_LARGE: SCAN_TOO_LARGE, photos.TOO_MANY_PIXELS: TOO_MANY_PIXELS}


class ScanRefused(ValueError):
    """Attached files that cannot go with the case; ``fields`` maps each form input to why. ``reason`` is the API's
    word: ``not_a_scan``, or ``too_many_scans`` (then ``limit`` is MAX_SCANS_PER_CASE)."""

    def __init__(self, fields: dict[str, str], *, reason: str = "not_a_scan", limit: int | None = None):
        what = "too many files attached" if reason == "too_many_scans" else "some attached files are not scans"
        super().__init__(what + ": " + "; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields, self.reason, self.limit = fields, reason, limit


@dataclass
class ScanInput:
    """A file as staff attached it at intake."""

    name: str
    data: bytes
    material: str = ""


@dataclass
class PreparedScan:
    """A scan sealed to disk, waiting to join its case: the payload entry and what the point keeps."""

    scan: Scan
    sealed_size: int
    original_size: int = 0
    original_key_b64: str = ""


@dataclass
class ScanRound:
    """What the scan part of one sync round did."""

    sent: int = 0
    bytes_sent: int = 0
    held: int = 0
    # Held whole by this village's township, not yet by the hub: the scan stays waiting.
    relayed: int = 0
    errors: list[str] = field(default_factory=list)


def scans_dir(data_dir: str | Path) -> Path:
    return Path(data_dir) / SCANS_DIR


def sealed_path(data_dir: str | Path, scan_id: str) -> Path:
    return scans_dir(data_dir) / f"{scan_id}.sealed"


def original_path(data_dir: str | Path, scan_id: str) -> Path:
    return scans_dir(data_dir) / f"{scan_id}.original.sealed"


def _write_durably(path: Path, data: bytes) -> None:
    """Write, fsync, then rename: a power cut leaves the whole file or none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".part")
    with open(partial, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)


def scan_problem(data: bytes) -> str | None:
    """None when ``data`` is an image (JPEG, PNG, TIFF) Pillow can read or a PDF, within MAX_SCAN_BYTES; else why
    not (sync/kit/photos.py). The content decides: a program renamed ``photo.jpg`` is refused all the same."""
    problem = photos.scan_problem(data, max_bytes=MAX_SCAN_BYTES)
    return _NAMED_LIMITS.get(problem, problem)


def check_scan_count(inputs: list[ScanInput]) -> None:
    """Raise ScanRefused (``too_many_scans``) when more files are attached than one message carries: refusing
    is the only honest answer, as the clerk would not learn which files a cut left out."""
    if len(inputs) > MAX_SCANS_PER_CASE:
        raise ScanRefused({"scans": TOO_MANY_SCANS}, reason="too_many_scans", limit=MAX_SCANS_PER_CASE)


def check_scans(inputs: list[ScanInput]) -> None:
    """Raise ScanRefused when more files are attached than a case takes, or naming the form input of every file
    that is not a scan (``scans`` or ``scans_<material>``), before anything is sealed or written."""
    check_scan_count(inputs)
    problems = {}
    for scan in inputs:
        problem = scan_problem(scan.data)
        if problem:
            problems.setdefault(f"scans_{scan.material}" if scan.material else "scans", problem)
    if problems:
        raise ScanRefused(problems)


def prepare_scans(data_dir: str | Path, inputs: list[ScanInput], *, max_photo_kb: int = 0) -> list[PreparedScan]:
    """Seal each file under a fresh key and write it to disk; the caller joins them to a case or discards them.
    What staff attach passes ``check_scans`` first (the pages and the API do); too many files are refused here
    too, before any is written."""
    check_scan_count(inputs)
    prepared: list[PreparedScan] = []
    for item in inputs:
        scan_id = str(uuid7())
        name = safe_file_name(item.name)
        data, original_size, original_key = item.data, 0, ""
        smaller = reencode_photo(item.data, max_photo_kb)
        if smaller is not None:
            key = new_file_key()
            _write_durably(original_path(data_dir, scan_id), encrypt_attachment(item.data, key))
            data, original_size, original_key = smaller, len(item.data), b64(key)
            name = safe_file_name(name.rsplit(".", 1)[0] + ".jpg")
        key = new_file_key()
        _write_durably(sealed_path(data_dir, scan_id), encrypt_attachment(data, key))
        scan = Scan(scan_id=scan_id, name=name, material=item.material[:64], size=len(data),
                    sha256=sha256_hex(data), key_b64=b64(key))
        prepared.append(PreparedScan(scan, sealed_size(len(data)), original_size, original_key))
    return prepared


def discard_scans(data_dir: str | Path, prepared: list[PreparedScan]) -> None:
    """Remove the files of scans whose case was refused."""
    for item in prepared:
        for path in (sealed_path(data_dir, item.scan.scan_id), original_path(data_dir, item.scan.scan_id)):
            path.unlink(missing_ok=True)


def attach_scans(session: Session, case_id: str, prepared: list[PreparedScan]) -> None:
    """Record a case's scans in the same transaction as the case."""
    for item in prepared:
        session.add(ScanFile(scan_id=item.scan.scan_id, case_id=case_id, name=item.scan.name,
                             material=item.scan.material, size=item.scan.size, sealed_size=item.sealed_size,
                             original_size=item.original_size, original_key_b64=item.original_key_b64,
                             created_at=utcnow()))


def parse_hours(text: str) -> tuple[int, int] | None:
    """"22-6" -> (22, 6): the unmetered window, in county hours; None when ``text`` is empty."""
    if not text.strip():
        return None
    start, dash, end = text.strip().partition("-")
    if not dash or not start.isdigit() or not end.isdigit() or int(start) > 23 or int(end) > 24:
        raise ValueError("write the unmetered hours as START-END in 24 h county time, e.g. 22-6")
    return int(start), int(end)


def scans_allowed(state: PointState, now: datetime, *, force: bool = False) -> bool:
    """Scans go now unless the link is metered and it is outside the unmetered hours."""
    if force or not state.metered:
        return True
    try:
        window = parse_hours(state.unmetered_hours)
    except ValueError:
        window = None
    if window is None:
        return False
    start, end = window
    hour = now.hour
    return start <= hour < end if start < end else (hour >= start or hour < end)


def waiting_totals(session: Session) -> tuple[int, int]:
    """How many scans are waiting and how many sealed bytes of them the hub does not hold yet."""
    count, size = session.exec(
        select(func.count(), func.coalesce(func.sum(ScanFile.sealed_size - ScanFile.hub_offset), 0))
        .where(ScanFile.state == "waiting")).one()
    return int(count), int(size)


def _sendable(data_dir: Path) -> list[ScanFile]:
    """Waiting scans whose case the hub has, smallest first."""
    with db.session_scope(data_dir) as session:
        query = (select(ScanFile).join(Case, Case.id == ScanFile.case_id)
                 .where(ScanFile.state == "waiting", Case.status.in_(SENDABLE_CASE_STATUSES))
                 .order_by(ScanFile.sealed_size, ScanFile.created_at))
        return list(session.exec(query).all())


def _outbox_waiting(data_dir: Path) -> bool:
    with db.session_scope(data_dir) as session:
        return session.exec(select(Outbox.id).where(Outbox.state == "queued").limit(1)).first() is not None


def checkpoint(data_dir: str | Path, scan_id: str, offset: int, *, uploaded: bool = False) -> None:
    """Record what the hub holds of a scan (an upload's answer or a hub bundle's scan ack). A stale figure
    costs nothing: the next upload starts from it and the hub's 409 names the offset it really holds."""
    with db.session_scope(data_dir) as session:
        row = session.get(ScanFile, scan_id)
        if row is None:
            return
        row.hub_offset = offset
        if uploaded and row.state == "waiting":
            row.state, row.uploaded_at = "uploaded", utcnow()
        session.add(row)


def _outgoing(data_dir: Path, client: HubClient, row: ScanFile) -> Outgoing | str:
    """A waiting scan ready to stream, or why it cannot go."""
    try:
        sealed = sealed_path(data_dir, row.scan_id).read_bytes()
    except OSError:
        return f"the sealed file of scan {row.scan_id} is missing; attach it again"
    # The grant lets a township carry the scan (a village's sync address may be its township's). A scan last
    # seen whole but still waiting was held by the township, and one a USB bundle carried may be at the hub
    # already: ask where those stand before sending a byte.
    known = row.hub_offset < len(sealed) and row.bundled_at is None
    return Outgoing(row.scan_id, sealed, acked=row.hub_offset, known=known,
                    grant=make_scan_grant(row.scan_id, str(client.point_id), sealed, client.identity.sign_key))


def _progress(data_dir: Path, scan: Outgoing) -> None:
    checkpoint(data_dir, scan.scan_id, scan.acked, uploaded=scan.acked >= scan.total and scan.status != RELAYED)


def upload_scans(data_dir: str | Path, client: HubClient, *, force: bool = False,
                 push_outbox: Callable[[], None] = lambda: None) -> ScanRound:
    """Stream waiting scans (after the outbox); a newly queued envelope is pushed before the next chunk.

    Raises HubUnreachable when the link fails for good; every chunk the hub
    acknowledged stays acknowledged.
    """
    data_dir = Path(data_dir)
    report = ScanRound()
    with db.session_scope(data_dir) as session:
        allowed = scans_allowed(get_state(session), local_now(), force=force)
        report.held = waiting_totals(session)[0] if not allowed else 0
    if not allowed:
        return report
    # One uploader for the round: what it learnt of the link (how often it drops) sizes the next pass's chunks.
    uploader = StreamingUploader(client)
    for _ in range(MAX_PASSES):
        outgoing = []
        for row in _sendable(data_dir):
            item = _outgoing(data_dir, client, row)
            if isinstance(item, str):
                report.errors.append(item)
            else:
                outgoing.append(item)
        streamed = uploader.upload(outgoing, should_stop=lambda: _outbox_waiting(data_dir),
                                   on_progress=lambda scan: _progress(data_dir, scan))
        report.bytes_sent += streamed.bytes_sent
        for scan in outgoing:
            if scan.refusal is not None:
                # 404: the hub has not applied the case yet (parked, say); it is asked again next round.
                if scan.refusal.status != 404:
                    report.errors.append(f"the hub refused scan {scan.scan_id} ({scan.refusal.reason})")
            elif scan.finished and scan.status == RELAYED:
                checkpoint(data_dir, scan.scan_id, scan.acked)
                report.relayed += 1
            elif scan.finished:
                checkpoint(data_dir, scan.scan_id, scan.acked, uploaded=True)
                report.sent += 1
                log.info("scan %s uploaded (%d bytes sealed)", scan.scan_id, scan.total)
        if not streamed.stopped:
            return report
        push_outbox()
    return report


def apply_retention(data_dir: str | Path, *, now: datetime | None = None) -> int:
    """Delete sealed scans (and kept originals) the hub holds whole, once their case was collected and the
    point's retention days have passed; return how many were removed."""
    data_dir = Path(data_dir)
    now = now or utcnow()
    removed = 0
    with db.session_scope(data_dir) as session:
        days = get_state(session).scan_retention_days
        rows = session.exec(select(ScanFile, Case).join(Case, Case.id == ScanFile.case_id)
                            .where(ScanFile.state == "uploaded", Case.status == "collected")).all()
        for row, case in rows:
            collected = as_utc(case.collected_at)
            if collected is None or collected + timedelta(days=days) > now:
                continue
            for path in (sealed_path(data_dir, row.scan_id), original_path(data_dir, row.scan_id)):
                path.unlink(missing_ok=True)
            row.state, row.removed_at, row.original_key_b64 = "removed", now, ""
            session.add(row)
            removed += 1
    if removed:
        log.info("removed %d sealed scan(s) of collected cases", removed)
    return removed


def uploaded_scans(files: MultiDict, materials: list[str], *, field: str = "scans") -> list[ScanInput]:
    """The files of an intake form or multipart request, each with its material (given in the same order)."""
    inputs = []
    for index, upload in enumerate(files.getlist(field)):
        data = upload.read()
        if not upload.filename and not data:
            continue  # an empty file input
        material = materials[index].strip() if index < len(materials) else ""
        inputs.append(ScanInput(upload.filename or "scan", data, material))
    return inputs


def save_scan_settings(session: Session, *, metered: bool, unmetered_hours: str, max_photo_kb: int,
                       scan_retention_days: int, actor: str) -> PointState:
    """Store the point's scan settings (audited); ``unmetered_hours`` must pass parse_hours."""
    parse_hours(unmetered_hours)
    state = get_state(session)
    state.metered, state.unmetered_hours = metered, unmetered_hours
    state.max_photo_kb, state.scan_retention_days = max(0, max_photo_kb), max(0, scan_retention_days)
    session.add(state)
    audit.record(session, actor, "scan_settings", state.point_id, metered=metered, unmetered_hours=unmetered_hours,
                 max_photo_kb=state.max_photo_kb, scan_retention_days=state.scan_retention_days)
    return state
