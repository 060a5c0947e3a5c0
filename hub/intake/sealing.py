"""Sealing what the hub sends: each queued message is sealed to its point when it first leaves.

The one place hub → point messages are sealed and signed (a pull, a relay's pull, a USB bundle), after every
decision about them was made and queued by hub/core/outbox.py: queueing costs no crypto, and a point that
rotated its keys meanwhile gets its messages sealed to the new ones. A sealed envelope is stored and sent
again byte for byte.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, select

from sync.envelope import HUB_SENDER_ID, PROTOCOL_VERSION, Kind, seal_envelope
from sync.framing import take_within
from sync.messages import payload_for_protocol

from hub.core.models import OutMessage, Point
from hub.trust.keys import Keyring
from hub.trust.points import point_keys

PULL_MAX_MESSAGES = 200


PULL_MAX_BYTES = 1024 * 1024


def seal_pending(session: Session, messages: Sequence[OutMessage], keyring: Keyring) -> None:
    """Seal the messages among ``messages`` that have not left yet and store their envelopes.

    Each is sealed to its point's newest key in the protocol version the point speaks (without the fields
    that version does not know, sync.messages.payload_for_protocol), signed by the
    generation that queued it (the current one if that key was purged since). Two hub processes sealing one
    message at once store only the first envelope; the other reads it back, so a message is sent one way.
    """
    points: dict[uuid.UUID, Point | None] = {}
    for message in messages:
        if message.envelope is not None:
            continue
        if message.point_id not in points:
            points[message.point_id] = session.get(Point, message.point_id)
        point = points[message.point_id]
        signer = keyring.held.get(message.signer, keyring.current) if message.signer else keyring.current
        protocol = min(point.protocol, PROTOCOL_VERSION)
        envelope = seal_envelope(
            kind=Kind(message.kind), payload=payload_for_protocol(Kind(message.kind), message.payload, protocol),
            sender_id=HUB_SENDER_ID, seq=message.seq, sender_key=signer.sign_key,
            recipient_key=point_keys(point).sealer(), version=protocol,
        ).to_bytes()
        stored = session.execute(update(OutMessage).where(OutMessage.id == message.id,
                                                          OutMessage.envelope.is_(None))  # type: ignore[union-attr]
                                 .values(envelope=envelope)).rowcount
        if not stored:
            envelope = session.exec(select(OutMessage.envelope).where(OutMessage.id == message.id)).one()
        set_committed_value(message, "envelope", envelope)


def messages_after(
    session: Session, point_id: uuid.UUID, after: int, *, keyring: Keyring,
    max_messages: int = PULL_MAX_MESSAGES, max_bytes: int = PULL_MAX_BYTES,
) -> list[OutMessage]:
    """Messages with seq > ``after`` in order, sealed, up to a count and (after the first) a size cap."""
    rows = session.exec(
        select(OutMessage).where(OutMessage.point_id == point_id, OutMessage.seq > after)
        .order_by(OutMessage.seq).limit(max_messages)
    ).all()
    seal_pending(session, rows, keyring)
    return take_within(rows, max_bytes, lambda row: len(row.envelope))
