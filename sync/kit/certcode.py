"""E-certificates (电子证照): the signed record and its QR code, verifiable offline by any point.

A certificate the hub's register holds travels as ``{document, signature}``: the canonical JSON of a
CertificateDocument signed by the hub's key as results are (sync/signing.py). Its QR text is
``PKC1.<document>.<signature>``: the document zlib-compressed, both base64url without padding (the shape of a
result's code, sync/kit/resultcode.py). A point decodes it and checks the signature against the hub keys it
trusts, the validity dates, and the revocations it last learned; nothing is asked online.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from datetime import date, datetime
from typing import Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sync.canonical import canonical_json
from sync.keys import b64, unb64

PREFIX = "PKC1"
CERTIFICATE_DOCUMENT_TYPE = "pointkit.certificate/v1"
MAX_CODE = 4000  # a QR code's worth of text; anything longer is not one of ours


class CertificateDocument(BaseModel):
    """One certificate as the hub signs it. ``generation``: the hub key generation that signs it."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["pointkit.certificate/v1"] = CERTIFICATE_DOCUMENT_TYPE
    number: str = Field(min_length=1, max_length=64)
    cert_type: str = Field(min_length=1, max_length=64)
    name_zh: str = Field(default="", max_length=128)
    name_en: str = Field(default="", max_length=128)
    holder_id: str = Field(min_length=1, max_length=18)
    holder_name: str = Field(default="", max_length=64)
    item_code: str = Field(max_length=64)
    case_id: str = Field(max_length=36)
    issued_at: datetime
    valid_until: date | None = None
    generation: int = Field(ge=1)


class CodeError(ValueError):
    """Text that is not a certificate code (``reason``: not_a_code, damaged)."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def certificate_code(signed: Mapping[str, Any]) -> str:
    """The QR text for a signed certificate ``{document, signature}``."""
    return ".".join([PREFIX, _encode(zlib.compress(canonical_json(signed["document"]), 9)),
                     _encode(unb64(signed["signature"]))])


def read_code(text: str) -> tuple[dict[str, Any], CertificateDocument]:
    """The signed record ``{document, signature}`` and its parsed document from QR text; CodeError if it is
    not a certificate code or is damaged. The signature is NOT checked here (the caller holds the keys)."""
    text = "".join(text.split())[:MAX_CODE + 1]
    parts = text.split(".")
    if len(text) > MAX_CODE or len(parts) != 3 or parts[0] != PREFIX:
        raise CodeError("not_a_code", "not a certificate code")
    try:
        raw = zlib.decompressobj().decompress(_decode(parts[1]), 16_384)
        document = json.loads(raw)
        signature = _decode(parts[2])
        parsed = CertificateDocument.model_validate(document)
    except (binascii.Error, ValueError, zlib.error, ValidationError, TypeError):
        raise CodeError("damaged", "the certificate code is damaged or altered") from None
    return {"document": document, "signature": b64(signature)}, parsed


# A SUBMIT parked on its 免提交 references: the push answer's reason, and its message's findings after the colon
# ("…: disability_card=revoked, bank_card=expired"), which the point reads back.
PARKED_REASON = "certificate_parked"
FINDINGS = ("unknown", "not_holder", "wrong_type", "revoked", "expired")
_FINDING = re.compile(r"([A-Za-z0-9_\-]+)=(" + "|".join(FINDINGS) + ")")


def parked_message(findings: Mapping[str, str]) -> str:
    """The push answer's message for a case parked on ``findings`` (material code -> finding)."""
    return "received; parked for the department on certificates: " + ", ".join(
        f"{material}={finding}" for material, finding in findings.items())


def read_findings(message: str) -> dict[str, str]:
    """``parked_message`` read back: material code -> finding."""
    return dict(_FINDING.findall(message.partition(":")[2]))


def state_on(document: CertificateDocument, today: date, revoked: bool) -> str:
    """valid, expired or revoked on ``today`` (revocation wins)."""
    if revoked:
        return "revoked"
    if document.valid_until is not None and document.valid_until < today:
        return "expired"
    return "valid"
