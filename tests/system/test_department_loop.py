"""The department loop through the pages of real servers, in headless Chromium:

reviewer asks for a supplement (补正) → the point prints the notice and sends the resident's scans →
the case returns to the same department → the reviewer approves in the portal → the point shows it
ready → wrong pickup code, then pickup → rating 1 → the hub's supervision page lists it for follow-up.
A result edited in the point's database is then refused at pickup (one cluster for both: they are slow to start).
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.pointkit.hubside import jpeg_photo
from tests.support.browser import shot
from tests.support.cluster import log_in, wait_until

from sync.kit.idnumber import check_character

pytestmark = pytest.mark.browser

ITEM = "451030-YB-001"
VILLAGE = "八达镇周邦村便民服务站"


def receive(staff, first17: str) -> dict:
    applicant = {"name": "韦秀兰", "id_number": first17 + check_character(first17), "phone": "13807761234"}
    response = staff.post("/api/cases", json={"item_code": ITEM, "applicant": applicant,
                                              "form": {"insured_category": "普通居民"}, "materials": ["id_card", "hukou"]})
    assert response.status_code == 201, response.text
    return {**response.json(), "id_number": applicant["id_number"]}


def at_point(staff, case_id: str) -> dict:
    return staff.get(f"/api/cases/{case_id}").json()


def at_hub(api, case_id: str) -> dict:
    return api.get(f"/api/cases/{case_id}").json()


def test_supplement_approval_pickup_rating_and_a_tampered_result(cluster, browser):  # noqa: F811
    hub = cluster.start_hub()
    cluster.add_reviewer("yb-li", "YB", "reviewer-pass-1")
    point = cluster.start_point(VILLAGE, "village")
    staff, reviewer_api = point.api("staff"), hub.api("yb-li")
    case = receive(staff, "45102719800101234")
    case_id = case["case_id"]
    wait_until(lambda: at_hub(reviewer_api, case_id).get("status") == "routed", timeout=30, what="the case at the hub")

    # 补正 in the portal: tick the material, write what is wrong.
    portal = browser.new_page(viewport={"width": 1024, "height": 768})
    log_in(portal, hub.url, "yb-li", "reviewer-pass-1")
    portal.goto(f"{hub.url}/cases/{case_id}")
    portal.check("input[name=materials][value=hukou]")
    portal.fill("#note", "户口簿复印件不清晰，请重新复印")
    with portal.expect_navigation():
        portal.click("#request-supplement")
    assert "暂停计时" in portal.inner_text("#time-state")

    # The point shows it, prints the notice, and sends the scan the resident brought.
    wait_until(lambda: at_point(staff, case_id)["status"] == "supplement_requested", timeout=30,
               what="the supplement request at the point")
    window = browser.new_page(viewport={"width": 1024, "height": 768})
    log_in(window, point.url, "staff", point.logins["staff"])
    window.goto(f"{point.url}/cases/{case_id}")
    window.click("#supplement-notice-link")
    assert "户口簿" in window.inner_text("#supplement-materials")
    assert "重新复印" in window.inner_text("#supplement-note")
    shot(window, "point-supplement-notice")
    window.go_back()
    window.set_input_files("#scans_hukou", files=[{"name": "hukou.jpg", "mimeType": "image/jpeg",
                                                     "buffer": jpeg_photo()}])
    window.fill("#supplement-note-input", "已重新复印")
    with window.expect_navigation():
        window.click("#send-supplement")
    assert "退回原审批部门" in window.content()
    detail = wait_until(lambda: (d := at_hub(reviewer_api, case_id))["status"] == "in_review" and d, timeout=30,
                        what="the supplement at the hub")
    assert detail["supplements"][0]["supplemented_at"] and detail["tasks"][0]["status"] == "open"
    wait_until(lambda: any(s["status"] == "complete" for s in at_hub(reviewer_api, case_id)["scans"]), timeout=30,
               what="the supplement's scan at the hub")

    # Back with YB: the reviewer approves in the portal.
    portal.goto(f"{hub.url}/queue")
    portal.click(f"text={case['receipt_no']}")
    with portal.expect_navigation():
        portal.click("#approve")
    with portal.expect_navigation():
        portal.click("#confirm-approve")
    assert portal.locator("#result-link").count() == 1
    shot(portal, "hub-case-approved")

    # The point shows it ready; a wrong code is refused, the right one hands it over.
    wait_until(lambda: at_point(staff, case_id)["status"] == "result_ready", timeout=30, what="the result at the point")
    window.goto(f"{point.url}/results")
    assert case["receipt_no"] in window.inner_text("#results")
    window.goto(f"{point.url}/pickup")
    window.fill("#find-q", case["id_number"])
    with window.expect_navigation():
        window.keyboard.press("Enter")
    assert window.input_value("#receipt_no") == case["receipt_no"], "found by the resident's ID number"
    wrong = "000000" if case["pickup_code"] != "000000" else "111111"
    window.fill("#pickup_code", wrong)
    window.fill("#id_last4", case["id_number"][-4:])
    with window.expect_navigation():
        window.click("#collect")
    assert "取件码" in window.inner_text("#pickup-error")
    window.fill("#pickup_code", case["pickup_code"])
    window.fill("#id_last4", case["id_number"][-4:])
    with window.expect_navigation():
        window.click("#collect")
    assert window.locator(".qr svg").count() == 1 and "准予" in window.inner_text("#result-decision")
    window.check("#score-1")
    window.fill("#rating-comment", "补正跑了两趟")
    with window.expect_navigation():
        window.click("#send-rating")
    assert window.locator("#rated").count() == 1
    shot(window, "point-handover-rated")

    # The hub closes the case and lists the rating for follow-up.
    wait_until(lambda: at_hub(reviewer_api, case_id)["status"] == "closed", timeout=30, what="the case closed")
    operator = browser.new_page(viewport={"width": 1024, "height": 768})
    log_in(operator, hub.url, "admin", hub.logins["admin"])
    wait_until(lambda: operator.goto(f"{hub.url}/supervision") and
               operator.locator(f"#rating-{case['receipt_no']}").count() == 1, timeout=30,
               what="the low rating on the supervision page")
    assert "补正跑了两趟" in operator.inner_text(f"#rating-{case['receipt_no']}")
    shot(operator, "hub-supervision")

    # The kiosk: receipt number plus pickup code, name masked, nothing else.
    kiosk = browser.new_page(viewport={"width": 1024, "height": 768})
    kiosk.goto(f"{point.url}/status")
    kiosk.fill("#receipt_no", case["receipt_no"])
    kiosk.fill("#pickup_code", case["pickup_code"])
    with kiosk.expect_navigation():
        kiosk.click("#kiosk-check")
    assert kiosk.inner_text("#kiosk-name") == "韦*兰" and case["id_number"] not in kiosk.content()
    assert "13807761234" not in kiosk.content()

    # A result edited in the point's database is refused at pickup.
    case = receive(staff, "45102719800101250")
    wait_until(lambda: at_hub(reviewer_api, case["case_id"]).get("status") == "routed", timeout=30, what="the case")
    decided = reviewer_api.post(f"/api/cases/{case['case_id']}/decision",
                                json={"decision": "rejected", "reason": "已在外地参保"})
    assert decided.status_code == 200, decided.text
    wait_until(lambda: at_point(staff, case["case_id"])["status"] == "result_ready", timeout=30, what="the result")

    # Someone with the laptop turns the rejection into an approval in the database.
    with sqlite3.connect(point.data / "point.db") as db:
        [(stored,)] = db.execute("select result_document from \"case\" where id = ?", (case["case_id"],)).fetchall()
        document = json.loads(stored)
        document.update(decision="approved", reason="")
        db.execute("update \"case\" set result_document = ?, decision = 'approved' where id = ?",
                   (json.dumps(document, ensure_ascii=False), case["case_id"]))
    refused = staff.post(f"/api/cases/{case['case_id']}/pickup",
                         json={"pickup_code": case["pickup_code"], "id_last4": case["id_number"][-4:]})
    assert refused.status_code == 409 and refused.json()["reason"] == "result_invalid"
    assert at_point(staff, case["case_id"])["status"] == "result_ready", "nothing was handed over"
