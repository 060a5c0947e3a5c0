"""A point restored from an old backup gets back the cases its laptop took after the backup: real hub, township and
point processes, real backups, real USB bundles.

The laptop takes case A, is backed up, takes case B, syncs; B is decided and its result reaches the laptop;
then the laptop is restored from the backup. The restored point lacks B and had refused (or, through a
township or on USB, never sees again) the hub's messages about it. It asks the hub for the cases behind the
envelope numbers it never used; the hub copies B back with its messages; staff hand B's result over on the
resident's whole ID number (its pickup code is only on the old laptop), which the audit chain records, and
COLLECTED closes B at the hub. A is untouched.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from tests.support.cluster import command, wait_until

from sync.kit.idnumber import check_character

TOWNSHIP = "八达镇政务服务中心"
VILLAGE = "八达镇周邦村便民服务站"
MEDICAL_INSURANCE = "451030-YB-001"
PASSPHRASE = "three rivers meet at baise"
# The USB village's own sync worker stays out of the way: the test carries every file.
IDLE = 3600.0
ID_A = "45102719800101234" + check_character("45102719800101234")
ID_B = "45102719750305122" + check_character("45102719750305122")


def run(*args: str) -> subprocess.CompletedProcess:
    # PYTHONPATH: this tree's code (tests/conftest.py).
    env = {"POINTKIT_BACKUP_PASSPHRASE": PASSPHRASE, "PATH": str(Path(command("pointkit")).parent),
           "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    return subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)


def take_case(point, name: str, id_number: str) -> dict:
    case = {"item_code": MEDICAL_INSURANCE, "applicant": {"name": name, "id_number": id_number, "phone": ""},
            "form": {"insured_category": "普通居民"}, "materials": ["id_card", "hukou"]}
    response = point.api("staff").post("/api/cases", json=case)
    assert response.status_code == 201, response.text
    return response.json()


def point_case(point, case_id: str) -> dict | None:
    with sqlite3.connect(point.data / "point.db") as db:
        db.row_factory = sqlite3.Row
        row = db.execute('select status, decision, restored_at, pickup_code_hash from "case" where id = ?',
                         (case_id,)).fetchone()
    return dict(row) if row else None


def hub_case(hub, case_id: str) -> dict:
    response = hub.api("yb-li").get(f"/api/cases/{case_id}")
    assert response.status_code == 200, response.text
    return response.json()


def decide(hub, case_id: str) -> None:
    decided = hub.api("yb-li").post(f"/api/cases/{case_id}/decision",
                                    json={"decision": "approved", "reason": "", "certificate_no": "YB-2026-0815"})
    assert decided.status_code == 200, decided.text


def restore(cluster, point, backup: Path) -> None:
    """The laptop dies; county IT restores last week's backup into the same place."""
    cluster.stop_server(point)
    shutil.rmtree(point.data)
    restored = run(command("pointkit"), "restore", "--data", str(point.data), str(backup))
    assert restored.returncode == 0, restored.stderr


def hand_over_b(point, a: dict, b: dict) -> None:
    """B is back with its result and no pickup code; a wrong ID number is refused; the whole one hands it over,
    audited with staff, reason and case; A keeps its own pickup code and state."""
    staff = point.api("staff")
    detail = staff.get(f"/api/cases/{b['case_id']}").json()
    assert detail["restored_at"] and detail["receipt_no"] == b["receipt_no"] and detail["result"]
    by_code = staff.post(f"/api/cases/{b['case_id']}/pickup", json={"pickup_code": b["pickup_code"],
                                                                     "id_last4": ID_B[-4:]})
    assert by_code.status_code == 409 and by_code.json()["reason"] == "no_pickup_code_here"
    wrong = staff.post(f"/api/cases/{b['case_id']}/pickup-by-id", json={"id_number": ID_A, "reason": "receipt_lost"})
    assert wrong.status_code == 403 and wrong.json()["reason"] == "wrong_id_number"
    done = staff.post(f"/api/cases/{b['case_id']}/pickup-by-id",
                      json={"id_number": ID_B, "reason": "restored_no_code"})
    assert done.status_code == 200, done.text
    assert done.json()["result"]["document"]["certificate_no"] == "YB-2026-0815"

    with sqlite3.connect(point.data / "point.db") as db:
        entries = db.execute("select actor, action, subject, detail from auditentry").fetchall()
    handed = [(actor, json.loads(detail)) for actor, action, subject, detail in entries
              if action == "case_collected_by_id_check" and subject == b["case_id"]]
    assert handed == [("staff", {"receipt_no": b["receipt_no"], "reason": "restored_no_code", "note": ""})]
    assert not any(ID_B in detail for *_rest, detail in entries), "the ID number is never in the audit chain"
    verified = run(command("pointkit"), "audit", "verify", "--data", str(point.data))
    assert verified.returncode == 0, verified.stdout + verified.stderr

    kept = point_case(point, a["case_id"])
    assert (kept["status"], kept["restored_at"]) == ("acked", None) and kept["pickup_code_hash"], "A is untouched"


def check_at_hub(hub, a: dict, b: dict) -> None:
    """COLLECTED closed B; the hub's timeline says the copy went back; A waits for its decision."""
    assert "copy_sent" in [event["action"] for event in hub_case(hub, b["case_id"])["events"]]
    assert hub_case(hub, a["case_id"])["status"] == "routed"
    with sqlite3.connect(hub.data / "hub.db") as db:
        assert db.execute("select count(*) from conflict").fetchone()[0] == 0, "a restore is not a conflict"


def lose_b_and_restore(cluster, point, tmp_path: Path, *, via: str = "") -> tuple[dict, dict]:
    """A, backup, B; B decided and its result at the laptop; then the laptop is restored from the backup."""
    hub = cluster.hub
    staff = point.api("staff")
    a = take_case(point, "韦秀兰", ID_A)
    wait_until(lambda: staff.get(f"/api/cases/{a['case_id']}").json()["status"] == "acked", timeout=90,
               what="A at the hub")
    backup = tmp_path / "village.pkbackup"
    made = run(command("pointkit"), "backup", "--data", str(point.data), str(backup))
    assert made.returncode == 0, made.stderr
    b = take_case(point, "黄金凤", ID_B)
    wait_until(lambda: staff.get(f"/api/cases/{b['case_id']}").json()["status"] == "acked", timeout=90,
               what="B at the hub")
    decide(hub, b["case_id"])
    wait_until(lambda: point_case(point, b["case_id"])["status"] == "result_ready", timeout=90,
               what=f"B's result at the laptop{via}")
    restore(cluster, point, backup)
    assert point_case(point, b["case_id"]) is None, "the backup is older than B"
    return a, b


def test_a_restored_point_gets_its_lost_case_back_and_hands_it_over_on_the_id_number(cluster, tmp_path):
    hub = cluster.start_hub()
    cluster.add_reviewer("yb-li", "YB", "reviewer-pass-1")
    village = cluster.start_point(VILLAGE, "village", dirname="village")
    a, b = lose_b_and_restore(cluster, village, tmp_path)

    village = cluster.start_point(VILLAGE, "village", dirname="village")  # its sync agent syncs at once
    wait_until(lambda: (point_case(village, b["case_id"]) or {}).get("status") == "result_ready", timeout=90,
               what="B back at the restored point with its result")
    hand_over_b(village, a, b)
    wait_until(lambda: hub_case(hub, b["case_id"])["status"] == "closed", timeout=90, what="B closed at the hub")
    check_at_hub(hub, a, b)


def test_a_restored_village_behind_a_township_gets_its_lost_case_back(cluster, tmp_path):
    from tests.system.test_relay import enroll_via

    hub = cluster.start_hub()
    cluster.add_reviewer("yb-li", "YB", "reviewer-pass-1")
    township = cluster.start_point(TOWNSHIP, "township", dirname="township")
    enroll_via(cluster, VILLAGE, township)
    village = cluster.start_point(VILLAGE, "village", dirname="village")
    a, b = lose_b_and_restore(cluster, village, tmp_path, via=" through the township")

    village = cluster.start_point(VILLAGE, "village", dirname="village")
    wait_until(lambda: (point_case(village, b["case_id"]) or {}).get("status") == "result_ready", timeout=120,
               what="B back at the restored village, through the township")
    hand_over_b(village, a, b)
    wait_until(lambda: hub_case(hub, b["case_id"])["status"] == "closed", timeout=120,
               what="B closed at the hub, through the township")
    check_at_hub(hub, a, b)


def test_a_restored_village_that_syncs_only_by_usb_gets_its_lost_case_back(cluster, tmp_path):
    hub = cluster.start_hub()
    cluster.add_reviewer("yb-li", "YB", "reviewer-pass-1")
    village = cluster.start_point(VILLAGE, "village", sync_interval=IDLE, dirname="village")
    cluster.stop_server(hub)  # no link from here on; the county carries files
    point_cmd, hub_cmd = command("pointkit"), command("pointkit-hub")
    to_hub, to_village = tmp_path / "village-to-county.pkb", tmp_path / "county-to-village.pkb"

    def village_to_county() -> str:
        assert run(point_cmd, "export-bundle", "--data", str(village.data), str(to_hub)).returncode == 0
        carried = run(hub_cmd, "import-bundle", "--data", str(hub.data), str(to_hub))
        assert carried.returncode == 0, carried.stderr
        return carried.stdout

    def county_to_village() -> str:
        assert run(hub_cmd, "export-bundle", "--data", str(hub.data), "--point", VILLAGE,
                   str(to_village)).returncode == 0
        carried = run(point_cmd, "import-bundle", "--data", str(village.data), str(to_village))
        assert carried.returncode == 0, carried.stderr
        return carried.stdout

    a = take_case(village, "韦秀兰", ID_A)
    village_to_county()
    county_to_village()
    backup = tmp_path / "village.pkbackup"
    assert run(point_cmd, "backup", "--data", str(village.data), str(backup)).returncode == 0
    b = take_case(village, "黄金凤", ID_B)
    cluster.stop_server(village)
    village_to_county()
    hub = cluster.start_hub()
    decide(hub, b["case_id"])
    cluster.stop_server(hub)
    county_to_village()
    assert point_case(village, b["case_id"])["status"] == "result_ready"
    village_to_county()  # its cursor: the hub counts B's messages delivered and never bundles them again

    shutil.rmtree(village.data)
    assert run(point_cmd, "restore", "--data", str(village.data), str(backup)).returncode == 0
    asked = county_to_village()
    assert "asked the hub for the cases it took after the backup" in asked
    assert point_case(village, b["case_id"]) is None
    assert "accepted 1" in village_to_county()
    county_to_village()
    assert point_case(village, b["case_id"])["status"] == "result_ready"

    village = cluster.start_point(VILLAGE, "village", sync_interval=IDLE, dirname="village")
    hand_over_b(village, a, b)
    cluster.stop_server(village)
    village_to_county()
    hub = cluster.start_hub()
    assert hub_case(hub, b["case_id"])["status"] == "closed"
    check_at_hub(hub, a, b)
