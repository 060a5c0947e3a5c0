"""The outbox: sealed envelopes waiting for the hub's answer.

Sealing happens in the same transaction as the change it reports, and the
point's sequence number is bumped there too, so a crash leaves either both
or neither, and a sequence number is never reused.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session, select

from sync.clock import utcnow
from sync.envelope import Kind, seal_envelope
from sync.keys import Identity

from . import audit
from .models import Outbox, PointState
from .trust import sealing_key


def seal_into_outbox(session: Session, state: PointState, identity: Identity, *, kind: Kind,
                     payload: dict[str, Any], case_id: str = "", actor: str = audit.SYSTEM_ACTOR) -> Outbox:
    """Seal ``payload`` to the hub's current key (its preferred suite), sign it as this point and queue it."""
    seq = state.next_seq
    envelope = seal_envelope(
        kind=kind,
        payload=payload,
        sender_id=uuid.UUID(state.point_id),
        seq=seq,
        sender_key=identity.sign_key,
        recipient_key=sealing_key(state),
    )
    data = envelope.to_bytes()
    row = Outbox(envelope_id=str(envelope.header.envelope_id), seq=seq, kind=int(kind), case_id=case_id,
                 envelope=data, size=len(data), state="queued", created_at=utcnow())
    state.next_seq = seq + 1
    session.add(row)
    session.add(state)
    audit.record(session, actor, "envelope_queued", case_id or state.point_id, seq=seq, kind=Kind(kind).name,
                 envelope_id=row.envelope_id, suite=int(envelope.header.suite))
    return row


def queued(session: Session, limit: int, after_seq: int = 0) -> list[Outbox]:
    """Queued envelopes in sequence order: the hub sees a point's intents in the order they happened."""
    query = select(Outbox).where(Outbox.state == "queued", Outbox.seq > after_seq).order_by(Outbox.seq)
    return list(session.exec(query.limit(limit)).all())


def requeue(session: Session, outbox_id: int, *, actor: str) -> Outbox | None:
    """Put a quarantined envelope back in the queue (an admin action, audited); None if there is none."""
    row = session.get(Outbox, outbox_id)
    if row is None or row.state != "quarantined":
        return None
    audit.record(session, actor, "envelope_requeued", row.case_id or str(row.seq), seq=row.seq,
                 envelope_id=row.envelope_id, reason=row.reason)
    row.state, row.reason = "queued", ""
    session.add(row)
    return row


def quarantined(session: Session) -> list[Outbox]:
    return list(session.exec(select(Outbox).where(Outbox.state == "quarantined").order_by(Outbox.seq)).all())
