"""What a running point app shares between requests: its data directory, keys and sync worker."""

from __future__ import annotations

import threading
from pathlib import Path

from flask import current_app

from sync import Identity

from .state import load_identity

_identity_lock = threading.Lock()


def data_dir() -> Path:
    return Path(current_app.config["DATA_DIR"])


def identity() -> Identity:
    """The point's private keys, read from disk once per app."""
    with _identity_lock:
        cached = current_app.extensions.get("pointkit_identity")
        if cached is None:
            cached = load_identity(data_dir())
            current_app.extensions["pointkit_identity"] = cached
        return cached


def wake_sync() -> None:
    """Tell the background sync worker (when serving) that something new is queued."""
    worker = current_app.extensions.get("pointkit_sync_worker")
    if worker is not None:
        worker.wake()
