"""Hub → point messages: sealed to the point, numbered per point, pulled by cursor.

Each point has its own sequence 1, 2, 3, …; the point pulls "everything after
N" and a pull with ``after=N`` proves it holds everything up to N, which is
when the hub marks those messages (and their results) delivered.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session, func, select

from sync import Identity, Kind, StatusUpdate, seal_envelope, utcnow
from sync.envelope import HUB_SENDER_ID, PROTOCOL_2_KINDS, PROTOCOL_VERSION
from sync.framing import take_within

from .cases import record_event
from .db import transaction_memo, utc_now, write_lock
from .models import Case, HeldMessage, OutMessage, Point
from .points import point_keys
from .routing import HUB_ACTOR

PULL_MAX_MESSAGES = 200
PULL_MAX_BYTES = 1024 * 1024


def enqueue(
    session: Session, *, point: Point, kind: Kind, payload: dict[str, Any], identity: Identity,
    case_id: str | None = None,
) -> OutMessage | None:
    """Seal ``payload`` to the point's newest key under its next sequence number, signed by ``identity``,
    in the protocol version the point speaks. A kind that version cannot read is held (None) until the
    point upgrades: sent now it would be refused and lost."""
    write_lock(session)
    version = min(point.protocol, PROTOCOL_VERSION)
    if version < 2 and kind in PROTOCOL_2_KINDS:
        session.add(HeldMessage(point_id=point.id, kind=int(kind), case_id=case_id, payload=payload))
        if case_id:
            record_event(session, case_id, actor=HUB_ACTOR, action="held_for_upgrade",
                         note=f"{kind.name} waits until {point.name} runs a pointkit that speaks protocol 2")
        session.flush()
        return None
    memo = transaction_memo(session)
    last = memo.get(("out_seq", point.id))
    if last is None:
        last = session.exec(select(func.max(OutMessage.seq)).where(OutMessage.point_id == point.id)).one() or 0
    seq = memo[("out_seq", point.id)] = last + 1
    envelope = seal_envelope(
        kind=kind, payload=payload, sender_id=HUB_SENDER_ID, seq=seq,
        sender_key=identity.sign_key, recipient_key=point_keys(point).sealer(), version=version,
    )
    message = OutMessage(point_id=point.id, seq=seq, kind=int(kind), case_id=case_id, envelope=envelope.to_bytes())
    session.add(message)
    return message


def note_protocol(session: Session, point: Point, protocol: int, identity: Identity) -> None:
    """Record that ``point`` speaks ``protocol`` (from a signed request or an envelope's header; a relayed
    village's only sign is its envelopes); on an upgrade, send what was held for it."""
    if protocol > point.protocol:
        point.protocol = protocol
        session.add(point)
        release_held(session, point, identity)


def release_held(session: Session, point: Point, identity: Identity) -> int:
    """Send, in order, what was held for ``point`` while its protocol could not read it."""
    held = session.exec(select(HeldMessage).where(HeldMessage.point_id == point.id).order_by(HeldMessage.id)).all()
    for row in held:
        enqueue(session, point=point, kind=Kind(row.kind), payload=row.payload, identity=identity,
                case_id=row.case_id)
        session.delete(row)
    session.flush()
    return len(held)


def send_status(session: Session, case: Case, point: Point, status: str, note: str, identity: Identity) -> None:
    """Tell the point its case moved (routed, needs attention, …)."""
    update = StatusUpdate(case_id=case.id, status=status, at=utcnow(), note=note)
    enqueue(session, point=point, kind=Kind.STATUS, payload=update.model_dump(mode="json"),
            identity=identity, case_id=case.id)


def messages_after(
    session: Session, point_id: uuid.UUID, after: int, *,
    max_messages: int = PULL_MAX_MESSAGES, max_bytes: int = PULL_MAX_BYTES,
) -> list[OutMessage]:
    """Messages with seq > ``after`` in order, up to a count and (after the first) a size cap."""
    rows = session.exec(
        select(OutMessage).where(OutMessage.point_id == point_id, OutMessage.seq > after)
        .order_by(OutMessage.seq).limit(max_messages)
    ).all()
    return take_within(rows, max_bytes, lambda row: len(row.envelope))


def mark_delivered(session: Session, point: Point, after: int) -> int:
    """Mark messages up to ``after`` delivered; cases whose result arrived move to 'delivered'."""
    now = utc_now()
    rows = session.exec(
        select(OutMessage).where(OutMessage.point_id == point.id, OutMessage.seq <= after,
                                 OutMessage.delivered_at.is_(None))  # type: ignore[union-attr]
    ).all()
    for row in rows:
        row.delivered_at = now
        session.add(row)
        if row.kind == int(Kind.RESULT) and row.case_id:
            case = session.get(Case, row.case_id)
            if case is not None and case.status == "result_issued":
                case.status = "delivered"
                session.add(case)
                record_event(session, case.id, actor=point.name, action="delivered",
                             note="the point received the signed result")
    session.flush()
    return len(rows)
