"""Copies of a point's own cases for a point restored from an older backup (COPY_REQUEST → CASE_COPY).

A laptop restored from a backup no longer holds the cases it took after that backup; they are safe here, but
the point refused every message about them ("names a case this point never received") and moved its cursor
past them, and a township or a USB bundle never carries a delivered message again. The restored point
notices when the hub names envelope numbers it never used (a pull answer's ``X-Pointkit-Last-Seq``, a hub
bundle's numbers) and asks once for the cases of those envelopes. Each case the point's SUBMIT among them
received goes back as a CASE_COPY, built from the case as the hub holds it (every field of the SUBMIT, the form
as corrected since, and still readable after the hub key that opened the envelope was purged), followed by
every message the hub sent the point about it, queued again in their order: the point applies them as it
would have the first time.

The request travels like any intent (online, through the township, by USB) and the copies like any message,
sealed to the point. Only a point that asks gets a CASE_COPY, so points from before this kind never see one.
"""

from __future__ import annotations

import logging

from sqlmodel import Session, select

from sync.canonical import canonical_json
from sync.clock import utcnow
from sync.envelope import Kind
from sync.messages import FIRST_CONTACT_FIELDS, CaseCopy, CopyRequest, SubmitCase

from hub.core.models import Case, OutMessage, Point, RawEnvelope
from hub.core.outbox import enqueue
from hub.core.outcome import Outcome
from hub.core.timeline import record_event

log = logging.getLogger(__name__)


def apply_copy_request(session: Session, request: CopyRequest, point: Point) -> Outcome:
    """Queue a copy of each case ``point`` received in its envelopes ``from_seq``..``to_seq``, each followed by
    the messages about it sent again; answer as ingest does."""
    case_ids = session.exec(
        select(RawEnvelope.case_id).where(
            RawEnvelope.point_id == point.id, RawEnvelope.kind == int(Kind.SUBMIT),
            RawEnvelope.seq >= request.from_seq, RawEnvelope.seq <= request.to_seq,
            RawEnvelope.outcome != "rejected", RawEnvelope.case_id.is_not(None))  # type: ignore[union-attr]
        .order_by(RawEnvelope.seq)).all()
    copied, resent = 0, 0
    for case_id in dict.fromkeys(case_ids):
        case = session.get(Case, case_id)
        if case is None or case.point_id != point.id:
            continue
        resent += send_copy(session, case, point)
        copied += 1
    if not copied:
        return Outcome.accepted("no case of this point was received in those envelopes", reason="nothing_to_copy")
    log.info("point %s was restored from an older backup: %d case(s) copied back, %d message(s) sent again",
             point.id, copied, resent)
    return Outcome.accepted(f"{copied} case(s) and {resent} message(s) about them are sent to the point again")


def send_copy(session: Session, case: Case, point: Point) -> int:
    """Queue a CASE_COPY of ``case`` for ``point``, then every earlier message about it once more, in order;
    return how many messages went again."""
    earlier = session.exec(
        select(OutMessage).where(OutMessage.point_id == point.id, OutMessage.case_id == case.id,
                                 OutMessage.kind != int(Kind.CASE_COPY))
        .order_by(OutMessage.seq)).all()
    enqueue(session, point=point, kind=Kind.CASE_COPY, payload=copy_payload(case),
            case_id=case.id)
    # A message already sent again after an earlier copy is the same message: send it once. One queued by a
    # hub before messages kept their payload (revision 0003) is only sealed bytes, which cannot be renumbered.
    again = {(message.kind, canonical_json(message.payload)): message for message in earlier if message.payload}
    for message in again.values():
        enqueue(session, point=point, kind=Kind(message.kind), payload=message.payload,
                case_id=case.id)
    record_event(session, case.id, actor=point.name, action="copy_sent",
                 note=f"{point.name} was restored from an older backup and lacked this case: a copy and "
                      f"{len(again)} earlier message(s) about it were sent again",
                 data={"point": point.name, "messages": len(again)})
    return len(again)


def copy_payload(case: Case) -> dict:
    """The case as the hub holds it, in the shape the point took it in."""
    taken = SubmitCase(
        case_id=case.id, receipt_no=case.receipt_no, item_code=case.item_code,
        catalog_version=case.catalog_version, applicant=case.applicant, form=case.form,
        materials=case.materials, received_at=case.received_at, promised_date=case.promised_date,
        staff=case.staff, clock_offset_ms=case.clock_offset_ms, first_contact_name=case.first_contact_name,
        first_contact_post=case.first_contact_post, referral_no=case.referral_no)
    # A point that sent no first-contact person is older than those fields and would refuse them.
    sent_them = bool(case.first_contact_name or case.referral_no)
    return CaseCopy(case=taken, item_name=case.item_name, version=case.version,
                    closed_at=case.closed_at if case.status == "closed" else None,
                    copied_at=utcnow()).model_dump(mode="json",
                                                   exclude=None if sent_them else {"case": set(FIRST_CONTACT_FIELDS)})
