"""Ingest: verify, store raw, then apply each envelope a point pushed.

Every envelope is answered on its own (accepted, duplicate, conflict or
rejected with a reason) and handled in its own transactions, so one bad
envelope never blocks the rest. The raw bytes are committed before the
payload is applied: if applying fails, the envelope is still held and parked
for an operator instead of lost.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from sync import CaseCollected, Envelope, EnvelopeError, Identity, Kind, SignatureError, SubmitCase
from sync.envelope import Header
from sync.messages import POINT_INTENTS
from sync.rotation import read_point_keys

from .cases import record_event
from .catalog import find_item
from .db import as_utc, utc_now
from .keys import Keyring
from .models import Case, Point, RawEnvelope
from .outbox import send_status
from .points import point_keys, point_verifiers, record_point_keys
from .routing import route_case
from .scans import ScanError, expect_scans

log = logging.getLogger(__name__)


@dataclass
class IngestResult:
    """The hub's answer for one envelope, as the push endpoint returns it."""

    envelope_id: str
    status: str
    reason: str = ""
    message: str = ""


class Refusal(Exception):
    """Applying a payload failed for a reason the point must hear about."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class _Raced(Exception):
    """Another request stored an envelope with the same id or (point, seq) first."""


def ingest_envelopes(session: Session, frames: list[bytes], *, keyring: Keyring) -> list[dict[str, Any]]:
    """Handle each frame independently; return one result dict per frame, in order.

    An error before an envelope's raw bytes are stored propagates (the push
    answers 5xx and the point retries the batch; what was stored answers
    "duplicate" then). Answering "rejected" instead would make the point
    quarantine an envelope the hub merely failed to store.
    """
    results = []
    for frame in frames:
        try:
            result = _ingest_one(session, frame, keyring)
        except _Raced:
            session.rollback()
            # The other copy is committed now; looking again answers duplicate or conflict.
            result = _ingest_one(session, frame, keyring)
        log.info("envelope %s: %s %s", result.envelope_id, result.status, result.reason)
        results.append(asdict(result))
    return results


def _peek_id(frame: bytes) -> str:
    try:
        return str(Header.unpack(frame).envelope_id)
    except EnvelopeError:
        return ""


def _verify_sender(session: Session, envelope: Envelope, point: Point) -> None:
    """Accept a signature by any key the point has held; a key rotation must come from the current one."""
    if envelope.header.kind == Kind.POINT_KEYS:
        envelope.verify(point_keys(point).verifier())
        return
    for key in point_verifiers(session, point):
        try:
            envelope.verify(key)
            return
        except EnvelopeError:
            continue
    raise EnvelopeError("bad_signature", "envelope signature does not verify with any key of this point")


def _ingest_one(session: Session, frame: bytes, keyring: Keyring) -> IngestResult:
    try:
        envelope = Envelope.parse(frame)
    except EnvelopeError as exc:
        return IngestResult(_peek_id(frame), "rejected", exc.reason, str(exc))
    header = envelope.header
    envelope_id = str(header.envelope_id)
    point = session.get(Point, header.sender_id)
    if point is None:
        return IngestResult(envelope_id, "rejected", "unknown_point", "the hub does not know this point; enroll it")
    if point.status == "revoked":
        return IngestResult(envelope_id, "rejected", "point_revoked", "this point was revoked at the hub")
    if point.status != "active":
        return IngestResult(envelope_id, "rejected", "point_pending", "this point has not finished enrollment")
    try:
        _verify_sender(session, envelope, point)
    except EnvelopeError as exc:
        return IngestResult(envelope_id, "rejected", exc.reason, str(exc))
    if header.kind not in POINT_INTENTS and header.kind != Kind.POINT_KEYS:
        return IngestResult(envelope_id, "rejected", "unsupported_kind",
                            f"the hub does not accept {header.kind.name} envelopes from points yet")

    known = session.exec(select(RawEnvelope).where(RawEnvelope.envelope_id == envelope_id)).first()
    if known is not None and known.outcome == "received" and known.point_id == point.id:
        # Stored, then the hub stopped before applying it (a crash between the two commits):
        # apply it now rather than answer "duplicate" for something never applied.
        return _apply(session, envelope, known, point, keyring)
    if known is not None:
        return _answer_known(known, point)
    same_seq = session.exec(select(RawEnvelope).where(
        RawEnvelope.point_id == point.id, RawEnvelope.seq == header.seq, RawEnvelope.outcome != "conflict")).first()
    if same_seq is not None:
        return _same_seq(session, envelope, same_seq, point, keyring)

    raw = _store_raw(session, envelope, point, "received")
    try:
        return _apply(session, envelope, raw, point, keyring)
    except Exception as exc:
        session.rollback()
        # The type only: the message of a failed apply may quote the payload (a resident's data).
        log.error("applying envelope %s failed (%s); parked", envelope_id, type(exc).__name__)
        raw = session.get(RawEnvelope, raw.id)
        raw.outcome, raw.reason = "parked", "apply_failed"
        session.add(raw)
        session.commit()
        return IngestResult(envelope_id, "accepted", "parked", "stored; an operator will apply it")


def _answer_known(known: RawEnvelope, point: Point) -> IngestResult:
    if known.point_id != point.id:
        return IngestResult(known.envelope_id, "rejected", "envelope_id_taken",
                            "another point already sent an envelope with this id")
    if known.outcome == "rejected":
        return IngestResult(known.envelope_id, "rejected", known.reason, "this envelope was rejected before")
    if known.outcome == "conflict":
        return IngestResult(known.envelope_id, "conflict", known.reason, "parked for an operator")
    return IngestResult(known.envelope_id, "duplicate", "", "already received")


def _same_seq(session: Session, envelope: Envelope, stored: RawEnvelope, point: Point,
              keyring: Keyring) -> IngestResult:
    """A second envelope with a used (point, seq): a resend of the same content, or a fork."""
    envelope_id = str(envelope.header.envelope_id)
    try:
        first = Envelope(Header.unpack(stored.header), stored.header, stored.ciphertext, stored.signature)
        opening = keyring.opening_keys()
        same = stored.kind == int(envelope.header.kind) and first.open(opening) == envelope.open(opening)
    except EnvelopeError:
        same = False
    if same:
        return IngestResult(envelope_id, "duplicate", "", f"sequence {stored.seq} already received")
    _store_raw(session, envelope, point, "conflict", reason="seq_reused")
    log.warning("point %s reused seq %s with different content; parked as conflict", point.id, stored.seq)
    return IngestResult(envelope_id, "conflict", "seq_reused",
                        f"sequence {stored.seq} was already used for other content; parked for an operator")


def _store_raw(session: Session, envelope: Envelope, point: Point, outcome: str, reason: str = "") -> RawEnvelope:
    """Commit the envelope's bytes; raise _Raced if another request stored it first."""
    header = envelope.header
    raw = RawEnvelope(
        envelope_id=str(header.envelope_id), point_id=point.id, seq=header.seq, kind=int(header.kind),
        header=envelope.header_bytes, ciphertext=envelope.ciphertext, signature=envelope.signature,
        sender_clock_ms=header.sender_clock_ms, outcome=outcome, reason=reason,
    )
    point.last_contact = utc_now()
    session.add_all([raw, point])
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise _Raced() from None
    return raw


def _apply(session: Session, envelope: Envelope, raw: RawEnvelope, point: Point,
           keyring: Keyring) -> IngestResult:
    envelope_id = raw.envelope_id
    intent = None
    identity = keyring.current
    try:
        payload = envelope.open(keyring.opening_keys())
        if envelope.header.kind == Kind.POINT_KEYS:
            status, reason, message = _apply_point_keys(session, payload, point)
            raw.outcome, raw.reason = status, reason
            session.add(raw)
            session.commit()
            return IngestResult(envelope_id, status, reason, message)
        intent = POINT_INTENTS[envelope.header.kind].model_validate(payload)
        if isinstance(intent, SubmitCase):
            status, reason, message = _apply_submit(session, intent, point, identity)
        elif isinstance(intent, CaseCollected):
            status, reason, message = _apply_collected(session, intent, point)
        else:
            raise Refusal("unsupported_kind", "the hub cannot apply this kind yet")
    except (EnvelopeError, Refusal, SignatureError) as exc:
        status, reason, message = "rejected", exc.reason, str(exc)
        if exc.reason == "unknown_key":
            message = "sealed to a key this hub no longer holds (or never had); seal again to the hub's current key"
    except ValidationError as exc:
        fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
        status, reason, message = "rejected", "invalid_payload", f"payload does not match the schema: {fields}"
    if status == "rejected":
        # Undo any half-applied rows; the raw envelope stays (it was committed before).
        session.rollback()
        raw = session.get(RawEnvelope, raw.id)
    raw.outcome, raw.reason = status, reason
    raw.case_id = getattr(intent, "case_id", None)
    session.add(raw)
    session.commit()
    return IngestResult(envelope_id, status, reason, message)


def _apply_point_keys(session: Session, payload: dict[str, Any], point: Point) -> tuple[str, str, str]:
    """The point rotated its keys: from now on seal to the new ones and accept them too."""
    try:
        keys = read_point_keys(payload, point.id)
    except (SignatureError, ValidationError):
        raise
    except ValueError as exc:
        raise Refusal("invalid_payload", f"the announced keys are not usable: {exc}") from None
    if not record_point_keys(session, point, keys):
        return "duplicate", "keys_current", "these keys are already the point's current keys"
    log.info("point %s rotated its keys to %s", point.id, keys.fingerprint)
    return "accepted", "", "new point keys recorded"


def _apply_submit(session: Session, intent: SubmitCase, point: Point, identity: Identity) -> tuple[str, str, str]:
    try:
        uuid.UUID(intent.case_id)
    except ValueError:
        raise Refusal("invalid_payload", "case_id is not a UUID") from None
    existing = session.get(Case, intent.case_id)
    if existing is not None:
        if existing.point_id == point.id:
            return "duplicate", "case_exists", "this case was already received"
        return "conflict", "case_id_taken", "another point already sent a case with this id; parked"
    item = find_item(session, intent.item_code)
    case = Case(
        id=intent.case_id, point_id=point.id, receipt_no=intent.receipt_no, item_code=intent.item_code,
        item_name=item.name_zh if item else "", catalog_version=intent.catalog_version,
        applicant=intent.applicant.model_dump(), form=intent.form, materials=intent.materials,
        staff=intent.staff, received_at=as_utc(intent.received_at), promised_date=intent.promised_date,
    )
    session.add(case)
    session.flush()
    try:
        expect_scans(session, case.id, point.id, intent.scans)
    except ScanError as exc:
        raise Refusal(exc.reason, str(exc)) from None
    log.info("case %s (receipt %s) received from point %s", case.id, case.receipt_no, point.id)
    record_event(session, case.id, actor=point.name, action="received",
                 note=f"received at the point by {intent.staff}")
    if item is None:
        case.status = "needs_attention"
        session.add(case)
        note = f"item code {intent.item_code} is not in the hub's catalog; an operator must route it"
        record_event(session, case.id, actor="hub", action="needs_attention", note=note)
        send_status(session, case, point, "needs_attention", note, identity)
        return "accepted", "unknown_item", note
    route_case(session, case, item)
    send_status(session, case, point, "routed", "sent to " + ", ".join(item.departments), identity)
    return "accepted", "", "case received and routed"


def _apply_collected(session: Session, intent: CaseCollected, point: Point) -> tuple[str, str, str]:
    case = session.get(Case, intent.case_id)
    if case is None:
        raise Refusal("unknown_case", "the hub has no such case")
    if case.point_id != point.id:
        raise Refusal("not_your_case", "this case was received at another point")
    if case.result is None:
        raise Refusal("no_result", "the hub has issued no result for this case yet")
    if case.status == "closed":
        return "duplicate", "already_closed", "the case was already closed"
    case.status, case.closed_at = "closed", utc_now()
    session.add(case)
    log.info("case %s closed: result collected at point %s", case.id, point.id)
    record_event(session, case.id, actor=point.name, action="closed",
                 note=f"result collected at the point by {intent.staff}")
    return "accepted", "", "case closed"
