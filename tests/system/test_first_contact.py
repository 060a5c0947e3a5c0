"""首问责任制 over real servers: a village that syncs through its township names its clerk (name and post) on every
case, printout and the hub's pages; a referral made while the hub is down reaches it through the township, and the
case the resident then opens at the township with her slip is linked to it.

The referral form and slip are driven in Chromium with the keyboard, errors read in Chinese, and both pages pass
the crawl's checks (tests/support/pagecheck.py).
"""

from __future__ import annotations

import re
import sqlite3

import pytest
from tests.support.browser import has_focus, shot
from tests.support.cluster import MEDICAL_INSURANCE, POINT_CLERK_NAME, command, log_in, wait_until
from tests.support.pagecheck import axe_problems, layout_problems, measure, report, text_problems

from sync.kit.idnumber import check_character

pytestmark = pytest.mark.browser

TOWNSHIP = "八达镇政务服务中心"
VILLAGE = "八达镇周邦村便民服务站"
CLERK, POST = "黄丽", "站长"
DESKTOP = {"width": 1024, "height": 768}
RESIDENT = "韦秀兰"
REASON = "本站不能办理残疾人证，需到县残联现场评定"


def valid_id(first17: str) -> str:
    return first17 + check_character(first17)


def hub_rows(hub, query: str, *args) -> list[tuple]:
    with sqlite3.connect(hub.data / "hub.db") as db:
        return db.execute(query, args).fetchall()


def enroll_village(cluster, township) -> None:
    """Register the village --via the township and enroll it with its clerk's real name and post."""
    output = cluster.setup(command("pointkit-hub"), "points", "add", VILLAGE, "--level", "village", "--via",
                           township.name, "--data", str(cluster.hub.data))
    cluster.run(command("pointkit"), "init", "--data", str(cluster.base / "village"), "--hub", cluster.hub.url,
                "--relay", township.url, "--token", output.strip().splitlines()[-1], "--name", VILLAGE,
                "--staff-user", "staff", "--staff-password", "point-staff-pass", "--staff-name", CLERK,
                "--staff-post", POST)


def page_problems(page, url: str) -> list:
    """The crawl's checks of the page on screen: words, layout at 1024×768, axe-core."""
    measured = measure(page)
    return text_problems(url, measured["text"]) + layout_problems(url, measured) + axe_problems(url, page)


def test_first_contact_and_a_referral_through_the_township(cluster, browser):
    hub = cluster.start_hub()
    cluster.setup(command("pointkit-hub"), "users", "add", "jc-wang", "--role", "supervisor", "--password",
                  "supervisor-pass-1", "--display-name", "王监察", "--data", str(hub.data))
    township = cluster.start_point(TOWNSHIP, "township", dirname="township")
    enroll_village(cluster, township)
    village = cluster.start_point(VILLAGE, "village", dirname="village")

    # A case received at the village names its clerk, by real name and post, here and at the hub.
    staff = village.api("staff")
    taken = staff.post("/api/cases", json={
        "item_code": MEDICAL_INSURANCE, "form": {"insured_category": "普通居民"}, "materials": ["id_card", "hukou"],
        "applicant": {"name": RESIDENT, "id_number": valid_id("45102719800101234"), "phone": "13807761234"}})
    assert taken.status_code == 201, taken.text
    case_id = taken.json()["case_id"]
    notice = staff.post("/api/notices", json={
        "item_code": MEDICAL_INSURANCE, "form": {"insured_category": "普通居民"}, "materials": ["id_card"],
        "applicant": {"name": "农金凤", "id_number": valid_id("45102719850303456")}})
    assert notice.status_code == 201, notice.text
    wait_until(lambda: hub_rows(hub, 'select first_contact_name, first_contact_post from "case" where id = ?',
                                case_id) == [(CLERK, POST)], timeout=60, what="the village's case at the hub")

    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = context.new_page()
    log_in(page, village.url, "staff", "point-staff-pass")
    page.goto(f"{village.url}/cases/{case_id}/receipt")
    assert page.inner_text("#receipt-first-contact") == f"{CLERK}（{POST}）"
    assert "经办人（首问责任人）" in page.inner_text("#receipt-first-contact >> xpath=..")
    page.goto(f"{village.url}/cases/{case_id}")
    assert page.inner_text("#case-first-contact") == f"{CLERK}（{POST}）"
    page.goto(village.url + notice.json()["print_url"])
    assert f"首问责任人：{CLERK}（{POST}）" in page.inner_text("#notice-first-contact")

    # The referral is made while the hub is down: the township holds it until the hub is back.
    cluster.stop_server(hub)
    page.goto(f"{village.url}/referrals/new")
    # The name has the focus (autofocus lands after load, so wait for it): sent empty, nothing is recorded.
    assert has_focus(page, "resident_name")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_selector("#referral-error")
    assert "未作任何登记" in page.inner_text("#referral-error")
    assert page.inner_text("#error-resident_name").strip() == "必填"
    assert page.inner_text("#error-matter").strip() == "请选择事项或写明所办事情"
    assert page.inner_text("#error-to_code").strip() == "必填"
    assert page.inner_text("#error-reason").strip() == "必填"
    assert page.get_attribute("#resident_name", "aria-invalid") == "true"
    assert page_problems(page, page.url) == [], report(page_problems(page, page.url))
    shot(page, "referral-form-errors")

    page.focus("#resident_name")
    page.keyboard.type(RESIDENT)
    page.keyboard.press("Tab")
    page.keyboard.type("13807761234")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # the ID number is optional
    page.select_option("#item_code", "")
    page.focus("#matter")
    page.keyboard.type("办理残疾人证")
    page.focus("#to_code")
    page.select_option("#to_code", "CL")
    page.focus("#reason")
    page.keyboard.type(REASON)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/slip" in page.url, page.inner_text("main")[:400]
    slip_no = page.inner_text("#slip-no")
    assert re.fullmatch(r"ZB-\d{8}-[0-9A-F]{6}-0001", slip_no)
    assert page.inner_text("#slip-first-contact") == f"{CLERK}（{POST}）"
    assert page.inner_text("#slip-to") == "县残疾人联合会" and page.inner_text("#slip-reason") == REASON
    assert page.inner_text("#slip-point") == VILLAGE
    assert page.evaluate("document.documentElement.className") == "resident"
    assert page_problems(page, page.url) == [], report(page_problems(page, page.url))
    shot(page, "referral-slip")
    page.goto(f"{village.url}/referrals")
    assert slip_no in page.inner_text("#referrals")

    hub = cluster.start_hub()
    wait_until(lambda: hub_rows(hub, "select slip_no, first_contact_name, first_contact_post, to_code from referral")
               == [(slip_no, CLERK, POST, "CL")], timeout=60, what="the referral at the hub, through the township")

    # She applies at the township with the slip: the hub links the case to the referral.
    applied = township.api("staff").post("/api/cases", json={
        "item_code": MEDICAL_INSURANCE, "form": {"insured_category": "普通居民"}, "materials": ["id_card", "hukou"],
        "applicant": {"name": RESIDENT, "id_number": valid_id("45102719800101234"), "phone": "13807761234"},
        "referral_no": slip_no})
    assert applied.status_code == 201, applied.text
    applied_id = applied.json()["case_id"]
    wait_until(lambda: hub_rows(hub, "select case_id from referral") == [(applied_id,)], timeout=60,
               what="the township's case linked to the referral")

    log_in(page, hub.url, "admin", "hub-admin-pass")
    page.goto(f"{hub.url}/cases/{case_id}")
    assert page.inner_text("#first-contact") == f"{CLERK}（{POST}）"
    assert f"由首问责任人{CLERK}（{POST}）在服务点受理" in page.inner_text("main")
    page.goto(f"{hub.url}/cases/{applied_id}")
    assert page.inner_text("#first-contact") == f"{POINT_CLERK_NAME}（窗口工作人员）"
    assert page.inner_text("#referred-from") == f"{VILLAGE} {CLERK}（{POST}），转办单号{slip_no}"
    assert f"由{VILLAGE}{CLERK}（{POST}）转办而来，转办单号{slip_no}" in page.inner_text("main")
    context.close()

    # The supervision office lists the month's referrals with the case each became.
    supervision = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    office = supervision.new_page()
    log_in(office, hub.url, "jc-wang", "supervisor-pass-1")
    office.goto(f"{hub.url}/referrals")
    listed = office.inner_text("#referrals")
    assert slip_no in listed and f"{CLERK}（{POST}）" in listed and "县残疾人联合会" in listed and VILLAGE in listed
    receipt_no = hub_rows(hub, 'select receipt_no from "case" where id = ?', applied_id)[0][0]
    assert office.inner_text(f"#referrals a[href='/cases/{applied_id}']") == receipt_no
    assert page_problems(office, office.url) == [], report(page_problems(office, office.url))
    office.goto(f"{hub.url}/referrals?month=2001-01")
    assert "没有符合条件的转办记录" in office.inner_text("#referrals")
    office.goto(f"{hub.url}/referrals?month=11月")
    assert "如2026-11" in office.inner_text("#month-error") and slip_no in office.inner_text("#referrals")
    supervision.close()


def test_a_referral_travels_on_a_usb_bundle(cluster, tmp_path):
    """A village without a link carries its referral to the county on a USB bundle, unread; the hub stores it once
    however often the same file is imported."""
    hub = cluster.start_hub()
    village = cluster.start_point(VILLAGE, "village", sync_interval=3600.0)
    cluster.stop_server(hub)
    made = village.api("staff").post("/api/referrals", json={
        "resident_name": RESIDENT, "matter": "办理残疾人证", "to_kind": "department", "to_code": "CL",
        "reason": REASON})
    assert made.status_code == 201, made.text
    bundle = tmp_path / "village-to-county.pkb"
    cluster.run(command("pointkit"), "export-bundle", "--data", str(village.data), str(bundle))
    assert RESIDENT.encode() not in bundle.read_bytes(), "a bundle carries sealed envelopes only"
    imported = cluster.run(command("pointkit-hub"), "import-bundle", "--data", str(hub.data), str(bundle))
    assert "accepted 1" in imported
    again = cluster.run(command("pointkit-hub"), "import-bundle", "--data", str(hub.data), str(bundle))
    assert "duplicate 1" in again
    assert hub_rows(hub, "select slip_no, first_contact_name, to_code from referral") == [
        (made.json()["slip_no"], POINT_CLERK_NAME, "CL")]
