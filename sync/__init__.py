"""sync: the contract hub and points share.

Envelope sealing and signing, wire framing, payload schemas, signed
documents and requests, the hub client and the HTTP paths and headers it
speaks, clocks and ids. It imports neither ``pointkit`` nor ``hub``.

``sync.kit`` holds the shared kit both apps use that is not the protocol
(working days and holidays, ID numbers, passwords, backups, Flask helpers).
"""

from sync.canonical import canonical_json
from sync.client import HubClient, HubRefused, HubUnreachable, PullResult, PushResult
from sync.clock import from_ms, now_ms, utcnow, uuid7
from sync.envelope import Envelope, EnvelopeError, Header, Kind, seal_envelope
from sync.framing import CONTENT_TYPE, decode_frames, encode_frames
from sync.keys import Identity, PublicKeys, RecipientKey, Suite, b64, fingerprint, key_id, unb64
from sync.messages import CaseCollected, ResultDocument, StatusUpdate, SubmitCase
from sync.signing import SignatureError, sign_document, sign_request, verify_document, verify_request

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
    "verify_request",
]
