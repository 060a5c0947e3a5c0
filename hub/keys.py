"""The hub's own keys: generated once at init, kept under DATA/keys."""

from __future__ import annotations

from pathlib import Path

from sync import Identity

KEYS_DIR = "keys"
KEY_PREFIX = "hub"


def keys_dir(data_dir: Path) -> Path:
    return Path(data_dir) / KEYS_DIR


def has_identity(data_dir: Path) -> bool:
    return (keys_dir(data_dir) / f"{KEY_PREFIX}-sign.pem").exists()


def load_identity(data_dir: Path) -> Identity:
    return Identity.load(keys_dir(data_dir), KEY_PREFIX)


def ensure_identity(data_dir: Path) -> Identity:
    """Load the hub's keys, generating them the first time."""
    if has_identity(data_dir):
        return load_identity(data_dir)
    identity = Identity.generate()
    identity.save(keys_dir(data_dir), KEY_PREFIX)
    return identity


def current_identity() -> Identity:
    """The serving hub's keys (inside a request or app context)."""
    from flask import current_app

    return current_app.extensions["hub_identity"]
