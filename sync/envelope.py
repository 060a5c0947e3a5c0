"""Envelopes: sealed to the recipient with HPKE, signed by the sender with Ed25519.

Layout of one envelope (all integers big-endian)::

    header   64 bytes   (see HEADER below; bound into the HPKE info and signature)
    ct_len    4 bytes   length of the HPKE ciphertext
    ct       ct_len     HPKE base mode: enc || AEAD(ciphertext)
    sig      64 bytes   Ed25519(sender, b"pointkit/v1 sig" || header || SHA-256(ct))

The plaintext is canonical JSON, zlib-compressed before sealing. A receiver
checks the signature before it decrypts anything, so junk costs it one
signature check, and reads the payload within limits (its kind's
MAX_PLAINTEXT_BY_KIND decompressed, sync/jsonlimits.py), so a hostile sender
cannot make it inflate a zlib bomb or recurse through a payload nested
200,000 deep.
"""

from __future__ import annotations

import hashlib
import struct
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum, unique
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from sync.canonical import canonical_json
from sync.clock import now_ms, uuid7
from sync.jsonlimits import JSONRefused, load_json
from sync.keys import Identity, OpeningKey, RecipientKey, Suite, key_id, raw_public

MAGIC = b"PKE"
# The protocol both the envelope header and signed requests name. A hub accepts every version since the previous
# release's (1), so points in the field can upgrade months after their hub. Version 2 added the request header
# X-Pointkit-Protocol (bound into the request signature) and the kinds in PROTOCOL_2_KINDS. Version 3 added
# fields to hub messages and catalog items (sync/messages.py PROTOCOL_3_FIELDS, sync/catalog.py): the hub
# leaves them out for a point that speaks an older version, whose strict models would refuse them. Protocol 2
# never shipped in a release, but points built from it may run in pilot counties, so the hub speaks it too.
# Version 4 added limit units, lead departments, renewals, township departments and project templates to the
# catalog (sync/catalog.py PROTOCOL_4_*), and the special-procedure pause to hub messages. Version 5 added the
# residents' side: pre-check reviewers and certificate types to the catalog (sync/catalog.py PROTOCOL_5_*) and the
# kinds in PROTOCOL_5_KINDS.
PROTOCOL_VERSION = 5
SUPPORTED_PROTOCOLS = (1, 2, 3, 4, 5)
HEADER = struct.Struct(">3sBBBBx16s16sQ8sq")
assert HEADER.size == 64
SIGNATURE_BYTES = 64
MAX_CIPHERTEXT = 16 * 1024 * 1024
# A payload decompressed, of any kind: the most a hub message may hold (its kind's own cap may be lower,
# MAX_PLAINTEXT_BY_KIND). The largest any side sends in practice (a case with 64 scans' keys) is some 30 KB.
MAX_PLAINTEXT = 1024 * 1024
# Sequence numbers are u64 on the wire, but the hub keeps them in 32-bit signed columns (PostgreSQL INTEGER):
# an envelope numbered beyond that cannot be stored, and is refused as it is parsed. A point numbering 100
# envelopes a day would reach it in 58,000 years.
MAX_SEQ = 2**31 - 1
FLAG_ZLIB = 0x01
HUB_SENDER_ID = uuid.UUID(int=0)

_INFO_PREFIX = b"pointkit/v1 envelope"
_SIG_PREFIX = b"pointkit/v1 sig"


@unique
class Kind(IntEnum):
    """What an envelope carries. Points send intents; the hub sends what it decided."""

    SUBMIT = 1
    AMEND = 2
    SUPPLEMENT = 3
    WITHDRAW = 4
    COLLECTED = 5
    RATE = 6
    POINT_KEYS = 7
    COPY_REQUEST = 8
    # Issue 20 (accountability): a referral slip a clerk gave (转办), a complaint taken at the point (投诉), and
    # the supervision office's answer to it. A point that never sends a complaint never gets an answer.
    REFERRAL = 9
    COMPLAINT = 10
    # Issue 22 (the residents' side, protocol 5): a clerk's answer to a pre-check (网上预审), the point's booking
    # ledger (预约: its own bookings and its verdicts on the hub's requests), and the hub's sides of both plus the
    # certificate revocations (电子证照) every point learns on its next pull.
    PRECHECK_ANSWER = 11
    BOOKING = 12
    RESULT = 64
    STATUS = 65
    HUB_KEYS = 66
    RECONCILED = 67
    SUPPLEMENT_REQUEST = 68
    CASE_COPY = 69
    COMPLAINT_ANSWER = 70
    PRECHECK = 71
    BOOKING_REQUEST = 72
    CERTIFICATE_REVOKED = 73


KIB = 1024
# The most a point's payload of each kind may decompress to (issue 27: an enrolled point's compressible 1 MiB
# push made the hub unpack and store 2.6 GiB). Each is the largest payload its schema in sync/messages.py admits,
# every character at its longest in canonical JSON (a control character escaped as \u00XX, 6 bytes), rounded
# up: a payload within its schema always fits (tests/sync/test_payload_caps.py holds them to that). A bigger one
# is refused alone as ``too_large`` while it decompresses. Hub messages, signed by the hub a point trusts, and
# POINT_KEYS (a few keys) not listed here have the general MAX_PLAINTEXT.
MAX_PLAINTEXT_BY_KIND: dict[Kind, int] = {
    Kind.SUBMIT: 256 * KIB,  # form 50 x 200 characters, 50 materials and certificates, 64 scans' keys
    Kind.AMEND: 80 * KIB,  # form 50 x 200 characters
    Kind.SUPPLEMENT: 128 * KIB,  # 50 materials, a 2,000-character note, 64 scans' keys
    Kind.WITHDRAW: 4 * KIB,
    Kind.COLLECTED: 4 * KIB,
    Kind.RATE: 4 * KIB,
    Kind.POINT_KEYS: 4 * KIB,
    Kind.COPY_REQUEST: 4 * KIB,
    Kind.REFERRAL: 12 * KIB,
    Kind.COMPLAINT: 32 * KIB,  # a 4,000-character text
    Kind.PRECHECK_ANSWER: 176 * KIB,  # 51 notes x 500 characters
    Kind.BOOKING: 48 * KIB,  # 2,000 slots' counts
}


def max_plaintext(kind: Kind) -> int:
    """The most a payload of ``kind`` may decompress to."""
    return MAX_PLAINTEXT_BY_KIND.get(kind, MAX_PLAINTEXT)


# Kinds a protocol-1 point does not know: the hub holds them for such a point until it upgrades. COPY_REQUEST and
# CASE_COPY came later within protocol 2: the hub sends a CASE_COPY only in answer to a point's COPY_REQUEST, so a
# point from before them, which never asks, never gets one.
PROTOCOL_2_KINDS = frozenset({Kind.AMEND, Kind.SUPPLEMENT, Kind.WITHDRAW, Kind.RATE, Kind.RECONCILED,
                              Kind.SUPPLEMENT_REQUEST, Kind.COPY_REQUEST, Kind.CASE_COPY})


# Kinds a point older than protocol 5 does not know: the hub holds them for such a point until it upgrades.
PROTOCOL_5_KINDS = frozenset({Kind.PRECHECK_ANSWER, Kind.BOOKING, Kind.PRECHECK, Kind.BOOKING_REQUEST,
                              Kind.CERTIFICATE_REVOKED})


def unsupported_protocol(version: int) -> str:
    """Why ``version`` is refused, and which side to upgrade."""
    low, high = SUPPORTED_PROTOCOLS[0], SUPPORTED_PROTOCOLS[-1]
    side = "upgrade this side (pointkit or pointkit-hub)" if version > high else "upgrade the sender"
    return f"protocol version {version} is not spoken here (versions {low}-{high}): {side}"


_SUITES = {
    Suite.X25519_CHACHA: hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305),
    Suite.MLKEM768_X25519_CHACHA: hpke.Suite(
        hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305),
}


class EnvelopeError(ValueError):
    """An envelope that cannot be accepted; ``reason`` is a stable machine word."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Header:
    """The clear-text part of an envelope: enough to route, dedupe and verify it."""

    kind: Kind
    envelope_id: uuid.UUID
    sender_id: uuid.UUID
    seq: int
    recipient_key_id: bytes
    sender_clock_ms: int
    suite: Suite = Suite.X25519_CHACHA
    flags: int = FLAG_ZLIB
    version: int = PROTOCOL_VERSION

    def pack(self) -> bytes:
        return HEADER.pack(
            MAGIC,
            self.version,
            int(self.kind),
            int(self.suite),
            self.flags,
            self.envelope_id.bytes,
            self.sender_id.bytes,
            self.seq,
            self.recipient_key_id,
            self.sender_clock_ms,
        )

    @classmethod
    def unpack(cls, data: bytes) -> "Header":
        if len(data) < HEADER.size:
            raise EnvelopeError("truncated", "envelope is shorter than its header")
        magic, version, kind, suite, flags, env_id, sender, seq, rkid, clock = HEADER.unpack_from(data)
        if magic != MAGIC:
            raise EnvelopeError("malformed", "not a pointkit envelope (bad magic)")
        if version not in SUPPORTED_PROTOCOLS:
            raise EnvelopeError("version", unsupported_protocol(version))
        try:
            kind_value, suite_value = Kind(kind), Suite(suite)
        except ValueError as exc:
            raise EnvelopeError("malformed", f"unknown kind or suite: {exc}") from None
        if flags & ~FLAG_ZLIB:
            raise EnvelopeError("malformed", f"unknown flags {flags:#x}")
        if seq > MAX_SEQ:
            raise EnvelopeError("out_of_range", f"sequence number {seq} is beyond {MAX_SEQ}, the highest a hub "
                                "stores; this envelope cannot be accepted (the sender's numbering is broken)")
        return cls(
            kind=kind_value,
            envelope_id=uuid.UUID(bytes=env_id),
            sender_id=uuid.UUID(bytes=sender),
            seq=seq,
            recipient_key_id=rkid,
            sender_clock_ms=clock,
            suite=suite_value,
            flags=flags,
            version=version,
        )


def peek_envelope_id(data: bytes) -> str:
    """The envelope id in ``data``'s header, read even when the rest of it is refused, so a refusal names the
    envelope its sender must set aside. "" when there is none, and for a protocol version this side does not
    speak: the sender keeps that envelope for a receiver that does."""
    if len(data) < HEADER.size or data[:3] != MAGIC or data[3] not in SUPPORTED_PROTOCOLS:
        return ""
    return str(uuid.UUID(bytes=data[8:24]))


@dataclass(frozen=True)
class Envelope:
    """A parsed, not yet verified envelope."""

    header: Header
    header_bytes: bytes
    ciphertext: bytes
    signature: bytes

    def to_bytes(self) -> bytes:
        return self.header_bytes + struct.pack(">I", len(self.ciphertext)) + self.ciphertext + self.signature

    @classmethod
    def parse(cls, data: bytes) -> "Envelope":
        header = Header.unpack(data)
        offset = HEADER.size
        if len(data) < offset + 4:
            raise EnvelopeError("truncated", "envelope ends before its ciphertext length")
        (ct_len,) = struct.unpack_from(">I", data, offset)
        offset += 4
        if ct_len > MAX_CIPHERTEXT:
            raise EnvelopeError("too_large", f"ciphertext of {ct_len} bytes exceeds {MAX_CIPHERTEXT}")
        expected = offset + ct_len + SIGNATURE_BYTES
        if len(data) != expected:
            raise EnvelopeError("truncated" if len(data) < expected else "malformed",
                                f"envelope is {len(data)} bytes, its header says {expected}")
        ciphertext = data[offset : offset + ct_len]
        signature = data[offset + ct_len :]
        return cls(header, data[: HEADER.size], ciphertext, signature)

    def signed_bytes(self) -> bytes:
        return _SIG_PREFIX + self.header_bytes + hashlib.sha256(self.ciphertext).digest()

    def verify(self, sender_key: Ed25519PublicKey) -> None:
        """Raise EnvelopeError unless the sender's key signed this envelope."""
        try:
            sender_key.verify(self.signature, self.signed_bytes())
        except InvalidSignature:
            raise EnvelopeError("bad_signature", "envelope signature does not verify") from None

    def open(self, keys: X25519PrivateKey | Identity | Mapping[bytes, OpeningKey]) -> dict[str, Any]:
        """Decrypt and decode the payload with whichever held key it is sealed to. Call verify() first.

        ``keys`` is one X25519 key, an Identity, or key id -> private key
        (a side that rotated keeps its older keys here).
        """
        return self.open_measured(keys)[0]

    def open_measured(self, keys: X25519PrivateKey | Identity | Mapping[bytes, OpeningKey],
                      ) -> tuple[dict[str, Any], int]:
        """``open``, and the bytes the payload decompressed to: what the hub unpacks and stores of it, counted
        against the sending point's daily ingest budget."""
        if isinstance(keys, X25519PrivateKey):
            keys = {key_id(raw_public(keys.public_key())): keys}
        elif isinstance(keys, Identity):
            keys = keys.opening_keys()
        recipient_key = keys.get(self.header.recipient_key_id)
        if recipient_key is None:
            raise EnvelopeError("unknown_key", "envelope is sealed to a key this side does not hold")
        try:
            plain = _SUITES[self.header.suite].decrypt(
                self.ciphertext, recipient_key, info=_INFO_PREFIX + self.header_bytes
            )
        except Exception:
            raise EnvelopeError("decrypt_failed", "envelope does not decrypt") from None
        limit = max_plaintext(self.header.kind)
        if self.header.flags & FLAG_ZLIB:
            decomp = zlib.decompressobj()
            try:
                plain = decomp.decompress(plain, limit)
            except zlib.error:
                raise EnvelopeError("malformed", "payload does not decompress") from None
            if decomp.unconsumed_tail:
                raise EnvelopeError("too_large", f"a {self.header.kind.name} payload may decompress to {limit} "
                                                 f"bytes at most; this one is larger")
            if not decomp.eof:
                raise EnvelopeError("malformed", "payload ends before its compressed stream does")
        try:
            payload = load_json(plain, max_bytes=limit)
        except JSONRefused as exc:
            raise EnvelopeError(exc.reason, f"payload refused: {exc}") from None
        if not isinstance(payload, dict):
            raise EnvelopeError("malformed", "payload is not a JSON object")
        return payload, len(plain)


def seal_envelope(
    *,
    kind: Kind,
    payload: dict[str, Any],
    sender_id: uuid.UUID,
    seq: int,
    sender_key: Ed25519PrivateKey,
    recipient_key: X25519PublicKey | RecipientKey,
    envelope_id: uuid.UUID | None = None,
    sender_clock_ms: int | None = None,
    version: int = PROTOCOL_VERSION,
) -> Envelope:
    """Compress, seal to ``recipient_key`` (its suite is named in the header) and sign with ``sender_key``."""
    if isinstance(recipient_key, X25519PublicKey):
        recipient_key = RecipientKey.x25519(recipient_key)
    header = Header(
        kind=kind,
        envelope_id=envelope_id or uuid7(),
        sender_id=sender_id,
        seq=seq,
        recipient_key_id=recipient_key.key_id,
        sender_clock_ms=now_ms() if sender_clock_ms is None else sender_clock_ms,
        suite=recipient_key.suite,
        version=version,
    )
    header_bytes = header.pack()
    plain = zlib.compress(canonical_json(payload), 9)
    ciphertext = _SUITES[header.suite].encrypt(plain, recipient_key.hpke_public(), info=_INFO_PREFIX + header_bytes)
    unsigned = Envelope(header, header_bytes, ciphertext, b"")
    signature = sender_key.sign(unsigned.signed_bytes())
    return Envelope(header, header_bytes, ciphertext, signature)
