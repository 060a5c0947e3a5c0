"""Reconciliation through the real push path: a real hub, two real points, one restored from its own backup.

Each of the six conflict types arrives as points send it; the hub parks it on
the conflict desk, the department cannot decide the case meanwhile, and the
operator's resolution reaches the point's case.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

from tests.support.cluster import SAMPLE_CATALOG, command, wait_until

from sync.kit.idnumber import check_character

ITEM = "451030-YB-001"
FORM = {"insured_category": "普通居民"}


def resident(serial: int) -> str:
    first17 = f"45102719800101{serial:03d}"
    return first17 + check_character(first17)


def receive(staff, id_number: str, name: str = "韦秀兰", item: str = ITEM, form: dict | None = None,
            materials: tuple[str, ...] = ("id_card", "hukou")) -> dict:
    """Intake through the point's API; the answer carries the case id, receipt number and pickup code."""
    response = staff.post("/api/cases", json={"item_code": item, "form": form or FORM, "materials": list(materials),
                                              "applicant": {"name": name, "id_number": id_number, "phone": ""}})
    assert response.status_code == 201, response.text
    return response.json()


def intake(staff, id_number: str, **kwargs) -> str:
    return receive(staff, id_number, **kwargs)["case_id"]


def next_seq(point) -> int:
    with sqlite3.connect(point.data / "point.db") as db:
        return db.execute("select next_seq from pointstate").fetchone()[0]


def conflicts(operator, **filters) -> list[dict]:
    return operator.get("/api/conflicts", params=filters).json()["conflicts"]


def parked(operator, kind: str, case_id: str) -> dict:
    return wait_until(lambda: next((c for c in conflicts(operator, kind=kind) if c["case_id"] == case_id), None),
                      timeout=60, what=f"a {kind} conflict on case {case_id}")


def online_copy(point, target: Path) -> None:
    """Copy a running point's data directory as a backup tool would: the database through SQLite's backup API."""
    shutil.copytree(point.data, target, ignore=shutil.ignore_patterns("point.db*"))
    with sqlite3.connect(point.data / "point.db") as source, sqlite3.connect(target / "point.db") as copy:
        source.backup(copy)


def synced(staff) -> None:
    """One sync round of the point now (point B syncs only when woken: its catalog stays old until asked)."""
    response = staff.post("/api/sync")
    assert response.status_code == 200, response.text


def test_six_conflict_types_through_real_points(cluster, tmp_path):
    hub = cluster.start_hub()
    cluster.add_reviewer("yb-li", "YB", "reviewer-pass-1")
    cluster.setup(cluster.hub_cmd, "users", "add", "desk-op", "--role", "operator", "--password", "operator-pass-1",
                  "--data", str(hub.data))
    hub.logins["desk-op"] = "operator-pass-1"
    point_a = cluster.start_point("周邦村便民服务站", "village", dirname="point-a")
    # Point B syncs when a change wakes it or a test asks, never on a timer: no wait on an interval.
    point_b = cluster.start_point("那劳村便民服务站", "village", dirname="point-b", sync_interval=3600)
    staff_a, staff_b = point_a.api("staff"), point_b.api("staff")
    operator, reviewer, desk = hub.api("admin"), hub.api("yb-li"), hub.api("desk-op")

    # Duplicate application (two points) and identity mismatch (same ID, another name, another point).
    first = intake(staff_a, resident(1))
    wait_until(lambda: reviewer.get(f"/api/cases/{first}").status_code == 200, timeout=60, what="first case")
    twin_receipt = receive(staff_b, resident(1))
    twin = twin_receipt["case_id"]
    duplicate = parked(operator, "duplicate", twin)
    renamed = intake(staff_b, resident(1), name="韦秀英", item="451030-RS-012", form={"employment_status": "失业"},
                     materials=("id_card", "photo"))
    identity = parked(operator, "identity", renamed)
    assert set(identity["fields"]) == {"name"}

    # While the duplicate is open the department cannot decide either case.
    blocked = reviewer.post(f"/api/cases/{twin}/decision", json={"decision": "approved", "reason": "",
                                                                  "certificate_no": ""})
    assert blocked.status_code == 409 and blocked.json()["reason"] == "in_conflict"

    # Withdrawal after the decision.
    decided = intake(staff_a, resident(2))
    wait_until(lambda: reviewer.get(f"/api/cases/{decided}").status_code == 200, timeout=60, what="case to decide")
    assert reviewer.post(f"/api/cases/{decided}/decision", json={"decision": "approved", "reason": "",
                                                                 "certificate_no": "YB-1"}).status_code == 200
    wait_until(lambda: staff_a.get(f"/api/cases/{decided}").json()["status"] == "result_ready", timeout=60,
               what="the result at point A")
    # The window refuses a change to a decided case; the hub parks one that crossed the decision on the way.
    assert staff_a.post(f"/api/cases/{decided}/withdraw", json={"reason": "改变主意"}).status_code == 409

    # Catalog drift: the hub's catalog changes; point B, not woken since, still holds version 1.
    catalog = json.loads(SAMPLE_CATALOG.read_text(encoding="utf-8"))
    for item in catalog["items"]:
        if item["code"] == "451030-RS-002":
            item["materials"].append({"code": "income", "name_zh": "收入证明", "name_en": "Income", "required": True})
    changed = tmp_path / "catalog-v2.json"
    changed.write_text(json.dumps(catalog, ensure_ascii=False), encoding="utf-8")
    cluster.run(command("pointkit-hub"), "catalog", "import", str(changed), "--data", str(hub.data))
    drifted = intake(staff_b, resident(3), item="451030-RS-002", form={"contribution_grade": "300"})
    drift = parked(operator, "catalog_drift", drifted)
    assert "required_materials" in drift["fields"]
    [catalog_note] = operator.get(f"/api/cases/{drifted}").json()["catalog_notes"]
    assert drift["conflict_id"] in catalog_note, "the case's catalog note names the conflict: one warning"
    # An operator (not a reviewer) sends the 补正 for the department, asking for the newly required material.
    asked = desk.post(f"/api/conflicts/{drift['conflict_id']}/resolve", json={"action": "supplement"})
    assert asked.status_code == 200, asked.text
    [round_] = operator.get(f"/api/cases/{drifted}").json()["supplements"]
    assert round_["materials"] == ["income"] and round_["requested_by"] == "desk-op"

    # A fork and an amendment against an older version: point A is restored from its own backup.
    amended = intake(staff_a, resident(4))
    wait_until(lambda: staff_a.get(f"/api/cases/{amended}").json()["status"] == "acked", timeout=60,
               what="case acked at A")
    backup = tmp_path / "point-a-backup"
    online_copy(point_a, backup)
    assert staff_a.post(f"/api/cases/{amended}/amend", json={"form": {"insured_category": "低保对象"}}).status_code == 202
    lost_receipt = receive(staff_a, resident(5))
    lost = lost_receipt["case_id"]
    wait_until(lambda: reviewer.get(f"/api/cases/{lost}").status_code == 200, timeout=60, what="the lost branch")
    # Restored where the hub cannot be reached (a restored point that syncs first learns its numbers from the
    # hub and makes no fork: tests/system/test_backup.py): the amendment is sealed under a sequence number used before.
    cluster.stop_server(point_a)
    cluster.stop_server(cluster.hub)
    shutil.rmtree(point_a.data)
    shutil.copytree(backup, point_a.data)
    point_a = cluster.start_point("周邦村便民服务站", "village", dirname="point-a")
    staff_a = point_a.api("staff")
    assert staff_a.post(f"/api/cases/{amended}/amend", json={"form": {"insured_category": "特困人员"}}).status_code == 202
    cluster.start_hub()  # the same port, data and logins

    # Meanwhile the operator settles the identity and merges the duplicate; then one decision on the kept case.
    assert desk.post(f"/api/conflicts/{identity['conflict_id']}/resolve",
                     json={"action": "take_left"}).status_code == 200
    resolved = desk.post(f"/api/conflicts/{duplicate['conflict_id']}/resolve", json={"action": "merge_cases"})
    assert resolved.status_code == 200, resolved.text
    assert not [c for c in conflicts(operator, kind="duplicate") if c["case_id"] == twin]
    assert reviewer.post(f"/api/cases/{first}/decision", json={"decision": "approved", "reason": "",
                                                               "certificate_no": "YB-2"}).status_code == 200

    same_field = parked(operator, "same_field", amended)
    assert same_field["fields"] == ["insured_category"]
    forks = wait_until(lambda: conflicts(operator, kind="fork"), timeout=60, what="the fork")
    assert forks[0]["point_name"] == "周邦村便民服务站" and forks[0]["case_id"] == amended
    # Told to continue from a fresh sequence number, the restored point sends new work without reusing one.
    resume_seq = operator.get(f"/api/conflicts/{forks[0]['conflict_id']}").json()["detail"]["resume_seq"]
    wait_until(lambda: next_seq(point_a) >= resume_seq, timeout=60, what="the restored point to resume")
    fresh_receipt = receive(staff_a, resident(6))
    fresh = fresh_receipt["case_id"]
    wait_until(lambda: reviewer.get(f"/api/cases/{fresh}").status_code == 200, timeout=60, what="a fresh case")
    # Nor a receipt number a resident already holds: the hub named the newest it holds from the point.
    assert fresh_receipt["receipt_no"] > lost_receipt["receipt_no"]
    assert len(conflicts(operator, kind="fork")) == len(forks), "no new fork after the resume"

    # Point B hears why, holds the operator's 补正, and its own receipt collects the kept case's result.
    synced(staff_b)
    twin_at_b = staff_b.get(f"/api/cases/{twin}").json()
    assert twin_at_b["hub_note"].startswith("merge_cases") and twin_at_b["status"] == "result_ready"
    assert staff_b.get(f"/api/cases/{drifted}").json()["status"] == "supplement_requested"
    collected = staff_b.post(f"/api/cases/{twin}/pickup", json={"pickup_code": twin_receipt["pickup_code"],
                                                               "id_last4": resident(1)[-4:]})
    assert collected.status_code == 200, collected.text
    document = collected.json()["result"]["document"]
    assert (document["receipt_no"], document["certificate_no"]) == (twin_receipt["receipt_no"], "YB-2")
    # Point A (restored meanwhile: it pulls again) held the same result under the kept receipt; once B's receipt
    # collected it, the hub closes both copies and A's copy cannot be collected a second time.
    wait_until(lambda: operator.get(f"/api/cases/{twin}").json()["status"] == "closed", timeout=60,
               what="the hub to close the merged case collected at point B")
    assert operator.get(f"/api/cases/{first}").json()["status"] == "closed"
    wait_until(lambda: staff_a.get(f"/api/cases/{first}").json()["status"] == "collected_elsewhere", timeout=60,
               what="point A to hear the result was collected at point B")
    twice = staff_a.post(f"/api/cases/{first}/pickup", json={"pickup_code": "000000", "id_last4": resident(1)[-4:]})
    assert twice.status_code == 409 and twice.json()["reason"] == "collected_elsewhere", twice.text
