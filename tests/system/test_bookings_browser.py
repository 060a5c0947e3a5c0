"""The booking pages (预约) in headless Chromium, on the hub's site and on a village point's kiosk, at 360×640 (a
phone) and 1024×768: booked with the keyboard alone, every page under 30 KB, in Chinese words only, laid out
without sideways scrolling, and clean for axe-core."""

from __future__ import annotations

import re

import pytest

from tests.support.browser import shot
from tests.support.cluster import command, wait_until
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
PHONE, DESKTOP = {"width": 360, "height": 640}, {"width": 1024, "height": 768}
MAX_PAGE_BYTES = 30 * 1024


def problems(page, label: str, viewport: str) -> list:
    """The crawl's checks of the page on screen, plus its weight and sideways scrolling at this size."""
    measured = measure(page)
    found = text_problems(label, measured["text"]) + axe_problems(label, page)
    if viewport == "1024×768":
        found += layout_problems(label, measured)
    found += scroll_problems(label, page_width(page), viewport)
    weight = len(page.content().encode())
    print(f"RESULT booking_page={label} viewport={viewport} bytes={weight}")
    assert weight < MAX_PAGE_BYTES, f"{label} weighs {weight} bytes"
    assert not page.query_selector("script"), f"{label} needs no script"
    return found


def book_with_the_keyboard(page, base: str, start: str, viewport: str, name: str, phone: str) -> tuple[list, str]:
    """Walk the booking pages by keyboard from ``start`` (the point list on the hub, the day list at a kiosk):
    Tab to the first link and press Enter each step, then fill in the form and press Enter."""
    found = []
    page.goto(base + start)
    found += problems(page, f"{start} {viewport}", viewport)
    while not page.query_selector("#name"):
        target = page.query_selector("#booking-points a, #booking-days a")
        target.focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")
        found += problems(page, f"{page.url} {viewport}", viewport)
    page.focus("#name")
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    page.keyboard.type(phone)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    found += problems(page, f"booked {viewport}", viewport)
    return found, page.inner_text("#booking-no")


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["360x640", "1024x768"])
def test_booking_on_the_hub_site_and_at_the_kiosk_by_keyboard(cluster, browser, size):
    viewport = f"{size['width']}×{size['height']}"
    hub = cluster.start_hub()
    point = cluster.start_point(VILLAGE, "village")
    cluster.run(command("pointkit"), "bookings-plan", "--data", str(point.data), "--capacity", "2")
    page = browser.new_page(viewport=size)
    wait_until(lambda: page.goto(hub.url + "/residents/bookings/") and VILLAGE in page.inner_text("main"),
               timeout=30, what="the point's plan on the hub's site")

    found, online_no = book_with_the_keyboard(page, hub.url, "/residents/bookings/", viewport, "黄丽娟", "13900000002")
    assert "等待服务点确认" in page.inner_text("#booking-state")
    code = page.inner_text("#booking-code")
    shot(page, f"hub-booking-{size['width']}")

    page.goto(hub.url + "/residents/bookings/lookup")
    found += problems(page, f"hub lookup {viewport}", viewport)
    page.keyboard.type(online_no)  # the number field has the focus
    page.keyboard.press("Tab")
    page.keyboard.type(code)

    def confirmed() -> bool:
        with page.expect_navigation():
            page.keyboard.press("Enter")
        if "已确认" in page.inner_text("#booking-state"):
            return True
        page.goto(hub.url + "/residents/bookings/lookup")
        page.fill("#booking_no", online_no)
        page.fill("#code", code)
        page.focus("#code")
        return False

    wait_until(confirmed, timeout=60, what="the point's confirmation on the hub's site")
    found += problems(page, f"hub booking confirmed {viewport}", viewport)

    kiosk = browser.new_page(viewport=size)
    more, kiosk_no = book_with_the_keyboard(kiosk, point.url, "/residents/bookings/", viewport, "韦秀兰",
                                            "13800000001")
    found += more
    assert "已确认" in kiosk.inner_text("#booking-state") and re.fullmatch(r"\d{6}", kiosk.inner_text("#booking-code"))
    shot(kiosk, f"kiosk-booking-{size['width']}")
    kiosk.goto(point.url + "/residents/bookings/lookup")
    kiosk.fill("#booking_no", online_no)
    kiosk.fill("#code", code)
    with kiosk.expect_navigation():
        kiosk.keyboard.press("Enter")
    assert "已确认" in kiosk.inner_text("#booking-state"), "the online booking shows at the kiosk once confirmed"
    found += problems(kiosk, f"kiosk lookup {viewport}", viewport)
    with kiosk.expect_navigation():
        kiosk.click("#booking-cancel button")
    assert "已取消" in kiosk.inner_text("#booking-state")
    assert not found, report(found)
    assert kiosk_no != online_no
