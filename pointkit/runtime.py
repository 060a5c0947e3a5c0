"""What a running point app shares between requests: its data directory, keys and sync worker."""

from __future__ import annotations

from pathlib import Path

from flask import current_app

from sync.keys import Identity

from .state import load_identity


def data_dir() -> Path:
    return Path(current_app.config["DATA_DIR"])


def identity() -> Identity:
    """The keys the point signs with now (read each time: a key rotation may switch them between requests)."""
    return load_identity(data_dir())


def wake_sync() -> None:
    """Tell the background sync worker (when serving) that something new is queued."""
    worker = current_app.extensions.get("pointkit_sync_worker")
    if worker is not None:
        worker.wake()
