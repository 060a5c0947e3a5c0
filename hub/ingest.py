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
from datetime import timedelta
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session, select

from sync import CaseCollected, Envelope, EnvelopeError, Identity, Kind, SignatureError, SubmitCase
from sync.envelope import Header
from sync.messages import POINT_INTENTS, AmendCase, RateCase, SupplementCase, WithdrawCase
from sync.rotation import read_point_keys

from .cases import record_event
from .catalog import find_item, outdated_item_note
from .db import as_utc, utc_now
from .keys import Keyring
from .models import Case, Point, Rating, RawEnvelope
from .outbox import note_protocol, send_status
from .points import point_keys, point_verifiers, record_point_keys
from .reconcile import FORK_UNAPPLIED, apply_amend, apply_withdraw, check_submit, record_fork
from .review import receive_supplement
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
    note_protocol(session, point, header.version, keyring.current)
    if header.kind not in POINT_INTENTS and header.kind != Kind.POINT_KEYS:
        return IngestResult(envelope_id, "rejected", "unsupported_kind",
                            f"the hub does not accept {header.kind.name} envelopes from points yet")

    known = session.exec(select(RawEnvelope).where(RawEnvelope.envelope_id == envelope_id)).first()
    if known is not None and known.point_id == point.id and (known.outcome == "received"
                                                             or known.reason == FORK_UNAPPLIED):
        # Stored, then the hub stopped before applying it (a crash between the two commits):
        # apply it now rather than answer "duplicate" for something never applied.
        return _apply_or_park(session, envelope, known, point, keyring)
    if known is not None:
        return _answer_known(known, point)
    # The first copy of (point, seq) is the one a second copy is compared with (a fork is parked beside it).
    same_seq = session.exec(select(RawEnvelope).where(
        RawEnvelope.point_id == point.id, RawEnvelope.seq == header.seq).order_by(RawEnvelope.received_at)).first()
    if same_seq is not None:
        return _same_seq(session, envelope, same_seq, point, keyring)

    raw = _store_raw(session, envelope, point, "received")
    return _apply_or_park(session, envelope, raw, point, keyring)


def _apply_or_park(session: Session, envelope: Envelope, raw: RawEnvelope, point: Point,
                   keyring: Keyring) -> IngestResult:
    """Apply a stored envelope; if applying fails, the envelope stays stored and parked for an operator."""
    envelope_id = raw.envelope_id
    try:
        try:
            return _apply(session, envelope, raw, point, keyring)
        except DBAPIError:
            # Another hub process applying related content at once (a second envelope with the same
            # case id) can fail this transaction at a unique key or in a deadlock; once the other has
            # committed, applying again sees what it did.
            session.rollback()
            return _apply(session, envelope, raw, point, keyring)
    except Exception as exc:
        session.rollback()
        # The type only: the message of a failed apply may quote the payload (a resident's data).
        log.error("applying envelope %s failed (%s); parked", envelope_id, type(exc).__name__)
        raw = session.get(RawEnvelope, raw.id)
        # A fork's second copy stays out of the one-per-(point, seq) index.
        raw.outcome, raw.reason = "conflict" if raw.reason == FORK_UNAPPLIED else "parked", "apply_failed"
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
    # A fork (a point restored from an old backup): keep both copies; the second is applied like any
    # other envelope (a case received after the restore is a real case), and the fork is parked.
    raw = _store_raw(session, envelope, point, "conflict", reason=FORK_UNAPPLIED)
    log.warning("point %s reused seq %s with different content; parked as conflict", point.id, stored.seq)
    return _apply_or_park(session, envelope, raw, point, keyring)


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
    raw = _claim(session, raw)
    if raw.outcome != "received" and raw.reason != FORK_UNAPPLIED:
        session.rollback()
        return _answer_known(raw, point)
    intent = None
    identity = keyring.current
    forked = raw.reason == FORK_UNAPPLIED
    try:
        payload = envelope.open(keyring.opening_keys())
        if envelope.header.kind == Kind.POINT_KEYS:
            status, reason, message = _apply_point_keys(session, payload, point)
            raw.outcome, raw.reason = "conflict" if forked else status, reason
            session.add(raw)
            session.commit()
            return IngestResult(envelope_id, status, reason, message)
        intent = POINT_INTENTS[envelope.header.kind].model_validate(payload)
        if isinstance(intent, SubmitCase):
            status, reason, message = _apply_submit(session, intent, point, identity, raw)
        elif isinstance(intent, CaseCollected):
            status, reason, message = _apply_collected(session, intent, point)
        elif isinstance(intent, SupplementCase):
            status, reason, message = _apply_supplement(session, intent, point)
        elif isinstance(intent, RateCase):
            status, reason, message = _apply_rating(session, intent, point)
        elif isinstance(intent, AmendCase):
            status, reason, message = apply_amend(session, _own_case(session, intent.case_id, point), intent,
                                                  point, raw)
        elif isinstance(intent, WithdrawCase):
            status, reason, message = apply_withdraw(session, _own_case(session, intent.case_id, point), intent,
                                                     point, raw, identity)
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
    raw.case_id = getattr(intent, "case_id", None)
    if forked:
        status, reason, message = _fork(session, raw, point, identity, status, reason, message)
    raw.outcome, raw.reason = "conflict" if forked else status, reason
    session.add(raw)
    session.commit()
    return IngestResult(envelope_id, status, reason, message)


def _claim(session: Session, raw: RawEnvelope) -> RawEnvelope:
    """The stored envelope as committed now, locked until this transaction ends.

    Two hub processes can both hold an envelope still to apply (a point pushed it through both):
    the lock makes the second wait for the first, and then it sees what the first decided.
    """
    return session.get(RawEnvelope, raw.id, with_for_update=True, populate_existing=True)


def _fork(session: Session, raw: RawEnvelope, point: Point, identity: Identity, status: str, reason: str,
          message: str) -> tuple[str, str, str]:
    """Record the fork beside the applied second copy; the answer is "conflict" unless it was rejected."""
    first = session.exec(select(RawEnvelope).where(
        RawEnvelope.point_id == point.id, RawEnvelope.seq == raw.seq, RawEnvelope.id != raw.id)
        .order_by(RawEnvelope.received_at)).first()
    record_fork(session, first, raw, point, raw.case_id if status != "rejected" else None, identity)
    if status == "rejected":
        return status, reason, message
    return "conflict", "seq_reused", (f"sequence {raw.seq} was already used for other content; both kept and "
                                      f"parked for an operator; continue from a fresh sequence")


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


def _apply_submit(session: Session, intent: SubmitCase, point: Point, identity: Identity,
                  raw: RawEnvelope) -> tuple[str, str, str]:
    try:
        uuid.UUID(intent.case_id)
    except ValueError:
        raise Refusal("invalid_payload", "case_id is not a UUID") from None
    existing = session.get(Case, intent.case_id)
    if existing is not None:
        if existing.point_id == point.id:
            return "duplicate", "case_exists", "this case was already received"
        return "conflict", "case_id_taken", "another point already sent a case with this id; parked"
    if intent.clock_offset_ms is not None:
        point.clock_offset_ms = intent.clock_offset_ms
        session.add(point)
    item = find_item(session, intent.item_code)
    case = Case(
        id=intent.case_id, point_id=point.id, receipt_no=intent.receipt_no, item_code=intent.item_code,
        item_name=item.name_zh if item else "", catalog_version=intent.catalog_version,
        applicant=intent.applicant.model_dump(), form=intent.form, materials=intent.materials,
        staff=intent.staff, received_at=as_utc(intent.received_at), promised_date=intent.promised_date,
        clock_offset_ms=intent.clock_offset_ms,
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
    # The point used an older catalog version: keep the case, and show reviewers what changed since.
    outdated = outdated_item_note(session, intent.item_code, intent.catalog_version)
    if outdated:
        record_event(session, case.id, actor="hub", action="catalog_outdated", note=outdated)
    conflicts = check_submit(session, case, intent, point, raw)
    if item is None:
        case.status = "needs_attention"
        session.add(case)
        note = f"item code {intent.item_code} is not in the hub's catalog; an operator must route it"
        record_event(session, case.id, actor="hub", action="needs_attention", note=note)
        send_status(session, case, point, "needs_attention", note, identity)
        return "accepted", "unknown_item", note
    route_case(session, case, item)
    send_status(session, case, point, "routed", "sent to " + ", ".join(item.departments), identity)
    if conflicts:
        kinds = ", ".join(conflict.kind for conflict in conflicts)
        return "conflict", conflicts[0].kind, f"case received and routed; parked for an operator ({kinds})"
    return "accepted", "", "case received and routed"


def _own_case(session: Session, case_id: str, point: Point) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise Refusal("unknown_case", "the hub has no such case")
    if case.point_id != point.id:
        raise Refusal("not_your_case", "this case was received at another point")
    return case


def _apply_supplement(session: Session, intent: SupplementCase, point: Point) -> tuple[str, str, str]:
    """The resident brought what 补正 asked for: the case returns to the department that asked."""
    case = _own_case(session, intent.case_id, point)
    if case.status != "supplement_requested":
        # Decided meanwhile (another department rejected): keep the materials out, tell the point why.
        return "accepted", "not_waiting", "the case no longer waits for materials; nothing changed"
    try:
        expect_scans(session, case.id, point.id, intent.scans)
    except ScanError as exc:
        raise Refusal(exc.reason, str(exc)) from None
    case.materials = list(dict.fromkeys([*(case.materials or []), *intent.materials]))
    # The clock runs again from the resident's return at the point, on the hub's clock.
    returned = as_utc(intent.supplemented_at) + timedelta(milliseconds=point.clock_offset_ms)
    stood = receive_supplement(session, case, at=min(returned, utc_now()), note=intent.note, actor=point.name)
    log.info("case %s supplemented at point %s; %s working day(s) paused", case.id, point.id, stood)
    return "accepted", "", "materials received; the case is back with its department"


def _apply_rating(session: Session, intent: RateCase, point: Point) -> tuple[str, str, str]:
    """好差评: one rating per case; 1 and 2 open a follow-up on the supervision page."""
    case = _own_case(session, intent.case_id, point)
    if case.status != "closed":
        raise Refusal("not_closed", "a case is rated after the result was collected")
    if session.get(Rating, case.id) is not None:
        return "duplicate", "already_rated", "this case was already rated"
    session.add(Rating(case_id=case.id, point_id=point.id, score=intent.score, comment=intent.comment,
                       rated_at=as_utc(intent.rated_at), follow_up="open" if intent.score <= 2 else "none"))
    record_event(session, case.id, actor=point.name, action="rated",
                 note=f"rated {intent.score}/5" + ("; follow-up opened" if intent.score <= 2 else ""))
    return "accepted", "", "rating recorded"


def _apply_collected(session: Session, intent: CaseCollected, point: Point) -> tuple[str, str, str]:
    case = _own_case(session, intent.case_id, point)
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
