"""One full loop on real servers that leaves a case in every state a page can show.

Used by the page crawl (tests/system/test_page_crawl.py) and by ``scripts/screen_views``: a hub with YB and RS
reviewers, a village point and a township point, and
- a case through a 补正 round, approved, collected and rated 1 (the supervision page lists it for follow-up);
- a case still with its department, and one rejected and waiting at the window;
- a duplicate merged on the conflict desk, and an identity conflict (the same ID number under another name, from
  the township) still parked for the operator;
- a one-time notice (一次性告知) for a resident who came without her household register.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

from tests.support.cluster import Api, Cluster, Server, wait_until

from sync.kit.idnumber import check_character

VILLAGE = "八达镇周邦村便民服务站"
TOWNSHIP = "八达镇政务服务中心"
ITEM = "451030-YB-001"
FORM = {"insured_category": "普通居民"}
IDENTITY_ITEM = "451030-RS-012"
REVIEWERS = {"yb-reviewer": ("YB", "reviewer-pass-1"), "rs-reviewer": ("RS", "reviewer-pass-2")}
STEP_TIMEOUT = 60


def resident(serial: int) -> str:
    first17 = f"45102719800101{serial:03d}"
    return first17 + check_character(first17)


@dataclass
class Loop:
    """The servers and the cases the loop left behind (each case: the point's intake answer plus its ID number)."""

    hub: Server
    point: Server
    township: Server
    closed: dict
    open: dict
    rejected: dict
    merged: dict
    parked: dict
    conflict_id: str
    notice_url: str


def png() -> bytes:
    image = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 200, 200)).save(image, "PNG")
    return image.getvalue()


def receive(staff, serial: int, *, name: str = "韦秀兰", item: str = ITEM, form: dict | None = None,
            materials: tuple[str, ...] = ("id_card", "hukou")) -> dict:
    id_number = resident(serial)
    response = staff.post("/api/cases", json={"item_code": item, "form": form or FORM, "materials": list(materials),
                                              "applicant": {"name": name, "id_number": id_number, "phone": ""}})
    assert response.status_code == 201, response.text
    return {**response.json(), "id_number": id_number}


def parked_conflict(operator, kind: str, case_id: str) -> dict:
    def found():
        listed = operator.get("/api/conflicts", params={"kind": kind}).json()["conflicts"]
        return next((c for c in listed if c["case_id"] == case_id), None)

    return wait_until(found, timeout=STEP_TIMEOUT, what=f"a {kind} conflict on case {case_id}")


def run_loop(cluster: Cluster) -> Loop:
    hub = cluster.start_hub()
    for username, (department, password) in REVIEWERS.items():
        cluster.add_reviewer(username, department, password)
    point = cluster.start_point(VILLAGE, "village")
    staff, reviewer, operator = point.api("staff"), hub.api("yb-reviewer"), hub.api("admin")

    def at_hub(case_id: str, status: str) -> None:
        wait_until(lambda: reviewer.get(f"/api/cases/{case_id}").json().get("status") == status,
                   timeout=STEP_TIMEOUT, what=f"case {case_id} {status} at the hub")

    def at_point(case_id: str, status: str) -> None:
        wait_until(lambda: staff.get(f"/api/cases/{case_id}").json()["status"] == status, timeout=STEP_TIMEOUT,
                   what=f"case {case_id} {status} at the point")

    closed, open_case, rejected = receive(staff, 21), receive(staff, 22), receive(staff, 23)
    for case in (closed, open_case, rejected):
        at_hub(case["case_id"], "routed")
    asked = reviewer.post(f"/api/cases/{closed['case_id']}/supplement",
                          json={"materials": ["hukou"], "note": "户口簿复印件不清晰，请携带原件重新复印"})
    assert asked.status_code == 200, asked.text
    at_point(closed["case_id"], "supplement_requested")
    sent = staff.post(f"/api/cases/{closed['case_id']}/supplement", files={"scans": ("hukou.png", png(), "image/png")},
                      data={"scan_materials": "hukou", "note": "已重新复印"})
    assert sent.status_code == 202, sent.text
    wait_until(lambda: reviewer.get(f"/api/cases/{closed['case_id']}").json()["supplements"][0]["supplemented_at"],
               timeout=STEP_TIMEOUT, what="the supplement at the hub")
    for case, decision in ((closed, {"decision": "approved", "certificate_no": "YB-2026-000123"}),
                           (rejected, {"decision": "rejected", "reason": "不符合参保条件"})):
        decided = reviewer.post(f"/api/cases/{case['case_id']}/decision", json={"reason": "", **decision})
        assert decided.status_code == 200, decided.text
        at_point(case["case_id"], "result_ready")
    collected = staff.post(f"/api/cases/{closed['case_id']}/pickup",
                           json={"pickup_code": closed["pickup_code"], "id_last4": closed["id_number"][-4:]})
    assert collected.status_code == 200, collected.text
    rated = staff.post(f"/api/cases/{closed['case_id']}/rating", json={"score": 1, "comment": "补正跑了两趟"})
    assert rated.status_code == 200, rated.text
    at_hub(closed["case_id"], "closed")

    receive(staff, 24)
    merged = receive(staff, 24)
    duplicate = parked_conflict(operator, "duplicate", merged["case_id"])
    resolved = operator.post(f"/api/conflicts/{duplicate['conflict_id']}/resolve", json={"action": "merge_cases"})
    assert resolved.status_code == 200, resolved.text
    township = cluster.start_point(TOWNSHIP, "township", dirname="township")
    renamed = receive(township.api("staff"), 22, name="韦秀英", item=IDENTITY_ITEM,
                      form={"employment_status": "失业"}, materials=("id_card", "photo"))
    identity = parked_conflict(operator, "identity", renamed["case_id"])
    wait_until(lambda: staff.get(f"/api/cases/{merged['case_id']}").json()["hub_status"] == "merged",
               timeout=STEP_TIMEOUT, what="the merge at the point")

    accountability(staff, reviewer, operator, open_case)
    notice = staff.post("/api/notices", json={"item_code": ITEM, "form": FORM, "materials": ["id_card"],
                                              "applicant": {"name": "韦秀兰", "id_number": resident(25), "phone": ""}})
    assert notice.status_code in (200, 201), notice.text
    return Loop(hub=hub, point=point, township=township, closed=closed, open=open_case, rejected=rejected,
                merged=merged, parked=renamed, conflict_id=identity["conflict_id"],
                notice_url=notice.json()["print_url"])


def accountability(staff: Api, reviewer: Api, operator: Api, open_case: dict) -> None:
    """What the supervision office keeps (issue 20): a referral slip given at the village, a phone complaint the
    office took, assigned and answered by the department, and a supervision order about the open case, answered."""
    referred = staff.post("/api/referrals", json={
        "resident_name": "韦秀兰", "resident_phone": "13800000000", "to_kind": "department", "to_code": "YB",
        "matter": "异地就医备案", "reason": "本站不能办理，需到县医保局窗口办理"})
    assert referred.status_code == 201, referred.text
    taken = operator.post("/api/complaints", json={
        "channel": "phone", "category": "repeated_trips", "subject": "department", "department_code": "YB",
        "text": "补正要求不一次说清，跑了两趟", "contact_name": "韦秀兰", "contact_phone": "13800000000"})
    assert taken.status_code == 201, taken.text
    complaint = taken.json()["complaint_id"]
    assigned = operator.post(f"/api/complaints/{complaint}/assign", json={"department_code": "YB"})
    assert assigned.status_code == 200, assigned.text
    replied = reviewer.post(f"/api/complaints/{complaint}/reply", json={"reply": "已约谈经办人，今后一次性告知"})
    assert replied.status_code == 200, replied.text
    issued = operator.post("/api/orders", json={"case": open_case["receipt_no"], "text": "请说明办理进度并限期办结"})
    assert issued.status_code == 201, issued.text
    answered = reviewer.post(f"/api/orders/{issued.json()['order_id']}/answer", json={"answer": "已审核，本周内办结"})
    assert answered.status_code == 200, answered.text
