"""转办: referral slips points give (REFERRAL), and the cases residents open with them elsewhere.

Under 首问责任制 a clerk who cannot handle a matter sends the resident on to another point or a department with
a slip, and stays named as the first-contact person (首问责任人). The point owns the slip; the hub keeps a copy
so the supervision office sees who referred whom where (hub/web/referrals.py). When the resident applies with
the slip at another window, that clerk types its number on intake (``SubmitCase.referral_no``) and the hub links
the case to the referral, whichever of the two reaches the hub first.

Every referral stored and every link made is an entry of the audit chain (without the resident's data): the
link as the case's timeline line.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from sync.messages import ReferCase

from hub.core.audit import append_audit
from hub.core.clock import as_utc
from hub.core.models import Case, Point, Referral
from hub.core.outcome import Outcome
from hub.core.timeline import record_event

log = logging.getLogger(__name__)


def apply_referral(session: Session, intent: ReferCase, point: Point) -> Outcome:
    """Store the referral ``point`` made (once: a copy carried twice is a duplicate) and link the case that
    arrived with its slip number before it."""
    if session.get(Referral, intent.referral_id) is not None:
        return Outcome.duplicate("referral_exists", "this referral was already received")
    taken = session.exec(select(Referral.id).where(Referral.slip_no == intent.slip_no)).first()
    if taken is not None:
        return Outcome.rejected("slip_no_taken", f"another referral already has slip number {intent.slip_no}")
    referral = Referral(
        id=intent.referral_id, slip_no=intent.slip_no, point_id=point.id,
        first_contact_name=intent.first_contact_name, first_contact_post=intent.first_contact_post,
        staff=intent.staff, resident=intent.resident.model_dump(), item_code=intent.item_code, matter=intent.matter,
        to_kind=intent.to_kind, to_code=intent.to_code, to_name=intent.to_name, reason=intent.reason,
        referred_at=_on_hub_clock(intent.referred_at, point))
    session.add(referral)
    append_audit(session, actor=point.name, action="referral_received", subject=f"referral:{referral.id}",
                 detail={"slip_no": referral.slip_no, "staff": referral.staff, "to_kind": referral.to_kind,
                         "to_code": referral.to_code, "to_name": referral.to_name, "item_code": referral.item_code})
    log.info("referral %s received from point %s", referral.slip_no, point.id)
    case = session.exec(select(Case).where(Case.referral_no == referral.slip_no)
                        .order_by(Case.received_at).limit(1)).first()
    if case is not None:
        link_case(session, referral, case, point)
    return Outcome.accepted("referral recorded")


def link_arriving_case(session: Session, case: Case) -> None:
    """``case`` came with a slip number: link it to the referral the hub holds under that number (none yet: the
    referral links it when it arrives)."""
    if not case.referral_no:
        return
    referral = session.exec(select(Referral).where(Referral.slip_no == case.referral_no)).first()
    if referral is not None and referral.case_id is None:
        link_case(session, referral, case, session.get(Point, referral.point_id))


def link_case(session: Session, referral: Referral, case: Case, referring: Point | None) -> None:
    """Record that the resident referred with ``referral`` applied as ``case``: on the referral, and in the case's
    timeline (which names the referring point and clerk; the line is an entry of the audit chain too)."""
    referral.case_id = case.id
    session.add(referral)
    origin = ReferralOrigin.of(referral, referring)
    record_event(session, case.id, actor=origin.point_name, action="referral_linked",
                 note=f"referred here by {origin.point_name}, {origin.name} ({origin.post}), slip {origin.slip_no}",
                 data=origin.data())


@dataclass(frozen=True)
class ReferralOrigin:
    """Where a case's resident was referred from: the point, its first-contact clerk and the slip."""

    slip_no: str
    point_name: str
    name: str
    post: str

    @classmethod
    def of(cls, referral: Referral, point: Point | None) -> ReferralOrigin:
        return cls(referral.slip_no, point.name if point else "", referral.first_contact_name,
                   referral.first_contact_post)

    def data(self) -> dict[str, str]:
        """The timeline line's facts (hub/web/timeline.py words them)."""
        return {"slip_no": self.slip_no, "point": self.point_name, "name": self.name, "post": self.post}


def referral_origin(session: Session, case: Case) -> ReferralOrigin | None:
    """The referral ``case`` was opened with, when the hub holds it."""
    if not case.referral_no:
        return None
    referral = session.exec(select(Referral).where(Referral.slip_no == case.referral_no)).first()
    if referral is None:
        return None
    return ReferralOrigin.of(referral, session.get(Point, referral.point_id))


@dataclass(frozen=True)
class ReferralRow:
    """One referral as the supervision office lists it: who referred whom where, and whether she applied."""

    referral: Referral
    point_name: str
    case_receipt_no: str


def list_referrals(session: Session, *, start: datetime, end: datetime, point_id: uuid.UUID | None = None,
                   clerk: str = "") -> list[ReferralRow]:
    """Referrals made in [``start``, ``end``) (hub clock), newest first; of one point and one first-contact clerk
    (by real name) when given."""
    query = select(Referral).where(Referral.referred_at >= start, Referral.referred_at < end)
    if point_id is not None:
        query = query.where(Referral.point_id == point_id)
    if clerk:
        query = query.where(Referral.first_contact_name == clerk)
    referrals = session.exec(query.order_by(Referral.referred_at.desc())).all()
    points = {point.id: point.name for point in session.exec(select(Point)).all()}
    case_ids = [referral.case_id for referral in referrals if referral.case_id]
    receipts = dict(session.exec(select(Case.id, Case.receipt_no).where(Case.id.in_(case_ids))).all()) \
        if case_ids else {}
    return [ReferralRow(referral, points.get(referral.point_id, ""), receipts.get(referral.case_id or "", ""))
            for referral in referrals]


def _on_hub_clock(referred_at: datetime, point: Point) -> datetime:
    """The point's clock claim moved by its last measured offset (a village clock drifts)."""
    return as_utc(referred_at) + timedelta(milliseconds=point.clock_offset_ms)
