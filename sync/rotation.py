"""Key rotation messages: how a new key earns the trust the old one had.

Hub rotation: the hub sends every point a HUB_KEYS envelope signed with its
*current* (pinned) signing key; the payload names the new signing key and
the keys to seal to, and carries a proof made with the new signing key. A
point that verifies both trusts the new key from then on, keeps trusting
the old one for messages already on their way, and seals to the first
recipient key listed.

Point rotation: the point sends a POINT_KEYS envelope signed with its
current key, naming its new keys with a proof made by the new signing key.
The hub verifies envelopes against any of the point's unrevoked keys and
seals new messages to its newest sealing key.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field

from sync.clock import utcnow
from sync.keys import Identity, PublicKeys, RecipientKey, b64, unb64
from sync.signing import SignatureError, sign_document, verify_document

HUB_KEYS_TYPE = "pointkit.hubkeys/v1"
POINT_KEYS_TYPE = "pointkit.pointkeys/v1"


class HubKeys(BaseModel):
    """HUB_KEYS payload: the hub's keys from ``generation`` on."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(pattern=r"^pointkit\.hubkeys/v1$")
    generation: int = Field(ge=1)
    sign_public_key: str
    recipients: list[dict[str, Any]] = Field(min_length=1)
    issued_at: datetime
    proof: str


class PointKeys(BaseModel):
    """POINT_KEYS payload: the point's new keys."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(pattern=r"^pointkit\.pointkeys/v1$")
    point_id: str
    sign_public_key: str
    enc_public_key: str
    issued_at: datetime
    proof: str


def _without_proof(payload: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in payload.items() if key != "proof"}


def hub_keys_payload(new: Identity, generation: int) -> dict[str, Any]:
    """The HUB_KEYS payload announcing ``new`` (seal the envelope with the *old* signing key)."""
    document = {
        "type": HUB_KEYS_TYPE,
        "generation": generation,
        "sign_public_key": b64(new.sign_public),
        "recipients": [key.to_json() for key in new.recipient_keys()],
        "issued_at": utcnow().isoformat(),
    }
    return {**document, "proof": sign_document(document, new.sign_key)["signature"]}


def read_hub_keys(payload: dict[str, Any]) -> tuple[HubKeys, bytes, list[RecipientKey]]:
    """Validate a HUB_KEYS payload and its proof; return it, the new signing key and the recipient keys."""
    announced = HubKeys.model_validate(payload)
    sign_public = unb64(announced.sign_public_key)
    try:
        new_key = Ed25519PublicKey.from_public_bytes(sign_public)
    except ValueError:
        raise SignatureError("bad_key", "announced signing key is not an Ed25519 key") from None
    verify_document({"document": _without_proof(payload), "signature": announced.proof}, new_key)
    return announced, sign_public, [RecipientKey.from_json(item) for item in announced.recipients]


def point_keys_payload(point_id: uuid.UUID | str, new: Identity) -> dict[str, Any]:
    """The POINT_KEYS payload naming ``new`` (seal the envelope with the point's *old* signing key)."""
    document = {
        "type": POINT_KEYS_TYPE,
        "point_id": str(point_id),
        "sign_public_key": b64(new.sign_public),
        "enc_public_key": b64(new.enc_public),
        "issued_at": utcnow().isoformat(),
    }
    return {**document, "proof": sign_document(document, new.sign_key)["signature"]}


def read_point_keys(payload: dict[str, Any], point_id: uuid.UUID | str) -> PublicKeys:
    """Validate a POINT_KEYS payload for ``point_id`` and its proof; return the new public keys."""
    announced = PointKeys.model_validate(payload)
    if announced.point_id != str(point_id):
        raise SignatureError("wrong_point", "key rotation names another point")
    keys = PublicKeys.from_json({"sign_public_key": announced.sign_public_key,
                                 "enc_public_key": announced.enc_public_key})
    verify_document({"document": _without_proof(payload), "signature": announced.proof}, keys.verifier())
    return keys
