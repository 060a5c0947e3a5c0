"""Key pairs of hub and points: generation, storage, ids and fingerprints.

Sealing suites an envelope may name:

- ``X25519_CHACHA`` (1): X25519 / HKDF-SHA256 / ChaCha20-Poly1305, the default.
- ``MLKEM768_X25519_CHACHA`` (2): the hybrid post-quantum KEM (ML-KEM-768 +
  X25519, X-Wing) with the same KDF and AEAD, a county-wide option; it costs
  1,088 more bytes per envelope.

A recipient key on the wire is ``{"suite": n, "public_key": base64}``; for the
hybrid suite the public key is the ML-KEM-768 public key (1,184 bytes)
followed by the X25519 public key (32 bytes). Its key id is the first eight
bytes of SHA-256 of those bytes, so every suite's key has its own id.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Union

from cryptography.hazmat.primitives import hpke, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey, MLKEM768PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

KEY_ID_BYTES = 8


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def raw_public(key: Ed25519PublicKey | X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_raw: bytes) -> bytes:
    """Eight bytes naming a public key on the wire."""
    return hashlib.sha256(public_raw).digest()[:KEY_ID_BYTES]


def fingerprint(sign_public_raw: bytes, enc_public_raw: bytes) -> str:
    """Hex fingerprint of a signing + encryption key pair, as people compare it."""
    return hashlib.sha256(b"pointkit-fpr\x00" + sign_public_raw + enc_public_raw).hexdigest()[:32]


MLKEM768_PUBLIC_BYTES = 1184
X25519_PUBLIC_BYTES = 32


class Suite(IntEnum):
    """HPKE suites an envelope may name."""

    X25519_CHACHA = 1
    MLKEM768_X25519_CHACHA = 2


OpeningKey = Union[X25519PrivateKey, hpke.MLKEM768X25519PrivateKey]


@dataclass(frozen=True)
class RecipientKey:
    """A public key a sender seals to, with the suite it is for."""

    suite: Suite
    public_raw: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.public_raw)

    def hpke_public(self) -> X25519PublicKey | hpke.MLKEM768X25519PublicKey:
        if self.suite == Suite.X25519_CHACHA:
            return X25519PublicKey.from_public_bytes(self.public_raw)
        mlkem, x25519 = self.public_raw[:MLKEM768_PUBLIC_BYTES], self.public_raw[MLKEM768_PUBLIC_BYTES:]
        return hpke.MLKEM768X25519PublicKey(
            MLKEM768PublicKey.from_public_bytes(mlkem), X25519PublicKey.from_public_bytes(x25519))

    @classmethod
    def x25519(cls, public: X25519PublicKey | bytes) -> "RecipientKey":
        raw = public if isinstance(public, bytes) else raw_public(public)
        return cls(Suite.X25519_CHACHA, raw)

    def to_json(self) -> dict:
        return {"suite": int(self.suite), "public_key": b64(self.public_raw)}

    @classmethod
    def from_json(cls, data: dict) -> "RecipientKey":
        suite, raw = Suite(int(data["suite"])), unb64(data["public_key"])
        expected = X25519_PUBLIC_BYTES if suite == Suite.X25519_CHACHA else MLKEM768_PUBLIC_BYTES + X25519_PUBLIC_BYTES
        if len(raw) != expected:
            raise ValueError(f"a suite {int(suite)} public key has {expected} bytes, not {len(raw)}")
        key = cls(suite, raw)
        key.hpke_public()
        return key


@dataclass(frozen=True)
class Identity:
    """A party's private keys: an Ed25519 signing key and an X25519 sealing key.

    A hub that has the post-quantum option on also holds an ML-KEM-768 key,
    which with the X25519 key makes its hybrid (X-Wing) sealing key.
    """

    sign_key: Ed25519PrivateKey
    enc_key: X25519PrivateKey
    mlkem_key: MLKEM768PrivateKey | None = None

    @classmethod
    def generate(cls, *, post_quantum: bool = False) -> "Identity":
        mlkem = MLKEM768PrivateKey.generate() if post_quantum else None
        return cls(Ed25519PrivateKey.generate(), X25519PrivateKey.generate(), mlkem)

    def recipient_keys(self) -> list[RecipientKey]:
        """The keys others may seal to, preferred first: hybrid (if held), then X25519."""
        keys = [RecipientKey.x25519(self.enc_public)]
        if self.mlkem_key is not None:
            raw = self.mlkem_key.public_key().public_bytes_raw() + self.enc_public
            keys.insert(0, RecipientKey(Suite.MLKEM768_X25519_CHACHA, raw))
        return keys

    def opening_keys(self) -> dict[bytes, OpeningKey]:
        """key id -> private key, for Envelope.open."""
        opening: dict[bytes, OpeningKey] = {}
        for recipient in self.recipient_keys():
            if recipient.suite == Suite.X25519_CHACHA:
                opening[recipient.key_id] = self.enc_key
            else:
                opening[recipient.key_id] = hpke.MLKEM768X25519PrivateKey(self.mlkem_key, self.enc_key)
        return opening

    @property
    def sign_public(self) -> bytes:
        return raw_public(self.sign_key.public_key())

    @property
    def enc_public(self) -> bytes:
        return raw_public(self.enc_key.public_key())

    @property
    def enc_key_id(self) -> bytes:
        return key_id(self.enc_public)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.sign_public, self.enc_public)

    def public(self) -> "PublicKeys":
        return PublicKeys(self.sign_public, self.enc_public)

    def save(self, directory: Path, prefix: str) -> None:
        """Write both private keys as PKCS#8 PEM files readable only by the owner."""
        directory.mkdir(parents=True, exist_ok=True)
        for name, key in (("sign", self.sign_key), ("enc", self.enc_key)):
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            _write_private(directory / f"{prefix}-{name}.pem", pem)
        if self.mlkem_key is not None:
            _write_private(directory / f"{prefix}-mlkem.seed", self.mlkem_key.private_bytes_raw())

    @classmethod
    def load(cls, directory: Path, prefix: str) -> "Identity":
        sign = serialization.load_pem_private_key((directory / f"{prefix}-sign.pem").read_bytes(), None)
        enc = serialization.load_pem_private_key((directory / f"{prefix}-enc.pem").read_bytes(), None)
        if not isinstance(sign, Ed25519PrivateKey) or not isinstance(enc, X25519PrivateKey):
            raise ValueError(f"key files under {directory} are not Ed25519/X25519 keys")
        seed = directory / f"{prefix}-mlkem.seed"
        mlkem = MLKEM768PrivateKey.from_seed_bytes(seed.read_bytes()) if seed.exists() else None
        return cls(sign, enc, mlkem)


def _write_private(path: Path, data: bytes) -> None:
    """Create or replace a key file readable only by its owner."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


@dataclass(frozen=True)
class PublicKeys:
    """The public half of an Identity, as pinned by the other side."""

    sign_public: bytes
    enc_public: bytes

    @property
    def enc_key_id(self) -> bytes:
        return key_id(self.enc_public)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.sign_public, self.enc_public)

    def verifier(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.sign_public)

    def sealer(self) -> X25519PublicKey:
        return X25519PublicKey.from_public_bytes(self.enc_public)

    def to_json(self) -> dict:
        return {"sign_public_key": b64(self.sign_public), "enc_public_key": b64(self.enc_public)}

    @classmethod
    def from_json(cls, data: dict) -> "PublicKeys":
        sign, enc = unb64(data["sign_public_key"]), unb64(data["enc_public_key"])
        if len(sign) != 32 or len(enc) != 32:
            raise ValueError("public keys must be 32 raw bytes each")
        return cls(sign, enc)
