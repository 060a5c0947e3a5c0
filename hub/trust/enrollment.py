"""Enrolling points (the X-Road shape): one-time token, proof of possession, pinned keys.

An admin creates a token bound to a point's name and level. The token ends
with the start of the hub's fingerprint, so the point can check the keys the
hub answers with before pinning them. The point proves it holds its new
signing key by signing the claim it sends.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlmodel import Session, select

from sync.clock import now_ms
from sync.keys import Identity, unb64
from sync.keys import fingerprint as key_fingerprint
from sync.kit.passwords import hash_secret
from sync.signing import SignatureError, verify_document

from hub.core.audit import append_audit
from hub.core.clock import as_utc, utc_now
from hub.core.models import POINT_LEVELS, EnrollmentToken, Point, PointKey
from hub.trust.keys import Keyring

FINGERPRINT_CHARS = 16
DEFAULT_TOKEN_HOURS = 72
MAX_TOKEN_HOURS = 30 * 24


class EnrollmentError(ValueError):
    """A refused enrollment step; ``reason`` is a stable word, ``status`` the HTTP answer."""

    def __init__(self, reason: str, message: str, status: int = 403):
        super().__init__(message)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class IssuedToken:
    token: str
    point_name: str
    level: str
    expires_at: datetime


def create_enrollment_token(
    session: Session, *, name: str, level: str, identity: Identity, expires_hours: int = DEFAULT_TOKEN_HOURS,
    actor: str = "cli",
) -> IssuedToken:
    """Register ``name`` as a pending point and issue a one-time token for it, valid ``expires_hours``."""
    name = name.strip()
    if not name:
        raise EnrollmentError("name_required", "a point needs a name", 422)
    if level not in POINT_LEVELS:
        raise EnrollmentError("bad_level", f"level must be one of {', '.join(POINT_LEVELS)}", 422)
    if not 1 <= expires_hours <= MAX_TOKEN_HOURS:
        raise EnrollmentError("bad_expiry", f"a token must expire within 1 to {MAX_TOKEN_HOURS} hours", 422)
    point = session.exec(select(Point).where(Point.name == name)).first()
    if point is not None and point.status != "pending":
        raise EnrollmentError("point_exists", f"point {name!r} is already {point.status}; "
                              "use another name for a replacement laptop", 409)
    if point is None:
        session.add(Point(name=name, level=level))
    else:
        point.level = level
        session.add(point)
    token = f"{secrets.token_urlsafe(24)}.{identity.fingerprint[:FINGERPRINT_CHARS]}"
    row = EnrollmentToken(token_hash=hash_secret(token), point_name=name, level=level,
                          expires_at=utc_now() + timedelta(hours=expires_hours))
    session.add(row)
    session.flush()
    append_audit(session, actor=actor, action="point_added", subject=f"point:{name}",
                 detail={"level": level, "token_expires_at": row.expires_at.isoformat()})
    return IssuedToken(token, name, level, row.expires_at)


def pending_token_expiry(session: Session, name: str) -> datetime | None:
    """When the newest unused token for point ``name`` expires, if one was issued."""
    row = session.exec(select(EnrollmentToken).where(EnrollmentToken.point_name == name,
                                                     EnrollmentToken.used_at.is_(None))  # type: ignore[union-attr]
                       .order_by(EnrollmentToken.created_at.desc()).limit(1)).first()
    return row.expires_at if row else None


def _public_key(text: str, field: str) -> bytes:
    try:
        raw = unb64(text)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise EnrollmentError("bad_keys", f"{field} must be a base64 32-byte public key", 422)
    return raw


def enroll(
    session: Session, *, token: str, name: str, sign_public_key: str, enc_public_key: str, proof: str,
    keyring: Keyring,
) -> dict:
    """Check the token and the proof, activate the point and answer with the hub's current keys.

    ``recipients`` lists the keys to seal to, preferred first (the hybrid key when the
    county has the post-quantum option on); ``generation`` is the hub key generation.
    """
    row = session.exec(select(EnrollmentToken).where(EnrollmentToken.token_hash == hash_secret(token))).first()
    if row is None:
        raise EnrollmentError("token_unknown", "this enrollment token is not known to the hub; ask the admin for one")
    if row.used_at is not None:
        raise EnrollmentError("token_used", "this enrollment token was already used; ask the admin for a new one")
    if as_utc(row.expires_at) <= utc_now():
        raise EnrollmentError("token_expired", "this enrollment token has expired; ask the admin for a new one")
    if not token.endswith("." + keyring.fingerprint[:FINGERPRINT_CHARS]):
        raise EnrollmentError("token_superseded", "the hub's keys were rotated after this token was issued; "
                              "ask the admin for a new one")
    if name and name != row.point_name:
        raise EnrollmentError("name_mismatch", "the point name does not match the one the token was issued for")
    sign_raw = _public_key(sign_public_key, "sign_public_key")
    enc_raw = _public_key(enc_public_key, "enc_public_key")
    claim = {"token": token, "name": name, "sign_public_key": sign_public_key, "enc_public_key": enc_public_key}
    try:
        verify_document({"document": claim, "signature": proof}, Ed25519PublicKey.from_public_bytes(sign_raw))
    except SignatureError:
        raise EnrollmentError("bad_proof", "the proof is not a signature by the presented signing key") from None
    point = session.exec(select(Point).where(Point.name == row.point_name)).first()
    if point is None or point.status != "pending":
        raise EnrollmentError("point_exists", "this point is no longer waiting for enrollment", 409)
    now = utc_now()
    row.used_at = now
    point.status, point.level = "active", row.level
    point.sign_public_key, point.enc_public_key = sign_public_key, enc_public_key
    point.fingerprint = key_fingerprint(sign_raw, enc_raw)
    point.enrolled_at = point.last_contact = now
    session.add_all([row, point, PointKey(point_id=point.id, sign_public_key=sign_public_key,
                                          enc_public_key=enc_public_key, fingerprint=point.fingerprint)])
    session.flush()
    append_audit(session, actor=point.name, action="point_enrolled", subject=f"point:{point.name}",
                 detail={"point_id": str(point.id), "fingerprint": point.fingerprint})
    identity = keyring.current
    relay = session.get(Point, point.relay_id) if point.relay_id else None
    return {
        "point_id": str(point.id),
        "name": point.name,
        "level": point.level,
        "hub": {**identity.public().to_json(), "fingerprint": identity.fingerprint},
        "recipients": [key.to_json() for key in identity.recipient_keys()],
        "generation": keyring.generation,
        "hub_time_ms": now_ms(),
        # The township this village syncs through after enrolling (pointkit init --relay URL).
        "relay": {"point_id": str(relay.id), "name": relay.name} if relay else None,
    }

