"""The QR code on a printed result: the whole signed document, verifiable offline.

``PKR1.<document>.<signature>``: the canonical JSON of the ResultDocument,
zlib-compressed, and the hub's Ed25519 signature, both base64url without
padding. Anyone holding the hub's public key (every point pins it) checks a
paper result by scanning it: no network, no lookup. A few hundred bytes, so
the code stays small enough to print beside the result.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from typing import Any, Mapping

from sync.canonical import canonical_json
from sync.keys import b64, unb64

PREFIX = "PKR1"
MAX_DOCUMENT_BYTES = 16 * 1024


class ResultCodeError(ValueError):
    """Text that is not a result QR code."""


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def result_code(signed: Mapping[str, Any]) -> str:
    """The QR text for a signed result ``{document, signature}``."""
    return ".".join([PREFIX, _encode(zlib.compress(canonical_json(signed["document"]), 9)),
                     _encode(unb64(signed["signature"]))])


def read_result_code(text: str) -> dict[str, Any]:
    """``{document, signature}`` from QR text, ready for verify_document; raise ResultCodeError if malformed."""
    parts = (text or "").strip().split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise ResultCodeError(f"not a result code (it starts with {PREFIX}. and has three parts)")
    try:
        decompressor = zlib.decompressobj()
        raw = decompressor.decompress(_decode(parts[1]), MAX_DOCUMENT_BYTES)
        if decompressor.unconsumed_tail:
            raise ResultCodeError("the document in this code is too large")
        document = json.loads(raw)
        signature = _decode(parts[2])
    except (binascii.Error, zlib.error, ValueError, UnicodeDecodeError):
        raise ResultCodeError("the result code is damaged; scan it again") from None
    if not isinstance(document, dict):
        raise ResultCodeError("the result code does not hold a document")
    return {"document": document, "signature": b64(signature)}
