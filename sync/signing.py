"""Signatures outside envelopes: signed documents and signed HTTP requests.

A signed document (a result certificate, the catalog) is canonical JSON plus
an Ed25519 signature, so a point verifies it offline with the hub's pinned key.

A signed request proves which point asks, for requests whose body is not
itself signed (pull, catalog). The signature covers method, path, query,
SHA-256 of the body, the point's clock and a nonce; the hub refuses a nonce
it has seen and a clock outside its window.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sync.canonical import canonical_json
from sync.clock import now_ms
from sync.envelope import PROTOCOL_VERSION, SUPPORTED_PROTOCOLS, unsupported_protocol
from sync.keys import b64, unb64

DOCUMENT_PREFIX = b"pointkit/v1 document\x00"
REQUEST_PREFIX = "pointkit/v1 request"
HEADER_POINT = "X-Pointkit-Point"
HEADER_TIME = "X-Pointkit-Time"
HEADER_NONCE = "X-Pointkit-Nonce"
HEADER_SIGNATURE = "X-Pointkit-Signature"
# Absent on requests from protocol-1 points; from protocol 2 on it is part of what the signature covers.
HEADER_PROTOCOL = "X-Pointkit-Protocol"
REQUEST_WINDOW_MS = 15 * 60 * 1000


class SignatureError(ValueError):
    """A document or request whose signature does not hold; ``reason`` is stable."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def sign_document(document: Mapping[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """Return ``{"document": ..., "signature": base64}``."""
    return {"document": dict(document), "signature": b64(key.sign(DOCUMENT_PREFIX + canonical_json(document)))}


def verify_document(signed: Mapping[str, Any], key: Ed25519PublicKey) -> dict[str, Any]:
    """Return the document inside ``signed`` if ``key`` signed it, else raise SignatureError."""
    try:
        document, signature = signed["document"], unb64(signed["signature"])
        key.verify(signature, DOCUMENT_PREFIX + canonical_json(document))
    except (KeyError, TypeError, ValueError, InvalidSignature):
        raise SignatureError("bad_signature", "document signature does not verify") from None
    return dict(document)


def _request_bytes(method: str, path: str, query: str, body: bytes, point: str, time_ms: str, nonce: str,
                   protocol: int) -> bytes:
    lines = [REQUEST_PREFIX, method.upper(), path, query, hashlib.sha256(body).hexdigest(), point, time_ms, nonce]
    if protocol >= 2:
        lines.append(f"protocol {protocol}")
    return "\n".join(lines).encode("utf-8")


def sign_request(
    *, method: str, path: str, query: str, body: bytes, point_id: str, key: Ed25519PrivateKey,
    clock_ms: int | None = None, protocol: int = PROTOCOL_VERSION,
) -> dict[str, str]:
    """Headers that authenticate one request from ``point_id``."""
    time_ms = str(now_ms() if clock_ms is None else clock_ms)
    nonce = os.urandom(16).hex()
    signature = key.sign(_request_bytes(method, path, query, body, point_id, time_ms, nonce, protocol))
    headers = {HEADER_POINT: point_id, HEADER_TIME: time_ms, HEADER_NONCE: nonce, HEADER_SIGNATURE: b64(signature)}
    if protocol >= 2:
        headers[HEADER_PROTOCOL] = str(protocol)
    return headers


@dataclass(frozen=True)
class SignedRequest:
    """What the hub learns from a verified request's headers."""

    point_id: str
    time_ms: int
    nonce: str
    protocol: int = 1


def read_request_headers(headers: Mapping[str, str]) -> tuple[str, str, str, str]:
    try:
        return headers[HEADER_POINT], headers[HEADER_TIME], headers[HEADER_NONCE], headers[HEADER_SIGNATURE]
    except KeyError as missing:
        raise SignatureError("unsigned", f"request is not signed (missing header {missing})") from None


def request_protocol(headers: Mapping[str, str]) -> int:
    """The protocol a request speaks (1 when it does not say); an unsupported one is refused."""
    raw = headers.get(HEADER_PROTOCOL, "1")
    if not raw.isdigit() or int(raw) not in SUPPORTED_PROTOCOLS:
        raise SignatureError("unsupported_protocol", unsupported_protocol(int(raw) if raw.isdigit() else 0))
    return int(raw)


def verify_request_any(*, keys: Iterable[Ed25519PublicKey], **request: Any) -> SignedRequest:
    """verify_request against each of a point's keys (old ones too: a request signed just before a
    rotation may arrive just after). Only a bad signature tries the next key; a stale or malformed
    request is refused at once."""
    refusal = SignatureError("bad_signature", "request signature does not verify")
    for key in keys:
        try:
            return verify_request(key=key, **request)
        except SignatureError as exc:
            refusal = exc
            if exc.reason != "bad_signature":
                break
    raise refusal


def verify_request(
    *, method: str, path: str, query: str, body: bytes, headers: Mapping[str, str],
    key: Ed25519PublicKey, now: int | None = None, window_ms: int = REQUEST_WINDOW_MS,
) -> SignedRequest:
    """Check a signed request's signature and freshness; nonce reuse is the caller's to check."""
    point, time_ms, nonce, signature = read_request_headers(headers)
    protocol = request_protocol(headers)
    try:
        key.verify(unb64(signature), _request_bytes(method, path, query, body, point, time_ms, nonce, protocol))
        stamped = int(time_ms)
    except (ValueError, InvalidSignature):
        raise SignatureError("bad_signature", "request signature does not verify") from None
    if len(nonce) != 32:
        raise SignatureError("bad_nonce", "request nonce must be 32 hex characters")
    now = now_ms() if now is None else now
    if abs(now - stamped) > window_ms:
        raise SignatureError("stale", "request time is outside the hub's window; sync the clock offset")
    return SignedRequest(point, stamped, nonce, protocol)
