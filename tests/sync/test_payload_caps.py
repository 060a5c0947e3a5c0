"""Issue 27: each kind a point sends has a decompressed-size cap, and every payload its schema admits fits it.

The caps (sync/envelope.py MAX_PLAINTEXT_BY_KIND) bound what the hub unpacks before it reads a payload; the
schemas (sync/messages.py) bound what it stores. Here the largest payload of each kind, every text at its limit in
the characters canonical JSON writes longest, must validate and fit its cap, and a payload past the cap must be
refused as ``too_large`` while it decompresses.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from pointkit.schemas import CaseCreate
from pointkit.intake import MAX_TEXT
from sync.canonical import canonical_json
from sync.catalog import MAX_ITEM_FIELDS, MAX_ITEM_MATERIALS
from sync.clock import uuid7
from sync.envelope import MAX_PLAINTEXT, EnvelopeError, Kind, max_plaintext, seal_envelope
from sync.keys import Identity
from sync.messages import (MAX_FORM_ENTRIES, MAX_FORM_VALUE, MAX_MATERIALS, MAX_NOTES, MAX_SCANS, POINT_INTENTS,
                           SubmitCase)
from sync.rotation import point_keys_payload

WIDE = "\x01"  # written \u0001 in canonical JSON: 6 bytes, the longest a character gets
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=timezone.utc).isoformat()
SLOT = "2026-12-07 09:30"


def text(length: int) -> str:
    return WIDE * length


def uid() -> str:
    return str(uuid.uuid4())


def scan() -> dict:
    return {"scan_id": uid(), "name": text(120), "material": text(64), "size": 2**30, "sha256": "f" * 64,
            "key_b64": "k" * 44}


def keyed(count: int, value_length: int) -> dict:
    """``count`` entries with names and values at their longest (names differ in their last characters)."""
    return {text(60) + f"{n:04d}": text(value_length) for n in range(count)}


def largest(kind: Kind) -> dict:
    """The largest payload of ``kind`` its schema admits."""
    if kind == Kind.SUBMIT:
        return {"case_id": uid(), "receipt_no": text(40), "item_code": text(64), "catalog_version": 2**31 - 1,
                "applicant": {"name": text(64), "id_number": text(18), "phone": text(20)},
                "form": keyed(MAX_FORM_ENTRIES, MAX_FORM_VALUE), "materials": [text(64)] * MAX_MATERIALS,
                "received_at": NOW, "promised_date": "2026-12-31", "staff": text(64), "scans": [scan()] * MAX_SCANS,
                "clock_offset_ms": -3_000_000_000_000, "first_contact_name": text(64),
                "first_contact_post": text(64), "referral_no": text(40),
                "certificates": [{"material": text(64), "cert_type": text(64), "number": text(64)}] * MAX_MATERIALS,
                "precheck_id": uid(), "precheck_scans": [uid()] * MAX_SCANS}
    if kind == Kind.AMEND:
        return {"case_id": uid(), "base_version": 2**31 - 1, "form": keyed(MAX_FORM_ENTRIES, MAX_FORM_VALUE),
                "amended_at": NOW, "staff": text(64)}
    if kind == Kind.SUPPLEMENT:
        return {"case_id": uid(), "materials": [text(64)] * MAX_MATERIALS, "note": text(2000), "supplemented_at": NOW,
                "staff": text(64), "scans": [scan()] * MAX_SCANS}
    if kind == Kind.WITHDRAW:
        return {"case_id": uid(), "base_version": 2**31 - 1, "reason": text(500), "withdrawn_at": NOW,
                "staff": text(64)}
    if kind == Kind.COLLECTED:
        return {"case_id": uid(), "collected_at": NOW, "staff": text(64)}
    if kind == Kind.RATE:
        return {"case_id": uid(), "score": 5, "comment": text(500), "rated_at": NOW}
    if kind == Kind.COPY_REQUEST:
        return {"from_seq": 1, "to_seq": 2**63 - 1, "asked_at": NOW}
    if kind == Kind.REFERRAL:
        return {"referral_id": uid(), "slip_no": text(40),
                "resident": {"name": text(64), "phone": text(20), "id_number": text(18)}, "item_code": text(64),
                "matter": text(500), "to_kind": "point", "to_code": text(32), "to_name": text(128),
                "reason": text(500), "first_contact_name": text(64), "first_contact_post": text(64),
                "staff": text(64), "referred_at": NOW}
    if kind == Kind.COMPLAINT:
        return {"complaint_id": uid(), "complaint_no": text(40), "channel": "in_person", "category": "repeated_trips",
                "subject": "department", "about_case_id": text(36), "about_receipt_no": text(40),
                "department_code": text(32), "about_point": text(128), "about_staff": text(64), "anonymous": False,
                "contact": {"name": text(64), "phone": text(20)}, "text": text(4000), "code_hash": text(200),
                "taken_at": NOW, "staff": text(64), "staff_name": text(64)}
    if kind == Kind.PRECHECK_ANSWER:
        return {"precheck_id": uid(), "outcome": "notice", "notes": keyed(MAX_NOTES, 500), "staff": text(64),
                "answered_at": NOW}
    if kind == Kind.BOOKING:
        booking = {"booking_id": uid(), "booking_no": text(40), "slot": SLOT, "status": "confirmed",
                   "origin": "phone", "name": text(64), "phone": text(20), "precheck_no": text(40),
                   "code_hash": text(200), "request_id": uid(), "refusal": "no_such_slot", "wanted_slot": text(16),
                   "alternatives": [SLOT] * 6, "at": NOW}
        taken = {f"2026-{1 + n // 400:02d}-{1 + n // 16 % 25:02d} {n % 16:02d}:{n % 2 * 30:02d}": 20
                 for n in range(2000)}
        return {"plan": {"periods": ["08:30-12:00"] * 4, "capacity": 20, "days_ahead": 60}, "taken": taken,
                "booking": booking, "at": NOW}
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", sorted(POINT_INTENTS), ids=lambda kind: kind.name)
def test_the_largest_payload_a_schema_admits_fits_its_kinds_cap(kind):
    payload = largest(kind)
    POINT_INTENTS[kind].model_validate(payload)
    size = len(canonical_json(payload))
    assert size <= max_plaintext(kind) < MAX_PLAINTEXT, (kind.name, size, max_plaintext(kind))
    assert max_plaintext(kind) <= size + max(4096, size // 4), f"{kind.name}'s cap is far above {size} bytes"


def test_a_point_key_rotation_fits_its_cap():
    payload = point_keys_payload(uuid7(), Identity.generate())
    assert len(canonical_json(payload)) <= max_plaintext(Kind.POINT_KEYS)


def test_the_hub_takes_no_more_than_the_points_own_api():
    fields = CaseCreate.model_fields
    assert MAX_FORM_ENTRIES == MAX_ITEM_FIELDS == fields["form"].metadata[0].max_length
    assert MAX_MATERIALS == MAX_ITEM_MATERIALS == fields["materials"].metadata[0].max_length
    assert MAX_FORM_VALUE == MAX_TEXT
    too_long = SubmitCase.model_fields["form"]
    assert too_long.metadata[0].max_length == MAX_FORM_ENTRIES


def test_a_payload_past_its_kinds_cap_is_refused_while_it_decompresses():
    hub, point = Identity.generate(), Identity.generate()
    cap = max_plaintext(Kind.COLLECTED)
    # Well within the general cap, and compressing to a few hundred bytes: refused for its kind all the same.
    payload = {"case_id": uid(), "collected_at": NOW, "staff": "x" * (cap + 1)}
    envelope = seal_envelope(kind=Kind.COLLECTED, payload=payload, sender_id=uuid7(), seq=1,
                             sender_key=point.sign_key, recipient_key=hub.enc_key.public_key())
    assert len(envelope.ciphertext) < 1024
    with pytest.raises(EnvelopeError) as refused:
        envelope.open(hub)
    assert refused.value.reason == "too_large" and str(cap) in str(refused.value)
    bigger_kind = seal_envelope(kind=Kind.SUBMIT, payload=payload, sender_id=uuid7(), seq=2,
                                sender_key=point.sign_key, recipient_key=hub.enc_key.public_key())
    assert bigger_kind.open_measured(hub) == (payload, len(canonical_json(payload)))
