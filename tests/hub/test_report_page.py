"""The monthly report page in Chromium: Chinese words only, the page crawl's layout and accessibility checks, the
charts drawn inline with their labels and their numbers beside them, nothing sideways at 1024×768, and a month
typed from the keyboard."""

from __future__ import annotations

import pytest

from hub.trust.accounts import create_staff
from tests.hub.hubkit import CERTIFIED, SLOW
from tests.support.browser import shot
from tests.support.cluster import log_in
from tests.support.pagecheck import axe_problems, layout_problems, measure, report, text_problems
from sync.clock import utcnow
from sync.kit.workdays import county_date

pytestmark = pytest.mark.browser

SUPERVISOR, PASSWORD = "jc-chen", "supervision-pass"
# The test catalog's item codes (451030-TEST-CERT): codes, as a clerk reads them.
TEST_CODES = {"TEST-CERT", "TEST-SLOW"}


def received(point, item: str) -> str:
    """A case received now by a clerk named as points name them (a real name, not a login)."""
    return point.push_case(item, received_at=utcnow().isoformat(), clock_offset_ms=0, staff="韦小宝")


@pytest.mark.sqlite_only  # the page's figures on PostgreSQL: test_monthly_report
def test_the_report_page_reads_at_a_glance_in_chinese(loop_hub, browser):
    hub = loop_hub
    with hub.db() as session:
        create_staff(session, username=SUPERVISOR, password=PASSWORD, role="supervisor", display_name="陈监察")
    village, other = hub.enroll_point(), hub.enroll_point("八达镇清水江村便民服务站")
    decided = received(village, CERTIFIED)
    received(village, SLOW)
    received(other, SLOW)
    answer = hub.api("yb-li").post(f"/api/cases/{decided}/decision", json={
        "decision": "approved", "certificate_no": "YB-1", "result_fields": {"valid_until": "2027-12-31"}})
    assert answer.status_code == 200, answer.text
    month = f"{county_date(utcnow()):%Y-%m}"

    page = browser.new_page(viewport={"width": 1024, "height": 768})
    log_in(page, hub.url, SUPERVISOR, PASSWORD)
    page.click("#nav-reports")
    assert page.locator("h1").inner_text() == f"{month}月度报告", "this month by default"
    shot(page, "hub-reports-1024")
    measured = measure(page)
    problems = text_problems(page.url, measured["text"], TEST_CODES) + layout_problems(page.url, measured) + axe_problems(
        page.url, page)
    assert problems == [], report(problems)

    # Charts: inline SVG, labelled for screen readers, with the numbers in a table beside them.
    charts = page.locator("main svg[role=img]")
    assert charts.count() == 2, "one small chart for YB (the only department that decided), one of bars"
    for index in range(charts.count()):
        chart = charts.nth(index)
        label = chart.get_attribute("aria-label")
        assert label and chart.locator("title").text_content() == label
        assert chart.bounding_box()["width"] <= 1024
    assert "县医疗保障局" in charts.nth(0).get_attribute("aria-label")
    assert "100%" in charts.nth(0).inner_html(), "YB decided its one case on time"
    assert page.locator("#trend-table tbody tr").first.inner_text().split("\t")[-1].strip() == "100.0%"
    bars = page.locator("#backlog-chart rect")
    assert bars.count() == 2 and bars.nth(0).get_attribute("width") != bars.nth(1).get_attribute("width")
    assert page.locator("#backlog-table tbody").inner_text().split() == [
        "八达镇周邦村便民服务站", "2", "八达镇清水江村便民服务站", "1"]
    assert page.evaluate("document.querySelectorAll('script, link[rel=stylesheet], img').length") == 0
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    # At 200% zoom (512×384) the charts shrink with the page and the tables scroll in their own boxes.
    page.set_viewport_size({"width": 512, "height": 384})
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    assert page.locator("#backlog-chart svg").bounding_box()["width"] <= 512
    page.set_viewport_size({"width": 1024, "height": 768})

    # A month typed at the keyboard; a wrong one says how to write it.
    page.focus("#month")
    page.keyboard.press("Control+A")
    page.keyboard.type("2026-13")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("#month-error").inner_text() == "请按“年-月”填写月份，例如2026-11。"
    assert page.locator("#month").get_attribute("aria-invalid") == "true"
    page.goto(hub.url + f"/reports?month={month}")
    with page.expect_navigation():
        page.click("#previous-month")
    assert page.locator("h1").inner_text().endswith("月度报告") and month not in page.locator("h1").inner_text()
    page.goto(hub.url + f"/reports?month={month}&lang=en")
    assert page.locator("h1").inner_text() == f"Monthly report {month}"
    assert page.locator("#departments-table thead th").first.inner_text() == "Department code"
    page.close()
