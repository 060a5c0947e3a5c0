"""Key pairs of hub and points: generation, storage, ids and fingerprints."""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
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


@dataclass(frozen=True)
class Identity:
    """A party's private keys: an Ed25519 signing key and an X25519 sealing key."""

    sign_key: Ed25519PrivateKey
    enc_key: X25519PrivateKey

    @classmethod
    def generate(cls) -> "Identity":
        return cls(Ed25519PrivateKey.generate(), X25519PrivateKey.generate())

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
            path = directory / f"{prefix}-{name}.pem"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)

    @classmethod
    def load(cls, directory: Path, prefix: str) -> "Identity":
        sign = serialization.load_pem_private_key((directory / f"{prefix}-sign.pem").read_bytes(), None)
        enc = serialization.load_pem_private_key((directory / f"{prefix}-enc.pem").read_bytes(), None)
        if not isinstance(sign, Ed25519PrivateKey) or not isinstance(enc, X25519PrivateKey):
            raise ValueError(f"key files under {directory} are not Ed25519/X25519 keys")
        return cls(sign, enc)


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
