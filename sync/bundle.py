"""USB bundles (sneakernet): envelopes carried on a file, with a manifest signed by the side that wrote it.

Layout of a bundle file (integers big-endian)::

    magic          b"PKB1"
    manifest_len   u32
    manifest       canonical JSON of {"document": manifest, "signature": base64}
    items          a frames body (sync/framing.py): the envelopes, then the sealed scans, in manifest order

The manifest names the writer (``sender_id``), the reader (``recipient``),
the SHA-256 and size of every item (a scan's entry also names its
``scan_id``) and of the whole items section, and whatever the writer wants
the reader to learn (``acks``, ``cursor``, ``scan_acks``; from the hub,
``numbers``: the highest envelope sequence number and receipt number it
holds from the point, as its pull answers name them; ``audit_head``: its
audit chain's signed head, as its push answers carry it; ``county_data``: the
catalog (a signed delta or whole version) and the signed calendar years the
point lacks, each signed by the hub on its own as online; from a point,
``holds``: its catalog version and calendar years, so the hub's next bundle
carries what it lacks). A scan travels as
the point stores it, sealed under the key inside its case, so a bundle holds
nothing readable. Its
signature is Ed25519 by the writer (sync/signing.py documents). A reader
checks the signature and every hash before it hands out a single envelope,
so one changed byte anywhere refuses the bundle whole. Each envelope stays
sealed and signed on its own, so the reader still verifies every one as if
it had been pushed or pulled.
"""

from __future__ import annotations

import hashlib
import os
import struct
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sync.canonical import canonical_json
from sync.clock import utcnow
from sync.envelope import MAX_SEQ, EnvelopeError
from sync.framing import MAX_BODY, decode_frames, encode_frames
from sync.jsonlimits import load_json
from sync.messages import MAX_STORED_INT, receipt_number
from sync.signing import SignatureError, sign_document, verify_document

BUNDLE_MAGIC = b"PKB1"
BUNDLE_TYPE = "pointkit.bundle/v1"
MAX_MANIFEST = 4 * 1024 * 1024
# Scans make bundles far larger than a push body; a USB stick carries a few hundred megabytes easily.
MAX_ITEMS = max(MAX_BODY, 256 * 1024 * 1024)
MAX_BUNDLE = MAX_ITEMS + MAX_MANIFEST + 8

# Who may have signed a bundle: one key, several (a hub's key generations), or a function of the manifest
# (the hub looks the sender up by its id).
Verifiers = Ed25519PublicKey | Sequence[Ed25519PublicKey] | Callable[[dict[str, Any]], Sequence[Ed25519PublicKey]]


class BundleError(ValueError):
    """A bundle refused whole; ``reason`` is a stable word, the message says what to do."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Bundle:
    """A verified bundle: its manifest, its envelopes in order, and its sealed scans by scan id."""

    manifest: dict[str, Any]
    envelopes: list[bytes] = field(default_factory=list)
    scans: dict[str, bytes] = field(default_factory=dict)

    @property
    def sender_id(self) -> str:
        return str(self.manifest["sender_id"])

    @property
    def recipient(self) -> str:
        return str(self.manifest["recipient"])

    @property
    def acks(self) -> list[dict[str, Any]]:
        """The writer's answers for envelopes ({envelope_id, status, reason}), as far as they are readable."""
        return [ack for ack in _listed(self.manifest.get("acks")) if isinstance(ack.get("envelope_id"), str)]

    @property
    def cursor(self) -> int | None:
        return _sequence_number(self.manifest.get("cursor"))

    @property
    def scan_acks(self) -> list[dict[str, Any]]:
        """How much of each scan the writer holds ({scan_id, offset, status}), as far as they are readable."""
        return [ack for ack in _listed(self.manifest.get("scan_acks")) if isinstance(ack.get("scan_id"), str)
                and isinstance(ack.get("offset"), int) and 0 <= ack["offset"] <= MAX_STORED_INT]

    @property
    def last_seq(self) -> int:
        """The highest envelope sequence number the hub holds from the reader (0: not named)."""
        return _sequence_number(self._numbers().get("last_seq")) or 0

    @property
    def last_receipt(self) -> str:
        """The newest receipt number the hub holds from the reader ("": not named)."""
        return receipt_number(self._numbers().get("last_receipt"))

    @property
    def county_data(self) -> dict[str, Any]:
        """From the hub: ``{"catalog": signed answer, "calendar": [signed years]}``, what the reader lacks."""
        value = self.manifest.get("county_data")
        return value if isinstance(value, dict) else {}

    @property
    def holds(self) -> dict[str, Any]:
        """From a point: ``{"catalog": version, "calendar": "2027.1,..."}``, the county data it holds."""
        value = self.manifest.get("holds")
        return value if isinstance(value, dict) else {}

    @property
    def audit_head(self) -> dict[str, Any] | None:
        """The hub's signed audit head (sync/auditheads.py), unverified; None when not named."""
        value = self.manifest.get("audit_head")
        return value if isinstance(value, dict) else None

    def _numbers(self) -> dict[str, Any]:
        numbers = self.manifest.get("numbers")
        return numbers if isinstance(numbers, dict) else {}


def _listed(value: Any) -> list[dict[str, Any]]:
    """The objects in a manifest list (anything else in it, or in its place, is not the writer's word)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _sequence_number(value: Any) -> int | None:
    """``value`` if it is a number an envelope or a message can carry (0 to MAX_SEQ), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_SEQ else None


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_bundle(
    path: str | Path, envelopes: Iterable[bytes], *, signer: Ed25519PrivateKey, sender_id: uuid.UUID | str,
    recipient: str, acks: list[dict[str, Any]] | None = None, cursor: int | None = None,
    scans: Iterable[tuple[str, bytes]] = (), scan_acks: list[dict[str, Any]] | None = None,
    numbers: dict[str, Any] | None = None, county_data: dict[str, Any] | None = None,
    holds: dict[str, Any] | None = None, audit_head: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write a signed bundle to ``path`` (atomically: a pulled USB stick never holds half a bundle).

    ``scans`` are (scan_id, sealed bytes) pairs. Returns the manifest written.
    """
    items = [bytes(item) for item in envelopes]
    entries: list[dict[str, Any]] = [{"sha256": _digest(item), "size": len(item)} for item in items]
    for scan_id, sealed in scans:
        items.append(bytes(sealed))
        entries.append({"sha256": _digest(sealed), "size": len(sealed), "scan_id": str(uuid.UUID(scan_id))})
    body = encode_frames(items)
    manifest: dict[str, Any] = {
        "type": BUNDLE_TYPE,
        "sender_id": str(sender_id),
        "recipient": str(recipient),
        "created_at": utcnow().isoformat(),
        "items": entries,
        "items_sha256": _digest(body),
        "acks": list(acks or []),
    }
    if cursor is not None:
        manifest["cursor"] = int(cursor)
    if scan_acks:
        manifest["scan_acks"] = list(scan_acks)
    if numbers:
        manifest["numbers"] = dict(numbers)
    if county_data:
        manifest["county_data"] = dict(county_data)
    if holds:
        manifest["holds"] = dict(holds)
    if audit_head:
        manifest["audit_head"] = dict(audit_head)
    signed = canonical_json(sign_document(manifest, signer))
    path = Path(path)
    temporary = path.with_name(path.name + ".part")
    with open(temporary, "wb") as handle:
        handle.write(BUNDLE_MAGIC + struct.pack(">I", len(signed)) + signed + body)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    return manifest


def _keys_for(verify_with: Verifiers, manifest: dict[str, Any]) -> list[Ed25519PublicKey]:
    if isinstance(verify_with, Ed25519PublicKey):
        return [verify_with]
    if callable(verify_with):
        return list(verify_with(manifest))
    return list(verify_with)


def read_bundle(path: str | Path, verify_with: Verifiers) -> Bundle:
    """Read and verify a bundle; raise BundleError (refusing it whole) on any damage or a foreign signer."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BUNDLE:
            raise BundleError("too_large", f"{path} is {size} bytes, more than a bundle may hold ({MAX_BUNDLE})")
        data = path.read_bytes()
    except OSError as exc:
        raise BundleError("unreadable", f"cannot read the bundle {path}: {exc.strerror or exc}") from None
    refused = f"the bundle {path.name} is damaged or was altered; nothing was applied (export it again)"
    if len(data) < 8 or data[:4] != BUNDLE_MAGIC:
        raise BundleError("malformed", f"{path.name} is not a pointkit bundle (bad magic); nothing was applied")
    (manifest_len,) = struct.unpack_from(">I", data, 4)
    if manifest_len > MAX_MANIFEST or 8 + manifest_len > len(data):
        raise BundleError("malformed", refused)
    try:
        signed = load_json(data[8 : 8 + manifest_len])
        manifest = signed["document"]
        if not isinstance(manifest, dict) or manifest.get("type") != BUNDLE_TYPE:
            raise ValueError("not a bundle manifest")
        uuid.UUID(str(manifest["sender_id"]))
        listed = [(str(item["sha256"]), int(item["size"])) for item in manifest["items"]]
        scan_ids = [str(uuid.UUID(str(item["scan_id"]))) if "scan_id" in item else None
                    for item in manifest["items"]]
        str(manifest["recipient"])
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise BundleError("malformed", refused) from None
    keys = _keys_for(verify_with, manifest)
    for key in keys:
        try:
            verify_document(signed, key)
            break
        except SignatureError:
            continue
    else:
        raise BundleError("bad_signature", f"the bundle {path.name} is not signed by "
                          f"{'its sender' if keys else 'a sender this side knows'}, or was altered after "
                          "signing; nothing was applied")
    body = data[8 + manifest_len :]
    if _digest(body) != manifest.get("items_sha256"):
        raise BundleError("tampered", refused)
    try:
        items = decode_frames(body, max_body=MAX_ITEMS)
    except EnvelopeError:
        raise BundleError("tampered", refused) from None
    if len(items) != len(listed) or any(
            (_digest(item), len(item)) != expected for item, expected in zip(items, listed)):
        raise BundleError("tampered", refused)
    return Bundle(manifest, [item for item, scan_id in zip(items, scan_ids) if scan_id is None],
                  {scan_id: item for item, scan_id in zip(items, scan_ids) if scan_id is not None})
