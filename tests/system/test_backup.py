"""Encrypted backups: `pointkit backup/restore` and `pointkit-hub backup/restore` on real processes and files."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from tests.support.cluster import MEDICAL_INSURANCE, command, wait_until

from sync.kit.idnumber import check_character

VILLAGE = "八达镇周邦村便民服务站"
PASSPHRASE = "three rivers meet at baise"
IDLE = 3600.0


def run(*args: str, passphrase: str = PASSPHRASE) -> subprocess.CompletedProcess:
    # PYTHONPATH: this tree's code (tests/conftest.py).
    env = {"POINTKIT_BACKUP_PASSPHRASE": passphrase, "PATH": str(Path(command("pointkit")).parent),
           "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    return subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)


def cases(data: Path, database: str) -> set[str]:
    with sqlite3.connect(data / database) as db:
        return {case_id for (case_id,) in db.execute('select id from "case"')}


def file_digests(data: Path, pattern: str) -> dict[str, str]:
    return {path.relative_to(data).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in data.rglob(pattern)}


def test_point_backup_while_serving_restores_whole_and_refuses_bad_input(cluster, tmp_path):
    cluster.start_hub()
    village = cluster.start_point(VILLAGE, "village", sync_interval=IDLE)
    taken = {village.take_case("韦秀兰", "45102719800101234"), village.take_case("黄金凤", "45102719750305122")}
    point_cmd = command("pointkit")
    stick = tmp_path / "usb"
    stick.mkdir()
    backup = stick / "village.pkbackup"

    # The point keeps serving while its backup is taken.
    made = run(point_cmd, "backup", "--data", str(village.data), str(backup))
    assert made.returncode == 0, made.stderr
    assert "wrote" in made.stdout and "point " + VILLAGE in made.stdout
    sealed = backup.read_bytes()
    assert "韦秀兰".encode() not in sealed and b"PRIVATE KEY" not in sealed, "the backup is encrypted"

    short = run(point_cmd, "backup", "--data", str(village.data), str(stick / "short"), passphrase="too short")
    assert short.returncode == 1 and "at least 12 characters" in short.stderr
    inside = run(point_cmd, "backup", "--data", str(village.data), str(village.data / "inside.pkbackup"))
    assert inside.returncode == 1 and "outside the data directory" in inside.stderr

    wrong = run(point_cmd, "restore", "--data", str(tmp_path / "wrong"), str(backup), passphrase="not the passphrase")
    assert wrong.returncode == 1 and "wrong passphrase" in wrong.stderr
    assert not (tmp_path / "wrong").exists(), "a refused restore writes nothing"
    damaged = stick / "damaged.pkbackup"
    flipped = bytearray(sealed)
    flipped[len(flipped) // 2] ^= 1
    damaged.write_bytes(bytes(flipped))
    refused = run(point_cmd, "restore", "--data", str(tmp_path / "damaged"), str(damaged))
    assert refused.returncode == 1 and "changed or cut short" in refused.stderr
    busy = run(point_cmd, "restore", "--data", str(village.data), str(backup))
    assert busy.returncode == 1 and "not empty" in busy.stderr
    hub_backup = run(command("pointkit-hub"), "restore", "--data", str(tmp_path / "as-hub"), str(backup))
    assert hub_backup.returncode == 1 and "not of a hub" in hub_backup.stderr

    restored = tmp_path / "restored"
    done = run(point_cmd, "restore", "--data", str(restored), str(backup))
    assert done.returncode == 0, done.stderr
    assert cases(restored, "point.db") == taken
    assert file_digests(restored, "*.pem") == file_digests(village.data, "*.pem") != {}
    verified = run(point_cmd, "audit", "verify", "--data", str(restored))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_hub_backup_and_restore(cluster, tmp_path):
    hub = cluster.start_hub()
    village = cluster.start_point(VILLAGE, "village", sync_interval=IDLE)
    case_id = village.take_case("韦秀兰", "45102719800101234")
    synced = run(command("pointkit"), "sync", "--data", str(village.data))
    assert synced.returncode == 0, synced.stderr
    hub_cmd = command("pointkit-hub")
    backup = tmp_path / "hub.pkbackup"
    made = run(hub_cmd, "backup", "--data", str(hub.data), str(backup))
    assert made.returncode == 0, made.stderr

    restored = tmp_path / "hub-restored"
    done = run(hub_cmd, "restore", "--data", str(restored), str(backup))
    assert done.returncode == 0, done.stderr
    assert cases(restored, "hub.db") == {case_id}
    assert file_digests(restored, "*.pem") == file_digests(hub.data, "*.pem") != {}
    verified = run(hub_cmd, "audit", "verify", "--data", str(restored))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_point_restored_from_an_old_backup_numbers_on_from_where_the_hub_stands(cluster, tmp_path):
    """The usual restore: a laptop dies, IT restores last week's backup and lets it sync before anyone takes a
    case. The hub's pull answer names the highest envelope and receipt numbers it holds from the point, so the
    restored point gives no resident a receipt number another already holds and makes no fork at all."""
    hub = cluster.start_hub()
    village = cluster.start_point(VILLAGE, "village")
    staff = village.api("staff")

    def receive(id17: str) -> dict:
        case = {"item_code": MEDICAL_INSURANCE,
                "applicant": {"name": "韦秀兰", "id_number": id17 + check_character(id17), "phone": ""},
                "form": {"insured_category": "普通居民"}, "materials": ["id_card", "hukou"]}
        response = staff.post("/api/cases", json=case)
        assert response.status_code == 201, response.text
        taken = response.json()
        wait_until(lambda: staff.get(f"/api/cases/{taken['case_id']}").json()["status"] == "acked", timeout=60,
                   what=f"case {taken['receipt_no']} acknowledged by the hub")
        return taken

    def numbering() -> tuple[int, str]:
        with sqlite3.connect(village.data / "point.db") as db:
            return db.execute("select next_seq, receipt_floor from pointstate").fetchone()

    receive("45102719800101234")
    backup = tmp_path / "village.pkbackup"
    assert run(command("pointkit"), "backup", "--data", str(village.data), str(backup)).returncode == 0
    lost = [receive("45102719750305122"), receive("45102719900707345")]
    seq_at_loss = numbering()[0]

    cluster.stop_server(village)
    shutil.rmtree(village.data)
    restored = run(command("pointkit"), "restore", "--data", str(village.data), str(backup))
    assert restored.returncode == 0, restored.stderr
    assert numbering()[0] < seq_at_loss, "the backup is older than what the point sent"
    village = cluster.start_point(VILLAGE, "village", dirname=village.data.name)  # its sync agent syncs at once
    wait_until(lambda: numbering()[0] >= seq_at_loss, timeout=60, what="the restored point to learn its numbers")
    assert numbering()[1] == lost[-1]["receipt_no"]

    staff = village.api("staff")
    fresh = receive("45102719620909456")
    assert fresh["receipt_no"] > lost[-1]["receipt_no"], "no resident gets a receipt number another holds"
    with sqlite3.connect(hub.data / "hub.db") as db:
        assert db.execute("select count(*) from conflict").fetchone()[0] == 0, "no fork at all"
        assert db.execute("select count(*) from \"case\"").fetchone()[0] == 4
