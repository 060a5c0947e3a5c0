"""Resolving a conflict from the desk in headless Chromium: queue → side by side → merge → the point's case page
says what the hub decided."""

from __future__ import annotations

import pytest
from tests.support.browser import shot
from tests.support.cluster import log_in, wait_until
from tests.support.pagecheck import Problem, layout_problems, measure, page_width, scroll_problems
from tests.system.test_reconcile import intake, parked, receive, resident, synced

pytestmark = pytest.mark.browser


def test_an_operator_merges_a_duplicate_from_the_desk(cluster, browser):  # noqa: F811
    hub = cluster.start_hub()
    point = cluster.start_point("周邦村便民服务站", "village")
    staff, operator = point.api("staff"), hub.api("admin")
    kept = intake(staff, resident(7))
    twin = intake(staff, resident(7))
    conflict = parked(operator, "duplicate", twin)

    page = browser.new_page(viewport={"width": 1024, "height": 768})
    log_in(page, hub.url, "admin", hub.logins["admin"])
    page.goto(hub.url + "/desk?kind=duplicate")
    page.click(f"a[href$='{conflict['conflict_id']}']")
    assert page.locator("#side-by-side tr.differs").count() >= 1, "the receipts differ and are highlighted"
    page.click("button[value=reject]")
    assert "驳回理由" in page.locator("#desk-error").inner_text(), "a rejection without a reason is refused"
    page.click("button[value=merge_cases]")
    assert "已处理" in page.locator("#conflict-status").inner_text()
    shot(page, "desk-resolved")
    synced(staff)
    assert staff.get(f"/api/cases/{twin}").json()["hub_note"].startswith("merge_cases")
    log_in(page, point.url, "staff", point.logins["staff"])
    page.goto(f"{point.url}/cases/{twin}")
    assert "两份申请已合并为一件" in page.locator("#hub-decision").inner_text()
    assert page.locator("#withdraw-form").count() == 0, "merged away: a withdrawal is for the kept application"
    shot(page, "point-case-merged")
    page.goto(f"{point.url}/cases/{kept}")
    assert page.locator("#withdraw-form").count() == 1, "the kept application is still open: the window may withdraw it"


def no_sideways_scroll(page) -> bool:
    return not scroll_problems(page.url, page_width(page), "512×384")


def wrapped_cells(page) -> list[Problem]:
    """Dates, states, codes and headers a table cell breaks over two lines (tests/support/pagecheck.py)."""
    return [problem for problem in layout_problems(page.url, measure(page)) if problem.kind.startswith("cell wraps")]


def test_the_desk_and_the_reviewer_read_a_parked_case_in_chinese_at_1024_and_512(cluster, browser):
    hub = cluster.start_hub()
    cluster.add_reviewer("yb-li", "YB", "reviewer-pass-1")
    village = cluster.start_point("周邦村便民服务站", "village", dirname="point-a")
    other = cluster.start_point("那劳村便民服务站", "village", dirname="point-b")
    operator = hub.api("admin")
    first = receive(village.api("staff"), resident(11), name="韦秀兰")
    second = receive(other.api("staff"), resident(11), name="韦秀英")
    identity = parked(operator, "identity", second["case_id"])
    parked(operator, "duplicate", second["case_id"])

    # The reviewer sees in her queue that the case waits for the operator, and why she cannot decide it.
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    log_in(page, hub.url, "yb-li", hub.logins["yb-li"])
    page.goto(hub.url + "/queue")
    row = page.locator("#queue tr", has_text=second["receipt_no"])
    assert "等待运营人员处理冲突" in row.inner_text() and "县医疗保障局" in row.inner_text()
    assert page.locator("h1").inner_text() == "部门待办：县医疗保障局"
    shot(page, "hub-queue-parked")
    assert wrapped_cells(page) == [], "dates, states and headers on one line"
    page.click(f"text={second['receipt_no']}")
    assert page.locator("#approve").is_disabled() and page.locator("#reject").is_disabled()
    assert page.locator("#decision-blocked").is_visible()
    assert "冲突处理台" in page.locator("#decision-blocked").inner_text()
    shot(page, "hub-case-parked")
    page.set_viewport_size({"width": 512, "height": 384})
    page.goto(hub.url + "/queue")
    assert no_sideways_scroll(page), "the queue and its filter bar fit 512 px"
    shot(page, "hub-queue-512")

    # The operator tells the conflicts apart and keeps a name by what it says.
    desk = browser.new_page(viewport={"width": 1024, "height": 768})
    log_in(desk, hub.url, "admin", hub.logins["admin"])
    desk.goto(hub.url + "/desk")
    rows = desk.locator("#conflicts tbody tr")
    assert rows.count() == 2
    for index in range(2):
        text = rows.nth(index).inner_text()
        assert second["receipt_no"] in text and first["receipt_no"] in text and "韦秀英" in text, text
        assert "那劳村便民服务站" in text
    shot(desk, "hub-desk-list")
    assert wrapped_cells(desk) == []
    desk.set_viewport_size({"width": 512, "height": 384})
    assert no_sideways_scroll(desk), "the desk's list fits 512 px"
    desk.set_viewport_size({"width": 1024, "height": 768})
    desk.goto(f"{hub.url}/desk/{identity['conflict_id']}")
    keep_first = desk.locator("button[value=take_left]")
    assert keep_first.inner_text().startswith("采用：韦秀兰（周邦村便民服务站，")
    assert desk.locator("button[value=take_right]").inner_text().startswith("采用：韦秀英（那劳村便民服务站，")
    assert "中心现有版本" in desk.locator("#left-side").inner_text()
    assert "申请人姓名" in desk.locator("#side-by-side").inner_text()
    shot(desk, "hub-desk-conflict")
    assert wrapped_cells(desk) == []
    desk.set_viewport_size({"width": 512, "height": 384})
    assert no_sideways_scroll(desk), "the conflict page fits 512 px"
    desk.set_viewport_size({"width": 1024, "height": 768})
    with desk.expect_navigation():
        keep_first.click()
    assert "采用中心原有版本" in desk.locator("#conflict-status").inner_text()
    assert operator.get(f"/api/cases/{second['case_id']}").json()["applicant"]["name"] == "韦秀兰"


def test_enter_in_the_certificate_number_does_not_approve_and_approval_is_confirmed(cluster, browser):
    hub = cluster.start_hub()
    cluster.add_reviewer("yb-li", "YB", "reviewer-pass-1")
    village = cluster.start_point("周邦村便民服务站", "village")
    case = receive(village.api("staff"), resident(12))
    reviewer = hub.api("yb-li")
    wait_until(lambda: reviewer.get(f"/api/cases/{case['case_id']}").status_code == 200, timeout=60,
               what="the case at the hub")

    page = browser.new_page(viewport={"width": 1024, "height": 768})
    log_in(page, hub.url, "yb-li", hub.logins["yb-li"])
    page.goto(f"{hub.url}/cases/{case['case_id']}")
    page.evaluate("window.submitted = 0; document.getElementById('decision-form')"
                  ".addEventListener('submit', (event) => { window.submitted += 1; event.preventDefault(); })")
    page.fill("#certificate_no", "YB-2026-000321")
    page.press("#certificate_no", "Enter")
    # Implicit submission fires the form's submit event within the key press, before press() returns.
    assert page.evaluate("window.submitted") == 0, "Enter in the certificate number submits nothing"
    page.reload()
    page.fill("#certificate_no", "YB-2026-000321")
    with page.expect_navigation():
        page.click("#approve")
    assert page.title().startswith("确认准予")
    assert page.locator("#confirm-certificate").inner_text() == "YB-2026-000321"
    assert reviewer.get(f"/api/cases/{case['case_id']}").json()["tasks"][0]["status"] == "open"
    shot(page, "hub-approval-confirm")
    with page.expect_navigation():
        page.click("#confirm-approve")
    assert page.locator("#result-link").count() == 1
    assert reviewer.get(f"/api/cases/{case['case_id']}").json()["tasks"][0]["status"] == "approved"
