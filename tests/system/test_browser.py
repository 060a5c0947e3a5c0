"""The loop through the pages in headless Chromium: intake → reviewer approves → pickup."""

from __future__ import annotations

import os

import pytest

from tests.support.browser import ARTIFACTS, shot
from tests.support.cluster import log_in, wait_until

from sync.kit.idnumber import check_character

pytestmark = pytest.mark.browser


def test_intake_review_and_pickup_through_the_pages(cluster, browser):
    hub = cluster.start_hub()
    cluster.add_reviewer("yb-li", "YB", "reviewer-pass-1")
    point = cluster.start_point("八达镇周邦村便民服务站", "village")
    id_number = "45102719800101234" + check_character("45102719800101234")

    window = browser.new_page(viewport={"width": 1024, "height": 768})
    log_in(window, point.url, "staff", point.logins["staff"])
    window.goto(point.url + "/cases/new?item=451030-YB-001")
    assert "受理" in window.content(), "pages are in Chinese by default"

    # A bad ID number is refused with a Chinese message and the typed values kept.
    window.fill("input[name=applicant_name]", "韦秀兰")
    window.fill("input[name=applicant_id_number]", id_number[:-1] + ("0" if id_number[-1] != "0" else "1"))
    window.select_option("select[name=field_insured_category]", "普通居民")
    window.check("input[name=materials][value=id_card]")
    window.check("input[name=materials][value=hukou]")
    with window.expect_navigation():
        window.click("#receive")
    assert window.locator("#receipt-no").count() == 0
    assert "身份证" in window.content()
    assert window.input_value("input[name=applicant_name]") == "韦秀兰"
    shot(window, "point-intake-error")

    window.fill("input[name=applicant_id_number]", id_number)
    window.fill("input[name=applicant_phone]", "13807761234")
    window.check("input[name=materials][value=id_card]")
    window.check("input[name=materials][value=hukou]")
    window.click("#receive")
    window.wait_for_selector("#receipt-no")
    receipt_no = window.inner_text("#receipt-no").strip()
    pickup_code = window.inner_text("#pickup-code").strip()
    assert receipt_no and pickup_code.isdigit() and len(pickup_code) == 6
    assert id_number not in window.content(), "the receipt masks the ID number"
    shot(window, "point-receipt")

    # The reviewer finds it in the department queue and approves it.
    desk = browser.new_page(viewport={"width": 1024, "height": 768})
    log_in(desk, hub.url, "yb-li", hub.logins["yb-li"])

    def case_listed() -> bool:
        desk.goto(hub.url + "/queue")
        return desk.locator(f"text={receipt_no}").count() > 0

    wait_until(case_listed, timeout=30, interval=0.5, what="the case on the hub queue page")
    shot(desk, "hub-queue")
    with desk.expect_navigation():
        desk.click(f"text={receipt_no}")
    assert "韦秀兰" in desk.content()
    desk.fill("input[name=certificate_no]", "YB-2026-000123")
    with desk.expect_navigation():
        desk.click("button[name=decision][value=approved]")
    with desk.expect_navigation():
        desk.click("#confirm-approve")
    shot(desk, "hub-case-approved")

    # The point shows the result ready, then hands it over.
    def result_listed() -> bool:
        window.goto(point.url + "/results")
        return window.locator(f"text={receipt_no}").count() > 0

    wait_until(result_listed, timeout=30, interval=0.5, what="the result on the point's results page")
    shot(window, "point-results")
    window.goto(point.url + "/pickup")
    window.fill("input[name=receipt_no]", receipt_no)
    window.fill("input[name=pickup_code]", pickup_code)
    window.fill("input[name=id_last4]", id_number[-4:])
    window.click("#collect")
    window.wait_for_selector("#result-decision")
    assert "准予" in window.inner_text("#result-decision") or "批准" in window.inner_text("#result-decision")
    shot(window, "point-handover")

    # English is one click away.
    window.goto(point.url + "/cases?lang=en")
    assert "Cases" in window.content() or "cases" in window.content()
    shot(window, "point-cases-en")
    if os.environ.get("CI", "").lower() != "true":
        print(f"screenshots in {ARTIFACTS}")


XSS = '<script>alert("xss")</script><img src=x onerror=alert(1)>'


def test_script_in_every_applicant_field_stays_text_on_every_page(cluster, browser):
    """A hostile name, form text and rejection reason run nowhere: not at the point, not at the hub."""
    hub = cluster.start_hub()
    cluster.add_reviewer("wj-lu", "WJ", "reviewer-pass-4")
    point = cluster.start_point("八达镇周邦村便民服务站", "village")
    staff, reviewer = point.api("staff"), hub.api("wj-lu")
    id_number = "45102719800101234" + check_character("45102719800101234")
    created = staff.post("/api/cases", json={
        "item_code": "451030-WJ-005",
        "applicant": {"name": "韦" + XSS, "id_number": id_number, "phone": ""},
        "form": {"spouse_name": XSS, "expected_date": ""},
        "materials": ["id_cards"],
    })
    assert created.status_code == 201, created.text
    case_id, receipt = created.json()["case_id"], created.json()
    dialogs: list[str] = []

    def visit(server, username: str, paths: list[str], masked: tuple[str, ...] = ()) -> None:
        page = browser.new_page(viewport={"width": 1024, "height": 768})
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        log_in(page, server.url, username, server.logins[username])
        for path in paths:
            page.goto(server.url + path)
            html = page.content()
            assert "<script>alert" not in html and "<img src=x" not in html, f"{server.url}{path}"
            if path not in masked:
                assert "xss" in page.inner_text("body"), f"the payload is shown as text on {path}"
        page.close()

    wait_until(lambda: reviewer.get(f"/api/cases/{case_id}").status_code == 200, timeout=30, what="the case at the hub")
    # The receipt masks the name, so the payload is cut there rather than shown.
    visit(point, "staff", [f"/cases/{case_id}", f"/cases/{case_id}/receipt"], masked=(f"/cases/{case_id}/receipt",))
    visit(hub, "wj-lu", [f"/cases/{case_id}"])
    assert reviewer.post(f"/api/cases/{case_id}/decision",
                         json={"decision": "rejected", "reason": "材料不符" + XSS, "certificate_no": ""}).status_code == 200
    wait_until(lambda: staff.get(f"/api/cases/{case_id}").json()["status"] == "result_ready", timeout=30,
               what="the result at the point")
    visit(point, "staff", [f"/cases/{case_id}"])
    assert staff.post(f"/api/cases/{case_id}/pickup", json={"pickup_code": receipt["pickup_code"],
                                                            "id_last4": id_number[-4:]}).status_code == 200
    visit(point, "staff", [f"/cases/{case_id}/handover"])
    visit(hub, "wj-lu", [f"/cases/{case_id}"])
    assert dialogs == [], "a payload ran in the browser"
