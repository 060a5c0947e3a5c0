"""Encrypted backups of a data directory (a point's or a hub's).

A backup is one file: a short plain header naming the key derivation, then
the whole data directory as a tar, sealed in 64 KiB ChaCha20-Poly1305 chunks
(the STREAM shape of sync.attachments) under a key derived from a passphrase
with scrypt. The database is copied with SQLite's online backup API, so a
serving point or hub can be backed up while it works and the copy is one
consistent moment; keys, scans and everything else in the directory go
beside it. A hub whose tables are on PostgreSQL gets the same backup of its
data directory without them (its database is backed up with PostgreSQL's own
tools); the manifest says so, and so does a restore. A wrong passphrase or
any changed byte fails the whole restore, and a restore never writes into a
directory that already holds data.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import click
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from sync.attachments import CHUNK_PLAIN, CHUNK_SEALED, AttachmentError, decrypt_chunks, nonce
from sync.clock import utcnow
from sync.keys import b64, unb64

MAGIC = b"POINTKIT-BACKUP 1\n"
MANIFEST = "pointkit-backup.json"
MIN_PASSPHRASE = 12
# 2**17 * 8 * 128 bytes = 128 MiB, about half a second: a backup is opened rarely, and guessed offline.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1
# What a restore accepts in a header: this release's parameters and stronger ones that still fit an old
# laptop's memory (128 * n * r bytes, at most 512 MiB); a header asking for more is damaged, not obeyed.
SCRYPT_N_RANGE, SCRYPT_MAX_R, SCRYPT_MAX_P = (2**14, 2**19), 8, 4


def _live_database_files(database_file: str) -> set[str]:
    """The live database and its companions: the copy made with the backup API replaces them all (the hub's
    ``.writers`` is the empty file its processes queue on for the write lock, hub/core/db.py)."""
    return {database_file, *(database_file + suffix for suffix in ("-wal", "-shm", "-journal", ".writers"))}


class BackupError(ValueError):
    """A backup that cannot be written or restored; the message says what to do."""


@dataclass(frozen=True)
class BackupInfo:
    kind: str
    name: str
    created_at: str
    files: int
    bytes: int
    # "sqlite" when the database is in the backup; otherwise the kind of database kept elsewhere ("postgresql").
    database: str = "sqlite"


_MANIFEST_FIELDS = {field.name for field in fields(BackupInfo)}


def check_passphrase(passphrase: str) -> None:
    if len(passphrase) < MIN_PASSPHRASE:
        raise BackupError(f"the passphrase must be at least {MIN_PASSPHRASE} characters; "
                          "use a few words only the county IT staff know")


passphrase_option = click.option(
    "--passphrase-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the backup passphrase from the first line of this file, spaces included (default: "
         "POINTKIT_BACKUP_PASSPHRASE or a prompt).")


def read_passphrase(passphrase_file: Path | None, *, confirm: bool) -> str:
    """The passphrase from ``--passphrase-file``, ``POINTKIT_BACKUP_PASSPHRASE`` or a hidden prompt."""
    if passphrase_file is not None:
        # utf-8-sig: Notepad starts a UTF-8 file with a byte order mark, which nobody means as part of it.
        lines = Path(passphrase_file).read_text(encoding="utf-8-sig").splitlines()
        return lines[0] if lines else ""
    if os.environ.get("POINTKIT_BACKUP_PASSPHRASE"):
        return os.environ["POINTKIT_BACKUP_PASSPHRASE"]
    return click.prompt("Backup passphrase", hide_input=True, confirmation_prompt=confirm)


def _header_line(n: int, r: int, p: int, salt: str) -> bytes:
    """The header's second line, byte for byte (a restore accepts nothing else: see ``_header_key``)."""
    return json.dumps({"kdf": "scrypt", "n": n, "r": r, "p": p, "salt": salt}).encode() + b"\n"


def _header_key(line: bytes, backup: Path, passphrase: str) -> bytes:
    """The key ``passphrase`` gives under a header line, which must read exactly as ``write_backup`` writes it.

    The header is not encrypted, but each of its values goes into the key: a changed salt or parameter makes
    the key wrong and the restore fails. The rest (the name of the key derivation, the spelling of the JSON)
    is held to the one form written, so a changed byte anywhere in the file fails the restore.
    """
    damaged = BackupError(f"{backup} has a damaged header: restore from another copy of the backup")
    try:
        params = json.loads(line)
        n, r, p, salt = params["n"], params["r"], params["p"], params["salt"]
        if not all(type(value) is int for value in (n, r, p)) or not isinstance(salt, str):
            raise damaged
        if line != _header_line(n, r, p, salt):
            raise damaged
        if not (SCRYPT_N_RANGE[0] <= n <= SCRYPT_N_RANGE[1] and n & (n - 1) == 0
                and 1 <= r <= SCRYPT_MAX_R and 1 <= p <= SCRYPT_MAX_P):
            raise damaged
        return _key(passphrase, unb64(salt), n, r, p)  # ValueError: a salt scrypt refuses, say
    except (ValueError, KeyError, TypeError):
        raise damaged from None


def _key(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def _seal(plain: BinaryIO, key: bytes, out: BinaryIO) -> None:
    aead = ChaCha20Poly1305(key)
    index, piece = 0, plain.read(CHUNK_PLAIN)
    while True:
        following = plain.read(CHUNK_PLAIN)
        last = not following
        out.write(aead.encrypt(nonce(index, last), piece, None))
        if last:
            return
        index, piece = index + 1, following


def _sealed_chunks(source: BinaryIO) -> Iterator[bytes]:
    while chunk := source.read(CHUNK_SEALED):
        yield chunk


def _copy_database(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (other processes may write meanwhile)."""
    live, copy = sqlite3.connect(source), sqlite3.connect(target)
    try:
        live.backup(copy)
    finally:
        copy.close()
        live.close()


def write_backup(data_dir: Path, database_file: str, out: Path, passphrase: str, *, kind: str,
                 name: str = "", database_elsewhere: str = "") -> BackupInfo:
    """Write the encrypted backup of ``data_dir`` to ``out`` (written beside, then renamed into place).

    ``database_file`` is the SQLite database in it, unless the tables are in a ``database_elsewhere``
    database (a hub on PostgreSQL): the backup then holds the directory's other files only.
    """
    check_passphrase(passphrase)
    data_dir, out = Path(data_dir), Path(out)
    check_backup_target(data_dir, database_file, out, database_elsewhere=database_elsewhere)
    salt = os.urandom(16)
    header = MAGIC + _header_line(SCRYPT_N, SCRYPT_R, SCRYPT_P, b64(salt))
    files = total = 0
    live = set() if database_elsewhere else _live_database_files(database_file)
    with tempfile.TemporaryDirectory(prefix="pointkit-backup-") as scratch:
        tar_path = Path(scratch) / "backup.tar"
        with tarfile.open(tar_path, "w") as tar:
            if not database_elsewhere:
                copy = Path(scratch) / database_file
                _copy_database(data_dir / database_file, copy)
                tar.add(copy, arcname=database_file)
                files, total = 1, copy.stat().st_size
            for path in sorted(data_dir.rglob("*")):
                relative = path.relative_to(data_dir).as_posix()
                if not path.is_file() or relative in live:
                    continue
                tar.add(path, arcname=relative)
                files, total = files + 1, total + path.stat().st_size
            info = BackupInfo(kind=kind, name=name, created_at=utcnow().isoformat(), files=files, bytes=total,
                              database=database_elsewhere or "sqlite")
            # An SQLite backup's manifest stays as earlier releases wrote it, so they can restore it too.
            written = {key: value for key, value in asdict(info).items() if key != "database" or value != "sqlite"}
            manifest = json.dumps(written).encode()
            entry = tarfile.TarInfo(MANIFEST)
            entry.size = len(manifest)
            tar.addfile(entry, io.BytesIO(manifest))
        partial = out.with_name(out.name + ".partial")
        with open(tar_path, "rb") as plain, open(partial, "wb") as sealed:
            sealed.write(header)
            _seal(plain, _key(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P), sealed)
            sealed.flush()
            os.fsync(sealed.fileno())
        partial.replace(out)
    return info


def check_backup_target(data_dir: Path, database_file: str, out: Path, *, database_elsewhere: str = "") -> None:
    """Refuse a backup of something that is not a data directory, or into a file that would be lost with it or
    that holds an earlier backup (it is never overwritten)."""
    if not database_elsewhere and not (data_dir / database_file).is_file():
        raise BackupError(f"{data_dir} holds no {database_file}: is --data the right directory?")
    if out.resolve().is_relative_to(data_dir.resolve()):
        raise BackupError("write the backup outside the data directory (a USB stick or another disk)")
    if out.exists():
        raise BackupError(f"{out} exists already and is not overwritten: give a new name (with the date, say) or "
                          "remove the old file first")


def check_restore_target(data_dir: Path) -> None:
    if data_dir.exists() and any(data_dir.iterdir()):
        raise BackupError(f"{data_dir} is not empty; restore into a new directory (move the old one aside first)")


def restore_backup(backup: Path, data_dir: Path, passphrase: str, *, kind: str) -> BackupInfo:
    """Decrypt ``backup`` into the empty or new ``data_dir``; nothing is written unless all of it checks out."""
    data_dir = Path(data_dir)
    check_restore_target(data_dir)
    try:
        source = open(backup, "rb")
    except OSError as exc:
        raise BackupError(f"cannot read {backup}: {exc.strerror}") from None
    with source, tempfile.TemporaryDirectory(prefix="pointkit-restore-") as scratch:
        if source.read(len(MAGIC)) != MAGIC:
            raise BackupError(f"{backup} is not a pointkit backup")
        key = _header_key(source.readline(), Path(backup), passphrase)
        tar_path = Path(scratch) / "backup.tar"
        try:
            with open(tar_path, "wb") as plain:
                for piece in decrypt_chunks(_sealed_chunks(source), key):
                    plain.write(piece)
        except AttachmentError:
            raise BackupError("the backup does not decrypt: a wrong passphrase, or the file was changed or cut "
                              "short") from None
        staging = Path(scratch) / "data"
        with tarfile.open(tar_path) as tar:
            try:
                manifest = json.load(tar.extractfile(MANIFEST))
            except (KeyError, ValueError):
                raise BackupError(f"{backup} has no manifest") from None
            if manifest.get("kind") != kind:
                raise BackupError(f"this is a backup of a {manifest.get('kind')}, not of a {kind}")
            tar.extractall(staging, filter="data")
        (staging / MANIFEST).unlink()
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        if data_dir.exists():
            data_dir.rmdir()
        shutil.move(str(staging), str(data_dir))
    # A later release may add fields to the manifest; what this one knows is enough to restore.
    return BackupInfo(**{key: value for key, value in manifest.items() if key in _MANIFEST_FIELDS})


def backup_command(data_dir: Path, database_file: str, file: Path, passphrase_file: Path | None, *,
                   kind: str, name: str = "", database_elsewhere: str = "") -> None:
    """What ``pointkit backup`` and ``pointkit-hub backup`` do once they know their database."""
    try:
        # What can be refused is refused before the passphrase is asked for.
        check_backup_target(Path(data_dir), database_file, Path(file), database_elsewhere=database_elsewhere)
        info = write_backup(data_dir, database_file, file, read_passphrase(passphrase_file, confirm=True),
                            kind=kind, name=name, database_elsewhere=database_elsewhere)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {file}: {describe(info)}")
    click.echo("keep the passphrase apart from the file: without it the backup cannot be opened")


def restore_command(file: Path, data_dir: Path, passphrase_file: Path | None, *, kind: str) -> BackupInfo:
    """What ``pointkit restore`` and ``pointkit-hub restore`` do."""
    try:
        check_restore_target(Path(data_dir))
        info = restore_backup(file, data_dir, read_passphrase(passphrase_file, confirm=False), kind=kind)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"restored {describe(info)} into {data_dir}")
    return info


def describe(info: BackupInfo) -> str:
    when = datetime.fromisoformat(info.created_at).strftime("%Y-%m-%d %H:%M UTC")
    who = f"{info.kind} {info.name}" if info.name else info.kind
    held = "" if info.database == "sqlite" else f" (its {info.database} database is not in it)"
    return f"{who}, taken {when}: {info.files} files, {info.bytes / 1e6:.1f} MB{held}"
