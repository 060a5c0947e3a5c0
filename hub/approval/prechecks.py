"""网上预审: a resident's pre-check, from the residents' site to its answer, its intake and its expiry.

A resident picks an item, gives her name, ID number, phone and the point where she will apply, and photos of her
materials. Each file is checked by its content (sync/kit/photos.py), re-encoded to a legible size and stored
sealed under a key of its own, as a point's scan is: when she arrives, the point's intake names the pre-check and
the hub attaches these very files to the case as its scans (``attach_to_case``), so the village link never
carries them again. She gets a number and a code (hashed, locked after wrong tries like a project's lookup).

Who answers: a clerk at her point (the pre-check goes down as a PRECHECK message; the answer comes up as
PRECHECK_ANSWER) or the item's department on a hub page (ServiceItem.precheck). The answer is "complete" (材料齐全，
可前来办理) or a one-time notice naming, per material, what is missing or wrong. Pre-checks not taken into a case
expire after ``PrecheckLimits.expiry_days``, and their files are deleted. Each step is one audit-chain entry with
the pre-check's number, never the resident's data.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, func, select

from sync.attachments import encrypt_attachment, new_file_key, safe_file_name, sealed_size, sha256_hex
from sync.catalog import ServiceItem
from sync.clock import uuid7
from sync.envelope import Kind
from sync.keys import b64
from sync.kit import photos
from sync.kit.idnumber import id_number_problem, normalize_id_number
from sync.kit.passwords import hash_password, verify_password
from sync.kit.workdays import county_date
from sync.messages import AnswerPrecheck, PrecheckCopy, PrecheckFile
from sync.messages import Applicant as MessageApplicant

from hub.approval.scans import COMPLETE
from hub.approval.scanstore import ScanStore, read_whole, scan_store
from hub.catalog.versions import find_item
from hub.core.audit import append_audit
from hub.core.clock import as_utc, utc_now
from hub.core.db import session_scope, write_lock
from hub.core.leases import DEFAULT_LEASE_S, start_timer
from hub.core.models import Case, CaseScan, Point, Precheck, PrecheckPhoto
from hub.core.outbox import enqueue

log = logging.getLogger(__name__)

CODE_DIGITS = 6
MAX_LOOKUP_TRIES = 5
LOOKUP_LOCK = timedelta(minutes=15)
MAX_NOTE = 500
PHONE_DIGITS = (7, 20)
PRECHECK_EXPIRY_TIMER = "precheck-expiry"


@dataclass(frozen=True, kw_only=True)
class PrecheckLimits:
    """The county's limits on pre-checks (hub config PRECHECK_*): how long one lives, what one may carry, how many
    one ID number and one client address may submit a day, and the storage all of them may fill."""

    expiry_days: int = 30
    max_file_bytes: int = 10 * 1024 * 1024
    max_files: int = 12
    max_body_bytes: int = 32 * 1024 * 1024  # one form post, all its files together
    photo_kb: int = 400
    max_pixels: int = photos.MAX_PIXELS
    per_id_per_day: int = 3
    per_address_per_day: int = 20
    storage_bytes: int = 2 * 1024 ** 3


class PrecheckRefused(ValueError):
    """Why a step of a pre-check cannot be taken: ``reason`` is the stable word the pages translate, ``fields``
    names each form input at fault."""

    def __init__(self, reason: str, fields: dict[str, str] | None = None):
        super().__init__(reason + ("" if not fields else ": " + "; ".join(f"{k}: {v}" for k, v in fields.items())))
        self.reason = reason
        self.fields = fields or {}


@dataclass
class Upload:
    """A file the resident attached, with the material it shows."""

    material: str
    name: str
    data: bytes


@dataclass
class Applicant:
    """Who submits the pre-check, as she typed it."""

    name: str
    id_number: str
    phone: str


@dataclass(frozen=True)
class Submitted:
    """A stored pre-check and its code (shown to the resident once, never stored)."""

    precheck: Precheck
    code: str


@dataclass
class StoredFile:
    """A checked, re-encoded, sealed file waiting for its pre-check's row."""

    row: PrecheckPhoto
    sealed: bytes = field(repr=False)


def sealed_photo(data_dir: str | Path, photo: PrecheckPhoto) -> bytes:
    """A pre-check's file as stored: sealed, in the scan store, where the case's scan will be, so taking it in
    moves nothing."""
    return read_whole(scan_store(data_dir), photo.id, photo.sealed_size)


def answerable_points(session: Session, item: ServiceItem) -> list[Point]:
    """The enrolled points where ``item`` can be applied for (their level is one the item serves), by name."""
    return list(session.exec(select(Point).where(Point.status == "active", Point.level.in_(item.levels))
                             .order_by(Point.name)).all())


def submit_precheck(session: Session, data_dir: str | Path, *, item: ServiceItem, point_name: str,
                    applicant: Applicant, uploads: list[Upload], client_address: str,
                    limits: PrecheckLimits = PrecheckLimits(), now: datetime | None = None) -> Submitted:
    """Check, store and audit a resident's pre-check; its files are written sealed before the row commits."""
    now = now or utc_now()
    point = _checked_form(session, item, point_name, applicant, uploads, limits)
    id_number = normalize_id_number(applicant.id_number)
    id_key, client_key = _digest("id", id_number), _digest("address", client_address)
    _within_day_limits(session, id_key, client_key, now, limits)
    store = scan_store(data_dir)
    files = _store_files(store, uploads, limits)
    total = sum(len(f.sealed) for f in files)
    if _stored_bytes(session) + total > limits.storage_bytes:
        _remove(store, files)
        raise PrecheckRefused("storage_full")
    code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
    precheck = Precheck(
        id=str(uuid7()), precheck_no=_next_number(session, now), item_code=item.code, item_name=item.name_zh,
        point_id=point.id, reviewer=item.precheck, department_code=_answering_department(item),
        name=applicant.name.strip()[:64], id_number=id_number, phone=applicant.phone.strip()[:20], id_key=id_key,
        client_key=client_key, created_at=now, expires_at=now + timedelta(days=limits.expiry_days),
        stored_bytes=total, code_hash=hash_password(code))
    session.add(precheck)
    session.flush()
    for stored in files:
        stored.row.precheck_id = precheck.id
        session.add(stored.row)
    _audit(session, precheck, "resident", "precheck_submitted", item=item.code, reviewer=precheck.reviewer,
           point=point.name, files=len(files))
    tell_point(session, precheck)
    return Submitted(precheck, code)


def _answering_department(item: ServiceItem) -> str:
    """The department that answers a department-reviewed pre-check: the lead one of a joint item."""
    return item.lead_department or item.departments[0]


def _checked_form(session: Session, item: ServiceItem, point_name: str, applicant: Applicant,
                  uploads: list[Upload], limits: PrecheckLimits) -> Point:
    """The chosen point, once every field and file passed; else PrecheckRefused naming each field at fault."""
    problems: dict[str, str] = {}
    if not applicant.name.strip() or len(applicant.name.strip()) > 64:
        problems["name"] = "name_required"
    if id_number_problem(applicant.id_number):
        problems["id_number"] = "bad_id_number"
    digits = sum(ch.isdigit() for ch in applicant.phone)
    if not PHONE_DIGITS[0] <= digits <= PHONE_DIGITS[1] or len(applicant.phone.strip()) > 20:
        problems["phone"] = "bad_phone"
    point = next((p for p in answerable_points(session, item) if p.name == point_name), None)
    if point is None:
        problems["point"] = "choose_point"
    materials = {material.code for material in item.materials}
    if not uploads:
        problems["files"] = "no_files"
    elif len(uploads) > limits.max_files:
        problems["files"] = "too_many_files"
    for upload in uploads:
        if upload.material not in materials:
            problems["files"] = "no_files"
            continue
        problem = photos.scan_problem(upload.data, max_bytes=limits.max_file_bytes, max_pixels=limits.max_pixels)
        if problem:
            problems.setdefault(f"file_{upload.material}", problem)
    if problems:
        raise PrecheckRefused("invalid_input", problems)
    assert point is not None
    return point


def _digest(kind: str, value: str) -> str:
    return hashlib.sha256(f"pointkit-precheck-{kind}:{value}".encode()).hexdigest()


def _within_day_limits(session: Session, id_key: str, client_key: str, now: datetime,
                       limits: PrecheckLimits) -> None:
    """Refuse a submission past the day's limit for this ID number or this client address (the last 24 hours)."""
    since = now - timedelta(days=1)
    for column, key, limit, reason in ((Precheck.id_key, id_key, limits.per_id_per_day, "too_many_for_id"),
                                       (Precheck.client_key, client_key, limits.per_address_per_day,
                                        "too_many_from_address")):
        count = session.exec(select(func.count()).select_from(Precheck)
                             .where(column == key, Precheck.created_at >= since)).one()
        if count >= limit:
            log.info("pre-check refused: %s (%d in a day)", reason, count)
            raise PrecheckRefused(reason)


def _stored_bytes(session: Session) -> int:
    return int(session.exec(select(func.coalesce(func.sum(Precheck.stored_bytes), 0))
                            .where(Precheck.status != "expired")).one())


def _store_files(store: ScanStore, uploads: list[Upload], limits: PrecheckLimits) -> list[StoredFile]:
    """Re-encode each photo to a legible size (a PDF stays as it is), seal it under a fresh key and write it."""
    files = []
    for upload in uploads:
        data = photos.reencode_photo(upload.data, limits.photo_kb, max_pixels=limits.max_pixels) or upload.data
        name = safe_file_name(upload.name)
        if data is not upload.data:
            name = safe_file_name(name.rsplit(".", 1)[0] + ".jpg")
        key = new_file_key()
        photo_id = str(uuid7())
        sealed = encrypt_attachment(data, key)
        store.write_at(photo_id, 0, sealed)
        row = PrecheckPhoto(id=photo_id, precheck_id="", material=upload.material[:64], name=name, size=len(data),
                            sha256=sha256_hex(data), key_b64=b64(key), sealed_size=sealed_size(len(data)))
        files.append(StoredFile(row, sealed))
    return files


def _remove(store: ScanStore, files: list[StoredFile]) -> None:
    for stored in files:
        store.delete(stored.row.id)


def _next_number(session: Session, now: datetime) -> str:
    """YS-<county day>-<n>: 预审, numbered per day at the hub."""
    prefix = f"YS-{county_date(now):%Y%m%d}-"
    numbers = session.exec(select(Precheck.precheck_no).where(Precheck.precheck_no.startswith(prefix))).all()
    highest = max((int(n[len(prefix):]) for n in numbers if n[len(prefix):].isdigit()), default=0)
    return f"{prefix}{highest + 1:04d}"


def find_precheck(session: Session, precheck_no: str) -> Precheck | None:
    return session.exec(select(Precheck).where(Precheck.precheck_no == precheck_no.strip().upper())).first()


def lookup_precheck(session: Session, precheck_no: str, code: str, *, now: datetime | None = None) -> Precheck:
    """The pre-check for its number and code. An unknown number and a wrong code are refused alike
    ("wrong_code"); the fifth wrong code in a row locks the pre-check's lookup for LOOKUP_LOCK ("locked")."""
    now = now or utc_now()
    precheck = find_precheck(session, precheck_no)
    if precheck is None:
        raise PrecheckRefused("wrong_code")
    locked = as_utc(precheck.lookup_locked_until) if precheck.lookup_locked_until else None
    if locked is not None and locked > now:
        raise PrecheckRefused("locked")
    if not verify_password(code.strip(), precheck.code_hash):
        precheck.lookup_failures += 1
        if precheck.lookup_failures >= MAX_LOOKUP_TRIES:
            precheck.lookup_failures, precheck.lookup_locked_until = 0, now + LOOKUP_LOCK
            _audit(session, precheck, "resident", "precheck_lookup_locked")
        session.add(precheck)
        raise PrecheckRefused("wrong_code")
    if precheck.lookup_failures:
        precheck.lookup_failures = 0
        session.add(precheck)
    return precheck


def precheck_photos(session: Session, precheck: Precheck) -> list[PrecheckPhoto]:
    return list(session.exec(select(PrecheckPhoto).where(PrecheckPhoto.precheck_id == precheck.id)
                             .order_by(PrecheckPhoto.material, PrecheckPhoto.created_at)).all())


def answer_precheck(session: Session, precheck: Precheck, *, outcome: str, notes: dict[str, str], actor: str,
                    item: ServiceItem | None, answered_at: datetime | None = None) -> Precheck:
    """Record the answer: "complete", or a one-time notice with at least one note (material code -> what is
    missing or wrong, "" -> a note on the whole). A newer answer replaces an earlier one until the pre-check is
    taken into a case."""
    if precheck.status not in ("submitted", "answered"):
        raise PrecheckRefused("closed")
    if outcome not in ("complete", "notice"):
        raise PrecheckRefused("invalid_input", {"outcome": "choose_outcome"})
    known = {""} | ({material.code for material in item.materials} if item else set())
    kept = {code: note.strip()[:MAX_NOTE] for code, note in notes.items() if code in known and note.strip()}
    if outcome == "notice" and not kept:
        raise PrecheckRefused("invalid_input", {"notes": "notice_empty"})
    precheck.status, precheck.outcome = "answered", outcome
    precheck.notes = kept if outcome == "notice" else {}
    precheck.answered_by, precheck.answered_at = actor[:64], answered_at or utc_now()
    session.add(precheck)
    _audit(session, precheck, actor, "precheck_answered", outcome=outcome, notes=len(precheck.notes))
    tell_point(session, precheck)
    return precheck


def attach_to_case(session: Session, precheck_id: str, file_ids: list[str], case: Case) -> list[CaseScan]:
    """Attach the named files of a pre-check to ``case`` as its scans, whole: the hub holds them already (stored
    where scans are, sealed the way a point seals one), so the point uploads nothing. Marks the pre-check taken and
    tells the point. Only the pre-check's own point may take it in, once."""
    precheck = session.get(Precheck, precheck_id)
    if precheck is None or precheck.point_id != case.point_id or precheck.status not in ("submitted", "answered"):
        raise PrecheckRefused("unknown_precheck")
    wanted = set(file_ids)
    scans = []
    for photo in precheck_photos(session, precheck):
        if photo.id not in wanted:
            continue
        scan = CaseScan(scan_id=photo.id, case_id=case.id, point_id=case.point_id, name=photo.name,
                        material=photo.material, size=photo.size, sha256=photo.sha256, key_b64=photo.key_b64,
                        total=photo.sealed_size, received=photo.sealed_size, status=COMPLETE, completed_at=utc_now())
        session.add(scan)
        scans.append(scan)
    precheck.status, precheck.case_id = "taken", case.id
    session.add(precheck)
    _audit(session, precheck, "hub", "precheck_taken", case_id=case.id, files=len(scans))
    tell_point(session, precheck)
    return scans


def answer_from_point(session: Session, intent: AnswerPrecheck, point: Point) -> Precheck:
    """A clerk's answer, sent up from the point the pre-check names (only a point-reviewed one)."""
    precheck = session.get(Precheck, intent.precheck_id)
    if precheck is None or precheck.point_id != point.id or precheck.reviewer != "point":
        raise PrecheckRefused("unknown_precheck")
    return answer_precheck(session, precheck, outcome=intent.outcome, notes=dict(intent.notes),
                           actor=f"{point.name}/{intent.staff}", item=find_item(session, precheck.item_code),
                           answered_at=min(as_utc(intent.answered_at), utc_now()))


def tell_point(session: Session, precheck: Precheck) -> None:
    """Send the chosen point the pre-check as it stands now (PRECHECK): its clerk answers or takes it in from it,
    and its kiosk shows the answer offline. Photos stay at the hub; their keys travel sealed here."""
    point = session.get(Point, precheck.point_id)
    if point is None:
        return
    files = [PrecheckFile(file_id=photo.id, material=photo.material, name=photo.name, size=photo.size,
                          sha256=photo.sha256, key_b64=photo.key_b64) for photo in precheck_photos(session, precheck)]
    copy = PrecheckCopy(
        precheck_id=precheck.id, precheck_no=precheck.precheck_no, item_code=precheck.item_code,
        reviewer=precheck.reviewer, files=files, status=precheck.status, outcome=precheck.outcome,
        applicant=MessageApplicant(name=precheck.name, id_number=precheck.id_number, phone=precheck.phone),
        notes=precheck.notes, answered_by=precheck.answered_by, submitted_at=as_utc(precheck.created_at),
        expires_at=as_utc(precheck.expires_at), at=utc_now(), code_hash=precheck.code_hash)
    enqueue(session, point=point, kind=Kind.PRECHECK, payload=copy.model_dump(mode="json"))


def expire_prechecks(session: Session, data_dir: str | Path, *, now: datetime | None = None) -> list[str]:
    """Expire pre-checks past their time that no case took, delete their files; return their numbers."""
    now = now or utc_now()
    due = session.exec(select(Precheck).where(Precheck.status.in_(("submitted", "answered")),
                                              Precheck.expires_at <= now)).all()
    store = scan_store(data_dir)
    for precheck in due:
        for photo in precheck_photos(session, precheck):
            store.delete(photo.id)
            session.delete(photo)
        precheck.status, precheck.stored_bytes = "expired", 0
        session.add(precheck)
        _audit(session, precheck, "hub", "precheck_expired")
        tell_point(session, precheck)
    if due:
        log.info("expired %d pre-check(s)", len(due))
    return [precheck.precheck_no for precheck in due]


def department_prechecks(session: Session, department_code: str | None) -> list[Precheck]:
    """Pre-checks a department answers, waiting ones first (all departments' when ``department_code`` is None)."""
    query = select(Precheck).where(Precheck.reviewer == "department", Precheck.status.in_(("submitted", "answered")))
    if department_code is not None:
        query = query.where(Precheck.department_code == department_code)
    return sorted(session.exec(query).all(), key=lambda p: (p.status != "submitted", p.created_at))


def _audit(session: Session, precheck: Precheck, actor: str, action: str, **detail) -> None:
    """One step in the audit chain: the pre-check's number and the step, never the resident's data."""
    append_audit(session, actor=actor, action=action, subject=f"precheck:{precheck.id}",
                 detail={"precheck_no": precheck.precheck_no, **detail})


def expire_once(engine: Engine, data_dir: str | Path) -> list[str]:
    """One expiry round in its own transaction."""
    with session_scope(engine) as session:
        return expire_in(session, data_dir)


def expire_in(session: Session, data_dir: str | Path) -> list[str]:
    """One expiry round in the caller's transaction, under the write lock (a round run by hand may meet the
    timer's)."""
    write_lock(session)
    return expire_prechecks(session, data_dir)


def start_precheck_expiry(engine: Engine, data_dir: str | Path, interval_s: float, *, holder: str,
                          lease_s: float = DEFAULT_LEASE_S) -> threading.Event:
    """Run an expiry round every ``interval_s`` seconds, once across every hub process on the database
    (hub/core/leases.py); set the event to stop it."""
    return start_timer(engine, PRECHECK_EXPIRY_TIMER, interval_s, lambda session: expire_in(session, data_dir),
                       holder=holder, lease_s=lease_s)
