"""The hub's audit head this point keeps: evidence of the hub's audit chain outside the hub's database.

Every push answer carries the hub's newest county head (how many county heads,
the last one's hash, when: each binds the heads of every audit chain the hub
keeps, one per point; a hub of an earlier release sent the head of its one
chain), signed by the hub; a township passes
the head it holds on to its villages in its own push answers, and a hub
bundle carries one to a village on USB. The point keeps the longest head it
saw that a hub key it trusts signed. Whoever later cuts entries off the end
of the hub's chain cannot take this copy back: ``pointkit audit head``
prints it, county IT carries it to the hub, and ``pointkit-hub audit verify
--with-point-heads`` fails naming the entries that went missing.

A head shorter than the one kept (or as long, with another hash) is not
taken: the hub's chain went backwards since this point saw it. The point
keeps its evidence and logs a warning for county IT. A hub restored from a
backup does the same until its chain grows past the heads points hold.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlmodel import Session

from sync.auditheads import COUNTY_CHAIN, HELD_BY, HUB_CHAIN, SignedHead, read_head
from sync.clock import utcnow
from sync.signing import SignatureError

from .models import PointState
from .trust import verify_hub_document

log = logging.getLogger(__name__)


def held_hub_head(state: PointState) -> SignedHead | None:
    """The longest hub head this point kept; None before its first one."""
    if not state.hub_audit_head:
        return None
    try:
        return read_head(json.loads(state.hub_audit_head))
    except ValueError:
        return None


def keep_hub_head(session: Session, state: PointState, signed: Any) -> bool:
    """Keep ``signed`` (a head the hub or the township sent) if a trusted hub key signed it and it is longer
    than the head kept; True when it was kept."""
    if signed is None:
        return False  # a hub of an earlier release sends none
    try:
        head = read_head(signed)
        verify_hub_document(session, state, head.signed)
    except (ValueError, SignatureError):
        log.warning("an audit head that is not signed by the county hub was ignored")
        return False
    if head.chain not in (HUB_CHAIN, COUNTY_CHAIN):
        return False
    held = held_hub_head(state)
    if held is not None and held.chain != head.chain:
        held = None if head.chain == COUNTY_CHAIN else held  # the hub split its chain: county heads from now on
        if held is not None:
            return False  # a head of the one chain from before the split, after county heads: not evidence
    if held is not None and (head.entries, head.head) == (held.entries, held.head):
        return False
    if held is not None and head.entries <= held.entries:
        log.warning("the county hub's audit chain has %d entries, but the hub signed a head of %d entries on %s: "
                    "its audit log went backwards (cut, or restored from a backup); tell county IT and give them "
                    "`pointkit audit head`", head.entries, held.entries, held.signed_at)
        return False
    state.hub_audit_head = json.dumps(head.signed, sort_keys=True)
    session.add(state)
    return True


def exported_hub_head(state: PointState) -> dict[str, Any] | None:
    """What ``pointkit audit head`` prints: the kept head as the hub signed it, and who held it."""
    held = held_hub_head(state)
    if held is None:
        return None
    return {**held.signed, HELD_BY: {"point_id": state.point_id, "name": state.name},
            "exported_at": utcnow().isoformat(timespec="seconds")}
