"""Attachment encryption: 64 KiB chunks that cannot be cut, reordered or swapped."""

from __future__ import annotations

import os

import pytest

from sync.attachments import CHUNK_PLAIN, CHUNK_SEALED, AttachmentError, decrypt_attachment, encrypt_attachment, new_file_key, sealed_size


@pytest.mark.parametrize("size", [0, 1, CHUNK_PLAIN - 1, CHUNK_PLAIN, CHUNK_PLAIN + 1, 3 * CHUNK_PLAIN + 17])
def test_round_trip_and_size(size):
    data, key = os.urandom(size), new_file_key()
    sealed = encrypt_attachment(data, key)
    assert len(sealed) == sealed_size(size)
    assert decrypt_attachment(sealed, key) == data


def test_truncation_at_a_chunk_boundary_is_detected():
    data, key = os.urandom(3 * CHUNK_PLAIN), new_file_key()
    sealed = encrypt_attachment(data, key)
    with pytest.raises(AttachmentError):
        decrypt_attachment(sealed[: 2 * CHUNK_SEALED], key)


def test_reordered_chunks_flipped_bits_and_wrong_keys_are_detected():
    data, key = os.urandom(2 * CHUNK_PLAIN + 5), new_file_key()
    sealed = encrypt_attachment(data, key)
    swapped = sealed[CHUNK_SEALED : 2 * CHUNK_SEALED] + sealed[:CHUNK_SEALED] + sealed[2 * CHUNK_SEALED :]
    flipped = bytearray(sealed)
    flipped[100] ^= 1
    for bad, bad_key in ((swapped, key), (bytes(flipped), key), (sealed, new_file_key())):
        with pytest.raises(AttachmentError):
            decrypt_attachment(bad, bad_key)


@pytest.mark.parametrize("hostile, expected", [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\Windows\\system32\\config\\SAM", "SAM"),
    ("/absolute/path/身份证.jpg", "身份证.jpg"),
    ("..", "scan"),
    ("", "scan"),
    ("a\x00b<>:|?*.pdf", "a_b______.pdf"),
    ("CON.txt", "_CON.txt"),
    ("nul", "_nul"),
    (" spaced . ", "spaced"),
])
def test_file_names_are_reduced_to_a_safe_base_name(hostile, expected):
    from sync.attachments import safe_file_name

    assert safe_file_name(hostile) == expected


def test_long_file_names_keep_their_extension():
    from sync.attachments import MAX_FILE_NAME, safe_file_name

    name = safe_file_name("扫描" * 200 + ".jpeg")
    assert len(name) == MAX_FILE_NAME and name.endswith(".jpeg")
