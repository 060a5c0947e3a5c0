"""The receipt as it comes off the printer (print media, A4 width, in headless Chromium): no navigation,
nothing cut off, a QR code big enough for an old phone."""

from __future__ import annotations

import re

import pytest
from tests.pointkit.hubside import GOOD_CASE
from tests.support.cluster import log_in

from sync.kit.qrcodes import MIN_CODE_PX

pytestmark = pytest.mark.browser

A4_WIDTH = {"width": 794, "height": 1123}  # 210 x 297 mm at 96 CSS pixels per inch


def test_the_printed_receipt_hides_the_navigation_and_shows_the_qr_code(api, browser):  # noqa: F811
    created = api.post("/api/cases", json=GOOD_CASE).json()
    page = browser.new_page(viewport=A4_WIDTH)
    log_in(page, str(api.base_url), "staff", "window-pass-1")
    page.goto(f"{api.base_url}/cases/{created['case_id']}/receipt")
    assert page.locator("nav.main").is_visible() and page.locator("#print").is_visible(), "on screen: all there"

    page.emulate_media(media="print")
    for chrome in ("header.top", "nav.main", "#print"):
        assert not page.locator(chrome).is_visible(), f"{chrome} is not printed"
    assert page.locator("#receipt-no").inner_text() == created["receipt_no"]
    qr = page.locator(".qr svg").bounding_box()
    assert qr and qr["width"] >= MIN_CODE_PX and qr["height"] >= MIN_CODE_PX, qr
    assert page.evaluate("document.documentElement.scrollWidth") <= A4_WIDTH["width"], "nothing runs off the page"

    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf)) == 1, "one A4 sheet"
