"""Version skew: a point still running the previous release (protocol 1), or a build of protocol 2, works
against this hub.

Both are real code: the tree of the last commit that spoke each protocol, taken from this repository's history
with ``git archive`` and run from the same virtualenv. Nothing of today's point is used for them.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess

from tests.support.cluster import SAMPLE_CATALOG, wait_until
from tests.support.previous_release import LAST_PROTOCOL_2, LAST_PROTOCOL_4, previous_release

from sync.envelope import PROTOCOL_VERSION, SUPPORTED_PROTOCOLS
from sync.kit.idnumber import check_character

VILLAGE = "八达镇周邦村便民服务站"
MEDICAL_INSURANCE = "451030-YB-001"
BIRTH_REGISTRATION = "451030-WJ-005"  # its marriage certificate may be an e-certificate (protocol 5)


def test_the_hub_speaks_every_protocol_since_the_previous_release():
    assert SUPPORTED_PROTOCOLS == tuple(range(1, PROTOCOL_VERSION + 1)), "the previous release speaks protocol 1"


def test_a_point_on_the_previous_release_runs_the_whole_loop(cluster, tmp_path):
    hub = cluster.start_hub()
    cluster.add_reviewer("yb-li", "YB", "reviewer-pass-1")
    program = previous_release(tmp_path).pointkit
    old = cluster.start_point(VILLAGE, "village", program=program)
    staff = old.api("staff")
    version = subprocess.run([program, "--help"], capture_output=True, text=True)
    assert version.returncode == 0 and "sync" in version.stdout

    id17 = "45102719800101234"
    id_number = id17 + check_character(id17)
    taken = staff.post("/api/cases", json={
        "item_code": MEDICAL_INSURANCE, "applicant": {"name": "韦秀兰", "id_number": id_number, "phone": ""},
        "form": {"insured_category": "普通居民"}, "materials": ["id_card", "hukou"]})
    assert taken.status_code == 201, taken.text
    case_id, pickup_code = taken.json()["case_id"], taken.json()["pickup_code"]

    reviewer = hub.api("yb-li")
    wait_until(lambda: reviewer.get(f"/api/cases/{case_id}").status_code == 200, timeout=30,
               what="the old point's case at the hub")
    decided = reviewer.post(f"/api/cases/{case_id}/decision",
                            json={"decision": "approved", "reason": "", "certificate_no": "YB-2026-0042"})
    assert decided.status_code == 200, decided.text
    wait_until(lambda: staff.get(f"/api/cases/{case_id}").json()["status"] == "result_ready", timeout=30,
               what="the result at the old point")
    collected = staff.post(f"/api/cases/{case_id}/pickup",
                           json={"pickup_code": pickup_code, "id_last4": id_number[-4:]})
    assert collected.status_code == 200, collected.text
    assert collected.json()["result"]["document"]["certificate_no"] == "YB-2026-0042"
    wait_until(lambda: reviewer.get(f"/api/cases/{case_id}").json()["status"] == "closed", timeout=30,
               what="the case closed at the hub")
    with sqlite3.connect(hub.data / "hub.db") as db:
        (protocol,) = db.execute("select protocol from point where name = ?", (VILLAGE,)).fetchone()
    assert protocol == 1, "the hub knows this point speaks the previous protocol"
    with sqlite3.connect(old.data / "point.db") as db:
        refused = db.execute("select count(*) from inboxmessage where outcome = 'refused'").fetchone()[0]
    assert refused == 0, "the old point could read every message the hub sent it"


def test_a_protocol_2_point_reads_the_catalog_and_every_message_of_a_supplement_round(cluster, tmp_path):
    """Protocol 3 added fields to STATUS, SUPPLEMENT_REQUEST and catalog items, which a protocol-2 point's strict
    models refuse: the hub leaves them out for it, so a county that sets an item's 补正 period loses no point."""
    sample = json.loads(SAMPLE_CATALOG.read_text(encoding="utf-8"))
    for item in sample["items"]:
        if item["code"] == MEDICAL_INSURANCE:
            item.update(supplement_days=10, supplement_unit="natural_days")
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(sample, ensure_ascii=False), encoding="utf-8")
    hub = cluster.start_hub(catalog=catalog)
    cluster.add_reviewer("yb-li", "YB", "reviewer-pass-1")
    old = cluster.start_point(VILLAGE, "village", program=previous_release(tmp_path, LAST_PROTOCOL_2).pointkit)
    staff, reviewer = old.api("staff"), hub.api("yb-li")

    id17 = "45102719800101234"
    taken = wait_until(lambda: (answer := staff.post("/api/cases", json={
        "item_code": MEDICAL_INSURANCE, "applicant": {"name": "韦秀兰", "id_number": id17 + check_character(id17)},
        "form": {"insured_category": "普通居民"}, "materials": ["id_card", "hukou"]})).status_code == 201 and answer,
        timeout=30, what="the catalog at the protocol-2 point")
    case_id = taken.json()["case_id"]
    wait_until(lambda: staff.get(f"/api/cases/{case_id}").json()["hub_status"] == "routed", timeout=30,
               what="the routed status at the old point")
    asked = reviewer.post(f"/api/cases/{case_id}/supplement", json={"materials": ["hukou"], "note": "户口簿复印件不清晰"})
    assert asked.status_code == 200, asked.text
    assert asked.json()["supplements"][0]["return_by"], "the hub keeps the return date, the old point never sees it"
    wait_until(lambda: staff.get(f"/api/cases/{case_id}").json()["status"] == "supplement_requested", timeout=30,
               what="the supplement request at the old point")
    sent = staff.post(f"/api/cases/{case_id}/supplement", data={"note": "已重新复印", "scan_materials": "hukou"},
                      files={"scans": ("hukou.pdf", b"%PDF-1.4 household register")})
    assert sent.status_code == 202, sent.text
    wait_until(lambda: reviewer.get(f"/api/cases/{case_id}").json()["status"] == "in_review", timeout=30,
               what="the supplement at the hub")
    decided = reviewer.post(f"/api/cases/{case_id}/decision", json={"decision": "approved", "certificate_no": "YB-7"})
    assert decided.status_code == 200, decided.text
    wait_until(lambda: staff.get(f"/api/cases/{case_id}").json()["status"] == "result_ready", timeout=30,
               what="the result at the old point")

    with sqlite3.connect(hub.data / "hub.db") as db:
        (protocol,) = db.execute("select protocol from point where name = ?", (VILLAGE,)).fetchone()
    assert protocol == 2
    with sqlite3.connect(old.data / "point.db") as db:
        refused = db.execute("select error from inboxmessage where outcome = 'refused'").fetchall()
        statuses = db.execute("select count(*) from inboxmessage where kind = 65").fetchone()[0]
    assert refused == [], "the protocol-2 point could read every message the hub sent it"
    assert statuses >= 3, "routed, supplement requested, supplemented"


def test_a_protocol_4_point_reads_a_catalog_with_the_residents_side(cluster, tmp_path):
    """Protocol 5 added pre-check reviewers and certificate types to catalog items and materials, which a
    protocol-4 point's strict models refuse: the hub leaves them out for it, and its cases go through as before."""
    sample = json.loads(SAMPLE_CATALOG.read_text(encoding="utf-8"))
    items = {item["code"]: item for item in sample["items"]}
    assert any(material.get("certificates") for material in items[BIRTH_REGISTRATION]["materials"])
    assert any(item.get("certificate_type") for item in sample["items"])
    assert any(item.get("precheck") == "department" for item in sample["items"])
    cluster.start_hub()
    cluster.add_reviewer("wj-li", "WJ", "reviewer-pass-1")
    old = cluster.start_point(VILLAGE, "village", program=previous_release(tmp_path, LAST_PROTOCOL_4).pointkit)
    staff = old.api("staff")
    id17 = "45102719900101234"
    taken = wait_until(lambda: (answer := staff.post("/api/cases", json={
        "item_code": BIRTH_REGISTRATION, "applicant": {"name": "韦秀兰", "id_number": id17 + check_character(id17)},
        "form": {"spouse_name": "黄志强"}, "materials": ["id_cards", "marriage"]})).status_code == 201 and answer,
        timeout=30, what="the catalog at the protocol-4 point")
    case_id = taken.json()["case_id"]
    wait_until(lambda: staff.get(f"/api/cases/{case_id}").json()["hub_status"] == "routed", timeout=30,
               what="the routed status at the protocol-4 point")
    with sqlite3.connect(cluster.hub.data / "hub.db") as db:
        (protocol,) = db.execute("select protocol from point where name = ?", (VILLAGE,)).fetchone()
    assert protocol == 4
    with sqlite3.connect(old.data / "point.db") as db:
        refused = db.execute("select error from inboxmessage where outcome = 'refused'").fetchall()
    assert refused == [], "the protocol-4 point could read every message the hub sent it"
