"""The backup file itself (sync/kit/backup.py): every byte counts, nothing is overwritten, refusals come first."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from pointkit.cli import main as point_cli
from sync.kit.backup import MAGIC, BackupError, backup_command, read_passphrase, restore_backup, write_backup

PASSPHRASE = "three rivers meet at baise"


@pytest.fixture
def data(tmp_path) -> Path:
    """A small point data directory: a database and a key file."""
    data = tmp_path / "point"
    data.mkdir()
    with sqlite3.connect(data / "point.db") as db:
        db.execute("create table t (x)")
        db.execute("insert into t values ('韦秀兰')")
    (data / "signing.pem").write_text("not really a key\n", encoding="utf-8")
    return data


@pytest.fixture
def backup(data, tmp_path) -> Path:
    out = tmp_path / "usb" / "point.pkbackup"
    out.parent.mkdir()
    write_backup(data, "point.db", out, PASSPHRASE, kind="point")
    return out


def header_of(backup: Path) -> tuple[bytes, bytes, bytes]:
    """(magic, header line, the sealed rest)."""
    raw = backup.read_bytes()
    line_end = raw.index(b"\n", len(MAGIC)) + 1
    return raw[:len(MAGIC)], raw[len(MAGIC):line_end], raw[line_end:]


def with_header(backup: Path, line: bytes) -> Path:
    magic, _, rest = header_of(backup)
    changed = backup.with_name("changed.pkbackup")
    changed.write_bytes(magic + line + rest)
    return changed


def test_a_backup_restores_whole(backup, data, tmp_path):
    info = restore_backup(backup, tmp_path / "restored", PASSPHRASE, kind="point")
    assert info.kind == "point" and info.files == 2
    with sqlite3.connect(tmp_path / "restored" / "point.db") as db:
        assert db.execute("select x from t").fetchall() == [("韦秀兰",)]
    assert (tmp_path / "restored" / "signing.pem").read_bytes() == (data / "signing.pem").read_bytes()


@pytest.mark.parametrize("change", ["kdf", "spacing", "extra field", "huge n", "n not a power of two", "n as text"])
def test_any_changed_byte_of_the_plain_header_is_refused(backup, tmp_path, change):
    """The header is not encrypted; its values feed the key, and the rest must read exactly as written."""
    params = json.loads(header_of(backup)[1])
    line = {
        "kdf": json.dumps({**params, "kdf": "bcrypt"}).encode() + b"\n",
        "spacing": json.dumps(params, indent=1).replace("\n", "").encode() + b"\n",
        "extra field": json.dumps({**params, "note": "x"}).encode() + b"\n",
        "huge n": json.dumps({**params, "n": 2**30}).encode() + b"\n",
        "n not a power of two": json.dumps({**params, "n": params["n"] + 1}).encode() + b"\n",
        "n as text": json.dumps({**params, "n": str(params["n"])}).encode() + b"\n",
    }[change]
    with pytest.raises(BackupError, match="damaged header"):
        restore_backup(with_header(backup, line), tmp_path / "restored", PASSPHRASE, kind="point")
    assert not (tmp_path / "restored").exists()


def test_a_changed_salt_or_parameter_makes_the_key_wrong(backup, tmp_path):
    params = json.loads(header_of(backup)[1])
    salt = bytearray(params["salt"].encode())
    salt[0] = ord("A") if salt[0] != ord("A") else ord("B")
    for changed in ({**params, "salt": salt.decode()}, {**params, "n": params["n"] // 2}):
        with pytest.raises(BackupError, match="does not decrypt"):
            restore_backup(with_header(backup, json.dumps(changed).encode() + b"\n"), tmp_path / "restored",
                           PASSPHRASE, kind="point")
    assert not (tmp_path / "restored").exists()


def test_an_existing_file_is_never_overwritten(backup, data):
    before = backup.read_bytes()
    with pytest.raises(BackupError, match="exists already"):
        write_backup(data, "point.db", backup, PASSPHRASE, kind="point")
    assert backup.read_bytes() == before


def test_a_passphrase_file_saved_by_notepad_reads_as_typed(tmp_path):
    """A byte order mark and Windows line ends are not part of the passphrase; spaces are."""
    saved = tmp_path / "passphrase.txt"
    saved.write_bytes("\ufeff".encode() + b"three rivers meet at baise \r\nsecond line\r\n")
    assert read_passphrase(saved, confirm=False) == "three rivers meet at baise "


def test_refusals_come_before_the_passphrase_is_asked(backup, data, tmp_path):
    """Nobody types a passphrase twice only to hear the directory was wrong."""
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "left-over.txt").write_text("x", encoding="utf-8")
    runner = CliRunner()
    restore = runner.invoke(point_cli, ["restore", "--data", str(tmp_path / "busy"), str(backup)], input="",
                            env={"POINTKIT_BACKUP_PASSPHRASE": ""})
    assert restore.exit_code == 1 and "not empty" in restore.output and "passphrase" not in restore.output.lower()

    @click.command()
    def take_again() -> None:  # what `pointkit backup` and `pointkit-hub backup` run once they know their database
        backup_command(data, "point.db", backup, None, kind="point")

    again = runner.invoke(take_again, input="", env={"POINTKIT_BACKUP_PASSPHRASE": ""})
    assert again.exit_code == 1 and "exists already" in again.output and "passphrase" not in again.output.lower()
