"""The shared contract on its own: envelopes, framing, signed documents and requests, ids, days."""

from __future__ import annotations

import os
import uuid
from datetime import date

import pytest

from sync.envelope import Envelope, EnvelopeError, Kind, seal_envelope
from sync.keys import Identity
from sync.signing import SignatureError, sign_document, sign_request, verify_document, verify_request
from sync.framing import decode_frames, encode_frames
from sync.clock import uuid7
from sync.kit.idnumber import check_character, id_number_problem, mask_id_number
from sync.kit.passwords import (SCRYPT_N, SCRYPT_P, SCRYPT_R, hash_password, password_needs_rehash, verify_nobody,
                                verify_password)
from sync.kit.workdays import add_working_days

POINT_ID = uuid.UUID("01935f7e-0000-7000-8000-000000000001")


@pytest.fixture(scope="module")
def hub():
    return Identity.generate()


@pytest.fixture(scope="module")
def point():
    return Identity.generate()


def sealed(point, hub, payload=None, seq=1):
    return seal_envelope(kind=Kind.SUBMIT, payload=payload or {"name": "韦秀兰"}, sender_id=POINT_ID, seq=seq,
                         sender_key=point.sign_key, recipient_key=hub.enc_key.public_key())


def test_envelope_round_trip_hides_the_payload(point, hub):
    data = sealed(point, hub).to_bytes()
    assert "韦秀兰".encode() not in data
    envelope = Envelope.parse(data)
    envelope.verify(point.sign_key.public_key())
    assert envelope.open(hub.enc_key) == {"name": "韦秀兰"}
    assert envelope.header.sender_id == POINT_ID and envelope.header.seq == 1


@pytest.mark.parametrize("where", ["header", "ciphertext", "signature"])
def test_any_flipped_byte_is_refused_before_decrypting(point, hub, where):
    data = bytearray(sealed(point, hub).to_bytes())
    # The header's byte is seq's last: a flip in its first bytes is refused sooner, as out_of_range, by parse.
    offset = {"header": 47, "ciphertext": 64 + 4 + 10, "signature": len(data) - 5}[where]
    data[offset] ^= 0x01
    with pytest.raises(EnvelopeError) as caught:
        Envelope.parse(bytes(data)).verify(point.sign_key.public_key())
    assert caught.value.reason == "bad_signature"


def test_wrong_sender_key_and_wrong_recipient_are_refused(point, hub):
    envelope = Envelope.parse(sealed(point, hub).to_bytes())
    with pytest.raises(EnvelopeError, match="signature"):
        envelope.verify(Identity.generate().sign_key.public_key())
    with pytest.raises(EnvelopeError) as caught:
        envelope.open(Identity.generate().enc_key)
    assert caught.value.reason == "unknown_key"


@pytest.mark.parametrize("cut", [0, 10, 63, 64, 67, 100])
def test_truncated_envelopes_raise_envelope_error(point, hub, cut):
    with pytest.raises(EnvelopeError):
        Envelope.parse(sealed(point, hub).to_bytes()[:cut])


def test_frames_round_trip_and_refuse_garbage(point, hub):
    items = [sealed(point, hub, seq=n).to_bytes() for n in (1, 2, 3)]
    body = encode_frames(items)
    assert decode_frames(body) == items
    for bad in (b"", b"PKF1", body[:-1], body + b"x", b"XXXX" + body[4:]):
        with pytest.raises(EnvelopeError):
            decode_frames(bad)


def test_signed_documents_detect_any_change(hub):
    signed = sign_document({"case_id": "c1", "decision": "approved"}, hub.sign_key)
    assert verify_document(signed, hub.sign_key.public_key())["decision"] == "approved"
    tampered = {**signed, "document": {**signed["document"], "decision": "rejected"}}
    with pytest.raises(SignatureError):
        verify_document(tampered, hub.sign_key.public_key())


def test_signed_requests_bind_method_path_query_body_and_time(point):
    headers = sign_request(method="GET", path="/sync/v1/pull", query="after=3", body=b"",
                           point_id=str(POINT_ID), key=point.sign_key, clock_ms=1_000_000)
    key = point.sign_key.public_key()
    ok = verify_request(method="GET", path="/sync/v1/pull", query="after=3", body=b"", headers=headers,
                        key=key, now=1_000_000)
    assert ok.point_id == str(POINT_ID)
    with pytest.raises(SignatureError):
        verify_request(method="GET", path="/sync/v1/pull", query="after=0", body=b"", headers=headers,
                       key=key, now=1_000_000)
    with pytest.raises(SignatureError) as stale:
        verify_request(method="GET", path="/sync/v1/pull", query="after=3", body=b"", headers=headers,
                       key=key, now=1_000_000 + 3_600_000)
    assert stale.value.reason == "stale"


def test_uuid7_sorts_by_time_and_is_version_7():
    first, second = uuid7(1_700_000_000_000), uuid7(1_700_000_000_001)
    assert first.version == 7 and first < second
    # Within one millisecond, in the order made (a case's timeline lines are often written in one).
    same_millisecond = [uuid7(1_700_000_000_002) for _ in range(200)]
    assert same_millisecond == sorted(same_millisecond) and len(set(same_millisecond)) == 200
    assert all(made.version == 7 and made.variant == uuid.RFC_4122 for made in same_millisecond)
    assert same_millisecond[0] > second


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_process_does_not_make_its_parents_next_uuid7():
    ms = 1_700_000_000_003
    uuid7(ms)
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # the child: its next id in the same millisecond, to the parent, then out
        os.write(writer, uuid7(ms).bytes)
        os._exit(0)
    os.close(writer)
    from_child = uuid.UUID(bytes=os.read(reader, 16))
    os.waitpid(child, 0)
    assert from_child != uuid7(ms)


def test_passwords_verify_against_their_hash_and_nobody_matches_an_unknown_user():
    stored = hash_password("correct horse")
    assert verify_password("correct horse", stored) and not verify_password("correct hors", stored)
    assert stored.startswith(f"scrypt:{SCRYPT_N}:{SCRYPT_R}:{SCRYPT_P}$") and not password_needs_rehash(stored)
    # The check for a username nobody has: it runs the same scrypt, and nothing passes it.
    assert not verify_nobody("correct horse") and not verify_nobody("")


# "correct horse" as releases before Werkzeug's hashing stored it (cryptography's Scrypt, N=2**14, r=8, p=1).
EARLIER_HASH = "scrypt$16384$8$1$c2FsdHNhbHRzYWx0c2FsdA==$1idRgu6ns74sljt005o5BblTKV7Jul0HPGT6aXWnXKY="


def test_hashes_stored_by_earlier_releases_still_verify_and_ask_to_be_stored_anew():
    assert verify_password("correct horse", EARLIER_HASH) and not verify_password("correct hors", EARLIER_HASH)
    assert password_needs_rehash(EARLIER_HASH)
    assert password_needs_rehash(hash_password("correct horse").replace(f"scrypt:{SCRYPT_N}:", "scrypt:32768:", 1))
    for damaged in ("", "scrypt$1$2", "scrypt:x:8:1$salt$00", "pbkdf2:sha256:1$salt$00", EARLIER_HASH[:-4]):
        assert not verify_password("correct horse", damaged)


def test_id_numbers_check_checksum_and_birth_date():
    good = "11010519491231002X"
    assert check_character(good[:17]) == "X" and id_number_problem(good) is None
    assert id_number_problem("110105194912310021") == "check character does not match (mistyped digit?)"
    assert "birth date" in id_number_problem("110105194913310021")
    assert id_number_problem("12345") == "must be 18 characters"
    assert mask_id_number(good) == "110***********002X"


def test_working_days_skip_weekends_and_holidays():
    friday = date(2026, 11, 27)
    assert add_working_days(friday, 1) == date(2026, 11, 30)
    assert add_working_days(friday, 0) == friday
    assert add_working_days(friday, 1, holidays={date(2026, 11, 30)}) == date(2026, 12, 1)
    assert add_working_days(friday, 1, makeup_days={date(2026, 11, 28)}) == date(2026, 11, 28)


def test_audit_chain_names_the_first_edited_removed_or_reordered_entry():
    from sync.audit import GENESIS, chain_hash, verify_chain

    rows, prev = [], GENESIS
    for n in range(5):
        fields = {"seq": n, "action": "case.received", "case": f"c{n}"}
        entry_hash = chain_hash(prev, fields)
        rows.append((n, prev, entry_hash, fields))
        prev = entry_hash
    assert verify_chain(rows) is None
    edited = [*rows[:2], (2, rows[2][1], rows[2][2], {**rows[2][3], "action": "case.approved"}), *rows[3:]]
    assert verify_chain(edited).entry_id == 2
    assert verify_chain(rows[:1] + rows[2:]).entry_id == 2
    swapped = [rows[0], rows[2], rows[1], *rows[3:]]
    assert verify_chain(swapped).position == 1


def test_post_quantum_suite_round_trip_and_size(point):
    from sync.keys import Suite

    hub_pq = Identity.generate(post_quantum=True)
    preferred = hub_pq.recipient_keys()[0]
    assert preferred.suite == Suite.MLKEM768_X25519_CHACHA
    classic = seal_envelope(kind=Kind.SUBMIT, payload={"n": 1}, sender_id=POINT_ID, seq=1,
                            sender_key=point.sign_key, recipient_key=hub_pq.enc_key.public_key()).to_bytes()
    hybrid = seal_envelope(kind=Kind.SUBMIT, payload={"n": 1}, sender_id=POINT_ID, seq=1,
                           sender_key=point.sign_key, recipient_key=preferred).to_bytes()
    assert len(hybrid) - len(classic) == 1088
    for data, suite in ((classic, Suite.X25519_CHACHA), (hybrid, Suite.MLKEM768_X25519_CHACHA)):
        envelope = Envelope.parse(data)
        assert envelope.header.suite == suite
        envelope.verify(point.sign_key.public_key())
        assert envelope.open(hub_pq) == {"n": 1}
    with pytest.raises(EnvelopeError):
        Envelope.parse(hybrid).open(Identity.generate(post_quantum=True))


def test_keys_with_post_quantum_part_survive_save_and_load(tmp_path):
    from sync.keys import RecipientKey

    hub_pq = Identity.generate(post_quantum=True)
    hub_pq.save(tmp_path, "hub")
    loaded = Identity.load(tmp_path, "hub")
    assert [k.to_json() for k in loaded.recipient_keys()] == [k.to_json() for k in hub_pq.recipient_keys()]
    assert RecipientKey.from_json(hub_pq.recipient_keys()[0].to_json()) == hub_pq.recipient_keys()[0]
    with pytest.raises(ValueError):
        RecipientKey.from_json({"suite": 2, "public_key": hub_pq.recipient_keys()[1].to_json()["public_key"]})


def test_rotation_payloads_need_a_proof_from_the_new_key():
    from sync.rotation import hub_keys_payload, point_keys_payload, read_hub_keys, read_point_keys

    new_hub = Identity.generate(post_quantum=True)
    payload = hub_keys_payload(new_hub, generation=2)
    announced, sign_public, recipients = read_hub_keys(payload)
    assert sign_public == new_hub.sign_public and recipients == new_hub.recipient_keys()
    forged = {**payload, "sign_public_key": hub_keys_payload(Identity.generate(), 2)["sign_public_key"]}
    with pytest.raises(SignatureError):
        read_hub_keys(forged)

    new_point = Identity.generate()
    rotation = point_keys_payload(POINT_ID, new_point)
    assert read_point_keys(rotation, POINT_ID).sign_public == new_point.sign_public
    with pytest.raises(SignatureError):
        read_point_keys(rotation, uuid.uuid4())
    with pytest.raises(SignatureError):
        read_point_keys({**rotation, "enc_public_key": rotation["sign_public_key"]}, POINT_ID)
