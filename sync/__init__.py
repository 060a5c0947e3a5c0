"""sync: the contract hub and points share.

Envelope sealing and signing, wire framing, payload schemas, signed
documents and requests, the hub client, clocks and ids. It imports neither
``pointkit`` nor ``hub``.
"""

from .canonical import canonical_json
from .client import HubClient, HubRefused, HubUnreachable, PullResult, PushResult
from .clock import from_ms, now_ms, utcnow, uuid7
from .envelope import Envelope, EnvelopeError, Header, Kind, seal_envelope
from .framing import CONTENT_TYPE, decode_frames, encode_frames
from .keys import Identity, PublicKeys, RecipientKey, Suite, b64, fingerprint, key_id, unb64
from .messages import CaseCollected, ResultDocument, StatusUpdate, SubmitCase
from .passwords import hash_password, hash_secret, password_needs_rehash, verify_nobody, verify_password
from .signing import SignatureError, sign_document, sign_request, verify_document, verify_request

__all__ = [
    "CONTENT_TYPE",
    "CaseCollected",
    "Envelope",
    "EnvelopeError",
    "Header",
    "HubClient",
    "HubRefused",
    "HubUnreachable",
    "Identity",
    "Kind",
    "PublicKeys",
    "PullResult",
    "PushResult",
    "RecipientKey",
    "ResultDocument",
    "SignatureError",
    "StatusUpdate",
    "SubmitCase",
    "Suite",
    "b64",
    "canonical_json",
    "decode_frames",
    "encode_frames",
    "fingerprint",
    "from_ms",
    "hash_password",
    "hash_secret",
    "key_id",
    "now_ms",
    "password_needs_rehash",
    "seal_envelope",
    "sign_document",
    "sign_request",
    "unb64",
    "utcnow",
    "uuid7",
    "verify_document",
    "verify_nobody",
    "verify_password",
    "verify_request",
]
