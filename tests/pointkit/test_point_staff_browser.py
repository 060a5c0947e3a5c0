"""The window's staff pages in Chromium at 1024×768 (issue 19): intake refuses a program, warns of a repeat
application, and the receipt, case list and case page read in Chinese words, with no date, state or short word
wrapped in a table cell."""

from __future__ import annotations

import pytest

from sync.envelope import Kind
from tests.pointkit.hubside import GOOD_ID, jpeg_photo, rows
from tests.pointkit.test_point_pages import app, hub_status  # noqa: F401 (fixture)
from tests.support.browser import shot
from tests.support.cluster import log_in

from pointkit.models import Case, Outbox, ScanFile

pytestmark = pytest.mark.browser

# Table cells whose text runs onto a second line (a <br> aside): line boxes of its text that do not overlap.
WRAPPED_CELLS = """(selector) => Array.from(document.querySelectorAll(selector)).filter(cell => {
    if (cell.querySelector('br')) return false;
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    const rects = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const range = document.createRange();
        range.selectNodeContents(node);
        rects.push(...Array.from(range.getClientRects()).filter(rect => rect.width > 0));
    }
    rects.sort((a, b) => a.top - b.top);
    let lines = 0, bottom = -Infinity;
    for (const rect of rects) {
        if (rect.top >= bottom - 1) { lines += 1; bottom = rect.bottom; } else { bottom = Math.max(bottom, rect.bottom); }
    }
    return lines > 1;
}).map(cell => cell.innerText)"""


def fill_intake(page, url: str) -> None:
    page.goto(f"{url}/cases/new?item=T-001")
    page.fill("#applicant_id_number", GOOD_ID)
    page.fill("#applicant_name", "王小明")
    page.select_option("#field_category", "普通居民")
    page.fill("#field_household_size", "4")
    for code in ("id_card", "hukou"):
        page.check(f"input[name=materials][value={code}]")


def assert_no_wrapped_cells(page, selector: str = "main td, main th") -> None:
    assert page.evaluate(WRAPPED_CELLS, selector) == [], f"cells wrap on {page.url}"
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


def test_intake_receipt_and_case_pages_at_1024x768(point, app, live_server, browser):  # noqa: F811
    server = live_server(app)
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    log_in(page, server.url, "staff", "window-pass-1")

    # A program renamed as a photo is refused at the form, marked on its field; nothing is sealed or queued.
    fill_intake(page, server.url)
    page.set_input_files("#scans_id_card", files=[{"name": "photo.jpg", "mimeType": "image/jpeg",
                                                   "buffer": b"MZ\x90\x00" + b"\x00" * 400}])
    with page.expect_navigation():
        page.click("#receive")
    assert "不是扫描件" in page.inner_text("#error-scans_id_card")
    assert page.get_attribute("#scans_id_card", "aria-describedby") == "error-scans_id_card"
    assert "未受理" in page.title()
    shot(page, "point-intake-not-a-scan")
    assert rows(point.data_dir, Outbox) == [] and rows(point.data_dir, ScanFile) == []

    page.set_input_files("#scans_id_card", files=[{"name": "身份证.jpg", "mimeType": "image/jpeg",
                                                   "buffer": jpeg_photo()}])
    with page.expect_navigation():
        page.click("#receive")
    assert page.inner_text("#receipt-staff") == "张三"
    assert page.inner_text("#receipt-materials") == "居民身份证、户口簿"
    assert_no_wrapped_cells(page)
    shot(page, "point-receipt")
    (first,) = rows(point.data_dir, Case)

    # The same resident and item again: a warning with a link to the open case, and a reason to go on.
    fill_intake(page, server.url)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert first.receipt_no in page.inner_text("#repeat-warning")
    assert page.get_attribute("#repeat-link", "href") == f"/cases/{first.id}"
    shot(page, "point-intake-repeat-application")
    page.fill("#repeat_reason", "原回执遗失，群众重新申请")
    for code in ("id_card", "hukou"):
        page.check(f"input[name=materials][value={code}]")
    with page.expect_navigation():
        page.click("#receive")
    assert "/receipt" in page.url

    second = next(case for case in rows(point.data_dir, Case) if case.id != first.id)
    point.apply(point.seal(Kind.STATUS, hub_status(first, "routed", state="routed")))
    point.apply(point.result_message(second))
    page.goto(f"{server.url}/cases")
    states = page.locator("#cases td.status").all_inner_texts()
    assert sorted(states) == ["已分送审批部门", "结果已到 · 准予"], states
    assert page.inner_text("#results-badge") == "待领取1件"
    assert_no_wrapped_cells(page)
    shot(page, "point-cases")
    page.goto(f"{server.url}/cases/{second.id}")
    assert "原回执遗失" in page.inner_text("#case-repeat")
    assert page.locator("#withdraw-form").count() == 0, "a case with its result offers no withdrawal"
    assert_no_wrapped_cells(page, "main th")
    shot(page, "point-case")


def test_item_search_and_guide_at_1024x768(point, app, live_server, browser):  # noqa: F811
    server = live_server(app)
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    log_in(page, server.url, "staff", "window-pass-1")
    page.goto(f"{server.url}/cases/new")
    page.fill("#q", "没有这个事项")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "拼音首字母" in page.inner_text("#no-items") and page.locator("#items").count() == 0
    shot(page, "point-items-no-result")
    page.goto(f"{server.url}/items/T-001/guide")
    assert page.inner_text("#guide-place") == "古障村便民服务站"
    assert page.evaluate("Array.from(document.querySelectorAll('h1,h2,h3')).map(h => h.tagName)") == ["H1", "H2"]
    assert_no_wrapped_cells(page, "main th")
    shot(page, "point-guide")
