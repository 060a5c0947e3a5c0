"""The QR code on a printed result: the whole signed document, verifiable offline.

``PKR1.<document>.<signature>``: the canonical JSON of the ResultDocument,
zlib-compressed, and the hub's Ed25519 signature, both base64url without
padding. Anyone holding the hub's public key (every point pins it) checks a
paper result by scanning it: no network, no lookup. A few hundred bytes, so
the code stays small enough to print beside the result.
"""

from __future__ import annotations

import base64
import zlib
from typing import Any, Mapping

from sync.canonical import canonical_json
from sync.keys import unb64

PREFIX = "PKR1"


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def result_code(signed: Mapping[str, Any]) -> str:
    """The QR text for a signed result ``{document, signature}``."""
    return ".".join([PREFIX, _encode(zlib.compress(canonical_json(signed["document"]), 9)),
                     _encode(unb64(signed["signature"]))])
