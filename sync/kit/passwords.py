"""Password hashing for staff, operator and reviewer accounts, and for pickup codes (scrypt, memory-hard).

Hashes are made and checked by Werkzeug's ``generate_password_hash`` and
``check_password_hash`` (Werkzeug ships with Flask and is kept by the same
people), as ``scrypt:N:r:p$salt$hex``. Releases before it stored
``scrypt$N$r$p$salt$digest`` in base64, derived with ``cryptography``'s
Scrypt; those hashes still verify here, and a staff login with one stores
the password again in today's form (``password_needs_rehash``). Pickup codes
are never rehashed: the resident's code verifies in either form.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from werkzeug.security import check_password_hash, generate_password_hash

from sync.keys import unb64

# 2**14 * 8 * 128 bytes = 16 MiB per hash: costly to brute-force, fine on an old laptop (Werkzeug's own default,
# 2**15, doubles both the memory and the wait at every login and pickup).
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
PASSWORD_METHOD = f"scrypt:{SCRYPT_N}:{SCRYPT_R}:{SCRYPT_P}"
SALT_LENGTH = 16
# The form earlier releases stored: scrypt$N$r$p$base64(salt)$base64(32-byte digest).
_EARLIER_PREFIX = "scrypt$"


def hash_password(password: str) -> str:
    """Return ``scrypt:N:r:p$salt$hex`` for storage."""
    return generate_password_hash(password, method=PASSWORD_METHOD, salt_length=SALT_LENGTH)


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored``, a hash of today's form or of an earlier release's."""
    if stored.startswith(_EARLIER_PREFIX):
        return _verify_earlier(password, stored)
    if not stored.startswith("scrypt:"):
        return False  # only scrypt is ever stored; anything else is damage, not a weaker method to accept
    try:
        return check_password_hash(stored, password)
    except ValueError:  # a malformed cost field
        return False


def password_needs_rehash(stored: str) -> bool:
    """Whether ``stored`` is in an earlier form or at another cost than today's: store it anew at the next login."""
    return not stored.startswith(PASSWORD_METHOD + "$")


def verify_nobody(password: str) -> bool:
    """Spend what ``verify_password`` spends on a hash made today, and fail: the check for a username that
    does not exist, so a miss takes as long as a wrong password (and no hash is made up front for it)."""
    generate_password_hash(password, method=PASSWORD_METHOD, salt_length=SALT_LENGTH)
    return False


def _verify_earlier(password: str, stored: str) -> bool:
    try:
        _scheme, n, r, p, salt, digest = stored.split("$")
        actual = Scrypt(salt=unb64(salt), length=32, n=int(n), r=int(r), p=int(p)).derive(password.encode("utf-8"))
    except ValueError:
        return False
    return hmac.compare_digest(actual, unb64(digest))


def hash_secret(secret: str) -> str:
    """A fast hash for high-entropy secrets (API tokens, enrollment tokens)."""
    return hashlib.sha256(b"pointkit-secret\x00" + secret.encode("utf-8")).hexdigest()
