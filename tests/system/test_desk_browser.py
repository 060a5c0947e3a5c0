"""Resolving a conflict from the desk in headless Chromium: queue → side by side → merge → the point's case page
says what the hub decided."""

from __future__ import annotations

import pytest
from tests.support.browser import shot
from tests.support.cluster import log_in
from tests.system.test_reconcile import intake, parked, resident, synced

pytestmark = pytest.mark.browser


def test_an_operator_merges_a_duplicate_from_the_desk(cluster, browser):  # noqa: F811
    hub = cluster.start_hub()
    point = cluster.start_point("平兰村便民服务站", "village")
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
