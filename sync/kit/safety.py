"""Safety both servers apply the same way: where a login may send the browser, and who may read a data directory.

``same_origin_path`` judges a ``next=`` target as the browser will read it:
the URL standard drops tabs and newlines anywhere in a URL and reads a
backslash as a slash, so ``/\\t/evil.example/x`` and ``/\\evil.example`` both
become ``//evil.example…``, another site. Only a plain path on this site
passes.

``private_data_dir`` makes what a data directory holds readable by its owner
alone: the session-signing key, the databases (residents' names and ID
numbers), sealed scans, logs and keys. Servers and commands create files
under umask 077; ``init``, ``upgrade`` and ``serve`` also fix a directory an
older release left readable to every local account (0644 files, 0755
folders). Windows has no such modes: its ACLs follow the folder the county
put the data in.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from urllib.parse import urlsplit

PRIVATE_UMASK = 0o077
_DROPPED_BY_BROWSERS = str.maketrans("", "", "\t\n\r")


def same_origin_path(target: str | None) -> str | None:
    """``target`` if a browser reads it as a path on this site, else None."""
    if not target or any(ord(ch) < 0x20 or ch == "\x7f" for ch in target) or "\\" in target:
        return None
    as_read = target.translate(_DROPPED_BY_BROWSERS)
    if not as_read.startswith("/") or as_read.startswith("//"):
        return None
    parts = urlsplit(as_read)
    if parts.scheme or parts.netloc:
        return None
    return target


def private_umask() -> None:
    """From now on this process creates files only its owner can read (no-op on Windows)."""
    if os.name != "nt":
        os.umask(PRIVATE_UMASK)


def private_data_dir(data_dir: str | Path) -> int:
    """Folders 0700 and files 0600 under ``data_dir`` (itself included); return how many modes changed."""
    if os.name == "nt":
        return 0
    root = Path(data_dir)
    if not root.is_dir():
        return 0
    changed = _private(root, 0o700)
    for folder, folders, files in os.walk(root):
        for name in folders:
            changed += _private(Path(folder) / name, 0o700)
        for name in files:
            changed += _private(Path(folder) / name, 0o600)
    return changed


def _private(path: Path, mode: int) -> int:
    try:
        current = path.lstat()
    except FileNotFoundError:
        return 0  # a WAL file checkpointed away meanwhile
    if stat.S_ISLNK(current.st_mode) or stat.S_IMODE(current.st_mode) == mode:
        return 0
    path.chmod(mode)
    return 1
