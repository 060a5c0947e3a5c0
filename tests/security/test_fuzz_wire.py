"""Property-based fuzzing of everything a hostile peer can put on the wire.

Whatever bytes arrive, parsing and framing raise only the documented
EnvelopeError, and verification refuses anything not signed by the sender.
"""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync.envelope import Envelope, EnvelopeError, Kind, seal_envelope
from sync.keys import Identity
from sync.framing import decode_frames, encode_frames

FUZZ = settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
POINT = Identity.generate()
HUB = Identity.generate()
GENUINE = seal_envelope(kind=Kind.SUBMIT, payload={"case_id": "x" * 36, "name": "韦秀兰"},
                        sender_id=uuid.UUID(int=7), seq=1, sender_key=POINT.sign_key,
                        recipient_key=HUB.enc_key.public_key()).to_bytes()


def parse_verify_open(data: bytes) -> dict:
    envelope = Envelope.parse(data)
    envelope.verify(POINT.sign_key.public_key())
    return envelope.open(HUB.enc_key)


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_raise_only_envelope_error(data):
    with pytest.raises(EnvelopeError):
        parse_verify_open(data)


@FUZZ
@given(st.integers(min_value=0, max_value=len(GENUINE) - 1), st.integers(min_value=1, max_value=255))
def test_every_single_byte_change_is_refused(position, flip):
    data = bytearray(GENUINE)
    data[position] ^= flip
    with pytest.raises(EnvelopeError):
        parse_verify_open(bytes(data))


@FUZZ
@given(st.data())
def test_splices_and_truncations_are_refused(data):
    start = data.draw(st.integers(min_value=0, max_value=len(GENUINE)))
    end = data.draw(st.integers(min_value=start, max_value=len(GENUINE)))
    junk = data.draw(st.binary(max_size=64))
    mutated = GENUINE[:start] + junk + GENUINE[end:]
    if mutated == GENUINE:
        assert parse_verify_open(mutated)["name"] == "韦秀兰"
        return
    with pytest.raises(EnvelopeError):
        parse_verify_open(mutated)


@FUZZ
@given(st.lists(st.binary(max_size=80), max_size=6), st.binary(max_size=16), st.integers(min_value=0, max_value=200))
def test_framing_round_trips_and_damaged_bodies_raise_only_envelope_error(items, junk, cut):
    body = encode_frames(items)
    assert decode_frames(body) == items
    for damaged in (body[: max(len(body) - 1 - cut, 0)], body + junk if junk else body + b"\x00"):
        try:
            decoded = decode_frames(damaged)
        except EnvelopeError:
            continue
        assert encode_frames(decoded) == damaged


def test_the_genuine_envelope_opens():
    assert parse_verify_open(GENUINE)["name"] == "韦秀兰"
