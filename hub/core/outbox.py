"""Hub → point messages: numbered per point, sealed to the point when they leave, pulled by cursor.

Each point has its own sequence 1, 2, 3, …; the point pulls "everything after
N" and a pull with ``after=N`` proves it holds everything up to N, which is
when the hub marks those messages (and their results) delivered.

A message is queued as its payload with the hub key generation that signs it
and sealed the first time it leaves (a pull, a relay's pull, a USB bundle),
to the point's newest key, signed by that generation. Queueing costs no
crypto, which keeps it off the ingest path (one status message per case),
and a point that rotated its keys meanwhile gets its messages sealed to the
new ones. A sealed envelope is stored and sent again byte for byte.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import Session, func, select

from sync.auditheads import point_chain
from sync.clock import utcnow
from sync.envelope import PROTOCOL_2_KINDS, PROTOCOL_5_KINDS, PROTOCOL_VERSION, Kind
from sync.kit.workdays import county_date
from sync.messages import StatusUpdate

from hub.core.clock import as_utc, utc_now
from hub.core.db import key_lock, transaction_memo
from hub.core.models import Case, HeldMessage, HubKey, OutMessage, Point, SpecialProcedure
from hub.core.timeline import HUB_ACTOR, record_event

# Built once (ingest asks for each point of each push).
_LAST_SEQ = select(func.max(OutMessage.seq)).where(OutMessage.point_id == bindparam("point_id"))


def enqueue(
    session: Session, *, point: Point, kind: Kind, payload: dict[str, Any], case_id: str | None = None,
    signer: int | None = None,
) -> OutMessage | None:
    """Queue ``payload`` for the point under its next sequence number, to be signed by the hub's key generation
    current now (or ``signer``) and sealed when it leaves (hub/intake/sealing.py): queueing needs no key. A kind
    the point's protocol version cannot read is held (None) until the point upgrades:
    sent now it would be refused and lost."""
    if point.status == "hub":
        return None  # a hub-owned agency point (hub/approval/agency.py) never syncs: nothing to send it
    key_lock(session, point_chain(point.id))  # the point's message numbers go with its chain (a push holds it)
    if not readable(point, kind):
        session.add(HeldMessage(point_id=point.id, kind=int(kind), case_id=case_id, payload=payload))
        if case_id:
            record_event(session, case_id, actor=HUB_ACTOR, action="held_for_upgrade",
                         note=f"{kind.name} waits until {point.name} runs a pointkit that speaks protocol 2",
                         data={"point": point.name})
        session.flush()
        return None
    message = OutMessage(point_id=point.id, seq=next_seq(session, point.id), kind=int(kind), case_id=case_id,
                         payload=payload, signer=current_signer(session) if signer is None else signer)
    session.add(message)
    return message


def readable(point: Point, kind: Kind) -> bool:
    """Can the protocol version ``point`` speaks read messages of ``kind``?"""
    protocol = min(point.protocol, PROTOCOL_VERSION)
    return (protocol >= 2 or kind not in PROTOCOL_2_KINDS) and (protocol >= 5 or kind not in PROTOCOL_5_KINDS)


def next_seq(session: Session, point_id: uuid.UUID) -> int:
    """The point's next message number (the caller holds the point's lock; remembered for the transaction)."""
    memo = transaction_memo(session)
    last = memo.get(("out_seq", point_id))
    if last is None:
        last = session.exec(_LAST_SEQ, params={"point_id": point_id}).one() or 0
    memo[("out_seq", point_id)] = last + 1
    return last + 1


def current_signer(session: Session) -> int | None:
    """The hub key generation that signs what is queued now: the newest (None before the hub has keys; the
    current one signs then). Remembered for the transaction."""
    memo = transaction_memo(session)
    if "signer" not in memo:
        memo["signer"] = session.exec(select(func.max(HubKey.generation))).one()
    return memo["signer"]


def note_protocol(session: Session, point: Point, protocol: int) -> None:
    """Record that ``point`` speaks ``protocol`` (from a signed request or an envelope's header; a relayed
    village's only sign is its envelopes); on an upgrade, send what was held for it."""
    if protocol > point.protocol:
        point.protocol = protocol
        session.add(point)
        release_held(session, point)


def release_held(session: Session, point: Point) -> int:
    """Send, in order, what was held for ``point`` while its protocol could not read it."""
    held = session.exec(select(HeldMessage).where(HeldMessage.point_id == point.id).order_by(HeldMessage.id)).all()
    for row in held:
        enqueue(session, point=point, kind=Kind(row.kind), payload=row.payload, case_id=row.case_id)
        session.delete(row)
    session.flush()
    return len(held)


def send_status(session: Session, case: Case, point: Point, status: str, note: str, *,
                dates_reason: str = "", return_by: date | None = None) -> None:
    """Tell the point its case moved (routed, supplemented, …), with where it stands now and its dates (and, when
    the holiday calendar moved them, why and the open 补正's return date as counted now)."""
    running = session.exec(select(SpecialProcedure).where(
        SpecialProcedure.case_id == case.id, SpecialProcedure.ended_at.is_(None))  # type: ignore[union-attr]
        .order_by(SpecialProcedure.started_at.desc())).first()  # type: ignore[attr-defined]
    enqueue(session, point=point, kind=Kind.STATUS, case_id=case.id,
            payload=status_payload(case.id, status, note, state=case.status, promised_date=case.due_date,
                                   legal_date=case.legal_due_date, paused_days=case.paused_days,
                                   dates_reason=dates_reason, return_by=return_by,
                                   paused_natural_days=case.paused_natural_days, procedure=running))


def status_payload(case_id: str, status: str, note: str, *, state: str, promised_date: date | None,
                   legal_date: date | None, paused_days: int, dates_reason: str = "",
                   return_by: date | None = None, paused_natural_days: int = 0,
                   procedure: SpecialProcedure | None = None) -> dict[str, Any]:
    """A STATUS message: what happened (``status``), the case's state at the hub and its current due dates (the
    fields of a recount and of a running special procedure only when they say something, so other messages read
    as before)."""
    update = StatusUpdate(case_id=case_id, status=status, at=utcnow(), note=note, state=state,
                          promised_date=promised_date, legal_date=legal_date, paused_days=paused_days,
                          dates_reason=dates_reason, return_by=return_by, paused_natural_days=paused_natural_days,
                          procedure=procedure.kind if procedure else "",
                          procedure_since=county_date(as_utc(procedure.started_at)) if procedure else None,
                          procedure_until=procedure.expected_end if procedure else None)
    optional = ("dates_reason", "return_by", "procedure", "procedure_since", "procedure_until", "paused_natural_days")
    return update.model_dump(mode="json", exclude={name for name in optional if not getattr(update, name)})


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
