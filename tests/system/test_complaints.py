"""Complaints (投诉) end to end on real servers and in headless Chromium.

A village clerk takes two complaints while the county hub is down (one named, one anonymous); they wait sealed in
the outbox and reach the hub once it is back. The supervision office assigns the named one to 医保局 on its
complaint desk; the hub's clock moves to the reply's due date (yellow) and a day past it (red); the department
replies late, the office closes it, and the answer comes back to the village, where the complainant reads it at
the kiosk with the complaint number and code. The anonymous one has no code and no lookup. The office also takes a
complaint on the phone at the hub. A village's complaint and its answers travel through its township, and on USB
bundles, unchanged. Each page the test passes is checked as the page crawl checks pages.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from sync.clock import CLOCK_SKEW_ENV
from sync.kit.workdays import county_date
from tests.support.browser import shot
from tests.support.cluster import command, log_in, wait_until
from tests.system.test_relay import TOWNSHIP, enroll_via
from tests.support.pagecheck import (
    axe_problems,
    layout_problems,
    measure,
    page_width,
    report,
    scroll_problems,
    text_problems,
)

pytestmark = pytest.mark.browser

VILLAGE = "八达镇周邦村便民服务站"
DAY_MS = 24 * 3600 * 1000
OFFICE, OFFICE_PASSWORD = "jc-chen", "office-pass-1"
# A sync interval that keeps a village's own sync worker out of the way: it syncs only by the test's USB bundles.
USB_ONLY = 3600.0
DESKTOP = {"width": 1024, "height": 768}
# 200% zoom of a 1024×768 screen.
ZOOMED = {"width": 512, "height": 384}


def page_problems(page, allowed: set[str]) -> list:
    """What the page crawl would find wrong with the page on screen (words, layout, WCAG A/AA, sideways scrolling
    at 200% zoom)."""
    measured = measure(page)
    found = (text_problems(page.url, measured["text"], allowed) + layout_problems(page.url, measured)
             + axe_problems(page.url, page))
    page.set_viewport_size(ZOOMED)
    found += scroll_problems(page.url, page_width(page), "512×384")
    page.set_viewport_size(DESKTOP)
    return found


def take_complaint(page, point_url: str, *, anonymous: bool, text: str) -> dict[str, str]:
    """Fill the village's complaint form with the keyboard's Enter to send it; the receipt's number and code."""
    page.goto(point_url + "/complaints/new")
    page.check("#channel-in_person")
    page.select_option("#category", "overdue")
    if anonymous:
        page.check("#anonymous")
    else:
        page.select_option("#subject", "department")
        page.select_option("#department_code", "YB")
        page.fill("#contact_name", "韦秀兰")
        page.fill("#contact_phone", "13807761234")
    page.fill("#text", text)
    page.focus("#complaint-submit")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/receipt" in page.url, page.inner_text("main")
    number = page.inner_text("#complaint-no").strip()
    code = "" if anonymous else page.inner_text("#complaint-code").strip()
    return {"number": number, "code": code}


def restart_on_day(cluster, hub, point, skew_days: int):
    """Both servers again, on a clock ``skew_days`` on (the clock seam): the desk counts working days on it."""
    for server in (point, hub):
        cluster.stop_server(server)
    cluster.env[CLOCK_SKEW_ENV] = str(skew_days * DAY_MS)
    hub = cluster.start_hub()
    point = cluster.start_point(VILLAGE, "village", dirname=point.data.name)
    return hub, point


def desk_row_class(page, hub_url: str, number: str) -> str:
    log_in(page, hub_url, OFFICE, OFFICE_PASSWORD)
    page.goto(hub_url + "/complaints")
    return page.get_attribute(f"#complaint-{number}", "class") or ""


def test_a_village_complaint_taken_offline_is_answered_late_closed_and_read_at_the_kiosk(cluster, browser):
    hub = cluster.start_hub()
    cluster.add_reviewer("yb-li", "YB", "reviewer-pass-1")
    cluster.setup(cluster.hub_cmd, "users", "add", OFFICE, "--role", "supervisor", "--password", OFFICE_PASSWORD,
                  "--data", str(hub.data))
    hub.logins[OFFICE] = OFFICE_PASSWORD
    point = cluster.start_point(VILLAGE, "village")
    allowed = {*hub.logins, *point.logins}
    problems: list = []

    # The hub is down: the village takes the complaints all the same, and keeps them sealed in its outbox.
    cluster.stop_server(hub)
    window = browser.new_page(viewport=DESKTOP)
    log_in(window, point.url, "staff", point.logins["staff"])
    window.goto(point.url + "/complaints/new")
    problems += page_problems(window, allowed)
    window.focus("#complaint-submit")
    with window.expect_navigation():
        window.keyboard.press("Enter")
    assert "有内容未填或填写有误" in window.inner_text("#complaint-refusal")
    assert window.inner_text("#error-category") == "必填" and "勾选匿名" in window.inner_text("#error-contact_name")
    named = take_complaint(window, point.url, anonymous=False, text="医保登记跑了三次还没办好")
    problems += page_problems(window, allowed)
    shot(window, "point-complaint-receipt")
    assert named["number"].startswith("T-") and len(named["code"]) == 6
    anonymous = take_complaint(window, point.url, anonymous=True, text="窗口工作人员态度生硬")
    assert window.locator("#complaint-code").count() == 0 and window.locator("#complaint-anonymous").count() == 1
    window.goto(point.url + "/complaints")
    assert "已报送县中心" in window.inner_text(f"#complaint-{named['number']}")
    problems += page_problems(window, allowed)

    hub = cluster.start_hub()
    office = hub.api(OFFICE)
    arrived = wait_until(lambda: len(listed := office.get("/api/complaints").json()["complaints"]) == 2 and listed,
                         timeout=60, what="both complaints at the hub")
    by_number = {c["complaint_no"]: c for c in arrived}
    assert by_number[named["number"]]["contact_name"] == "韦秀兰"
    assert by_number[anonymous["number"]]["anonymous"] and by_number[anonymous["number"]]["contact_phone"] == ""

    # The office assigns it on its desk, with the default reply period of 5 working days.
    desk = browser.new_page(viewport=DESKTOP)
    log_in(desk, hub.url, OFFICE, OFFICE_PASSWORD)
    desk.goto(hub.url + "/complaints")
    problems += page_problems(desk, allowed)
    desk.click(f"#complaint-{named['number']} a")
    desk.select_option("#department_code", "YB")
    assert desk.input_value("#reply_days") == "5"
    with desk.expect_navigation():
        desk.click("#assign-submit")
    assert "待部门答复" in desk.inner_text("#complaint-state")
    problems += page_problems(desk, allowed)
    complaint_id = by_number[named["number"]]["complaint_id"]
    due = date.fromisoformat(office.get(f"/api/complaints/{complaint_id}").json()["reply_due"])
    wait_until(lambda: "已交办" in point_page(window, point.url, named["number"]), timeout=60,
               what="the assignment at the village")

    # On the due date: yellow. A day past it, nobody having replied: red.
    days_to_due = (due - county_date(datetime.now(timezone.utc))).days
    hub, point = restart_on_day(cluster, hub, point, days_to_due)
    assert "time-warning" in desk_row_class(desk, hub.url, named["number"])
    assert "答复临期" in desk.inner_text(f"#complaint-{named['number']}")
    hub, point = restart_on_day(cluster, hub, point, days_to_due + 1)
    assert "time-overdue" in desk_row_class(desk, hub.url, named["number"])
    shot(desk, "hub-complaint-desk-red")
    reviewer = browser.new_page(viewport=DESKTOP)
    log_in(reviewer, hub.url, "yb-li", "reviewer-pass-1")
    assert reviewer.inner_text("#complaints-waiting") == "(1)", "the reviewer's home page names the complaint"
    assert reviewer.inner_text("#queue-complaints") == "有1件投诉等您处理。"
    problems += page_problems(reviewer, allowed)
    reviewer.goto(hub.url + "/complaints")
    assert "答复超期" in reviewer.inner_text(f"#complaint-{named['number']}")
    desk.goto(hub.url + "/supervision")
    assert "答复超期：1件" in desk.inner_text("#complaints-red")

    # The department replies (late), the office closes it with its result.
    with reviewer.expect_navigation():
        reviewer.click(f"#complaint-{named['number']} a")
    problems += page_problems(reviewer, allowed)
    reviewer.fill("#reply", "已核实，材料已补齐，本周内办结")
    with reviewer.expect_navigation():
        reviewer.click("#reply-submit")
    desk.goto(f"{hub.url}/complaints/{complaint_id}")
    desk.fill("#result", "投诉属实，已督促医保局限期办结并向投诉人致歉")
    with desk.expect_navigation():
        desk.click("#close-submit")
    assert desk.locator("#close-form").count() == 0 and desk.inner_text("#complaint-result").startswith("投诉属实")
    problems += page_problems(desk, allowed)

    # Back at the village: the clerk's page, then the kiosk with the number and code.
    log_in(window, point.url, "staff", point.logins["staff"])
    wait_until(lambda: "已办结" in point_page(window, point.url, named["number"]), timeout=60,
               what="the result at the village")
    assert "投诉属实" in window.inner_text("#complaint-result")
    assert window.inner_text("#complaint-department") == "县医疗保障局"
    problems += page_problems(window, allowed)
    kiosk = browser.new_page(viewport=DESKTOP)
    kiosk.goto(point.url + "/status")
    kiosk.fill("#receipt_no", named["number"].lower())
    kiosk.fill("#pickup_code", named["code"])
    with kiosk.expect_navigation():
        kiosk.click("#kiosk-check")
    assert "已办结" in kiosk.inner_text("#kiosk-state")
    assert "投诉属实" in kiosk.inner_text("#kiosk-result") and "本周内办结" in kiosk.inner_text("#kiosk-reply")
    problems += page_problems(kiosk, allowed)
    shot(kiosk, "point-kiosk-complaint")
    refusals = []
    for number, code in ((named["number"], "000000" if named["code"] != "000000" else "111111"),
                         (anonymous["number"], "123456"), (named["number"][:-1] + "9", named["code"])):
        kiosk.goto(point.url + "/status")
        kiosk.fill("#receipt_no", number)
        kiosk.fill("#pickup_code", code)
        with kiosk.expect_navigation():
            kiosk.click("#kiosk-check")
        refusals.append(kiosk.inner_text("#kiosk-error"))
        assert kiosk.locator("#kiosk-complaint").count() == 0
    assert len(set(refusals)) == 1 and "投诉编号或查询码有误" in refusals[0], \
        "a wrong code, an anonymous complaint and an unknown number are refused alike"
    assert not problems, report(problems)


def point_page(page, point_url: str, number: str) -> str:
    """The state line of the village's page of complaint ``number``."""
    page.goto(point_url + "/complaints")
    page.click(f"#complaint-{number} a")
    return page.inner_text("#complaint-state")


def test_the_office_takes_a_phone_complaint_at_the_hub(cluster, browser):
    hub = cluster.start_hub()
    cluster.setup(cluster.hub_cmd, "users", "add", OFFICE, "--role", "supervisor", "--password", OFFICE_PASSWORD,
                  "--data", str(hub.data))
    desk = browser.new_page(viewport=DESKTOP)
    log_in(desk, hub.url, OFFICE, OFFICE_PASSWORD)
    desk.goto(hub.url + "/complaints/new")
    problems = page_problems(desk, {OFFICE, "admin"})
    with desk.expect_navigation():
        desk.click("#complaint-submit")
    assert "有栏目缺填或有误" in desk.inner_text("#complaint-refusal")
    desk.select_option("#category", "fees")
    desk.select_option("#subject", "department")
    desk.select_option("#department_code", "NY")
    desk.fill("#contact_phone", "13907765555")
    desk.fill("#text", "办理农机补贴时被要求交材料费")
    with desk.expect_navigation():
        desk.click("#complaint-submit")
    assert "待交办" in desk.inner_text("#complaint-state") and "电话" in desk.inner_text("#complaint-facts")
    problems += page_problems(desk, {OFFICE, "admin"})
    shot(desk, "hub-complaint-taken")
    assert not problems, report(problems)


def test_a_village_complaint_and_its_answer_travel_through_the_township(cluster, browser):
    hub = cluster.start_hub()
    township = cluster.start_point(TOWNSHIP, "township", dirname="township")
    enroll_via(cluster, VILLAGE, township)
    village = cluster.start_point(VILLAGE, "village", dirname="village")
    window = browser.new_page(viewport=DESKTOP)
    log_in(window, village.url, "staff", village.logins["staff"])
    named = take_complaint(window, village.url, anonymous=False, text="村站窗口中午无人值守")

    admin = hub.api("admin")
    [arrived] = wait_until(lambda: admin.get("/api/complaints").json()["complaints"], timeout=60,
                           what="the village's complaint at the hub, relayed by the township")
    assert arrived["complaint_no"] == named["number"] and arrived["point_name"] == VILLAGE
    for step, body in (("assign", {"department_code": "YB"}), ("reply", {"reply": "已安排轮岗值守"}),
                       ("close", {"result": "已整改"})):
        response = admin.post(f"/api/complaints/{arrived['complaint_id']}/{step}", json=body)
        assert response.status_code == 200, response.text
    wait_until(lambda: "已办结" in point_page(window, village.url, named["number"]), timeout=60,
               what="the county's answer at the village, relayed by the township")
    assert window.inner_text("#complaint-result") == "已整改"


def test_a_village_without_a_link_sends_its_complaint_and_gets_the_answer_by_usb(cluster, browser, tmp_path):
    hub = cluster.start_hub()
    village = cluster.start_point(VILLAGE, "village", sync_interval=USB_ONLY)
    cluster.stop_server(hub)
    window = browser.new_page(viewport=DESKTOP)
    log_in(window, village.url, "staff", village.logins["staff"])
    named = take_complaint(window, village.url, anonymous=False, text="便民服务站多收了照片费")

    to_county, back = tmp_path / "village-to-county.pkb", tmp_path / "county-to-village.pkb"
    cluster.run(command("pointkit"), "export-bundle", "--data", str(village.data), str(to_county))
    imported = cluster.run(cluster.hub_cmd, "import-bundle", "--data", str(hub.data), str(to_county))
    assert "accepted 1" in imported, imported
    hub = cluster.start_hub()
    admin = hub.api("admin")
    [arrived] = admin.get("/api/complaints").json()["complaints"]
    assert arrived["complaint_no"] == named["number"]
    for step, body in (("assign", {"department_code": "ZR"}), ("reply", {"reply": "已退还多收费用"}),
                       ("close", {"result": "投诉属实，已退费"})):
        assert admin.post(f"/api/complaints/{arrived['complaint_id']}/{step}", json=body).status_code == 200
    cluster.run(cluster.hub_cmd, "export-bundle", "--data", str(hub.data), "--point", VILLAGE, str(back))
    applied = cluster.run(command("pointkit"), "import-bundle", "--data", str(village.data), str(back))
    assert "messages 3: applied 3" in applied and "accepted 1" in applied, \
        "the three answers (assigned, replied, closed) and the hub's ack of the complaint came on USB"
    assert "已办结" in point_page(window, village.url, named["number"])
    assert window.inner_text("#complaint-result") == "投诉属实，已退费"
