"""Verify and open: what ingest does with a push before it takes the hub's write lock.

Every frame is parsed, its point looked up, its signature checked and its payload opened in a read-only
transaction, so the costly crypto of several hub processes overlaps. A frame that cannot be read, or comes
from a point the hub does not know or has revoked, is answered here for good; the others go on to
hub/intake/ingest.py as ``Arrival``s. A plain new case is drafted here too (hub/intake/bulk.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlmodel import Session

from sync import Envelope, EnvelopeError, Kind
from sync.envelope import peek_envelope_id

from hub.core.db import reads_only
from hub.core.models import Point
from hub.core.outcome import Answer, Outcome
from hub.intake.bulk import Draft, draft_case
from hub.intake.lookups import SETTLED, found_rows
from hub.intake.turns import WRITER_FIRST
from hub.trust.keys import Keyring
from hub.trust.points import point_verifiers


@dataclass
class Arrival:
    """One frame after the checks that need no lock."""

    envelope: Envelope
    envelope_id: str
    # The point's key fingerprint the signature verified under; None when it did not verify then
    # (checked again under the lock: an earlier envelope of the batch may rotate the point's keys).
    verified_under: str | None
    payload: dict[str, Any] | None = None
    # The bytes the payload unpacked to (counted against the point's daily ingest budget, hub/intake/budget.py).
    payload_bytes: int = 0
    unopened: EnvelopeError | None = None
    # A SUBMIT drafted as a new case before the lock (hub/intake/bulk.py), if it may be one.
    draft: Draft | None = None

    def opened(self, keyring: Keyring) -> dict[str, Any]:
        """The payload (opened now if it was not before); raise EnvelopeError if it cannot be opened."""
        if self.payload is None and self.unopened is None:
            try:
                self.payload, self.payload_bytes = self.envelope.open_measured(keyring.opening_keys())
            except EnvelopeError as exc:
                self.unopened = exc
        if self.unopened is not None:
            raise self.unopened
        return self.payload


def arrive(session: Session, frames: list[bytes], keyring: Keyring) -> list[Arrival | Answer]:
    """Parse, verify and open every frame in a read-only transaction; refusals are final answers."""
    reads_only(session)
    senders: dict[uuid.UUID, tuple[Point | None, list[Ed25519PublicKey]]] = {}
    arrivals = []
    for frame in frames:
        WRITER_FIRST.wait()
        arrivals.append(_check(session, frame, senders))
    settled = _settled(session, [arrival.envelope_id for arrival in arrivals if isinstance(arrival, Arrival)])
    for arrival in arrivals:
        # A resent envelope the hub already answered for is not opened again.
        if isinstance(arrival, Arrival) and arrival.verified_under and arrival.envelope_id not in settled:
            WRITER_FIRST.wait()
            try:
                payload = arrival.opened(keyring)
            except EnvelopeError:
                continue  # answered after the raw bytes are stored, as before
            if arrival.envelope.header.kind == Kind.SUBMIT:
                arrival.draft = draft_case(session, arrival.envelope, payload,
                                           senders[arrival.envelope.header.sender_id][0])
    return arrivals


def _check(session: Session, frame: bytes, senders: dict) -> Arrival | Answer:
    try:
        envelope = Envelope.parse(frame)
    except EnvelopeError as exc:
        return Answer(peek_envelope_id(frame), Outcome.rejected(exc.reason, str(exc)))
    envelope_id = str(envelope.header.envelope_id)
    sender = envelope.header.sender_id
    if sender not in senders:
        point = session.get(Point, sender)
        usable = point_refusal(envelope_id, point) is None
        senders[sender] = (point, point_verifiers(session, point) if usable else [])
    point, keys = senders[sender]
    refusal = point_refusal(envelope_id, point)
    if refusal is not None:
        return refusal
    try:
        verify_sender(envelope, keys)
    except EnvelopeError:
        return Arrival(envelope, envelope_id, None)
    return Arrival(envelope, envelope_id, point.fingerprint)


def _settled(session: Session, envelope_ids: list[str]) -> set[str]:
    """The ids among ``envelope_ids`` stored and answered for already (nothing left to apply)."""
    return found_rows(session, SETTLED, envelope_ids)


def point_refusal(envelope_id: str, point: Point | None) -> Answer | None:
    if point is None:
        return Answer(envelope_id, Outcome.rejected("unknown_point", "the hub does not know this point; enroll it"))
    if point.status == "revoked":
        return Answer(envelope_id, Outcome.rejected("point_revoked", "this point was revoked at the hub"))
    if point.status != "active":
        return Answer(envelope_id, Outcome.rejected("point_pending", "this point has not finished enrollment"))
    return None


def verify_sender(envelope: Envelope, keys: list[Ed25519PublicKey]) -> None:
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
