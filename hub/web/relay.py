"""Relays: a township point carries its villages' sync (``points add VILLAGE --via TOWNSHIP``).

The township cannot read what it carries: village envelopes are sealed to
the hub, the hub's messages are sealed to the village. It forwards village
envelopes with an ordinary push (each verifies against its village's keys,
dedupes by envelope id and (point, seq) as always), and asks for the
villages' messages here, with its own signed requests:

- ``GET /sync/v1/relay/villages``: the villages it relays for and every
  signing key each has held, as a document signed by the hub, so the
  township checks the villages' envelopes and signed requests itself;
- ``GET /sync/v1/relay/pull?village=ID&after=N[&delivered=M]``: the
  village's messages after N, unchanged; ``delivered`` is the cursor the
  village itself confirmed to the township (the village holds up to M),
  which marks messages delivered as the village's own pull would.

Only the village's registered relay may ask.
"""

from __future__ import annotations

import logging
import uuid

from flask import Blueprint, request
from sqlmodel import Session, select

from sync.clock import utcnow
from sync.keys import b64
from sync.kit.web import api_error, pull_answer
from sync.signing import sign_document

from hub.core.audit import append_audit
from hub.core.models import Point
from hub.core.outbox import mark_delivered
from hub.intake.sealing import messages_after
from hub.trust.enrollment import EnrollmentError
from hub.trust.points import find_point, point_verifiers
from hub.web.context import current_identity, current_keyring, get_session
from hub.web.sync import _authenticated_point

bp = Blueprint("relay", __name__, url_prefix="/sync/v1/relay")
log = logging.getLogger(__name__)

VILLAGES_DOCUMENT_TYPE = "pointkit.relay-villages/v1"


def assign_relay(session: Session, village_name: str, township_name: str, *, actor: str = "cli") -> Point:
    """Record that point ``village_name`` syncs through township ``township_name``."""
    township = find_point(session, township_name)
    if township is None or township.status == "revoked":
        raise EnrollmentError("unknown_relay", f"no township point named {township_name!r} (add it first with "
                              "'pointkit-hub points add NAME --level township')", 404)
    if township.level != "township":
        raise EnrollmentError("bad_relay", f"{township.name} is a {township.level} point; only a township "
                              "relays for villages", 422)
    village = find_point(session, village_name)
    if village is None or village.level != "village":
        raise EnrollmentError("bad_level", "only a village point syncs through a township (--level village)", 422)
    village.relay_id = township.id
    session.add(village)
    session.flush()
    append_audit(session, actor=actor, action="point_relay_set", subject=f"point:{village.name}",
                 detail={"point_id": str(village.id), "relay_id": str(township.id)})
    return village


def villages_document(session: Session, township: Point) -> dict:
    """The villages ``township`` relays for, with each one's signing keys, signed by the hub."""
    villages = session.exec(select(Point).where(Point.relay_id == township.id, Point.status != "pending")
                            .order_by(Point.name)).all()
    document = {
        "type": VILLAGES_DOCUMENT_TYPE,
        "relay_id": str(township.id),
        "issued_at": utcnow().isoformat(),
        "villages": [{"point_id": str(village.id), "name": village.name, "status": village.status,
                      "sign_public_keys": [b64(key.public_bytes_raw()) for key in point_verifiers(session, village)]}
                     for village in villages],
    }
    return sign_document(document, current_identity().sign_key)


@bp.get("/villages")
def get_villages():
    """The villages this township relays for and their keys, signed by the hub."""
    township = _authenticated_point()
    if not isinstance(township, Point):
        return township
    return villages_document(get_session(), township)


def _cursor(name: str) -> int | None:
    raw = request.args.get(name, "0")
    return int(raw) if raw.isdigit() and len(raw) <= 18 else None


@bp.get("/pull")
def get_relay_pull():
    """A village's messages after ``after``, for its relay to hold; 204 when there are none."""
    township = _authenticated_point()
    if not isinstance(township, Point):
        return township
    try:
        village = get_session().get(Point, uuid.UUID(request.args.get("village", "")))
    except ValueError:
        village = None
    if village is None or village.relay_id != township.id:
        log.warning("point %s asked for messages of a village it does not relay for; refused", township.id)
        return api_error(403, "not_your_village", "this point is not the registered relay of that village")
    after, delivered = _cursor("after"), _cursor("delivered")
    if after is None or delivered is None:
        return api_error(400, "bad_cursor", "'after' and 'delivered' must be non-negative integers")
    db = get_session()
    if delivered:
        mark_delivered(db, village, delivered)
    messages = messages_after(db, village.id, after, keyring=current_keyring())
    db.commit()
    return pull_answer(messages, after, last_seq=village.last_seq, last_receipt=village.last_receipt)
