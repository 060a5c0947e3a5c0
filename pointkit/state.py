"""Who this point is and whom it trusts: the state row, its keys and the pinned hub keys."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import datetime
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlmodel import Session, func, select

from sync.client import HubClient
from sync.clock import as_utc, utcnow  # noqa: F401 (as_utc: the point's modules import it from here)
from sync.keys import Identity
from sync.kit.workdays import COUNTY_TIMEZONE

from . import db
from .models import Outbox, PointState

KEYS_DIR = "keys"
KEY_PREFIX = "point"


class NotEnrolled(RuntimeError):
    """The data directory has no enrolled point yet (run ``pointkit init``)."""


def get_state(session: Session) -> PointState:
    state = session.get(PointState, 1)
    if state is None:
        raise NotEnrolled("this point is not enrolled yet; run `pointkit init` first")
    return state


def find_state(session: Session) -> PointState | None:
    return session.get(PointState, 1)


def keys_dir(data_dir: str | Path) -> Path:
    return Path(data_dir) / KEYS_DIR


def load_identity(data_dir: str | Path, prefix: str | None = None) -> Identity:
    """The keys this point signs with now (``prefix`` names other key files under keys/)."""
    return Identity.load(keys_dir(data_dir), current_key_prefix(data_dir) if prefix is None else prefix)


def point_sign_keys(data_dir: str | Path) -> list[Ed25519PublicKey]:
    """The public half of every signing key this point held (current, pending and retired)."""
    keys = []
    for path in sorted(keys_dir(data_dir).glob(f"{KEY_PREFIX}*-sign.pem")):
        key = serialization.load_pem_private_key(path.read_bytes(), None)
        if isinstance(key, Ed25519PrivateKey):
            keys.append(key.public_key())
    return keys


def current_key_prefix(data_dir: str | Path) -> str:
    """The key files in use, read outside any transaction (callers may hold the write lock)."""
    path = db.database_path(data_dir)
    if not path.exists():
        return KEY_PREFIX
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
    try:
        row = connection.execute("SELECT key_prefix FROM pointstate WHERE id = 1").fetchone()
    except sqlite3.OperationalError:
        row = None
    finally:
        connection.close()
    return row[0] if row and row[0] else KEY_PREFIX


def hub_client(state: PointState, identity: Identity, *, transport: httpx.BaseTransport | None = None,
               attempts: int | None = None) -> HubClient:
    options = {} if attempts is None else {"attempts": attempts}
    return HubClient(state.hub_url, point_id=uuid.UUID(state.point_id), identity=identity,
                     transport=transport, clock_offset_ms=state.clock_offset_ms, **options)


def outbox_counts(session: Session) -> dict[str, int]:
    rows = session.exec(select(Outbox.state, func.count()).group_by(Outbox.state)).all()
    counts = {"queued": 0, "acked": 0, "quarantined": 0}
    counts.update({state: count for state, count in rows})
    return counts


def local_now() -> datetime:
    """The laptop's clock on county time (CST), whatever zone the laptop is set to: what the receipt shows."""
    return utcnow().astimezone(COUNTY_TIMEZONE)
