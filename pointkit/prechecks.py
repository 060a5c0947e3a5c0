"""网上预审 at the point: the pre-checks residents sent for this point, answered by its clerk and taken into intakes.

The hub owns a pre-check (it took the resident's photos) and sends this point a copy (PRECHECK) whenever it
changes; the newest copy replaces the point's. When the point reviews the item, the clerk answers here: "complete"
or a one-time notice per material, sealed up as PRECHECK_ANSWER (the point shows its own answer at once; the hub's
next copy confirms it). The files stay at the hub: a clerk who opens one fetches it sealed over a signed GET and
this point keeps it (sealed) for the next look, so a photo crosses the village link at most once, and only if
somebody looks at it. When the resident arrives, the intake names the pre-check and its files (pointkit/intake.py):
the hub attaches its own copies to the case, and nothing is uploaded again. A copy marked expired or taken has its
kept files deleted here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlmodel import Session, select

from sync.attachments import decrypt_attachment, sha256_hex
from sync.client import HubClient
from sync.clock import utcnow
from sync.envelope import Kind
from sync.keys import Identity, unb64
from sync.kit.passwords import verify_password
from sync.messages import AnswerPrecheck, PrecheckCopy, PrecheckFile

from . import audit, db
from .models import Precheck
from .outbox import seal_into_outbox
from .state import as_utc, get_state

KEPT_DIR = "prechecks"
MAX_NOTE = 500
OPEN_STATUSES = ("submitted", "answered")
# Wrong kiosk codes in a row before a pre-check's lookup locks, and for how long (as a pickup's, pointkit/pickup.py).
MAX_KIOSK_TRIES = 5
KIOSK_LOCK = timedelta(minutes=15)


class PrecheckError(ValueError):
    """Why a pre-check step cannot be taken here; ``reason`` is the stable word pages translate."""

    def __init__(self, reason: str, fields: dict[str, str] | None = None):
        super().__init__(reason)
        self.reason = reason
        self.fields = fields or {}


@dataclass(frozen=True)
class OpenedFile:
    """A pre-check's file as the clerk sees it, and whether the link carried it just now."""

    data: bytes
    name: str
    fetched: bool


def files_of(precheck: Precheck) -> list[PrecheckFile]:
    return [PrecheckFile.model_validate(entry) for entry in json.loads(precheck.files_json)]


def notes_of(precheck: Precheck) -> dict[str, str]:
    return json.loads(precheck.notes_json)


def kept_path(data_dir: str | Path, file_id: str) -> Path:
    return Path(data_dir) / KEPT_DIR / f"{file_id}.sealed"


def apply_precheck_copy(session: Session, payload: dict) -> Precheck:
    """The hub's copy of a pre-check replaces this point's (an older copy arriving late changes nothing)."""
    copy = PrecheckCopy.model_validate(payload)
    row = session.get(Precheck, copy.precheck_id)
    if row is not None and as_utc(row.hub_at) > as_utc(copy.at):
        return row
    row = row or Precheck(id=copy.precheck_id, precheck_no=copy.precheck_no, item_code=copy.item_code,
                          reviewer=copy.reviewer, applicant_name="", id_number="", status="", submitted_at=utcnow(),
                          expires_at=utcnow(), hub_at=copy.at, code_hash="")
    row.precheck_no, row.item_code, row.reviewer = copy.precheck_no, copy.item_code, copy.reviewer
    row.applicant_name, row.id_number = copy.applicant.name, copy.applicant.id_number
    row.phone, row.status, row.outcome = copy.applicant.phone, copy.status, copy.outcome
    row.files_json = json.dumps([f.model_dump() for f in copy.files])
    row.notes_json = json.dumps(dict(copy.notes), ensure_ascii=False)
    row.answered_by = copy.answered_by
    row.submitted_at, row.expires_at, row.hub_at = copy.submitted_at, copy.expires_at, copy.at
    row.code_hash = copy.code_hash
    session.add(row)
    audit.record(session, audit.HUB_ACTOR, "precheck_copy", row.id, precheck_no=row.precheck_no, status=row.status)
    return row


def precheck_values(precheck: Precheck) -> tuple[dict[str, str], list[str]]:
    """The intake form's values from a pre-check (the resident's name, ID number and phone) and the materials its
    files show, ticked as handed over."""
    values = {"applicant_name": precheck.applicant_name, "applicant_id_number": precheck.id_number,
              "applicant_phone": precheck.phone}
    return values, list(dict.fromkeys(f.material for f in files_of(precheck) if f.material))


def forget_files(data_dir: str | Path, precheck: Precheck) -> None:
    """Delete the files this point kept of ``precheck`` (taken in, or expired)."""
    for entry in files_of(precheck):
        kept_path(data_dir, entry.file_id).unlink(missing_ok=True)


def open_prechecks(session: Session) -> list[Precheck]:
    """Pre-checks this point holds that are not taken in nor expired: the ones its clerk reviews and has not
    answered first, then by number."""
    rows = session.exec(select(Precheck).where(Precheck.status.in_(OPEN_STATUSES))).all()
    return sorted(rows, key=lambda row: (not (row.reviewer == "point" and row.status == "submitted"),
                                         row.precheck_no))


def find_precheck(session: Session, precheck_no: str) -> Precheck | None:
    return session.exec(select(Precheck).where(Precheck.precheck_no == precheck_no.strip().upper())).first()


def open_file(data_dir: str | Path, precheck: Precheck, file_id: str, client: HubClient | None) -> OpenedFile:
    """A pre-check's file in the clear: from what this point kept, else fetched from the hub (and kept). Without a
    client (no link) a file never fetched raises PrecheckError("offline")."""
    entry = next((f for f in files_of(precheck) if f.file_id == file_id), None)
    if entry is None:
        raise PrecheckError("unknown_file")
    path = kept_path(data_dir, file_id)
    fetched = False
    if not path.exists():
        if client is None:
            raise PrecheckError("offline")
        sealed = client.precheck_file(precheck.id, file_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(sealed)
        fetched = True
    data = decrypt_attachment(path.read_bytes(), unb64(entry.key_b64))
    if sha256_hex(data) != entry.sha256:
        path.unlink(missing_ok=True)
        raise PrecheckError("file_mismatch")
    return OpenedFile(data, entry.name, fetched)


def answer_here(session: Session, identity: Identity, precheck: Precheck, *, outcome: str, notes: dict[str, str],
                staff: str, materials: set[str]) -> Precheck:
    """The clerk's answer to a pre-check this point reviews: shown here at once, sealed up to the hub."""
    if precheck.reviewer != "point" or precheck.status not in OPEN_STATUSES:
        raise PrecheckError("not_answerable")
    if outcome not in ("complete", "notice"):
        raise PrecheckError("invalid_input", {"outcome": "choose_outcome"})
    kept = {code: note.strip()[:MAX_NOTE] for code, note in notes.items()
            if (code in materials or code == "") and note.strip()}
    if outcome == "notice" and not kept:
        raise PrecheckError("invalid_input", {"notes": "notice_empty"})
    now = utcnow()
    precheck.status, precheck.outcome = "answered", outcome
    precheck.notes_json = json.dumps(kept if outcome == "notice" else {}, ensure_ascii=False)
    precheck.answered_by, precheck.answered_at = staff, now
    session.add(precheck)
    payload = AnswerPrecheck(precheck_id=precheck.id, outcome=outcome, notes=kept if outcome == "notice" else {},
                             staff=staff, answered_at=now).model_dump(mode="json")
    seal_into_outbox(session, get_state(session), identity, kind=Kind.PRECHECK_ANSWER, payload=payload,
                     case_id=precheck.id, actor=staff)
    audit.record(session, staff, "precheck_answered", precheck.id, precheck_no=precheck.precheck_no,
                 outcome=outcome)
    return precheck


def look_up_at_kiosk(session: Session, precheck_no: str, code: str, *, now: datetime | None = None) -> Precheck:
    """The pre-check for its number and code, checked offline against the hash the hub sent. An unknown number and
    a wrong code read alike; wrong codes lock the pre-check at the kiosk as they lock a pickup."""
    now = now or utcnow()
    precheck = find_precheck(session, precheck_no)
    if precheck is None or not precheck.code_hash:
        raise PrecheckError("wrong_code")
    locked = as_utc(precheck.kiosk_locked_until)
    if locked is not None and locked > now:
        raise PrecheckError("locked")
    if not verify_password(code.strip(), precheck.code_hash):
        precheck.kiosk_failures += 1
        if precheck.kiosk_failures >= MAX_KIOSK_TRIES:
            precheck.kiosk_failures, precheck.kiosk_locked_until = 0, now + KIOSK_LOCK
        session.add(precheck)
        raise PrecheckError("wrong_code")
    precheck.kiosk_failures = 0
    session.add(precheck)
    return precheck


def mark_taken(session: Session, precheck: Precheck, case_id: str) -> None:
    """The intake of ``case_id`` took this pre-check in (the hub confirms with its next copy; the files kept here
    go at the next sync round)."""
    precheck.status, precheck.case_id = "taken", case_id
    session.add(precheck)


def tidy_prechecks(data_dir: str | Path, *, now: datetime | None = None) -> int:
    """Expire copies past their time even before the hub says so (a point offline for weeks) and delete the files
    kept of every pre-check taken in or expired; return how many copies expired here."""
    now = now or utcnow()
    expired = 0
    with db.session_scope(data_dir) as session:
        for row in session.exec(select(Precheck)).all():
            if row.status in OPEN_STATUSES and as_utc(row.expires_at) <= now:
                row.status = "expired"
                session.add(row)
                expired += 1
            if row.status not in OPEN_STATUSES:
                forget_files(data_dir, row)
    return expired


