"""Scans and photos of materials: each file under its own key, in 64 KiB AEAD chunks.

The shape of age's STREAM: ChaCha20-Poly1305 with a fresh random 32-byte key
per file; chunk ``i`` uses the nonce ``i`` (11 bytes, big-endian) followed by
one byte that is 1 on the last chunk and 0 elsewhere, so chunks cannot be
reordered, dropped or the file cut short without the decryption failing.
The key travels inside the sealed case, never beside the file.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

CHUNK_PLAIN = 64 * 1024
TAG_BYTES = 16
CHUNK_SEALED = CHUNK_PLAIN + TAG_BYTES
KEY_BYTES = 32


class AttachmentError(ValueError):
    """An attachment that does not decrypt: tampered, truncated, reordered or the wrong key."""


def new_file_key() -> bytes:
    return os.urandom(KEY_BYTES)


def nonce(index: int, last: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def sealed_size(plain_size: int) -> int:
    chunks = max(1, -(-plain_size // CHUNK_PLAIN))
    return plain_size + chunks * TAG_BYTES


def encrypt_attachment(data: bytes, key: bytes) -> bytes:
    """Seal a whole file (an empty file is one empty final chunk)."""
    aead = ChaCha20Poly1305(key)
    pieces = [data[offset : offset + CHUNK_PLAIN] for offset in range(0, len(data), CHUNK_PLAIN)] or [b""]
    return b"".join(
        aead.encrypt(nonce(index, index == len(pieces) - 1), piece, None) for index, piece in enumerate(pieces)
    )


def decrypt_chunks(sealed: Iterable[bytes], key: bytes) -> Iterator[bytes]:
    """Decrypt sealed chunks in order (each exactly CHUNK_SEALED bytes except the last)."""
    aead = ChaCha20Poly1305(key)
    chunks = iter(sealed)
    current = next(chunks, None)
    if current is None:
        raise AttachmentError("attachment is empty: not even a final chunk")
    index = 0
    while current is not None:
        following = next(chunks, None)
        last = following is None
        if not last and len(current) != CHUNK_SEALED:
            raise AttachmentError(f"chunk {index} has {len(current)} bytes, expected {CHUNK_SEALED}")
        try:
            yield aead.decrypt(nonce(index, last), current, None)
        except InvalidTag:
            raise AttachmentError(f"chunk {index} does not decrypt (tampered, truncated or wrong key)") from None
        current, index = following, index + 1


def decrypt_attachment(sealed: bytes, key: bytes) -> bytes:
    pieces = [sealed[offset : offset + CHUNK_SEALED] for offset in range(0, len(sealed), CHUNK_SEALED)]
    return b"".join(decrypt_chunks(pieces, key))


MAX_FILE_NAME = 120
_UNSAFE = re.compile(r"[\x00-\x1f<>:\"/\\|?*]")
# Device names Windows will not let a file have, with any extension.
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(1, 10)), *(f"LPT{n}" for n in range(1, 10))}


def safe_file_name(name: str, fallback: str = "scan") -> str:
    """The base name of an uploaded file, safe on Windows and Linux: no directories, no
    traversal, no control or reserved characters, at most MAX_FILE_NAME characters."""
    base = unicodedata.normalize("NFC", name).replace("\\", "/").split("/")[-1]
    base = _UNSAFE.sub("_", base).strip(" .")
    if not base:
        return fallback
    if base.split(".")[0].upper() in _RESERVED:
        base = "_" + base
    if len(base) > MAX_FILE_NAME:
        stem, dot, suffix = base.rpartition(".")
        suffix = dot + suffix if dot and len(suffix) < 16 else ""
        base = base[: MAX_FILE_NAME - len(suffix)] + suffix
    return base


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
