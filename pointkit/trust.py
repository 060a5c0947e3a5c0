"""Whom the point trusts: the hub's keys, pinned at enrollment and announced since.

Hub keys: the signing key pinned at enrollment and every key announced since
in a HUB_KEYS message signed by a key already trusted. Envelopes, result
documents and the catalog verify against any of them, because messages the
hub signed before a rotation may still be on their way. The point seals to
the first recipient key of the newest announcement (the hybrid
post-quantum suite when the county turned it on).

The point's own keys change in pointkit/keyrotation.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from pydantic import ValidationError
from sqlmodel import Session, select

from sync.clock import utcnow
from sync.envelope import Envelope, EnvelopeError
from sync.keys import X25519_PUBLIC_BYTES, RecipientKey, Suite, b64, fingerprint, key_id, raw_public, unb64
from sync.rotation import read_hub_keys
from sync.signing import SignatureError, verify_document

from . import audit
from .models import HubKey, PointState
from .state import KEY_PREFIX, keys_dir


def _trusted_raw(session: Session, state: PointState) -> list[bytes]:
    stored = [unb64(row.sign_public_key) for row in
              session.exec(select(HubKey).order_by(HubKey.generation.desc(), HubKey.id.desc())).all()]
    current = unb64(state.hub_sign_public_key)
    return stored if current in stored else [current, *stored]


def trusted_hub_keys(session: Session, state: PointState) -> list[Ed25519PublicKey]:
    """Every hub signing key this point trusts, newest first."""
    return [Ed25519PublicKey.from_public_bytes(raw) for raw in _trusted_raw(session, state)]


def verify_hub_envelope(session: Session, state: PointState, envelope: Envelope) -> None:
    """Raise EnvelopeError unless a trusted hub key signed ``envelope``."""
    for key in trusted_hub_keys(session, state):
        try:
            envelope.verify(key)
            return
        except EnvelopeError:
            continue
    raise EnvelopeError("bad_signature", "envelope is not signed by any hub key this point trusts")


def verify_hub_document(session: Session, state: PointState, signed: dict[str, Any]) -> dict[str, Any]:
    """The document inside ``signed`` if a trusted hub key signed it, else SignatureError."""
    for key in trusted_hub_keys(session, state):
        try:
            return verify_document(signed, key)
        except SignatureError:
            continue
    raise SignatureError("bad_signature", "document is not signed by any hub key this point trusts")


def sealing_key(state: PointState) -> RecipientKey:
    """The hub key to seal to: the first announced recipient, else the X25519 key pinned at enrollment."""
    if state.hub_recipients:
        return RecipientKey.from_json(json.loads(state.hub_recipients)[0])
    return RecipientKey.x25519(unb64(state.hub_enc_public_key))


def _x25519_part(recipient: RecipientKey) -> bytes:
    return recipient.public_raw[-X25519_PUBLIC_BYTES:]


def read_recipients(items: Any, enc_public: bytes | None = None) -> list[RecipientKey]:
    """Validate the hub's recipient list; with ``enc_public``, each key must contain that X25519 key.

    The fingerprint in the enrollment token covers the hub's X25519 key, so a
    recipient built on any other X25519 key is refused rather than trusted.
    """
    if not isinstance(items, list) or not items:
        raise ValueError("the hub's recipient key list is empty or not a list")
    try:
        recipients = [RecipientKey.from_json(item) for item in items]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"the hub's recipient keys are malformed: {exc}") from None
    if enc_public is not None and any(_x25519_part(key) != enc_public for key in recipients):
        raise ValueError("the hub's recipient keys do not match its fingerprinted X25519 key")
    return recipients


def pin_hub_keys(session: Session, state: PointState, *, sign_public: bytes, recipients: list[RecipientKey],
                 generation: int) -> None:
    """Trust ``sign_public`` and seal to ``recipients`` from now on (enrollment and HUB_KEYS)."""
    encoded = b64(sign_public)
    if session.exec(select(HubKey).where(HubKey.sign_public_key == encoded)).first() is None:
        session.add(HubKey(generation=generation, sign_public_key=encoded, added_at=utcnow()))
    classic = next((key for key in recipients if key.suite == Suite.X25519_CHACHA), recipients[0])
    state.hub_sign_public_key = encoded
    state.hub_enc_public_key = b64(_x25519_part(classic))
    state.hub_fingerprint = fingerprint(sign_public, _x25519_part(classic))
    state.hub_recipients = json.dumps([key.to_json() for key in recipients])
    state.hub_generation = generation
    session.add(state)


def apply_hub_keys(session: Session, state: PointState, payload: dict[str, Any]) -> str:
    """Apply a HUB_KEYS payload whose envelope a trusted key signed; return what changed, in words.

    An announcement older than the keys in use adds its signing key to the
    trusted set but never moves sealing back to an older key.
    """
    try:
        announced, sign_public, recipients = read_hub_keys(payload)
    except (ValidationError, SignatureError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"hub key announcement is not valid: {exc}") from None
    if announced.generation <= state.hub_generation:
        encoded = b64(sign_public)
        if session.exec(select(HubKey).where(HubKey.sign_public_key == encoded)).first() is None:
            session.add(HubKey(generation=announced.generation, sign_public_key=encoded, added_at=utcnow()))
        return f"hub key generation {announced.generation} is not newer than {state.hub_generation}; kept sealing"
    previous = state.hub_generation
    pin_hub_keys(session, state, sign_public=sign_public, recipients=recipients, generation=announced.generation)
    audit.record(session, audit.HUB_ACTOR, "hub_keys_applied", f"generation {announced.generation}",
                 previous_generation=previous, fingerprint=state.hub_fingerprint,
                 suite=int(recipients[0].suite))
    return ""


def opening_keys(data_dir: str | Path) -> dict[bytes, X25519PrivateKey]:
    """Every sealing key this point ever held (current, pending and retired), by key id."""
    keys: dict[bytes, X25519PrivateKey] = {}
    for path in sorted(keys_dir(data_dir).glob(f"{KEY_PREFIX}*-enc.pem")):
        key = serialization.load_pem_private_key(path.read_bytes(), None)
        if isinstance(key, X25519PrivateKey):
            keys[key_id(raw_public(key.public_key()))] = key
    return keys


