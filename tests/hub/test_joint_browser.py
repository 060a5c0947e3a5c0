"""The lead department's joint-review page in headless Chromium at 1024×768, driven by the keyboard: 乡镇人民政府 (the
lead of the homestead item) opens the joint review, calls a joint site survey, marks it held, gives its own opinion
on it and issues the combined result once every department's opinion is in; another department reads the page
without the lead's forms. Each page passes the page crawl's checks (tests/support/pagecheck.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sync.clock import utcnow
from sync.kit.workdays import COUNTY_TIMEZONE
from tests.hub.hubkit import HOMESTEAD, REVIEWER_PASSWORD
from tests.hub.test_joint_review import FORM, RESULT_FIELDS
from tests.hub.test_supervision_browser import fits_at_200_percent, page_problems, tab_to
from tests.support.browser import shot
from tests.support.cluster import log_in
from tests.support.pagecheck import report

pytestmark = pytest.mark.browser


def report_of(page, allowed: set[str]) -> str:
    return report(page_problems(page, allowed))


def press_enter_on(page, selector: str) -> None:
    tab_to(page, selector)
    with page.expect_navigation():
        page.keyboard.press("Enter")


@pytest.mark.sqlite_only  # the page over the joint review's queries, which test_joint_review runs on PostgreSQL too
def test_the_lead_runs_the_joint_review_from_its_page(hub, browser):
    point = hub.enroll_point(name="八达镇政务服务中心", level="township")
    hub.add_staff("xz-huang", department="XZ", township="八达镇政务服务中心")
    case_id = point.push_case(HOMESTEAD, form=FORM)
    receipt_no = hub.api("op").get(f"/api/cases/{case_id}").json()["receipt_no"]
    assert hub.api("ny-wang").post(f"/api/cases/{case_id}/joint/opinions",
                                   json={"opinion": "agree", "text": ""}).status_code == 200
    assert hub.api("zr-zhao").post(f"/api/cases/{case_id}/joint/opinions",
                                   json={"opinion": "agree_with_conditions", "text": "建筑高度不超过三层"}).status_code == 200
    allowed = {receipt_no}
    tomorrow = (utcnow() + timedelta(days=1)).astimezone(COUNTY_TIMEZONE)

    page = browser.new_page(viewport={"width": 1024, "height": 768})
    log_in(page, hub.url, "xz-huang", REVIEWER_PASSWORD)
    page.goto(f"{hub.url}/cases/{case_id}")
    press_enter_on(page, "#joint-link a")
    assert page.url.endswith(f"/cases/{case_id}/joint")
    assert page.locator("#joint-lead").inner_text() == "乡镇人民政府"
    assert "尚未开启" in page.locator("#joint-state").inner_text()
    assert page_problems(page, allowed) == [], report_of(page, allowed)
    press_enter_on(page, "#open-review")
    assert "已开启" in page.locator("#joint-state").inner_text()

    # A joint site survey tomorrow at 09:30 county time, at the site, with 自然资源局 and the lead itself.
    page.select_option("#kind", "site_survey")
    page.fill("#day", tomorrow.date().isoformat())
    page.fill("#time", "09:30")
    page.focus("#place")
    page.keyboard.type("周邦村三组宅基地现场")
    page.uncheck("input[name=departments][value=NY]")
    press_enter_on(page, "#call-meeting")
    row = page.locator("#joint-meetings tbody tr")
    assert row.count() == 1 and "联合踏勘" in row.inner_text()
    assert f"{tomorrow.date().isoformat()} 09:30" in row.inner_text(), "the time reads on the county's clock"
    assert "县自然资源局" in row.inner_text() and "县农业农村局" not in row.inner_text()
    assert "待牵头部门出具结论" not in page.locator("main").inner_text()
    assert page_problems(page, allowed) == [], report_of(page, allowed)
    press_enter_on(page, "#held-1")

    # The lead's own opinion, given at the survey, is the last one missing.
    assert "乡镇人民政府" in page.locator("#opinions-missing").inner_text()
    assert page.locator("#decision-form").count() == 0
    page.check("input[name=opinion][value=agree]")
    page.select_option("#opinion-meeting", index=1)
    press_enter_on(page, "#give-opinion")
    assert "待牵头部门出具结论" in page.locator("#joint-state").inner_text()
    assert page_problems(page, allowed) == [], report_of(page, allowed)
    shot(page, "hub-joint-review-lead")
    assert fits_at_200_percent(page) == [], report_of(page, allowed)

    # Approving without ticking that every opinion was read saves nothing; then the combined result goes out.
    page.fill("#result_homestead_permit_no", RESULT_FIELDS["homestead_permit_no"])
    page.fill("#result_planning_permit_no", RESULT_FIELDS["planning_permit_no"])
    press_enter_on(page, "#joint-approve")
    assert page.locator("#joint-error").inner_text() == "请勾选“已阅各部门意见”。本次未作任何保存。"
    assert hub.api("op").get(f"/api/cases/{case_id}").json()["result"] is None
    page.check("#confirmed")
    press_enter_on(page, "#joint-approve")
    assert page.locator("#joint-decision").inner_text() == "准予"
    assert page.locator("#decision-form").count() == 0
    assert page_problems(page, allowed) == [], report_of(page, allowed)
    shot(page, "hub-joint-review-decided")
    document = hub.api("op").get(f"/api/cases/{case_id}").json()["result"]["document"]
    assert document["decision"] == "approved" and document["result_fields"] == RESULT_FIELDS

    # Another department reads the page: no lead's forms.
    reader = browser.new_page(viewport={"width": 1024, "height": 768})
    log_in(reader, hub.url, "zr-zhao", REVIEWER_PASSWORD)
    reader.goto(f"{hub.url}/cases/{case_id}/joint")
    assert reader.locator("#open-form, #meeting-form, #decision-form, .inline").count() == 0
    assert "建筑高度不超过三层" in reader.locator("#joint-departments").inner_text()
    assert page_problems(reader, allowed) == [], report_of(reader, allowed)
