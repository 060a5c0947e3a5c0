"""The whole loop across three real waitress servers: hub, township point, village point.

基层窗口受理 → 主管部门审批 → 基层窗口反馈, driven through the JSON APIs.
"""

from __future__ import annotations

import re
import sqlite3

from tests.support.cluster import wait_until

from sync.keys import Identity
from sync.signing import verify_document
from sync.kit.idnumber import check_character

VILLAGE = "八达镇周邦村便民服务站"
TOWNSHIP = "八达镇政务服务中心"
MEDICAL_INSURANCE = "451030-YB-001"
HOMESTEAD = "451030-ZR-006"


def valid_id(first17: str) -> str:
    return first17 + check_character(first17)


def case_at_point(point_api, case_id):
    response = point_api.get(f"/api/cases/{case_id}")
    assert response.status_code == 200, response.text
    return response.json()


def hub_case(hub_api, case_id):
    response = hub_api.get(f"/api/cases/{case_id}")
    return response.json() if response.status_code == 200 else None


def test_case_travels_the_whole_loop(cluster):
    hub = cluster.start_hub()
    cluster.add_reviewer("yb-li", "YB", "reviewer-pass-1")
    cluster.add_reviewer("ny-wang", "NY", "reviewer-pass-2")
    cluster.add_reviewer("zr-zhao", "ZR", "reviewer-pass-3")
    township = cluster.start_point(TOWNSHIP, "township")
    cluster.add_reviewer("xz-huang", "XZ", "reviewer-pass-4", township=TOWNSHIP)  # the township's own 乡镇人民政府
    village = cluster.start_point(VILLAGE, "village")

    # 基层窗口受理: the village window receives an application.
    staff = village.api("staff")
    applicant = {"name": "韦秀兰", "id_number": valid_id("45102719800101234"), "phone": "13807761234"}
    response = staff.post("/api/cases", json={
        "item_code": MEDICAL_INSURANCE,
        "applicant": applicant,
        "form": {"insured_category": "普通居民"},
        "materials": ["id_card", "hukou"],
    })
    assert response.status_code == 201, response.text
    receipt = response.json()
    case_id, pickup_code = receipt["case_id"], receipt["pickup_code"]
    assert receipt["receipt_no"] and len(pickup_code) == 6 and receipt["promised_date"]

    # The outbox holds sealed envelopes only: no name, no ID number, in any column.
    with sqlite3.connect(village.data / "point.db") as db:
        outbox_tables = [name for (name,) in db.execute("select name from sqlite_master where type='table'")
                         if "outbox" in name.lower()]
        assert outbox_tables, "the point keeps an outbox table"
        rows = [row for table in outbox_tables for row in db.execute(f'select * from "{table}"')]
    assert rows, "the case was queued in the outbox"
    for row in rows:
        blob = b"".join(v if isinstance(v, bytes) else str(v).encode("utf-8") for v in row)
        assert applicant["name"].encode("utf-8") not in blob
        assert applicant["id_number"].encode("ascii") not in blob

    # Sealed sync: the hub opens it and routes it to 医保 (YB).
    reviewer = hub.api("yb-li")
    queued = wait_until(
        lambda: [c for c in reviewer.get("/api/queue").json()["cases"] if c["case_id"] == case_id],
        timeout=30, what="the case in the YB department queue")
    assert queued[0]["receipt_no"] == receipt["receipt_no"]
    assert queued[0]["point_name"] == VILLAGE
    detail = hub_case(reviewer, case_id)
    assert detail["applicant"]["name"] == applicant["name"]
    assert detail["form"]["insured_category"] == "普通居民"

    # Other departments do not see it; rejecting needs a reason.
    other = hub.api("ny-wang")
    assert case_id not in {c["case_id"] for c in other.get("/api/queue").json()["cases"]}
    assert other.post(f"/api/cases/{case_id}/decision", json={"decision": "approved", "reason": "",
                                                              "certificate_no": ""}).status_code in (404, 409)
    refused = reviewer.post(f"/api/cases/{case_id}/decision",
                            json={"decision": "rejected", "reason": "", "certificate_no": ""})
    assert refused.status_code == 422 and refused.json()["reason"] == "reason_required"

    # 主管部门审批: the reviewer approves; the hub signs the result.
    decided = reviewer.post(f"/api/cases/{case_id}/decision",
                            json={"decision": "approved", "reason": "", "certificate_no": "YB-2026-000123"})
    assert decided.status_code == 200, decided.text

    # The point pulls the result, verifies it and shows it ready.
    ready = wait_until(lambda: (c := case_at_point(staff, case_id))["status"] == "result_ready" and c,
                       timeout=30, what="the result at the village point")
    assert ready["decision"] == "approved"
    hub_keys = Identity.load(hub.data / "keys", "hub")
    document = verify_document(ready["result"], hub_keys.sign_key.public_key())
    assert document["case_id"] == case_id and document["certificate_no"] == "YB-2026-000123"

    # 基层窗口反馈: wrong code refused, right code hands over; the hub closes the case (办结).
    wrong = staff.post(f"/api/cases/{case_id}/pickup",
                       json={"pickup_code": "000000" if pickup_code != "000000" else "111111",
                             "id_last4": applicant["id_number"][-4:]})
    assert wrong.status_code == 403
    wrong_id = staff.post(f"/api/cases/{case_id}/pickup", json={"pickup_code": pickup_code, "id_last4": "0000"
                                                                if applicant["id_number"][-4:] != "0000" else "1111"})
    assert wrong_id.status_code == 403
    collected = staff.post(f"/api/cases/{case_id}/pickup",
                           json={"pickup_code": pickup_code, "id_last4": applicant["id_number"][-4:]})
    assert collected.status_code == 200, collected.text
    assert collected.json()["status"] == "collected"
    wait_until(lambda: hub_case(reviewer, case_id)["status"] == "closed", timeout=30,
               what="the case closed at the hub")

    # Joint approval at the township: every department gives its opinion, the lead department (XZ) rejects.
    township_staff = township.api("staff")
    joint = township_staff.post("/api/cases", json={
        "item_code": HOMESTEAD,
        "applicant": {"name": "黄建国", "id_number": valid_id("45102719751231001"), "phone": ""},
        "form": {"site_area": "120", "site_location": "周邦村三组"},
        "materials": ["application", "village_opinion", "hukou", "commitment"],
    })
    assert joint.status_code == 201, joint.text
    joint_id = joint.json()["case_id"]
    for username in ("ny-wang", "zr-zhao"):
        wait_until(lambda: any(c["case_id"] == joint_id for c in hub.api(username).get("/api/queue").json()["cases"]),
                   timeout=30, what=f"the joint case in {username}'s queue")
    assert hub.api("ny-wang").post(f"/api/cases/{joint_id}/decision",
                                   json={"decision": "approved", "reason": "", "certificate_no": ""}).status_code == 200
    assert hub.api("zr-zhao").post(f"/api/cases/{joint_id}/decision",
                                   json={"decision": "rejected", "reason": "选址位于基本农田保护区",
                                         "certificate_no": ""}).status_code == 200
    lead = hub.api("xz-huang")
    assert lead.post(f"/api/cases/{joint_id}/joint/open", json={}).status_code == 200
    assert lead.post(f"/api/cases/{joint_id}/joint/opinions", json={"opinion": "agree"}).status_code == 200
    assert lead.post(f"/api/cases/{joint_id}/joint/decision",
                     json={"decision": "rejected", "reason": "选址位于基本农田保护区"}).status_code == 200
    rejected = wait_until(lambda: (c := case_at_point(township_staff, joint_id))["status"] == "result_ready" and c,
                          timeout=30, what="the joint result at the township")
    assert rejected["decision"] == "rejected"
    assert "基本农田" in rejected["result"]["document"]["reason"]

    # Each point sees only its own cases.
    assert joint_id not in {c["case_id"] for c in staff.get("/api/cases").json()["cases"]}
    assert case_id not in {c["case_id"] for c in township_staff.get("/api/cases").json()["cases"]}


def test_no_personal_data_reaches_any_log(cluster):
    """After a full loop, no log file or server output holds a name, ID number, phone or pickup code."""
    hub = cluster.start_hub()
    cluster.add_reviewer("yb-li", "YB", "reviewer-pass-1")
    village = cluster.start_point(VILLAGE, "village")
    staff, reviewer = village.api("staff"), hub.api("yb-li")
    applicant = {"name": "覃美玲", "id_number": valid_id("45102719900315432"), "phone": "13977765432"}
    receipt = staff.post("/api/cases", json={"item_code": MEDICAL_INSURANCE, "applicant": applicant,
                                             "form": {"insured_category": "低保对象"},
                                             "materials": ["id_card", "hukou"]}).json()
    case_id = receipt["case_id"]
    wait_until(lambda: hub_case(reviewer, case_id), timeout=30, what="the case at the hub")
    reviewer.post(f"/api/cases/{case_id}/decision", json={"decision": "approved", "reason": "", "certificate_no": ""})
    wait_until(lambda: case_at_point(staff, case_id)["status"] == "result_ready", timeout=30, what="the result")
    staff.post(f"/api/cases/{case_id}/pickup", json={"pickup_code": "999999" if receipt["pickup_code"] != "999999"
                                                     else "888888", "id_last4": applicant["id_number"][-4:]})
    assert staff.post(f"/api/cases/{case_id}/pickup", json={"pickup_code": receipt["pickup_code"],
                                                            "id_last4": applicant["id_number"][-4:]}).status_code == 200
    wait_until(lambda: hub_case(reviewer, case_id)["status"] == "closed", timeout=30, what="the case closed")

    logs = [path for path in cluster.base.rglob("*") if path.suffix in (".log", ".out") and path.is_file()]
    assert {path.suffix for path in logs} == {".log", ".out"}, logs
    text = "\n".join(path.read_text(encoding="utf-8", errors="replace") for path in logs)
    assert case_id in text or receipt["receipt_no"] in text, "the logs do say what happened"
    for secret in (applicant["name"], applicant["id_number"], applicant["phone"]):
        assert secret not in text, f"{secret!r} found in a log"
    # Six digits also occur inside timestamps' fractions; a pickup code stands alone.
    assert not re.search(rf"(?<![\d.:]){receipt['pickup_code']}(?!\d)", text), "the pickup code is in a log"
