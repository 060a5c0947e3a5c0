"""Point keys change: new keys are announced to the hub and used once the hub acknowledges them.

``start_key_rotation`` makes new keys and queues a POINT_KEYS envelope signed with the current key; the
point keeps signing with the current key until the hub acknowledges that envelope, then switches in the
same transaction that records the ack (``settle_key_rotation``). Old sealing keys stay on disk: the hub may
have sealed messages to them already.
"""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from sync.clock import utcnow
from sync.envelope import Kind
from sync.keys import Identity
from sync.rotation import point_keys_payload

from . import audit
from .models import Outbox, PointState
from .outbox import seal_into_outbox
from .state import KEY_PREFIX, keys_dir, load_identity


class KeyRotationError(RuntimeError):
    """A point key rotation that cannot start; the message says what to do."""



def start_key_rotation(session: Session, state: PointState, data_dir: str | Path, *, actor: str) -> Outbox:
    """Make new point keys and queue their announcement; the switch waits for the hub's ack."""
    if state.pending_key_envelope_id:
        raise KeyRotationError("a key rotation is already waiting for the hub's acknowledgement; "
                               "run `pointkit sync` (or wait for the next sync) and try again after it")
    current = load_identity(data_dir, state.key_prefix)
    new = Identity.generate()
    prefix = f"{KEY_PREFIX}-{utcnow():%Y%m%d%H%M%S%f}"
    new.save(keys_dir(data_dir), prefix)
    row = seal_into_outbox(session, state, current, kind=Kind.POINT_KEYS,
                           payload=point_keys_payload(state.point_id, new), actor=actor)
    state.pending_key_prefix, state.pending_key_envelope_id = prefix, row.envelope_id
    session.add(state)
    audit.record(session, actor, "keys_rotate_requested", state.point_id, new_fingerprint=new.fingerprint,
                 envelope_id=row.envelope_id)
    return row



def settle_key_rotation(session: Session, state: PointState, row: Outbox, status: str) -> None:
    """The hub answered the POINT_KEYS envelope: switch keys on accepted/duplicate, give up on rejected."""
    if row.envelope_id != state.pending_key_envelope_id:
        return
    if status in ("accepted", "duplicate"):
        previous, state.key_prefix = state.key_prefix, state.pending_key_prefix
        action = "keys_switched"
    elif status == "rejected":
        previous, action = state.pending_key_prefix, "keys_rotation_refused"
    else:
        return
    state.pending_key_prefix, state.pending_key_envelope_id = "", ""
    session.add(state)
    audit.record(session, audit.SYSTEM_ACTOR, action, state.point_id, key_prefix=state.key_prefix,
                 previous_key_prefix=previous, envelope_id=row.envelope_id)
