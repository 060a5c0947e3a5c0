"""Ingest: each envelope a point pushed is verified and opened, its fate decided once, applied, and answered.

It reads top to bottom:

1. **Verify and open** (hub/intake/opening.py), without the write lock: the costly crypto of several hub
   processes overlaps. An unreadable frame, or one from a point the hub does not know, is answered there.
2. **Decide** each envelope's ``Fate`` (hub/core/outcome.py) under the write lock, once: new, a resend
   the hub has (duplicate), an answer it gave before, a reused sequence number (a fork, parked), or stored
   but never applied (applied now). The batch's lookups (hub/intake/lookups.py) spare most envelopes a query.
3. **Apply** what is new: a plain new case with the others of its run in bulk (hub/intake/bulk.py), any
   other envelope in a savepoint of its own (hub/intake/intents.py says what each intent does). A refused
   payload's rows roll back while its raw bytes stay; an apply that fails outright leaves the envelope
   stored and parked for an operator.
4. **Answer**: one transaction stores and applies the whole batch and commits once, and only then does
   the hub answer (``Answer`` per envelope), so nothing it acknowledged can be lost, and an envelope's raw
   bytes commit together with what applying it did.

Messages back to points are only queued while applying (hub/core/outbox.py); they are sealed when they
leave (hub/intake/sealing.py). How pushes of one process take turns, and the log line that says how long
each held the lock, are in hub/intake/turns.py.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from sync import Envelope, EnvelopeError, Kind, SignatureError
from sync.auditheads import point_chain
from sync.envelope import Header
from sync.messages import POINT_INTENTS, payload_refusal

from hub.catalog.versions import current_version_number
from hub.core.audit import write_for_point
from hub.core.models import Point, RawEnvelope
from hub.core.outbox import note_protocol, readable
from hub.core.outcome import Answer, Fate, Outcome
from hub.intake.budget import DEFAULT_INGEST_BUDGET_MIB, count_ingest
from hub.intake.bulk import BulkRun, Draft
from hub.intake.intents import ACCEPTED, Refusal, apply_intent, apply_point_keys
from hub.intake.lookups import Lookups, submission_of
from hub.intake.opening import Arrival, arrive, point_refusal, verify_sender
from hub.intake.turns import ARRIVING, log_push, writing_turn
from hub.reconcile.arrival import FORK_UNAPPLIED, record_fork
from hub.trust.countyheads import county_head_due, write_county_head
from hub.trust.keys import Keyring
from hub.trust.points import point_verifiers

log = logging.getLogger(__name__)

# PostgreSQL's deadlock_detected: two pushes locked each other's keys (hub.core.db.key_lock); one is run again.
DEADLOCK = "40P01"
DEADLOCK_ATTEMPTS = 3


@dataclass
class IngestedBatch:
    """What ingesting a batch came to: one answer per frame (as dicts, in order) and the audit chain's head
    (id, hash) the batch's commit left, for the push answer to sign."""

    results: list[dict[str, Any]]


def ingest_envelopes(session: Session, frames: list[bytes], *, keyring: Keyring,
                     county_head_every: float | None = None,
                     ingest_budget_mib: int = DEFAULT_INGEST_BUDGET_MIB) -> IngestedBatch:
    """Answer each frame; return one result dict per frame, in order, once the batch has committed. With
    ``county_head_every``, write a county head after the batch when the newest is older than that (seconds).
    What the batch stored counts against each sender's daily ingest budget (``ingest_budget_mib`` for a point
    without a budget of its own, hub/intake/budget.py).

    The caller's open transaction ends first (it must not hold the write lock through the crypto). An
    error that escapes an envelope's own handling (the database gone) rolls the batch back and
    propagates: the push answers 5xx and the point sends the batch again, none of it acknowledged.
    Answering "rejected" instead would make the point quarantine envelopes the hub merely failed to store.
    """
    session.commit()
    try:
        with ARRIVING:
            arrivals = arrive(session, frames, keyring)
            session.commit()
        opened = [arrival for arrival in arrivals if isinstance(arrival, Arrival)]
        for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
            try:
                with writing_turn(session, lock_keys(opened)) as times:
                    lookups = Lookups.under_lock(session, opened)
                    answers = _answer_all(session, arrivals, keyring, lookups)
                    _count_stored(session, arrivals, answers, lookups, ingest_budget_mib)
                    lookups.note_contact(session)
                    session.commit()
                break
            except OperationalError as exc:
                if getattr(exc.orig, "sqlstate", None) != DEADLOCK or attempt == DEADLOCK_ATTEMPTS:
                    raise
                session.rollback()  # another push reached this one's point the other way round: run it again
                log.info("push of %d envelope(s) met another push's locks; running it again", len(frames))
        if county_head_every is not None and county_head_due(session, county_head_every):
            write_county_head(session, wait=False)  # never waits: another process may be at it
        session.commit()
    except BaseException:
        session.rollback()
        raise
    log_push(answers, times, {arrival.envelope.header.sender_id for arrival in opened})
    return IngestedBatch([answer.as_dict() for answer in answers])


def lock_keys(arrivals: list[Arrival]) -> set[str]:
    """What a push's writing turn locks besides the shared write lock (hub.core.db.ingest_lock): the chain (and
    message numbers) of every point whose envelopes it carries, and every resident a SUBMIT names, so two pushes
    never take the same resident's application in parallel (the second sees the first's case)."""
    keys = {point_chain(arrival.envelope.header.sender_id) for arrival in arrivals}
    for arrival in arrivals:
        if arrival.envelope.header.kind == Kind.SUBMIT:
            resident = submission_of(arrival.payload)[0]
            if resident:
                keys.add(f"resident:{resident}")
    return keys


def _answer_all(session: Session, arrivals: list[Arrival | Answer], keyring: Keyring,
                lookups: Lookups) -> list[Answer]:
    """Apply the arrivals in order: runs of plain new cases in bulk (hub/intake/bulk.py), the rest one by one."""
    answers: list[Answer] = []
    run = BulkRun(session)
    positions: list[int] = []  # where each case of the run answers in ``answers``

    def write_run() -> None:
        redo = run.write()
        for position, draft in zip(positions, redo):
            arrival = next(a for a in arrivals if isinstance(a, Arrival) and a.envelope is draft.envelope)
            answers[position] = _ingest_one(session, arrival, keyring, lookups)
        positions.clear()

    for arrival in arrivals:
        if isinstance(arrival, Answer):
            answers.append(arrival)
            continue
        write_for_point(session, arrival.envelope.header.sender_id)  # its entries about no case: its chain
        plain = _plain_case(session, arrival, lookups)
        if plain is not None:
            note_protocol(session, plain[1], arrival.envelope.header.version)
            lookups.took(*plain)
            run.add(*plain)
            positions.append(len(answers))
            answers.append(Answer(arrival.envelope_id, Outcome.accepted(ACCEPTED)))
            continue
        write_run()  # what came before is in place when this one is applied
        answers.append(_ingest_one(session, arrival, keyring, lookups))
        lookups.took_submit(arrival)
    write_run()
    return answers


def _count_stored(session: Session, arrivals: list[Arrival | Answer], answers: list[Answer], lookups: Lookups,
                  default_mib: int) -> None:
    """Count what the batch stored, per sender, against its daily ingest budget: each envelope accepted (or
    parked as a conflict) as it came and as its payload unpacked. Refused ones are kept raw but count nothing:
    they are what a stolen laptop's compressed bombs become, a few bytes each."""
    stored: dict[uuid.UUID, tuple[int, int]] = {}
    for arrival, answer in zip(arrivals, answers):
        if isinstance(arrival, Answer) or answer.outcome.fate not in (Fate.ACCEPTED, Fate.CONFLICT):
            continue
        sender = arrival.envelope.header.sender_id
        size, count = stored.get(sender, (0, 0))
        stored[sender] = (size + len(arrival.envelope.ciphertext) + arrival.payload_bytes, count + 1)
    if stored:
        count_ingest(session, stored, {sender: lookups.point(session, sender) for sender in stored},
                     default_mib=default_mib)


def _plain_case(session: Session, arrival: Arrival, lookups: Lookups) -> tuple[Draft, Point] | None:
    """``arrival``'s draft (hub/intake/bulk.py) and its point, when the batch lookups show nothing about it
    needs a closer look: the point still active and its key current; a new envelope id and (point, seq), a
    new case id, a resident no stored or earlier case names, new scan ids; the catalog version and the
    point's clock offset the draft was made under unchanged; a receipt number the point gave no other case.
    Anything else (None) goes the per-envelope way."""
    draft, header = arrival.draft, arrival.envelope.header
    if draft is None:
        return None
    point = lookups.point(session, header.sender_id)
    if (point is None or point.status != "active" or arrival.verified_under != point.fingerprint
            or not readable(point, Kind.STATUS)
            or arrival.envelope_id in lookups.envelope_ids or (point.id, header.seq) in lookups.seqs
            or draft.case_id not in lookups.new_case_ids or draft.resident_key in lookups.resident_keys
            or not draft.scan_ids.isdisjoint(lookups.scan_ids)
            or (point.id, draft.intent.receipt_no) in lookups.receipts
            or draft.catalog_version != current_version_number(session)
            or (draft.intent.clock_offset_ms is None and point.clock_offset_ms != draft.point_offset_ms)):
        return None
    return draft, point


# -- one envelope the per-envelope way: check the sender again, decide, apply in a savepoint ----------------

def _ingest_one(session: Session, arrival: Arrival, keyring: Keyring, lookups: Lookups) -> Answer:
    envelope, envelope_id = arrival.envelope, arrival.envelope_id
    point = lookups.point(session, envelope.header.sender_id)
    refusal = point_refusal(envelope_id, point)
    if refusal is not None:
        return refusal
    if arrival.verified_under != point.fingerprint:
        try:
            verify_sender(envelope, point_verifiers(session, point))
        except EnvelopeError as exc:
            return Answer(envelope_id, Outcome.rejected(exc.reason, str(exc)))
    note_protocol(session, point, envelope.header.version)
    if envelope.header.kind not in POINT_INTENTS and envelope.header.kind != Kind.POINT_KEYS:
        return Answer(envelope_id, Outcome.rejected(
            "unsupported_kind", f"the hub does not accept {envelope.header.kind.name} envelopes from points yet"))
    savepoint = session.begin_nested()
    try:
        outcome, raw = _decide_and_apply(session, arrival, point, keyring, lookups)
        if raw is None or not outcome.refused:
            savepoint.commit()  # flushes what it did: a failing row fails here, and is parked too
            return Answer(envelope_id, outcome)
    except Exception as exc:
        savepoint.rollback()
        # The type only: the message of a failed apply may quote the payload (a resident's data).
        log.error("applying envelope %s failed (%s); parked", envelope_id, type(exc).__name__)
        _keep(session, envelope, point, "parked", "apply_failed", lookups)
        return Answer(envelope_id, Outcome.accepted("stored; an operator will apply it", reason="parked"))
    # A refused payload: undo whatever it half-applied; its raw bytes stay, marked rejected.
    savepoint.rollback()
    raw = _keep(session, envelope, point, "rejected", outcome.reason, lookups)
    if raw.outcome == "conflict":
        _fork(session, raw, point, outcome)
    return Answer(envelope_id, outcome)


class Seen(Enum):
    """What the hub already holds of an envelope, which decides what becomes of it."""

    NEW = "new"  # neither its id nor its (point, seq): store and apply
    UNAPPLIED = "unapplied"  # stored and never applied (a hub killed between two commits): apply now
    ANSWERED = "answered"  # stored and answered for: answer the same again
    RESENT = "resent"  # its (point, seq) stored with the same content, sealed anew: duplicate
    FORK = "fork"  # its (point, seq) stored with other content (a point restored from an old backup)


@dataclass
class Decision:
    """What becomes of one envelope, decided once before anything is applied."""

    seen: Seen
    stored: RawEnvelope | None = None  # the envelope's own row (UNAPPLIED, ANSWERED)


def _decide(session: Session, arrival: Arrival, point: Point, keyring: Keyring, lookups: Lookups) -> Decision:
    envelope_id, seq = arrival.envelope_id, arrival.envelope.header.seq
    stored: list[RawEnvelope] = []
    if envelope_id in lookups.envelope_ids or (point.id, seq) in lookups.seqs:
        # One look finds both an earlier copy of this envelope and the first envelope with its (point, seq).
        stored = list(session.exec(select(RawEnvelope).where(
            (RawEnvelope.envelope_id == envelope_id) | ((RawEnvelope.point_id == point.id) & (RawEnvelope.seq == seq)))
            .order_by(RawEnvelope.received_at, RawEnvelope.id)).all())
    known = next((row for row in stored if row.envelope_id == envelope_id), None)
    if known is not None:
        unapplied = known.point_id == point.id and (known.outcome == "received" or known.reason == FORK_UNAPPLIED)
        return Decision(Seen.UNAPPLIED if unapplied else Seen.ANSWERED, known)
    # The first copy of (point, seq) is the one a second copy is compared with (a fork is parked beside it).
    same_seq = next((row for row in stored if row.point_id == point.id), None)
    if same_seq is None:
        return Decision(Seen.NEW)
    return Decision(Seen.RESENT if _same_content(same_seq, arrival, keyring) else Seen.FORK)


def _decide_and_apply(session: Session, arrival: Arrival, point: Point, keyring: Keyring,
                      lookups: Lookups) -> tuple[Outcome, RawEnvelope | None]:
    """The envelope's outcome; its stored row comes back too when it was applied (None when it was not)."""
    decision = _decide(session, arrival, point, keyring, lookups)
    envelope = arrival.envelope
    if decision.seen is Seen.ANSWERED:
        return _answered_before(decision.stored, point), None
    if decision.seen is Seen.RESENT:
        return Outcome.duplicate("", f"sequence {envelope.header.seq} already received"), None
    if decision.seen is Seen.UNAPPLIED:
        raw = decision.stored
    elif decision.seen is Seen.FORK:
        # Keep both copies; the second is applied like any other envelope (a case received after the restore
        # is a real case), and the fork is parked.
        raw = store_raw(session, envelope, point, "conflict", reason=FORK_UNAPPLIED, lookups=lookups)
        log.warning("point %s reused seq %s with different content; parked as conflict", point.id,
                    envelope.header.seq)
    else:
        raw = store_raw(session, envelope, point, "received", lookups=lookups)
    return _apply_stored(session, arrival, raw, point, keyring, lookups), raw


def _answered_before(known: RawEnvelope, point: Point) -> Outcome:
    if known.point_id != point.id:
        return Outcome.rejected("envelope_id_taken", "another point already sent an envelope with this id")
    if known.outcome == "rejected":
        return Outcome.rejected(known.reason, "this envelope was rejected before")
    if known.outcome == "conflict":
        return Outcome.conflict(known.reason, "parked for an operator")
    return Outcome.duplicate("", "already received")


def _same_content(stored: RawEnvelope, arrival: Arrival, keyring: Keyring) -> bool:
    """Is ``arrival`` a resend of ``stored`` (same kind and payload, sealed anew)?"""
    try:
        first = Envelope(Header.unpack(stored.header), stored.header, stored.ciphertext, stored.signature)
        return (stored.kind == int(arrival.envelope.header.kind)
                and first.open(keyring.opening_keys()) == arrival.opened(keyring))
    except EnvelopeError:
        return False


def _apply_stored(session: Session, arrival: Arrival, raw: RawEnvelope, point: Point,
                  keyring: Keyring, lookups: Lookups) -> Outcome:
    """Apply a stored envelope and mark its row with the outcome (a rejection is undone by the caller)."""
    outcome, case_id = _apply(session, arrival, raw, point, keyring, lookups)
    if outcome.refused:
        return outcome
    forked = raw.reason == FORK_UNAPPLIED
    raw.case_id = case_id
    if forked:
        outcome = _fork(session, raw, point, outcome)
    raw.outcome, raw.reason = "conflict" if forked else str(outcome.fate), outcome.reason
    session.add(raw)
    return outcome


def _apply(session: Session, arrival: Arrival, raw: RawEnvelope, point: Point,
           keyring: Keyring, lookups: Lookups) -> tuple[Outcome, str | None]:
    """Apply the payload; return its outcome and the case it is about. A refusal comes back "rejected"."""
    kind = arrival.envelope.header.kind
    try:
        payload = arrival.opened(keyring)
        if kind == Kind.POINT_KEYS:
            return apply_point_keys(session, payload, point), None
        intent = POINT_INTENTS[kind].model_validate(payload)
        outcome = apply_intent(session, intent, point, raw, new_case_ids=lookups.new_case_ids)
        return outcome, getattr(intent, "case_id", None)
    except (EnvelopeError, Refusal, SignatureError) as exc:
        message = str(exc)
        if exc.reason == "unknown_key":
            message = "sealed to a key this hub no longer holds (or never had); seal again to the hub's current key"
        return Outcome.rejected(exc.reason, message), None
    except ValidationError as exc:
        return Outcome.rejected(*payload_refusal(exc)), None


def _fork(session: Session, raw: RawEnvelope, point: Point, outcome: Outcome) -> Outcome:
    """Record the fork beside the applied second copy; the answer is "conflict" unless it was rejected."""
    first = session.exec(select(RawEnvelope).where(
        RawEnvelope.point_id == point.id, RawEnvelope.seq == raw.seq, RawEnvelope.id != raw.id)
        .order_by(RawEnvelope.received_at, RawEnvelope.id)).first()
    record_fork(session, first, raw, point, raw.case_id if not outcome.refused else None)
    if outcome.refused:
        return outcome
    return Outcome.conflict("seq_reused", f"sequence {raw.seq} was already used for other content; both kept and "
                                          f"parked for an operator; continue from a fresh sequence")


# -- the raw bytes ------------------------------------------------------------------------------------------

def store_raw(session: Session, envelope: Envelope, point: Point, outcome: str, reason: str = "",
              lookups: Lookups | None = None) -> RawEnvelope:
    """Add the envelope's bytes to the session (they commit with the batch; the next flush writes them)."""
    header = envelope.header
    raw = RawEnvelope(
        envelope_id=str(header.envelope_id), point_id=point.id, seq=header.seq, kind=int(header.kind),
        header=envelope.header_bytes, ciphertext=envelope.ciphertext, signature=envelope.signature,
        sender_clock_ms=header.sender_clock_ms, outcome=outcome, reason=reason,
    )
    session.add(raw)
    if lookups is not None:
        lookups.stored(raw)
    return raw


def _keep(session: Session, envelope: Envelope, point: Point, outcome: str, reason: str,
          lookups: Lookups) -> RawEnvelope:
    """After a rolled-back apply: keep the envelope's bytes with ``outcome`` (a fork's copy as a conflict,
    outside the one-per-(point, seq) index)."""
    raw = session.exec(select(RawEnvelope).where(RawEnvelope.envelope_id == str(envelope.header.envelope_id))).first()
    if raw is None:
        forked = session.exec(select(RawEnvelope.id).where(RawEnvelope.point_id == point.id,
                                                           RawEnvelope.seq == envelope.header.seq)).first()
        return store_raw(session, envelope, point, "conflict" if forked is not None else outcome, reason=reason,
                         lookups=lookups)
    raw.outcome, raw.reason = "conflict" if raw.reason == FORK_UNAPPLIED else outcome, reason
    session.add(raw)
    return raw

