"""The hub's own keys, in generations: made at init, rotated, old ones kept to open late envelopes.

Layout under DATA/keys (private keys, readable only by the hub's user)::

    hub-gN-sign.pem  hub-gN-enc.pem  [hub-gN-mlkem.seed]   generation N, while held
    hub-sign.pem     hub-enc.pem     [hub-mlkem.seed]      a copy of the current generation

The HubKey table numbers the generations (the highest is current) and
records when each was made and purged. Files of a generation are written
before its row commits, so a server that sees the row can always load them;
the ``hub-*`` copy is refreshed after the commit (and repaired on the next
load if a crash came in between). A hub made before generations existed has
only ``hub-*`` files: they become generation 1 on first start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from sqlmodel import Session, select

from sync.envelope import Kind
from sync.keys import Identity, OpeningKey, Suite
from sync.rotation import hub_keys_payload

from hub.core.audit import append_audit
from hub.core.clock import utc_now
from hub.core.models import HubKey, Point
from hub.core.outbox import enqueue

KEYS_DIR = "keys"
KEY_PREFIX = "hub"
_KEY_FILE_SUFFIXES = ("sign.pem", "enc.pem", "mlkem.seed")


class HubKeyError(ValueError):
    """A key operation that cannot be done as asked; the message says why."""


def keys_dir(data_dir: Path) -> Path:
    return Path(data_dir) / KEYS_DIR


def generation_prefix(generation: int) -> str:
    return f"{KEY_PREFIX}-g{generation}"


def has_identity(data_dir: Path) -> bool:
    return (keys_dir(data_dir) / f"{KEY_PREFIX}-sign.pem").exists()


def load_identity(data_dir: Path) -> Identity:
    """The current generation's keys (the ``hub-*`` copy)."""
    return Identity.load(keys_dir(data_dir), KEY_PREFIX)


def _held(data_dir: Path, generation: int) -> bool:
    return (keys_dir(data_dir) / f"{generation_prefix(generation)}-sign.pem").exists()


def suites_of(identity: Identity) -> list[int]:
    return [int(key.suite) for key in identity.recipient_keys()]


@dataclass(frozen=True)
class Keyring:
    """Every hub key generation still held; the newest one signs and is sealed to."""

    generation: int
    current: Identity
    held: dict[int, Identity] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        return self.current.fingerprint

    def opening_keys(self) -> dict[bytes, OpeningKey]:
        """key id -> private key over every held generation, for Envelope.open (not to be changed)."""
        return self._opening

    @cached_property
    def _opening(self) -> dict[bytes, OpeningKey]:
        # Once per keyring, not per envelope: listing a generation's keys derives their public halves.
        opening: dict[bytes, OpeningKey] = {}
        for generation in sorted(self.held):
            opening.update(self.held[generation].opening_keys())
        return opening

    @property
    def post_quantum(self) -> bool:
        return self.current.mlkem_key is not None


def ensure_keys(session: Session, data_dir: Path, *, post_quantum: bool = False) -> Keyring:
    """Load the hub's keyring, making generation 1 the first time (from ``hub-*`` files if a hub has them)."""
    if session.exec(select(HubKey).limit(1)).first() is None:
        identity = load_identity(data_dir) if has_identity(data_dir) else Identity.generate(post_quantum=post_quantum)
        identity.save(keys_dir(data_dir), generation_prefix(1))
        session.add(HubKey(generation=1, fingerprint=identity.fingerprint, suites=suites_of(identity)))
        append_audit(session, actor="hub", action="keys_created", subject="hub-key:1",
                     detail={"generation": 1, "fingerprint": identity.fingerprint, "suites": suites_of(identity)})
        session.flush()
    return load_keyring(session, data_dir)


def load_keyring(session: Session, data_dir: Path) -> Keyring:
    """The generations the database lists whose key files are still on disk."""
    rows = session.exec(select(HubKey).order_by(HubKey.generation)).all()
    if not rows:
        raise HubKeyError(f"{data_dir} has no hub keys; run 'pointkit-hub init'")
    current = rows[-1].generation
    held = {row.generation: Identity.load(keys_dir(data_dir), generation_prefix(row.generation))
            for row in rows if row.purged_at is None and _held(data_dir, row.generation)}
    if current not in held:
        raise HubKeyError(f"the current hub key (generation {current}) is missing from {keys_dir(data_dir)}")
    identity = held[current]
    if not has_identity(data_dir) or load_identity(data_dir).fingerprint != identity.fingerprint:
        publish_current(data_dir, identity)
    return Keyring(current, identity, held)


def keyring_state(session: Session) -> tuple[tuple[int, bool], ...]:
    """What changes when keys rotate or are purged (a serving app reloads its keyring then)."""
    rows = session.exec(select(HubKey.generation, HubKey.purged_at).order_by(HubKey.generation)).all()
    return tuple((generation, purged is not None) for generation, purged in rows)


def publish_current(data_dir: Path, identity: Identity) -> None:
    """Refresh the ``hub-*`` copy of the current generation."""
    directory = keys_dir(data_dir)
    if identity.mlkem_key is None:
        (directory / f"{KEY_PREFIX}-mlkem.seed").unlink(missing_ok=True)
    identity.save(directory, KEY_PREFIX)


def rotate_keys(session: Session, data_dir: Path, keyring: Keyring, *, post_quantum: bool | None = None,
                actor: str = "cli") -> Keyring:
    """Make generation N+1 and announce it to every active point, signed by generation N.

    The caller commits, then calls ``publish_current``. ``post_quantum`` None
    keeps the current setting.
    """
    generation = keyring.generation + 1
    pq = keyring.post_quantum if post_quantum is None else post_quantum
    new = Identity.generate(post_quantum=pq)
    new.save(keys_dir(data_dir), generation_prefix(generation))
    session.add(HubKey(generation=generation, fingerprint=new.fingerprint, suites=suites_of(new)))
    payload = hub_keys_payload(new, generation)
    points = session.exec(select(Point).where(Point.status == "active").order_by(Point.name)).all()
    for point in points:
        enqueue(session, point=point, kind=Kind.HUB_KEYS, payload=payload, signer=keyring.generation)
    append_audit(session, actor=actor, action="keys_rotated", subject=f"hub-key:{generation}",
                 detail={"generation": generation, "fingerprint": new.fingerprint, "suites": suites_of(new),
                         "previous_fingerprint": keyring.fingerprint, "announced_to": len(points)})
    session.flush()
    return Keyring(generation, new, {**keyring.held, generation: new})


def purge_generation(session: Session, data_dir: Path, generation: int, *, actor: str = "cli") -> HubKey:
    """Delete an old generation's private key files; envelopes sealed to it are refused from then on."""
    rows = session.exec(select(HubKey).order_by(HubKey.generation)).all()
    row = next((r for r in rows if r.generation == generation), None)
    if row is None:
        raise HubKeyError(f"there is no hub key generation {generation}; see 'pointkit-hub keys list'")
    if row.generation == rows[-1].generation:
        raise HubKeyError(f"generation {generation} is the current key; rotate first, then purge the old one")
    if row.purged_at is not None:
        raise HubKeyError(f"generation {generation} was already purged")
    row.purged_at = utc_now()
    session.add(row)
    append_audit(session, actor=actor, action="keys_purged", subject=f"hub-key:{generation}",
                 detail={"generation": generation, "fingerprint": row.fingerprint})
    session.flush()
    for suffix in _KEY_FILE_SUFFIXES:
        (keys_dir(data_dir) / f"{generation_prefix(generation)}-{suffix}").unlink(missing_ok=True)
    return row


def suite_names(suites: list[int]) -> str:
    return ", ".join(Suite(value).name for value in suites)


