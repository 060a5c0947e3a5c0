"""The residents' site in headless Chromium, on real servers: a resident with a phone (360×640) finds an item on the
hub's public site, reads its guide and sends a pre-check with a photo using the keyboard only, then reads that it
waits for review; the same pages at 1024×768; and the village kiosk's pages, served from the point's own catalog,
where she reads the same pre-check by number and code. Every page is Chinese, passes the crawl's checks (words,
layout, axe-core) and weighs under 30 KB.
"""

from __future__ import annotations

import sqlite3

import pytest
from PIL import Image

from sync.kit.idnumber import check_character
from tests.support.browser import shot
from tests.support.cluster import MEDICAL_INSURANCE, wait_until
from tests.support.pagecheck import axe_problems, layout_problems, measure, report, scroll_problems, text_problems

pytestmark = pytest.mark.browser

VILLAGE = "八达镇周邦村便民服务站"
PHONE = {"width": 360, "height": 640}
DESKTOP = {"width": 1024, "height": 768}
PAGE_LIMIT = 30 * 1024
RESIDENT_ID = "45102719800101234" + check_character("45102719800101234")


def checked(page, url: str, viewport: str) -> None:
    """Go to ``url`` and assert the page is light, Chinese and passes the crawl's checks at ``viewport``."""
    answer = page.goto(url)
    weight = len(answer.body())
    print(f"RESULT residents_page={url.split('/', 3)[-1]} viewport={viewport} bytes={weight}")
    assert weight < PAGE_LIMIT, f"{url} weighs {weight} bytes"
    look(page, url, viewport)


def look(page, url: str, viewport: str) -> None:
    measured = measure(page)
    problems = text_problems(url, measured["text"]) + axe_problems(url, page)
    problems += layout_problems(url, measured) if viewport == "1024×768" else scroll_problems(url, measured, viewport)
    assert not problems, report(problems)
    assert page.evaluate("document.documentElement.lang") == "zh-CN"


def test_a_resident_pre_checks_from_her_phone_and_reads_the_answer_at_the_kiosk(cluster, browser, tmp_path):
    hub = cluster.start_hub()
    point = cluster.start_point(VILLAGE, "village")
    image = tmp_path / "身份证.jpg"
    Image.effect_noise((1200, 900), 60).convert("RGB").save(image, "JPEG", quality=90)

    phone = browser.new_page(viewport=PHONE)
    checked(phone, f"{hub.url}/residents/", "360×640")
    phone.focus("#q")
    phone.keyboard.type("医疗保险")
    with phone.expect_navigation():
        phone.keyboard.press("Enter")
    assert "城乡居民基本医疗保险参保登记" in phone.inner_text("main")
    look(phone, phone.url, "360×640")
    checked(phone, f"{hub.url}/residents/items/{MEDICAL_INSURANCE}", "360×640")
    assert "申请材料" in phone.inner_text("main")
    checked(phone, f"{hub.url}/residents/items/{MEDICAL_INSURANCE}/precheck", "360×640")
    shot(phone, "residents-precheck-form-phone")
    phone.focus("#name")
    phone.keyboard.type("韦秀兰")
    phone.keyboard.press("Tab")
    phone.keyboard.type("45102719800101230")  # a wrong check character
    phone.keyboard.press("Tab")
    phone.keyboard.type("13807761234")
    phone.set_input_files("#file_id_card", str(image))
    with phone.expect_navigation():
        phone.press("#phone", "Enter")
    assert "这不是有效的18位身份证号" in phone.inner_text("main")
    look(phone, phone.url, "360×640")
    phone.fill("#id_number", RESIDENT_ID)
    phone.set_input_files("#file_id_card", str(image))
    with phone.expect_navigation():
        phone.press("#id_number", "Enter")
    number, code = phone.inner_text("#precheck-no"), phone.inner_text("#precheck-code")
    assert number.startswith("YS-") and len(code) == 6
    look(phone, phone.url, "360×640")
    shot(phone, "residents-precheck-sent-phone")

    desktop = browser.new_page(viewport=DESKTOP)
    for path in ("/residents/", f"/residents/items/{MEDICAL_INSURANCE}", "/residents/prechecks"):
        checked(desktop, hub.url + path, "1024×768")
    desktop.fill("#precheck_no", number)
    desktop.fill("#code", code)
    with desktop.expect_navigation():
        desktop.press("#code", "Enter")
    assert "等待审查" in desktop.inner_text("#precheck-state")
    look(desktop, desktop.url, "1024×768")

    wait_until(lambda: _at_point(point, number), timeout=60, what="the pre-check's copy at the point")
    kiosk = browser.new_page(viewport=DESKTOP)
    for path in ("/residents/", f"/residents/items/{MEDICAL_INSURANCE}",
                 f"/residents/items/{MEDICAL_INSURANCE}/precheck", "/residents/prechecks"):
        checked(kiosk, point.url + path, "1024×768")
    assert VILLAGE in kiosk.inner_text("header")
    kiosk.focus("#precheck_no")
    kiosk.keyboard.type(number)
    kiosk.keyboard.press("Tab")
    kiosk.keyboard.type(code)
    with kiosk.expect_navigation():
        kiosk.keyboard.press("Enter")
    assert "等待审查" in kiosk.inner_text("#precheck-state")
    look(kiosk, kiosk.url, "1024×768")
    shot(kiosk, "residents-precheck-kiosk")


def _at_point(point, number: str) -> bool:
    with sqlite3.connect(point.data / "point.db") as db:
        return bool(db.execute("SELECT 1 FROM precheck WHERE precheck_no = ?", (number,)).fetchall())
