"""The intake window in headless Chromium: pinyin search, a one-time notice, then a receipt whose promised
date counts the National Day holiday; the page-weight budget; screenshots at 1024x768."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from tests.support.browser import has_focus, shot
from tests.support.cluster import SAMPLE_CATALOG, log_in

from sync.clock import CLOCK_SKEW_ENV, now_ms
from sync.kit.idnumber import check_character

pytestmark = pytest.mark.browser

ITEM = "451030-YB-001"  # 城乡居民基本医疗保险参保登记 in the sample catalog
PAGE_BUDGET_BYTES = 40 * 1024
# The point's clock is moved (sync/clock.py seam) to Wednesday 2026-09-30 10:00 CST, the eve of 国庆.
INTAKE_MOMENT = datetime(2026, 9, 30, 10, 0, tzinfo=timezone(timedelta(hours=8)))
# Working days after 9/30, by hand from the State Council's 2026 notice: 10/1-10/7 are off; 10/8 Thu, 10/9 Fri;
# Saturday 10/10 is a make-up workday (调休上班); then Mon 10/12 to Fri 10/16, Mon 10/19, Tue 10/20.
WORKING_DAYS_AFTER_INTAKE = ["2026-10-08", "2026-10-09", "2026-10-10", "2026-10-12", "2026-10-13", "2026-10-14",
                             "2026-10-15", "2026-10-16", "2026-10-19", "2026-10-20"]



def test_intake_notice_then_receipt_with_the_holiday_counted(cluster, browser):
    promised_days = next(item["promised_days"] for item in json.loads(SAMPLE_CATALOG.read_text(encoding="utf-8"))["items"]
                         if item["code"] == ITEM)
    assert 1 <= promised_days <= len(WORKING_DAYS_AFTER_INTAKE), "extend the hand-made list for this item's limit"
    cluster.start_hub()
    skew = int(INTAKE_MOMENT.timestamp() * 1000) - now_ms()
    point = cluster.start_point("八达镇周邦村便民服务站", "village", env={CLOCK_SKEW_ENV: str(skew)})
    id_number = "45102719800101234" + check_character("45102719800101234")

    window = browser.new_page(viewport={"width": 1024, "height": 768})
    log_in(window, point.url, "staff", point.logins["staff"])

    # Find the item by pinyin initials, keyboard only: the search box has focus, Enter submits.
    window.goto(point.url + "/cases/new")
    assert has_focus(window, "q")
    window.keyboard.type("ylbx")
    with window.expect_navigation():
        window.keyboard.press("Enter")
    assert "城乡居民基本医疗保险参保登记" in window.inner_text("#items")
    assert "最低生活保障" not in window.inner_text("#items")
    shot(window, "intake-search-ylbx")

    # The intake page's weight, measured as the browser loads it.
    responses: list = []

    def collect(response) -> None:
        responses.append(response)

    window.on("response", collect)
    with window.expect_navigation():
        window.click(f"a[href='/cases/new?item={ITEM}']")
    window.wait_for_load_state("load")
    window.remove_listener("response", collect)
    sizes = [response.request.sizes() for response in responses]
    body = sum(size["responseBodySize"] for size in sizes)
    transferred = body + sum(size["responseHeadersSize"] for size in sizes)
    assert body == sum(len(response.body()) for response in responses), "nothing compressed or cut"
    print(f"RESULT intake_page_bytes={transferred} intake_page_body_bytes={body} responses={len(responses)} "
          f"budget={PAGE_BUDGET_BYTES}")
    assert 0 < transferred <= PAGE_BUDGET_BYTES
    assert has_focus(window, "applicant_id_number")
    window.keyboard.press("Tab")
    assert window.evaluate("document.activeElement.id") == "prefill"
    window.keyboard.press("Tab")
    assert window.evaluate("document.activeElement.id") == "applicant_name"
    shot(window, "intake-form")

    # The household register is not there: Enter in a text input prints the notice, not a receipt.
    window.fill("#applicant_id_number", id_number)
    window.fill("#applicant_name", "韦秀兰")
    window.select_option("#field_insured_category", "普通居民")
    window.check("input[name=materials][value=id_card]")
    window.focus("#applicant_name")
    with window.expect_navigation():
        window.keyboard.press("Enter")
    assert "/notices/" in window.url
    missing = window.locator("#missing-materials .missing-material").all_inner_texts()
    assert len(missing) == 1 and "户口簿" in missing[0]
    assert "城乡居民基本医疗保险参保登记" in window.inner_text("#one-time-notice")
    assert "办事指南" in window.inner_text("#one-time-notice")
    shot(window, "intake-one-time-notice")

    # She comes back with everything: received, and the promised date skips the National Day holiday.
    window.goto(point.url + f"/cases/new?item={ITEM}")
    window.fill("#applicant_id_number", id_number)
    window.fill("#applicant_name", "韦秀兰")
    window.fill("#applicant_phone", "13807761234")
    window.select_option("#field_insured_category", "普通居民")
    window.check("input[name=materials][value=id_card]")
    window.check("input[name=materials][value=hukou]")
    expected = WORKING_DAYS_AFTER_INTAKE[promised_days - 1]
    assert expected in window.inner_text("#promised-preview")
    with window.expect_navigation():
        window.click("#receive")
    assert window.inner_text("#promised-date").strip() == expected
    assert "2026-09-30" in window.inner_text(".sheet")
    assert window.locator(".qr svg").count() == 1 and window.inner_text("#pickup-code").strip().isdigit()
    assert "12345" in window.inner_text(".sheet")
    shot(window, "intake-receipt")

    window.goto(point.url + f"/items/{ITEM}/guide")
    assert "申请材料" in window.inner_text("#guide")
    shot(window, "intake-guide")
    window.goto(point.url + f"/cases/new?item={ITEM}&lang=en")
    shot(window, "intake-form-en")
