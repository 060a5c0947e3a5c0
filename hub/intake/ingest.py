"""Ingest: verify, open, store raw and apply each envelope a point pushed.

A push batch goes in two steps. First, without the write lock, every frame is
parsed, its point looked up, its signature verified and its payload opened:
the costly crypto of several hub processes overlaps. Then one transaction
under the write lock stores and applies the whole batch and commits once. The
hub answers only after that commit, so nothing it acknowledged can be lost,
and an envelope's raw bytes commit together with what applying it did (a
crash never leaves one stored but not applied).

Every envelope is still answered on its own (accepted, duplicate, conflict or
rejected with a reason), so one bad envelope never blocks the rest. A plain
new case (most of what points send) is drafted before the lock and written
with the others of its run in bulk (hub/bulk.py); any other envelope gets a
savepoint of its own: a rejected payload's rows roll back while its raw bytes
stay; an apply that fails outright leaves the envelope stored and parked for
an operator. What each kind of intent does to the cases is in hub/intents.py.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError
from sqlalchemy import Select, bindparam
from sqlmodel import Session, select

from sync.envelope import Envelope, EnvelopeError, Kind
from sync.keys import Identity
from sync.signing import SignatureError
from sync.envelope import Header, peek_envelope_id
from sync.messages import POINT_INTENTS, payload_refusal, receipt_number

from hub.core.audit import head_under_lock
from hub.intake.bulk import BulkRun, Draft, draft_case
from hub.catalog.versions import current_version_number
from hub.core.db import queue_for_writing, reads_only, write_lock
from hub.core.clock import utc_now
from hub.intake.intents import ACCEPTED, Refusal, apply_intent, apply_point_keys
from hub.trust.keys import Keyring
from hub.core.models import Case, CaseScan, Point, RawEnvelope
from hub.core.outbox import note_protocol, readable
from hub.trust.points import point_verifiers
from hub.reconcile.arrival import FORK_UNAPPLIED, record_fork, resident_key

log = logging.getLogger(__name__)

# Envelope ids per lookup of what is already stored (well under any database's parameter limit).
LOOKUP_CHUNK = 500
# Within one hub process, one push at a time verifies and opens, and one at a time writes: the two steps of
# different pushes overlap, while the other server threads wait here instead of contending for the GIL (one
# thread runs Python at a time anyway) and polling the database's write lock. Each process still gives the
# database one writer in line, and processes run their crypto side by side.
_ARRIVING, _WRITING = threading.Lock(), threading.Lock()


class _WriterFirst:
    """While a push of this process holds the hub's write lock, the push verifying and opening waits.

    Every hub process queues for that one lock, so how long a push holds it bounds the whole hub's ingest.
    A verifying thread of the same process would take half the GIL meanwhile and stretch the hold to about
    twice its work. It pauses between envelopes instead, and does its crypto while this process waits for
    the lock or another process holds it (bench_hub prints how busy the lock is).
    """

    def __init__(self) -> None:
        self._turn = threading.Condition()
        self._writing = False

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._turn:
            self._writing = True
        try:
            yield
        finally:
            with self._turn:
                self._writing = False
                self._turn.notify_all()

    def wait(self) -> None:
        """Before the next envelope's crypto: wait while this process's writing push holds the lock."""
        with self._turn:
            self._turn.wait_for(lambda: not self._writing)


_WRITER_FIRST = _WriterFirst()


@dataclass
class IngestedBatch:
    """What ingesting a batch came to: one answer per frame (as dicts, in order) and the audit chain's head
    (id, hash) the batch's commit left, for the push answer to sign."""

    results: list[dict[str, Any]]
    chain_head: tuple[int, str]


@dataclass
class IngestResult:
    """The hub's answer for one envelope, as the push endpoint returns it."""

    envelope_id: str
    status: str
    reason: str = ""
    message: str = ""


@dataclass
class _Arrival:
    """One frame after the checks that need no lock."""

    envelope: Envelope
    envelope_id: str
    # The point's key fingerprint the signature verified under; None when it did not verify then
    # (checked again under the lock: an earlier envelope of the batch may rotate the point's keys).
    verified_under: str | None
    payload: dict[str, Any] | None = None
    unopened: EnvelopeError | None = None
    # A SUBMIT drafted as a new case before the lock (hub/bulk.py), if it may be one.
    draft: Draft | None = None

    def opened(self, keyring: Keyring) -> dict[str, Any]:
        """The payload (opened now if it was not before); raise EnvelopeError if it cannot be opened."""
        if self.payload is None and self.unopened is None:
            try:
                self.payload = self.envelope.open(keyring.opening_keys())
            except EnvelopeError as exc:
                self.unopened = exc
        if self.unopened is not None:
            raise self.unopened
        return self.payload


def ingest_envelopes(session: Session, frames: list[bytes], *, keyring: Keyring) -> IngestedBatch:
    """Answer each frame; return one result dict per frame, in order, once the batch has committed, with the
    chain's head as the commit left it (read under the lock: no one appended in between).

    The caller's open transaction ends first (it must not hold the write lock through the crypto). An
    error that escapes an envelope's own handling (the database gone) rolls the batch back and
    propagates: the push answers 5xx and the point sends the batch again, none of it acknowledged.
    Answering "rejected" instead would make the point quarantine envelopes the hub merely failed to store.
    """
    session.commit()
    try:
        with _ARRIVING:
            arrivals = _arrive(session, frames, keyring)
            session.commit()
        queued = time.perf_counter()
        with _WRITING, queue_for_writing(session):
            write_lock(session)
            session.connection()  # on SQLite the lock is taken as the transaction begins (BEGIN IMMEDIATE)
            locked = time.perf_counter()
            with _WRITER_FIRST.writing():
                batch = _Batch.under_lock(session, [arrival for arrival in arrivals
                                                    if isinstance(arrival, _Arrival)])
                results = _answer_all(session, arrivals, keyring, batch)
                batch.note_contact(session)
                head = head_under_lock(session)
                session.commit()
                # Read before letting go of the writers' queue (queue_for_writing): summed over pushes, the
                # times held then stay within the run, where a process preempted after letting go would
                # count the next one's hold too (on PostgreSQL the commit lets go; that gap is one reply).
                released = time.perf_counter()
    except BaseException:
        session.rollback()
        raise
    _log_answers(results, waited_s=locked - queued, held_s=released - locked)
    return IngestedBatch([asdict(result) for result in results], head)


# What the push line below says about the write lock, for tools that read hub.log (scripts/bench_hub.py).
PUSH_LINE_LOCK_TIMES = re.compile(r"push of \d+ envelope\(s\): .*; waited ([\d.]+) ms for the write lock, "
                                  r"held it ([\d.]+) ms")


def _log_answers(results: list[IngestResult], *, waited_s: float, held_s: float) -> None:
    """One line per push, and one per envelope that was not simply accepted (a busy hub takes thousands of
    plain cases a minute; their own timelines say when each arrived).

    The push's line says how long it waited for the hub's one write lock and held it: summed over a
    while, the time held says how busy the lock is, which bounds what more hub processes can add
    (docs/architecture.md, "How far more processes help").
    """
    counts = Counter(result.status for result in results)
    log.info("push of %d envelope(s): %s; waited %.1f ms for the write lock, held it %.1f ms", len(results),
             ", ".join(f"{count} {status}" for status, count in sorted(counts.items())),
             waited_s * 1000, held_s * 1000)
    for result in results:
        if result.status != "accepted" or result.reason:
            log.info("envelope %s: %s %s", result.envelope_id, result.status, result.reason)


def _answer_all(session: Session, arrivals: list[_Arrival | IngestResult], keyring: Keyring,
                batch: _Batch) -> list[IngestResult]:
    """Apply the arrivals in order: runs of plain new cases in bulk (hub/bulk.py), the rest one by one."""
    results: list[IngestResult] = []
    run = BulkRun(session, keyring)
    positions: list[int] = []  # where each case of the run answers in ``results``

    def write_run() -> None:
        redo = run.write()
        for position, draft in zip(positions, redo):
            arrival = next(a for a in arrivals if isinstance(a, _Arrival) and a.envelope is draft.envelope)
            results[position] = _ingest_one(session, arrival, keyring, batch)
        positions.clear()

    for arrival in arrivals:
        if isinstance(arrival, IngestResult):
            results.append(arrival)
            continue
        plain = _plain_case(session, arrival, batch)
        if plain is not None:
            note_protocol(session, plain[1], arrival.envelope.header.version, keyring.current)
            batch.took(*plain)
            run.add(*plain)
            positions.append(len(results))
            results.append(IngestResult(arrival.envelope_id, "accepted", "", ACCEPTED))
            continue
        write_run()  # what came before is in place when this one is applied
        results.append(_ingest_one(session, arrival, keyring, batch))
        batch.took_submit(arrival)
    write_run()
    return results


def _plain_case(session: Session, arrival: _Arrival, batch: _Batch) -> tuple[Draft, Point] | None:
    """``arrival``'s draft (hub/bulk.py) and its point, when the batch lookups show nothing about it needs a
    closer look: the point still active and its key current; a new envelope id and (point, seq), a new case
    id, a resident no stored or earlier case names, new scan ids; the catalog version and the point's clock
    offset the draft was made under unchanged; a receipt number the point gave no other case. Anything else
    (None) goes the per-envelope way."""
    draft, header = arrival.draft, arrival.envelope.header
    if draft is None:
        return None
    point = batch.point(session, header.sender_id)
    if (point is None or point.status != "active" or arrival.verified_under != point.fingerprint
            or not readable(point, Kind.STATUS)
            or arrival.envelope_id in batch.envelope_ids or (point.id, header.seq) in batch.seqs
            or draft.case_id not in batch.new_case_ids or draft.resident_key in batch.resident_keys
            or not draft.scan_ids.isdisjoint(batch.scan_ids)
            or (point.id, draft.intent.receipt_no) in batch.receipts
            or draft.catalog_version != current_version_number(session)
            or (draft.intent.clock_offset_ms is None and point.clock_offset_ms != draft.point_offset_ms)):
        return None
    return draft, point


def _receipt(arrival: _Arrival) -> tuple[uuid.UUID, str] | None:
    """The (point, receipt number) a SUBMIT names, as far as its payload is readable."""
    payload = arrival.payload
    if arrival.envelope.header.kind != Kind.SUBMIT or not isinstance(payload, dict):
        return None
    number = payload.get("receipt_no")
    return (arrival.envelope.header.sender_id, number) if isinstance(number, str) else None


def _submitted(payload: Any) -> tuple[str | None, list[str]]:
    """The resident key and the scan ids a SUBMIT's payload names, as far as it is readable."""
    if not isinstance(payload, dict):
        return None, []
    applicant = payload.get("applicant")
    number = applicant.get("id_number") if isinstance(applicant, dict) else None
    scans = payload.get("scans")
    ids = [str(scan.get("scan_id")) for scan in scans if isinstance(scan, dict)] if isinstance(scans, list) else []
    return (resident_key(number) if isinstance(number, str) else None), ids


# -- without the lock: parse, verify, open --------------------------------------------------------------

def _arrive(session: Session, frames: list[bytes], keyring: Keyring) -> list[_Arrival | IngestResult]:
    """Parse, verify and open every frame in a read-only transaction; refusals are final answers."""
    reads_only(session)
    senders: dict[uuid.UUID, tuple[Point | None, list[Ed25519PublicKey]]] = {}
    arrivals = []
    for frame in frames:
        _WRITER_FIRST.wait()
        arrivals.append(_check(session, frame, senders))
    settled = _settled(session, [arrival.envelope_id for arrival in arrivals if isinstance(arrival, _Arrival)])
    for arrival in arrivals:
        # A resent envelope the hub already answered for is not opened again.
        if isinstance(arrival, _Arrival) and arrival.verified_under and arrival.envelope_id not in settled:
            _WRITER_FIRST.wait()
            try:
                payload = arrival.opened(keyring)
            except EnvelopeError:
                continue  # answered after the raw bytes are stored, as before
            if arrival.envelope.header.kind == Kind.SUBMIT:
                arrival.draft = draft_case(session, arrival.envelope, payload,
                                           senders[arrival.envelope.header.sender_id][0])
    return arrivals


def _check(session: Session, frame: bytes, senders: dict) -> _Arrival | IngestResult:
    try:
        envelope = Envelope.parse(frame)
    except EnvelopeError as exc:
        return IngestResult(peek_envelope_id(frame), "rejected", exc.reason, str(exc))
    envelope_id = str(envelope.header.envelope_id)
    sender = envelope.header.sender_id
    if sender not in senders:
        point = session.get(Point, sender)
        usable = _point_refusal(envelope_id, point) is None
        senders[sender] = (point, point_verifiers(session, point) if usable else [])
    point, keys = senders[sender]
    refusal = _point_refusal(envelope_id, point)
    if refusal is not None:
        return refusal
    try:
        _verify_sender(envelope, keys)
    except EnvelopeError:
        return _Arrival(envelope, envelope_id, None)
    return _Arrival(envelope, envelope_id, point.fingerprint)


def _settled(session: Session, envelope_ids: list[str]) -> set[str]:
    """The ids among ``envelope_ids`` stored and answered for already (nothing left to apply)."""
    return _found(session, _SETTLED, envelope_ids)


def _found(session: Session, statement: Select, values: list, **criteria: Any) -> set:
    """The rows ``statement`` finds for ``values`` (its expanding ``values`` parameter), LOOKUP_CHUNK at a time."""
    found: set = set()
    connection = session.connection()
    for start in range(0, len(values), LOOKUP_CHUNK):
        result = connection.execute(statement, {"values": values[start:start + LOOKUP_CHUNK], **criteria})
        found.update(result.scalars() if len(statement.selected_columns) == 1 else map(tuple, result))
    return found


# The batch lookups, built once (a statement built per batch costs more to prepare than to run).
_VALUES = bindparam("values", expanding=True)
_SETTLED = select(RawEnvelope.envelope_id).where(
    RawEnvelope.envelope_id.in_(_VALUES),  # type: ignore[attr-defined]
    RawEnvelope.outcome != "received", RawEnvelope.reason != FORK_UNAPPLIED)
_STORED = select(RawEnvelope.envelope_id).where(RawEnvelope.envelope_id.in_(_VALUES))  # type: ignore[attr-defined]
_SEQS_USED = select(RawEnvelope.point_id, RawEnvelope.seq).where(
    RawEnvelope.point_id == bindparam("point_id"), RawEnvelope.seq.in_(_VALUES))  # type: ignore[attr-defined]
_CASES = select(Case.id).where(Case.id.in_(_VALUES))  # type: ignore[attr-defined]
_RESIDENTS = select(Case.resident_key).where(Case.resident_key.in_(_VALUES))  # type: ignore[union-attr]
_SCANS = select(CaseScan.scan_id).where(CaseScan.scan_id.in_(_VALUES))  # type: ignore[attr-defined]
_RECEIPTS = select(Case.point_id, Case.receipt_no).where(Case.receipt_no.in_(_VALUES))  # type: ignore[attr-defined]


def _point_refusal(envelope_id: str, point: Point | None) -> IngestResult | None:
    if point is None:
        return IngestResult(envelope_id, "rejected", "unknown_point", "the hub does not know this point; enroll it")
    if point.status == "revoked":
        return IngestResult(envelope_id, "rejected", "point_revoked", "this point was revoked at the hub")
    if point.status != "active":
        return IngestResult(envelope_id, "rejected", "point_pending", "this point has not finished enrollment")
    return None


def _verify_sender(envelope: Envelope, keys: list[Ed25519PublicKey]) -> None:
    """Accept a signature by any key the point has held (``keys``, current first); a key rotation must
    come from the current one."""
    if envelope.header.kind == Kind.POINT_KEYS:
        envelope.verify(keys[0])
        return
    for key in keys:
        try:
            envelope.verify(key)
            return
        except EnvelopeError:
            continue
    raise EnvelopeError("bad_signature", "envelope signature does not verify with any key of this point")


# -- under the lock: store and apply --------------------------------------------------------------------

@dataclass
class _Batch:
    """What the batch's envelopes look up, read once for all of them under the write lock.

    The envelope sets say what *may* be stored already: what was stored before the batch, plus what the
    batch itself stores (kept even when a savepoint rolls that back). An id outside them is surely new, so
    its envelope skips the lookup; one inside is looked up as before. ``new_case_ids`` are the SUBMITs' case
    ids (of payloads opened before the lock) that no case has: the first SUBMIT of each skips its lookup.
    Nobody else writes while the lock is held.
    """

    points: dict[uuid.UUID, Point | None] = field(default_factory=dict)
    envelope_ids: set[str] = field(default_factory=set)
    seqs: set[tuple[uuid.UUID, int]] = field(default_factory=set)
    new_case_ids: set[str] = field(default_factory=set)
    contacted: set[uuid.UUID] = field(default_factory=set)
    # Per point, the highest sequence number and receipt number the batch stored (Point.last_seq, last_receipt).
    last_seqs: dict[uuid.UUID, int] = field(default_factory=dict)
    last_receipts: dict[uuid.UUID, str] = field(default_factory=dict)
    # Residents, scans and (point, receipt number) pairs some case may name already (stored ones, and the
    # batch's own SUBMITs so far).
    resident_keys: set[str] = field(default_factory=set)
    scan_ids: set[str] = field(default_factory=set)
    receipts: set[tuple[uuid.UUID, str]] = field(default_factory=set)

    @classmethod
    def under_lock(cls, session: Session, arrivals: list[_Arrival]) -> _Batch:
        batch = cls()
        ids = [arrival.envelope_id for arrival in arrivals]
        submitted = [str(arrival.payload.get("case_id")) for arrival in arrivals
                     if arrival.envelope.header.kind == Kind.SUBMIT and isinstance(arrival.payload, dict)]
        seqs: dict[uuid.UUID, list[int]] = {}
        for arrival in arrivals:
            seqs.setdefault(arrival.envelope.header.sender_id, []).append(arrival.envelope.header.seq)
        batch.envelope_ids = _found(session, _STORED, ids)
        batch.new_case_ids = set(submitted) - _found(session, _CASES, submitted)
        for point_id, numbers in seqs.items():
            batch.seqs.update(_found(session, _SEQS_USED, numbers, point_id=point_id))
        named = [_submitted(arrival.payload) for arrival in arrivals if arrival.envelope.header.kind == Kind.SUBMIT]
        batch.resident_keys = _found(session, _RESIDENTS, [key for key, _ in named if key])
        batch.scan_ids = _found(session, _SCANS, [scan_id for _, ids in named for scan_id in ids])
        receipts = {receipt for receipt in map(_receipt, arrivals) if receipt}
        batch.receipts = receipts & _found(session, _RECEIPTS, [number for _, number in receipts])
        return batch

    def point(self, session: Session, point_id: uuid.UUID) -> Point | None:
        """The sender as it stands under the lock (revoked or rotated since the checks before it?)."""
        if point_id not in self.points:
            self.points[point_id] = session.get(Point, point_id, populate_existing=True)
        return self.points[point_id]

    def took(self, draft: Draft, point: Point) -> None:
        """A plain case goes in: nothing after it in the batch may take what it takes."""
        header = draft.envelope.header
        self.envelope_ids.add(str(header.envelope_id))
        self.seqs.add((point.id, header.seq))
        self._numbered(point.id, header.seq)
        self.new_case_ids.discard(draft.case_id)
        self.resident_keys.add(draft.resident_key)
        self.scan_ids.update(draft.scan_ids)
        self.receipts.add((point.id, draft.intent.receipt_no))
        self._given(point.id, draft.intent.receipt_no)

    def took_submit(self, arrival: _Arrival) -> None:
        """After a SUBMIT went the per-envelope way, whatever became of it: its resident and scans may be
        taken now."""
        if arrival.envelope.header.kind == Kind.SUBMIT:
            key, scan_ids = _submitted(arrival.payload)
            if key:
                self.resident_keys.add(key)
            self.scan_ids.update(scan_ids)
            receipt = _receipt(arrival)
            if receipt:
                self.receipts.add(receipt)
                if arrival.envelope_id in self.envelope_ids:  # stored, whatever became of it: given out
                    self._given(*receipt)

    def stored(self, raw: RawEnvelope) -> None:
        self.envelope_ids.add(raw.envelope_id)
        self.seqs.add((raw.point_id, raw.seq))
        self._numbered(raw.point_id, raw.seq)

    def _numbered(self, point_id: uuid.UUID, seq: int) -> None:
        self.contacted.add(point_id)
        self.last_seqs[point_id] = max(seq, self.last_seqs.get(point_id, 0))

    def _given(self, point_id: uuid.UUID, receipt_no: str) -> None:
        # Only what a SUBMIT may carry (a refused payload may carry anything).
        self.last_receipts[point_id] = max(receipt_number(receipt_no), self.last_receipts.get(point_id, ""))

    def note_contact(self, session: Session) -> None:
        """Each point that had envelopes stored was heard from now, and its highest sequence and receipt
        numbers move on (one update per point, not per envelope)."""
        now = utc_now()
        for point_id in self.contacted:
            point = self.points.get(point_id)
            if point is not None:
                point.last_contact = now
                point.last_seq = max(point.last_seq, self.last_seqs.get(point_id, 0))
                # Receipt numbers begin with their day: the greatest is the newest day's highest number.
                point.last_receipt = max(point.last_receipt, self.last_receipts.get(point_id, ""))
                session.add(point)


def _ingest_one(session: Session, arrival: _Arrival, keyring: Keyring, batch: _Batch) -> IngestResult:
    envelope, envelope_id = arrival.envelope, arrival.envelope_id
    point = batch.point(session, envelope.header.sender_id)
    refusal = _point_refusal(envelope_id, point)
    if refusal is not None:
        return refusal
    if arrival.verified_under != point.fingerprint:
        try:
            _verify_sender(envelope, point_verifiers(session, point))
        except EnvelopeError as exc:
            return IngestResult(envelope_id, "rejected", exc.reason, str(exc))
    note_protocol(session, point, envelope.header.version, keyring.current)
    if envelope.header.kind not in POINT_INTENTS and envelope.header.kind != Kind.POINT_KEYS:
        return IngestResult(envelope_id, "rejected", "unsupported_kind",
                            f"the hub does not accept {envelope.header.kind.name} envelopes from points yet")
    savepoint = session.begin_nested()
    try:
        result, raw = _store_and_apply(session, arrival, point, keyring, batch)
        if raw is None or result.status != "rejected":
            savepoint.commit()  # flushes what it did: a failing row fails here, and is parked too
            return result
    except Exception as exc:
        savepoint.rollback()
        # The type only: the message of a failed apply may quote the payload (a resident's data).
        log.error("applying envelope %s failed (%s); parked", envelope_id, type(exc).__name__)
        _keep(session, envelope, point, "parked", "apply_failed", batch)
        return IngestResult(envelope_id, "accepted", "parked", "stored; an operator will apply it")
    # A refused payload: undo whatever it half-applied; its raw bytes stay, marked rejected.
    savepoint.rollback()
    raw = _keep(session, envelope, point, "rejected", result.reason, batch)
    if raw.outcome == "conflict":
        _fork(session, raw, point, keyring.current, result.status, result.reason, result.message)
    return result


def _store_and_apply(session: Session, arrival: _Arrival, point: Point, keyring: Keyring,
                     batch: _Batch) -> tuple[IngestResult, RawEnvelope | None]:
    """Answer an envelope; the stored row comes back too when it was applied (None for a known envelope)."""
    envelope, envelope_id, seq = arrival.envelope, arrival.envelope_id, arrival.envelope.header.seq
    stored: list[RawEnvelope] = []
    if envelope_id in batch.envelope_ids or (point.id, seq) in batch.seqs:
        # One look finds both an earlier copy of this envelope and the first envelope with its (point, seq).
        stored = list(session.exec(select(RawEnvelope).where(
            (RawEnvelope.envelope_id == envelope_id) | ((RawEnvelope.point_id == point.id) & (RawEnvelope.seq == seq)))
            .order_by(RawEnvelope.received_at, RawEnvelope.id)).all())
    known = next((row for row in stored if row.envelope_id == envelope_id), None)
    if known is not None and known.point_id == point.id and (known.outcome == "received"
                                                             or known.reason == FORK_UNAPPLIED):
        # Stored and never applied (by a hub from before one-transaction ingest, killed between its two
        # commits): apply it now rather than answer "duplicate" for something never applied.
        return _apply_stored(session, arrival, known, point, keyring, batch), known
    if known is not None:
        return _answer_known(known, point), None
    # The first copy of (point, seq) is the one a second copy is compared with (a fork is parked beside it).
    same_seq = next((row for row in stored if row.point_id == point.id), None)
    if same_seq is None:
        raw = _store_raw(session, envelope, point, "received", batch=batch)
    elif _same_content(same_seq, arrival, keyring):
        return IngestResult(envelope_id, "duplicate", "", f"sequence {seq} already received"), None
    else:
        # A fork (a point restored from an old backup): keep both copies; the second is applied like any
        # other envelope (a case received after the restore is a real case), and the fork is parked.
        raw = _store_raw(session, envelope, point, "conflict", reason=FORK_UNAPPLIED, batch=batch)
        log.warning("point %s reused seq %s with different content; parked as conflict", point.id, seq)
    return _apply_stored(session, arrival, raw, point, keyring, batch), raw


def _first_with_seq(session: Session, point: Point, seq: int) -> RawEnvelope | None:
    return session.exec(select(RawEnvelope).where(RawEnvelope.point_id == point.id, RawEnvelope.seq == seq)
                        .order_by(RawEnvelope.received_at, RawEnvelope.id)).first()


def _same_content(stored: RawEnvelope, arrival: _Arrival, keyring: Keyring) -> bool:
    """Is ``arrival`` a resend of ``stored`` (same kind and payload, sealed anew)?"""
    try:
        first = Envelope(Header.unpack(stored.header), stored.header, stored.ciphertext, stored.signature)
        return (stored.kind == int(arrival.envelope.header.kind)
                and first.open(keyring.opening_keys()) == arrival.opened(keyring))
    except EnvelopeError:
        return False


def _keep(session: Session, envelope: Envelope, point: Point, outcome: str, reason: str,
          batch: _Batch) -> RawEnvelope:
    """After a rolled-back apply: keep the envelope's bytes with ``outcome`` (a fork's copy as a conflict,
    outside the one-per-(point, seq) index)."""
    raw = session.exec(select(RawEnvelope).where(RawEnvelope.envelope_id == str(envelope.header.envelope_id))).first()
    if raw is None:
        forked = _first_with_seq(session, point, envelope.header.seq) is not None
        return _store_raw(session, envelope, point, "conflict" if forked else outcome, reason=reason, batch=batch)
    raw.outcome, raw.reason = "conflict" if raw.reason == FORK_UNAPPLIED else outcome, reason
    session.add(raw)
    return raw


def _answer_known(known: RawEnvelope, point: Point) -> IngestResult:
    if known.point_id != point.id:
        return IngestResult(known.envelope_id, "rejected", "envelope_id_taken",
                            "another point already sent an envelope with this id")
    if known.outcome == "rejected":
        return IngestResult(known.envelope_id, "rejected", known.reason, "this envelope was rejected before")
    if known.outcome == "conflict":
        return IngestResult(known.envelope_id, "conflict", known.reason, "parked for an operator")
    return IngestResult(known.envelope_id, "duplicate", "", "already received")


def _store_raw(session: Session, envelope: Envelope, point: Point, outcome: str, reason: str = "",
               batch: _Batch | None = None) -> RawEnvelope:
    """Add the envelope's bytes to the session (they commit with the batch; the next flush writes them)."""
    header = envelope.header
    raw = RawEnvelope(
        envelope_id=str(header.envelope_id), point_id=point.id, seq=header.seq, kind=int(header.kind),
        header=envelope.header_bytes, ciphertext=envelope.ciphertext, signature=envelope.signature,
        sender_clock_ms=header.sender_clock_ms, outcome=outcome, reason=reason,
    )
    session.add(raw)
    if batch is not None:
        batch.stored(raw)
    return raw


def _apply_stored(session: Session, arrival: _Arrival, raw: RawEnvelope, point: Point,
                  keyring: Keyring, batch: _Batch) -> IngestResult:
    """Apply a stored envelope and mark its row with the outcome (a rejection is undone by the caller)."""
    status, reason, message, case_id = _apply(session, arrival, raw, point, keyring, batch)
    if status == "rejected":
        return IngestResult(raw.envelope_id, status, reason, message)
    forked = raw.reason == FORK_UNAPPLIED
    raw.case_id = case_id
    if forked:
        status, reason, message = _fork(session, raw, point, keyring.current, status, reason, message)
    raw.outcome, raw.reason = "conflict" if forked else status, reason
    session.add(raw)
    return IngestResult(raw.envelope_id, status, reason, message)


def _apply(session: Session, arrival: _Arrival, raw: RawEnvelope, point: Point,
           keyring: Keyring, batch: _Batch) -> tuple[str, str, str, str | None]:
    """Apply the payload; return (status, reason, message, case id). A refusal comes back as "rejected"."""
    kind = arrival.envelope.header.kind
    try:
        payload = arrival.opened(keyring)
        if kind == Kind.POINT_KEYS:
            return (*apply_point_keys(session, payload, point), None)
        intent = POINT_INTENTS[kind].model_validate(payload)
        status, reason, message = apply_intent(session, intent, point, raw, keyring.current,
                                               new_case_ids=batch.new_case_ids)
        return status, reason, message, getattr(intent, "case_id", None)
    except (EnvelopeError, Refusal, SignatureError) as exc:
        message = str(exc)
        if exc.reason == "unknown_key":
            message = "sealed to a key this hub no longer holds (or never had); seal again to the hub's current key"
        return "rejected", exc.reason, message, None
    except ValidationError as exc:
        return "rejected", *payload_refusal(exc), None


def _fork(session: Session, raw: RawEnvelope, point: Point, identity: Identity, status: str, reason: str,
          message: str) -> tuple[str, str, str]:
    """Record the fork beside the applied second copy; the answer is "conflict" unless it was rejected."""
    first = session.exec(select(RawEnvelope).where(
        RawEnvelope.point_id == point.id, RawEnvelope.seq == raw.seq, RawEnvelope.id != raw.id)
        .order_by(RawEnvelope.received_at, RawEnvelope.id)).first()
    record_fork(session, first, raw, point, raw.case_id if status != "rejected" else None, identity)
    if status == "rejected":
        return status, reason, message
    return "conflict", "seq_reused", (f"sequence {raw.seq} was already used for other content; both kept and "
                                      f"parked for an operator; continue from a fresh sequence")
