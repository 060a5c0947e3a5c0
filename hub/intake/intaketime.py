"""Whether a point's claimed time of 受理 can be believed: the bounds the hub holds evidence for.

Time limits start at intake at the point, and deemed approval (视为准予) turns
a passed legal limit into a hub-signed approval no reviewer saw. A point's
clock is its own, so a dishonest point could backdate a case into approval.
The hub caps a claim at its own receipt time, and bounds it from below with
what it knows itself:

- ``enrollment``: nothing was received at the point before the point was enrolled;
- ``sequence``: a point numbers its envelopes as it seals them and seals each
  case at intake, so a case is not older than the case it sent with the next
  lower number;
- ``sync``: a point says, on each signed pull, how many envelopes it has
  sealed; an envelope numbered above that did not exist then, so its case was
  received after that pull;
- ``catalog``: a case named a catalog version, so it was received after the hub
  published that version.

Each bound allows ``SLACK`` for clock noise (offsets are measured, not exact).
A case before one of them is parked on the conflict desk as a suspicious intake
time with the evidence, and routed only once an operator accepts a time: the
point's, or the earliest the hub can vouch for. Its clock, and so its deemed
approval, counts from that time (``Case.vouched_intake``). docs/security.md
states the rule.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import bindparam
from sqlmodel import Session, select

from sync.envelope import Kind

from hub.approval.timelimits import intake_moment
from hub.core.clock import as_utc, iso
from hub.core.db import transaction_memo
from hub.core.models import Case, CatalogVersion, Point, RawEnvelope

SLACK = timedelta(minutes=15)
SUSPICIOUS_TIME = "suspicious_time"


@dataclass(frozen=True)
class Bound:
    """The earliest an intake can have been by one rule, with the facts it rests on (``facts`` as the desk
    shows them: ``seq``, ``earlier_seq``, ``receipt_no``, ``sealed_seq``, ``catalog_version``)."""

    rule: str
    earliest: datetime
    facts: dict[str, Any]

    @property
    def evidence(self) -> str:
        """The bound in plain English (logs and the case's timeline)."""
        at, facts = iso(self.earliest), self.facts
        return {
            "enrollment": f"the point was enrolled at {at}",
            "sequence": f"its envelope {facts.get('earlier_seq')}, sent before this one ({facts.get('seq')}), is "
                        f"receipt {facts.get('receipt_no')} received at {at}",
            "sync": f"at {at} the point said it had sealed {facts.get('sealed_seq')} envelopes; this one is number "
                    f"{facts.get('seq')}",
            "catalog": f"it names catalog version {facts.get('catalog_version')}, published at {at}",
        }[self.rule]

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "earliest": iso(self.earliest), **self.facts}


def intake_bounds(session: Session, point: Point, seq: int, catalog_version: int, *,
                  with_sequence: bool = True) -> list[Bound]:
    """Every lower bound the hub holds evidence for on the intake of ``point``'s envelope number ``seq``."""
    bounds = [Bound("enrollment", as_utc(point.enrolled_at or point.created_at), {})]
    before = _case_before(session, point.id, seq) if with_sequence else None
    if before is not None:
        case, earlier_seq = before
        bounds.append(Bound("sequence", intake_moment(case, point.clock_offset_ms),
                            {"seq": seq, "earlier_seq": earlier_seq, "receipt_no": case.receipt_no}))
    if point.sealed_at is not None and point.sealed_seq < seq:
        bounds.append(Bound("sync", as_utc(point.sealed_at), {"seq": seq, "sealed_seq": point.sealed_seq}))
    published = _published(session, catalog_version) if catalog_version else None
    if published is not None:
        bounds.append(Bound("catalog", as_utc(published), {"catalog_version": catalog_version}))
    return bounds


def _published(session: Session, version: int) -> datetime | None:
    """When catalog ``version`` was published: its time alone, once per transaction (the version's row holds the
    whole signed catalog, which each case of a batch would otherwise read and parse again)."""
    memo = transaction_memo(session).setdefault("catalog_published", {})
    if version not in memo:
        memo[version] = session.exec(select(CatalogVersion.created_at).where(CatalogVersion.version == version)).first()
    return memo[version]


def judge_intake(session: Session, point: Point, seq: int, catalog_version: int,
                 claimed: datetime) -> tuple[Bound | None, list[Bound]]:
    """The bound ``claimed`` (the intake on the hub's clock) breaks, if any, and the bounds it was judged by.

    The sequence bound costs a lookup: it is looked up only for a claim older than the point's last report of
    what it had sealed (a newer claim is after every case it had sealed then)."""
    bounds = intake_bounds(session, point, seq, catalog_version,
                           with_sequence=point.sealed_at is None or as_utc(claimed) < as_utc(point.sealed_at) - SLACK)
    return violated(claimed, bounds), bounds


def violated(claimed: datetime, bounds: list[Bound]) -> Bound | None:
    """The strongest bound ``claimed`` falls before (by more than SLACK), or None when it is believable."""
    broken = [bound for bound in bounds if as_utc(claimed) < bound.earliest - SLACK]
    return max(broken, key=lambda bound: bound.earliest) if broken else None


class _Earlier(NamedTuple):
    """What the sequence bound needs of the case a point sent before: its number and times (as ``intake_moment``
    reads them off a case), not its form and applicant."""

    receipt_no: str
    received_at: datetime
    clock_offset_ms: int | None
    hub_received_at: datetime | None
    vouched_intake: datetime | None
    seq: int


# Built once: ingest asks for every SUBMIT of a point that has not said lately what it sealed.
_EARLIER = (select(Case.receipt_no, Case.received_at, Case.clock_offset_ms, Case.hub_received_at,
                   Case.vouched_intake, RawEnvelope.seq)
            .join(Case, Case.id == RawEnvelope.case_id)
            .where(RawEnvelope.point_id == bindparam("point_id"), RawEnvelope.seq < bindparam("seq"),
                   RawEnvelope.kind == int(Kind.SUBMIT))
            .order_by(RawEnvelope.seq.desc()).limit(1))  # type: ignore[union-attr]


def _case_before(session: Session, point_id: uuid.UUID, seq: int) -> tuple[_Earlier, int] | None:
    """The case the point sent with the nearest lower envelope number, and that number."""
    row = session.exec(_EARLIER, params={"point_id": point_id, "seq": seq}).first()
    return None if row is None else (_Earlier(*row), row[-1])


def note_sealed(point: Point, sealed: str | None, at: datetime) -> None:
    """A signed pull says how many envelopes the point has sealed; keep the newest, moving forward only."""
    if sealed and sealed.isdigit() and len(sealed) <= 18 and int(sealed) >= point.sealed_seq:
        point.sealed_seq, point.sealed_at = int(sealed), at


def suspicion(claimed: datetime, bound: Bound, bounds: list[Bound]) -> dict[str, Any]:
    """What the conflict desk shows: the claim, the bound it breaks, and all the evidence."""
    return {"claimed": iso(as_utc(claimed)), "earliest": iso(max(b.earliest for b in bounds)), "rule": bound.rule,
            "evidence": [b.to_dict() for b in bounds]}
