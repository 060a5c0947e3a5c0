"""Residents are told the true dates and the true state, on real servers and in headless Chromium.

A 补正 pauses a case at the hub for a week; the hub moves the promised date by the working days its clock
stood still and says so in a STATUS message. The point's case page, case list, reprinted receipt and the
residents' kiosk then show the hub's date (the printed one struck out, and why it moved), and every state in
words. Time moves through the clock seam: the hub and the point restart on a clock a week on; nothing sleeps.
"""

from __future__ import annotations

import re
from datetime import date

import pytest

from tests.support.browser import shot
from tests.support.cluster import log_in, wait_until

from sync.clock import CLOCK_SKEW_ENV
from sync.kit.idnumber import check_character

pytestmark = pytest.mark.browser

ITEM = "451030-YB-001"
VILLAGE = "八达镇周邦村便民服务站"
WEEK_MS = 7 * 24 * 3600 * 1000
# Stored state keys that must never reach a page (the hub's and the point's own).
STATE_KEYS = ("routed", "in_review", "supplement_requested", "supplemented", "result_issued", "result_ready",
              "accepted", "acked")


def test_a_supplement_pause_moves_the_promised_date_on_every_page_of_the_point(cluster, browser):  # noqa: F811
    hub = cluster.start_hub()
    cluster.add_reviewer("yb-li", "YB", "reviewer-pass-1")
    point = cluster.start_point(VILLAGE, "village")
    staff, reviewer = point.api("staff"), hub.api("yb-li")
    first17 = "45102719800101234"
    taken = staff.post("/api/cases", json={
        "item_code": ITEM, "applicant": {"name": "韦秀兰", "id_number": first17 + check_character(first17)},
        "form": {"insured_category": "普通居民"}, "materials": ["id_card", "hukou"]})
    assert taken.status_code == 201, taken.text
    case_id, receipt_no, code = taken.json()["case_id"], taken.json()["receipt_no"], taken.json()["pickup_code"]
    printed = taken.json()["promised_date"]
    routed = wait_until(lambda: (c := staff.get(f"/api/cases/{case_id}").json())["hub_status"] == "routed" and c,
                        timeout=30, what="the hub's first STATUS at the point")
    assert routed["current_promised_date"] == printed, "the hub counts the promised date as the receipt did"

    asked = reviewer.post(f"/api/cases/{case_id}/supplement", json={"materials": ["hukou"], "note": "户口簿复印件不清晰"})
    assert asked.status_code == 200, asked.text
    waiting = wait_until(lambda: (c := staff.get(f"/api/cases/{case_id}").json())["return_by"] and c, timeout=30,
                         what="the supplement request at the point")
    assert waiting["clock_paused"] and waiting["return_by"] == asked.json()["supplements"][0]["return_by"]

    # A week later, at the county and at the window, the resident brings the household register.
    for server in (point, hub):
        cluster.stop_server(server)
    cluster.env[CLOCK_SKEW_ENV] = str(WEEK_MS)
    hub = cluster.start_hub()
    point = cluster.start_point(VILLAGE, "village", dirname=point.data.name)
    staff, reviewer = point.api("staff"), hub.api("yb-li")
    sent = staff.post(f"/api/cases/{case_id}/supplement", data={"note": "已重新复印", "scan_materials": "hukou"},
                      files={"scans": ("hukou.pdf", b"%PDF-1.4 household register")})
    assert sent.status_code == 202, sent.text
    at_hub = wait_until(lambda: (c := reviewer.get(f"/api/cases/{case_id}").json())["status"] == "in_review" and c,
                        timeout=30, what="the supplement at the hub")
    moved, paused_days = at_hub["due_date"], at_hub["paused_days"]
    assert paused_days > 0 and moved > printed, "the pause moved the promised date at the hub"
    wait_until(lambda: staff.get(f"/api/cases/{case_id}").json()["current_promised_date"] == moved, timeout=30,
               what="the moved date at the point")

    window = browser.new_page(viewport={"width": 1024, "height": 768})
    log_in(window, point.url, "staff", point.logins["staff"])
    window.goto(f"{point.url}/cases/{case_id}")
    assert window.inner_text("#promised-date") == moved and window.inner_text("#promised-date-printed") == printed
    assert f"因补正或特别程序暂停计时，顺延{paused_days}个工作日" in window.inner_text("#promised-date-why")
    assert window.inner_text("#hub-status") == "审批部门审批中"
    assert window.inner_text("#legal-date") == at_hub["legal_due_date"]
    shot(window, "point-case-date-moved")
    window.goto(f"{point.url}/cases")
    row = window.inner_text(f"#cases tr:has(a:text('{receipt_no}'))")
    assert moved in row and printed in row
    window.goto(f"{point.url}/cases/{case_id}/receipt")
    assert window.inner_text("#reprint-mark") == "（补打）" and window.inner_text("#promised-date") == moved
    assert window.locator("#promised-date-printed").evaluate("element => element.tagName") == "DEL"
    shot(window, "point-receipt-reprinted")

    kiosk = browser.new_page(viewport={"width": 1024, "height": 768})
    kiosk.goto(f"{point.url}/status")
    kiosk.fill("#receipt_no", receipt_no)
    kiosk.fill("#pickup_code", code)
    with kiosk.expect_navigation():
        kiosk.keyboard.press("Enter")
    assert kiosk.inner_text("#kiosk-state") == "材料已补交，县级部门审批中" and kiosk.inner_text("#kiosk-promised") == moved
    assert f"因补正或特别程序暂停计时，顺延{paused_days}个工作日" in kiosk.inner_text("#kiosk-status")
    size = kiosk.eval_on_selector("#kiosk-promised", "element => parseFloat(getComputedStyle(element).fontSize)")
    assert size >= 24, "large print for elderly eyes"
    assert kiosk.evaluate("document.documentElement.scrollWidth") <= 1024, "no sideways scrolling at 1024x768"
    shot(kiosk, "point-kiosk-date-moved")

    # The department approves: the point says so in words, and never a stored state key.
    decided = reviewer.post(f"/api/cases/{case_id}/decision", json={"decision": "approved", "certificate_no": "YB-8"})
    assert decided.status_code == 200, decided.text
    wait_until(lambda: staff.get(f"/api/cases/{case_id}").json()["status"] == "result_ready", timeout=30,
               what="the result at the point")
    window.goto(f"{point.url}/cases/{case_id}")
    assert window.inner_text("#hub-status") == "已作出决定，结果正发往本窗口"
    kiosk.goto(f"{point.url}/status")
    kiosk.fill("#receipt_no", receipt_no)
    kiosk.fill("#pickup_code", code)
    with kiosk.expect_navigation():
        kiosk.keyboard.press("Enter")
    assert "结果已到" in kiosk.inner_text("#kiosk-state")
    for page in (window, kiosk):
        text = page.inner_text("body")
        assert not [key for key in STATE_KEYS if re.search(rf"\b{key}\b", text)], text
        assert date.fromisoformat(moved).isoformat() in text
