"""Enrolled points: their key history, key rotation, revocation and the overview admins read.

A point's newest key pair is current: new hub messages are sealed to it.
Envelopes and signed requests verify against any key the point has held,
since envelopes signed before a rotation may still be on their way (a relay,
a USB bundle). Revoking a point stops everything it sends from then on;
what it sent before stays as it was.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlmodel import Session, select

from sync.keys import PublicKeys

from hub.core.audit import append_audit
from hub.core.clock import iso, utc_now
from hub.core.models import Point, PointKey
from hub.trust.enrollment import pending_token_expiry


class PointError(ValueError):
    """A refused point operation; ``reason`` is a stable word, ``status`` the HTTP answer."""

    def __init__(self, reason: str, message: str, status: int = 409):
        super().__init__(message)
        self.reason = reason
        self.status = status


def point_keys(point: Point) -> PublicKeys:
    """The point's current public keys."""
    return PublicKeys.from_json({"sign_public_key": point.sign_public_key, "enc_public_key": point.enc_public_key})


def point_verifiers(session: Session, point: Point) -> list[Ed25519PublicKey]:
    """Every signing key the point has held, current first (remembered by the process until the point's
    keys change: a rotation adds to its history and changes its fingerprint)."""
    key = (point.id, point.fingerprint)
    if key not in _VERIFIERS:
        if len(_VERIFIERS) >= _VERIFIERS_KEPT:
            _VERIFIERS.clear()
        _VERIFIERS[key] = _read_verifiers(session, point)
    return list(_VERIFIERS[key])


# (point id, fingerprint) -> verifiers; a county has hundreds of points, a region thousands.
_VERIFIERS: dict[tuple[Any, str], list[Ed25519PublicKey]] = {}
_VERIFIERS_KEPT = 20000


def _read_verifiers(session: Session, point: Point) -> list[Ed25519PublicKey]:
    current = point_keys(point)
    keys = [current.sign_public]
    history = session.exec(select(PointKey).where(PointKey.point_id == point.id)
                           .order_by(PointKey.created_at.desc())).all()
    for row in history:
        raw = PublicKeys.from_json({"sign_public_key": row.sign_public_key,
                                    "enc_public_key": row.enc_public_key}).sign_public
        if raw not in keys:
            keys.append(raw)
    return [Ed25519PublicKey.from_public_bytes(raw) for raw in keys]


def record_point_keys(session: Session, point: Point, keys: PublicKeys) -> bool:
    """Make ``keys`` the point's current keys; False when they already are (a resent rotation)."""
    if keys.fingerprint == point.fingerprint:
        return False
    previous = point.fingerprint
    fields = keys.to_json()
    point.sign_public_key, point.enc_public_key = fields["sign_public_key"], fields["enc_public_key"]
    point.fingerprint = keys.fingerprint
    session.add_all([point, PointKey(point_id=point.id, **fields, fingerprint=keys.fingerprint)])
    session.flush()
    append_audit(session, actor=point.name, action="point_keys_rotated", subject=f"point:{point.name}",
                 detail={"point_id": str(point.id), "fingerprint": keys.fingerprint, "previous": previous})
    return True


def find_point(session: Session, name_or_id: str) -> Point | None:
    point = session.exec(select(Point).where(Point.name == name_or_id.strip())).first()
    if point is None:
        point = next((p for p in session.exec(select(Point)).all() if str(p.id) == name_or_id.strip()), None)
    return point


def revoke_point(session: Session, name_or_id: str, *, actor: str = "cli") -> Point:
    """Refuse everything point ``name_or_id`` sends from now on (a lost or stolen laptop)."""
    point = find_point(session, name_or_id)
    if point is None:
        raise PointError("unknown_point", f"no point named {name_or_id!r}; see 'pointkit-hub points list'", 404)
    if point.status == "revoked":
        raise PointError("already_revoked", f"point {point.name!r} is already revoked")
    previous = point.status
    point.status, point.revoked_at = "revoked", utc_now()
    session.add(point)
    session.flush()
    append_audit(session, actor=actor, action="point_revoked", subject=f"point:{point.name}",
                 detail={"point_id": str(point.id), "fingerprint": point.fingerprint, "was": previous})
    return point


def points_overview(session: Session) -> list[dict[str, Any]]:
    """Pending, active and revoked points with fingerprints, token expiry and last contact."""
    rows = session.exec(select(Point).where(Point.status != "hub").order_by(Point.name)).all()
    return [
        {"point_id": str(point.id), "name": point.name, "level": point.level, "status": point.status,
         "fingerprint": point.fingerprint, "enrolled_at": iso(point.enrolled_at),
         "last_contact": iso(point.last_contact), "revoked_at": iso(point.revoked_at),
         "token_expires_at": iso(pending_token_expiry(session, point.name)) if point.status == "pending" else None}
        for point in rows
    ]
