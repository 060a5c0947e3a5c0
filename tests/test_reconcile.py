"""Reconciliation through the real push path: a real hub, two real points, one restored from its own backup.

Each of the six conflict types arrives as points send it; the hub parks it on
the conflict desk, the department cannot decide the case meanwhile, and the
operator's resolution reaches the point's case.
"""

from __future__ import annotations

import json
import shutil
import sqlite3

from cluster import SAMPLE_CATALOG, command, wait_until

from sync.idnumber import check_character

ITEM = "451000-YB-001"
FORM = {"insured_category": "普通居民"}


def resident(serial: int) -> str:
    first17 = f"45102719800101{serial:03d}"
    return first17 + check_character(first17)


def intake(staff, id_number: str, name: str = "韦秀兰", item: str = ITEM, form: dict | None = None,
           materials: tuple[str, ...] = ("id_card", "hukou")) -> str:
    response = staff.post("/api/cases", json={"item_code": item, "form": form or FORM, "materials": list(materials),
                                              "applicant": {"name": name, "id_number": id_number, "phone": ""}})
    assert response.status_code == 201, response.text
    return response.json()["case_id"]


def next_seq(point) -> int:
    with sqlite3.connect(point.data / "point.db") as db:
        return db.execute("select next_seq from pointstate").fetchone()[0]


def conflicts(operator, **filters) -> list[dict]:
    return operator.get("/api/conflicts", params=filters).json()["conflicts"]


def parked(operator, kind: str, case_id: str) -> dict:
    return wait_until(lambda: next((c for c in conflicts(operator, kind=kind) if c["case_id"] == case_id), None),
                      timeout=60, what=f"a {kind} conflict on case {case_id}")


def test_six_conflict_types_through_real_points(cluster, tmp_path):
    hub = cluster.start_hub()
    cluster.add_reviewer("yb-li", "YB", "reviewer-pass-1")
    point_a = cluster.start_point("平兰村便民服务站", "village", dirname="point-a")
    point_b = cluster.start_point("那坡村便民服务站", "village", dirname="point-b")
    staff_a, staff_b = point_a.api("staff"), point_b.api("staff")
    operator, reviewer = hub.api("admin"), hub.api("yb-li")

    # Duplicate application (two points) and identity mismatch (same ID, another name, another point).
    first = intake(staff_a, resident(1))
    wait_until(lambda: reviewer.get(f"/api/cases/{first}").status_code == 200, timeout=60, what="first case")
    twin = intake(staff_b, resident(1))
    duplicate = parked(operator, "duplicate", twin)
    renamed = intake(staff_b, resident(1), name="韦秀英", item="451000-RS-012", form={"employment_status": "失业"},
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

    # Catalog drift: the hub's catalog changes; point A still holds version 1 (it checks hourly).
    catalog = json.loads(SAMPLE_CATALOG.read_text(encoding="utf-8"))
    for item in catalog["items"]:
        if item["code"] == "451000-RS-002":
            item["materials"].append({"code": "income", "name_zh": "收入证明", "name_en": "Income", "required": True})
    changed = tmp_path / "catalog-v2.json"
    changed.write_text(json.dumps(catalog, ensure_ascii=False), encoding="utf-8")
    cluster.run(command("pointkit-hub"), "catalog", "import", str(changed), "--data", str(hub.data))
    drifted = intake(staff_a, resident(3), item="451000-RS-002", form={"contribution_grade": "300"})
    drift = parked(operator, "catalog_drift", drifted)
    assert "required_materials" in drift["fields"]

    # A fork and an amendment against an older version: point A is restored from its own backup.
    amended = intake(staff_a, resident(4))
    wait_until(lambda: staff_a.get(f"/api/cases/{amended}").json()["status"] == "acked", timeout=60,
               what="case acked at A")
    cluster.stop_server(point_a)
    backup = tmp_path / "point-a-backup"
    shutil.copytree(point_a.data, backup)
    point_a = cluster.start_point("平兰村便民服务站", "village", dirname="point-a")
    staff_a = point_a.api("staff")
    assert staff_a.post(f"/api/cases/{amended}/amend", json={"form": {"insured_category": "低保对象"}}).status_code == 202
    lost = intake(staff_a, resident(5))
    wait_until(lambda: reviewer.get(f"/api/cases/{lost}").status_code == 200, timeout=60, what="the lost branch")
    cluster.stop_server(point_a)
    shutil.rmtree(point_a.data)
    shutil.copytree(backup, point_a.data)
    point_a = cluster.start_point("平兰村便民服务站", "village", dirname="point-a")
    staff_a = point_a.api("staff")
    assert staff_a.post(f"/api/cases/{amended}/amend", json={"form": {"insured_category": "特困人员"}}).status_code == 202
    same_field = parked(operator, "same_field", amended)
    assert same_field["fields"] == ["insured_category"]
    forks = wait_until(lambda: conflicts(operator, kind="fork"), timeout=60, what="the fork")
    assert forks[0]["point_name"] == "平兰村便民服务站" and forks[0]["case_id"] == amended
    # Told to continue from a fresh sequence number, the restored point sends new work without a fork.
    resume_seq = operator.get(f"/api/conflicts/{forks[0]['conflict_id']}").json()["detail"]["resume_seq"]
    wait_until(lambda: next_seq(point_a) >= resume_seq, timeout=60, what="the restored point to resume")
    fresh = intake(staff_a, resident(6))
    wait_until(lambda: reviewer.get(f"/api/cases/{fresh}").status_code == 200, timeout=60, what="a fresh case")
    assert len(conflicts(operator, kind="fork")) == len(forks), "no new fork after the resume"

    # Resolve the duplicate from the desk API: merge into one case; point B hears why.
    resolved = operator.post(f"/api/conflicts/{duplicate['conflict_id']}/resolve", json={"action": "merge_cases"})
    assert resolved.status_code == 200, resolved.text
    note = wait_until(lambda: staff_b.get(f"/api/cases/{twin}").json()["hub_note"], timeout=60,
                      what="the outcome at point B")
    assert note.startswith("merge_cases")
    assert not [c for c in conflicts(operator, kind="duplicate") if c["case_id"] == twin]
