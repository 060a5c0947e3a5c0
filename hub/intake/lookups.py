"""What a push batch looks up once, under the write lock, so most envelopes need no query of their own.

Which envelope ids and (point, sequence) pairs are stored already, which cases exist, which residents,
scans and receipt numbers some case names: read for the whole batch in a few queries (``Lookups``), and
kept up to date as the batch stores and applies its envelopes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, bindparam
from sqlmodel import Session, select

from sync import Kind
from sync.messages import receipt_number

from hub.core.clock import utc_now
from hub.core.models import Case, CaseScan, Point, RawEnvelope
from hub.intake.bulk import Draft
from hub.reconcile.arrival import FORK_UNAPPLIED, resident_key

# Envelope ids per lookup of what is already stored (well under any database's parameter limit).
LOOKUP_CHUNK = 500
# The batch lookups, built once (a statement built per batch costs more to prepare than to run).
VALUES = bindparam("values", expanding=True)
SETTLED = select(RawEnvelope.envelope_id).where(
    RawEnvelope.envelope_id.in_(VALUES),  # type: ignore[attr-defined]
    RawEnvelope.outcome != "received", RawEnvelope.reason != FORK_UNAPPLIED)
STORED = select(RawEnvelope.envelope_id).where(RawEnvelope.envelope_id.in_(VALUES))  # type: ignore[attr-defined]
SEQS_USED = select(RawEnvelope.point_id, RawEnvelope.seq).where(
    RawEnvelope.point_id == bindparam("point_id"), RawEnvelope.seq.in_(VALUES))  # type: ignore[attr-defined]
CASES = select(Case.id).where(Case.id.in_(VALUES))  # type: ignore[attr-defined]
RESIDENTS = select(Case.resident_key).where(Case.resident_key.in_(VALUES))  # type: ignore[union-attr]
SCANS = select(CaseScan.scan_id).where(CaseScan.scan_id.in_(VALUES))  # type: ignore[attr-defined]
RECEIPTS = select(Case.point_id, Case.receipt_no).where(Case.receipt_no.in_(VALUES))  # type: ignore[attr-defined]


@dataclass
class Lookups:
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
    def under_lock(cls, session: Session, arrivals: list[Any]) -> Lookups:
        lookups = cls()
        ids = [arrival.envelope_id for arrival in arrivals]
        submitted = [str(arrival.payload.get("case_id")) for arrival in arrivals
                     if arrival.envelope.header.kind == Kind.SUBMIT and isinstance(arrival.payload, dict)]
        seqs: dict[uuid.UUID, list[int]] = {}
        for arrival in arrivals:
            seqs.setdefault(arrival.envelope.header.sender_id, []).append(arrival.envelope.header.seq)
        lookups.envelope_ids = found_rows(session, STORED, ids)
        lookups.new_case_ids = set(submitted) - found_rows(session, CASES, submitted)
        for point_id, numbers in seqs.items():
            lookups.seqs.update(found_rows(session, SEQS_USED, numbers, point_id=point_id))
        named = [submission_of(arrival.payload) for arrival in arrivals
                 if arrival.envelope.header.kind == Kind.SUBMIT]
        lookups.resident_keys = found_rows(session, RESIDENTS, [key for key, _ in named if key])
        lookups.scan_ids = found_rows(session, SCANS, [scan_id for _, ids in named for scan_id in ids])
        receipts = {receipt for receipt in map(receipt_of, arrivals) if receipt}
        lookups.receipts = receipts & found_rows(session, RECEIPTS, [number for _, number in receipts])
        return lookups

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

    def took_submit(self, arrival: Any) -> None:
        """After a SUBMIT went the per-envelope way, whatever became of it: its resident and scans may be
        taken now."""
        if arrival.envelope.header.kind == Kind.SUBMIT:
            key, scan_ids = submission_of(arrival.payload)
            if key:
                self.resident_keys.add(key)
            self.scan_ids.update(scan_ids)
            receipt = receipt_of(arrival)
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


def found_rows(session: Session, statement: Select, values: list, **criteria: Any) -> set:
    """The rows ``statement`` finds for ``values`` (its expanding ``values`` parameter), LOOKUP_CHUNK at a time."""
    found: set = set()
    connection = session.connection()
    for start in range(0, len(values), LOOKUP_CHUNK):
        result = connection.execute(statement, {"values": values[start:start + LOOKUP_CHUNK], **criteria})
        found.update(result.scalars() if len(statement.selected_columns) == 1 else map(tuple, result))
    return found


def submission_of(payload: Any) -> tuple[str | None, list[str]]:
    """The resident key and the scan ids a SUBMIT's payload names, as far as it is readable."""
    if not isinstance(payload, dict):
        return None, []
    applicant = payload.get("applicant")
    number = applicant.get("id_number") if isinstance(applicant, dict) else None
    scans = payload.get("scans")
    ids = [str(scan.get("scan_id")) for scan in scans if isinstance(scan, dict)] if isinstance(scans, list) else []
    return (resident_key(number) if isinstance(number, str) else None), ids


def receipt_of(arrival: Any) -> tuple[uuid.UUID, str] | None:
    """The (point, receipt number) a SUBMIT names, as far as its payload is readable."""
    payload = arrival.payload
    if arrival.envelope.header.kind != Kind.SUBMIT or not isinstance(payload, dict):
        return None
    number = payload.get("receipt_no")
    return (arrival.envelope.header.sender_id, number) if isinstance(number, str) else None
