"""``pointkit-hub backup`` and ``restore`` on SQLite and on PostgreSQL.

On SQLite the backup holds the whole data directory, database included (the cluster test in
tests/system/test_backup.py takes one from a serving hub). A hub on PostgreSQL gets the same encrypted backup of
its data directory (keys, scans) without its tables, and both commands say where the database's own
backup (pg_dump) comes in.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

from click.testing import CliRunner

from hub.cli import main
from hub.instance import initialize
from hub.approval.scanstore import SCANS_DIR, LocalScanStore

LIVE_FILES = {"hub.db", "hub.db-wal", "hub.db-shm", "hub.db.writers"}


def digests(directory: Path) -> dict[str, str]:
    """Every file but the live database, by path: what a restore must bring back byte for byte."""
    return {path.relative_to(directory).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in directory.rglob("*") if path.is_file() and path.name not in LIVE_FILES}


def test_a_hub_backup_restores_its_keys_and_scans_and_says_where_the_database_is(tmp_path, hub_database,
                                                                                 monkeypatch):
    data = tmp_path / "hub"
    done = initialize(data, admin_password="admin-pass-1")
    scan = LocalScanStore(data / SCANS_DIR).path(str(uuid.uuid4()))
    scan.parent.mkdir(parents=True, exist_ok=True)
    scan.write_bytes(b"sealed scan bytes" * 100)
    monkeypatch.setenv("POINTKIT_BACKUP_PASSPHRASE", "county it backup words")
    cli = CliRunner()

    made = cli.invoke(main, ["backup", "--data", str(data), str(tmp_path / "hub.pkbackup")])
    assert made.exit_code == 0, made.output
    restored = tmp_path / "restored"
    back = cli.invoke(main, ["restore", "--data", str(restored), str(tmp_path / "hub.pkbackup")])
    assert back.exit_code == 0, back.output

    held = digests(restored)
    assert held == digests(data)
    assert scan.relative_to(data).as_posix() in held and any(path.endswith(".pem") for path in held)
    if hub_database == "sqlite":
        assert (restored / "hub.db").is_file()
        assert "not in this backup" not in made.output and "pg_restore" not in back.output
    else:
        assert not (restored / "hub.db").exists()
        assert "postgresql database is not in it" in made.output and "pg_dump" in made.output
        assert "pg_restore" in back.output and f"audit verify --data {restored}" in back.output
    # The restored directory serves the same hub: its keys, and its database (the copy, or the same PostgreSQL).
    listed = cli.invoke(main, ["keys", "list", "--data", str(restored)])
    assert listed.exit_code == 0 and listed.output.startswith(f"1\t{done.fingerprint}\t"), listed.output


def test_a_backup_refuses_a_directory_that_is_no_hub(tmp_path):
    empty = tmp_path / "nothing"
    empty.mkdir()
    refused = CliRunner().invoke(main, ["backup", "--data", str(empty), str(tmp_path / "x.pkbackup")],
                                 env={"POINTKIT_BACKUP_PASSPHRASE": "county it backup words"})
    assert refused.exit_code == 1 and "not a hub data directory" in refused.output
    assert not (tmp_path / "x.pkbackup").exists()
