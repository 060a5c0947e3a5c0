"""A special procedure at the county reaches the village kiosk, on real servers and in headless Chromium.

A reviewer starts an expert review (专家评审, 行政许可法 第四十五条) on a case taken at a village point; the hub's
STATUS names the procedure and its expected end, and the resident who types her receipt number and pickup code at
the point's kiosk reads that the case waits for it and that the time does not count against the limit.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.support.browser import shot
from tests.support.cluster import wait_until

from sync.kit.idnumber import check_character

pytestmark = pytest.mark.browser

ITEM = "451030-YB-001"
VILLAGE = "八达镇周邦村便民服务站"


def test_an_expert_review_at_the_county_shows_at_the_village_kiosk(cluster, browser):  # noqa: F811
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
    wait_until(lambda: staff.get(f"/api/cases/{case_id}").json()["hub_status"] == "routed", timeout=30,
               what="the hub's first STATUS at the point")

    until = (date.fromisoformat(taken.json()["promised_date"]) + timedelta(days=5)).isoformat()
    started = reviewer.post(f"/api/cases/{case_id}/procedures", json={
        "kind": "expert_review", "reason": "组织专家评审", "expected_end": until})
    assert started.status_code == 201, started.text
    shown = wait_until(lambda: (c := staff.get(f"/api/cases/{case_id}").json())["procedure"] and c, timeout=30,
                       what="the procedure at the point")
    assert (shown["procedure"], shown["procedure_until"]) == ("expert_review", until)

    kiosk = browser.new_page(viewport={"width": 1024, "height": 768})
    kiosk.goto(f"{point.url}/status")
    kiosk.fill("#receipt_no", receipt_no)
    kiosk.fill("#pickup_code", code)
    with kiosk.expect_navigation():
        kiosk.keyboard.press("Enter")
    assert f"专家评审中（不计入办理时限），预计{until}结束" in kiosk.inner_text("#kiosk-promised-procedure")
    assert kiosk.evaluate("document.documentElement.scrollWidth") <= 1024, "no sideways scrolling at 1024x768"
    shot(kiosk, "point-kiosk-procedure")
