"""The supervision office's order desk and a reviewer's home page in headless Chromium, driven by the keyboard:
the office issues an order, the reviewer finds it with her red card on her queue page and answers it in one step,
the office closes it. Each page passes the page crawl's checks (tests/support/pagecheck.py)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from hub.approval.supervision import supervise_once
from hub.core.models import Staff
from sync.clock import utcnow
from sync.kit.workdays import county_date
from tests.hub.hubkit import CERTIFIED, REVIEWER_PASSWORD, push
from tests.hub.test_supervision_orders import OFFICE, add_staff, days_until
from tests.support.browser import has_focus, shot
from tests.support.cluster import log_in
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


def page_problems(page, allowed: set[str]) -> list:
    url = page.url
    return [*text_problems(url, page.locator("main").inner_text(), allowed), *layout_problems(url, measure(page)),
            *axe_problems(url, page)]


def fits_at_200_percent(page) -> list:
    """Scroll problems of the page at 512×384 (1024×768 at 200% zoom); the viewport is put back after."""
    page.set_viewport_size({"width": 512, "height": 384})
    problems = scroll_problems(page.url, page_width(page), "512×384")
    page.set_viewport_size({"width": 1024, "height": 768})
    return problems


def tab_to(page, selector: str, limit: int = 60) -> None:
    """Press Tab until ``selector`` has the focus, as a keyboard user would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} is not reachable with Tab")


@pytest.mark.sqlite_only  # orders on PostgreSQL: test_supervision_orders
def test_the_office_issues_and_closes_an_order_the_reviewer_answers_from_her_home_page(loop_hub, browser, clock):
    hub = loop_hub
    add_staff(hub, OFFICE, "supervisor", name="周监察")
    with hub.db() as session:
        reviewer = session.exec(select(Staff).where(Staff.username == "yb-li")).one()
        reviewer.display_name = "李梅"
        session.add(reviewer)
    point = hub.enroll_point()
    case_id = push(point, CERTIFIED)
    due = date.fromisoformat(hub.api("op").get(f"/api/cases/{case_id}").json()["due_date"])
    receipt_no = hub.api("op").get(f"/api/cases/{case_id}").json()["receipt_no"]
    clock(days_until(due) + 1)
    assert supervise_once(hub.engine, hub.data_dir).cards["red"] == 1
    allowed = {receipt_no, "YB"}
    year = county_date(utcnow()).year

    office = browser.new_page(viewport={"width": 1024, "height": 768})
    log_in(office, hub.url, OFFICE, REVIEWER_PASSWORD)
    office.goto(hub.url + "/orders")
    assert office.locator("#orders tbody tr").count() == 1, "the red card's order is on the desk"
    assert "红牌" in office.locator("#orders").inner_text()
    assert page_problems(office, allowed) == [], report(page_problems(office, allowed))
    shot(office, "hub-orders-desk")
    assert fits_at_200_percent(office) == [], report(fits_at_200_percent(office))

    # A wrong receipt number: the office is told what to do, nothing is issued.
    office.focus("#order-case")
    office.keyboard.type("PL-NOSUCH")
    tab_to(office, "#order-text")
    office.keyboard.type("请说明超期原因")
    tab_to(office, "#issue-button")
    with office.expect_navigation():
        office.keyboard.press("Enter")
    assert "没有这个受理编号" in office.locator("#order-error").inner_text()
    assert office.locator("#orders tbody tr").count() == 1
    office.fill("#order-case", receipt_no)
    tab_to(office, "#issue-button")
    with office.expect_navigation():
        office.keyboard.press("Enter")
    assert office.locator("h1").inner_text() == f"督办单督办〔{year}〕0002"
    assert office.locator("#order-reviewer").inner_text() == "李梅"
    assert "待答复" in office.locator("#order-status").inner_text()
    assert page_problems(office, allowed) == [], report(page_problems(office, allowed))

    # The reviewer lands on her queue: her department's orders and its red card above the cases.
    home = browser.new_page(viewport={"width": 1024, "height": 768})
    log_in(home, hub.url, "yb-li", REVIEWER_PASSWORD)
    assert home.url.endswith("/queue")
    board = home.locator("#supervision-board")
    assert board.locator("#my-orders tbody tr").count() == 2
    assert "红牌" in board.locator("#my-cards").inner_text() and "李梅" in board.locator("#my-cards").inner_text()
    assert page_problems(home, allowed | {"PL-NOSUCH"}) == [], report(page_problems(home, allowed))
    shot(home, "hub-reviewer-home")
    assert fits_at_200_percent(home) == [], report(fits_at_200_percent(home))
    tab_to(home, f"#my-order-督办〔{year}〕0002 a")
    with home.expect_navigation():
        home.keyboard.press("Enter")
    assert has_focus(home, "answer"), "the answer form has the focus"
    home.keyboard.type("已于今日办结，超期原因为材料核验耗时，已整改。")
    tab_to(home, "#answer-button")
    with home.expect_navigation():
        home.keyboard.press("Enter")
    assert "已答复" in home.locator("#order-status").inner_text()
    assert home.locator("#answer-form").count() == 0

    office.reload()
    assert has_focus(office, "result")
    office.keyboard.type("答复属实，予以办结。")
    tab_to(office, "#close-button")
    with office.expect_navigation():
        office.keyboard.press("Enter")
    assert "已办结" in office.locator("#order-status").inner_text()
    assert "予以办结" in office.locator("#order-result").inner_text()
    shot(office, "hub-order-closed")
    assert fits_at_200_percent(office) == [], report(fits_at_200_percent(office))
    office.goto(hub.url + "/supervision")
    assert "红牌" in office.locator("#cards").inner_text()
    assert page_problems(office, allowed) == [], report(page_problems(office, allowed))
