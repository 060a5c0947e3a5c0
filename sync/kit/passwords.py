"""Password hashing for staff, operator and reviewer accounts (scrypt, memory-hard)."""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from sync.keys import b64, unb64

# 2**14 * 8 * 128 bytes = 16 MiB per hash: costly to brute-force, fine on an old laptop.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(password.encode("utf-8"))


def hash_password(password: str) -> str:
    """Return ``scrypt$n$r$p$salt$hash`` for storage."""
    salt = os.urandom(SALT_BYTES)
    digest = _derive(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt)}${b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        actual = _derive(password, unb64(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(actual, unb64(digest))


def verify_nobody(password: str) -> bool:
    """Spend what ``verify_password`` spends on a hash made today, and fail: the check for a username that
    does not exist, so a miss takes as long as a wrong password (and no hash is made up front for it)."""
    _derive(password, bytes(SALT_BYTES), SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return False


def hash_secret(secret: str) -> str:
    """A fast hash for high-entropy secrets (API tokens, enrollment tokens)."""
    return hashlib.sha256(b"pointkit-secret\x00" + secret.encode("utf-8")).hexdigest()
