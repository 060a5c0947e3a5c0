"""The hub's admin pages in Chromium: nothing scrolls sideways at 1024×768 or at 200% zoom (512×384), the
revoke link stays on one line, and every table column has a header."""

from __future__ import annotations

import pytest

from tests.hub.hubkit import ADMIN_PASSWORD, CERTIFIED, MEDICAL_INSURANCE, SAMPLE_CATALOG, push
from tests.hub.test_page_words import walk_a_case
from tests.support.browser import shot
from tests.support.cluster import log_in
from tests.support.pagecheck import layout_problems, measure, page_width, report, scroll_problems

from hub.catalog.versions import import_catalog, load_catalog_file

pytestmark = pytest.mark.browser

SIZES = ((1024, 768), (512, 384))


def changed_catalog(hub) -> int:
    """A version that changes many fields of one item and a department's name: a long changes block."""
    catalog = load_catalog_file(SAMPLE_CATALOG)
    item = next(entry for entry in catalog.items if entry.code == MEDICAL_INSURANCE)
    photo = item.materials[0].model_copy(update={"code": "photo_recent_white_background", "required": False,
                                                 "name_zh": "近期白底二寸免冠彩色照片（背面写明姓名和身份证号码）"})
    changed = item.model_copy(update={
        "promised_days": 0, "legal_basis": "《中华人民共和国社会保险法》第二十三条、第二十五条；" * 4,
        "materials": [*item.materials, photo], "levels": ["county"]})
    catalog.items = [changed if entry is item else entry for entry in catalog.items]
    catalog.departments = [department.model_copy(update={"name_zh": department.name_zh + "（医保服务中心）"})
                           if department.code == "YB" else department for department in catalog.departments]
    with hub.db() as session:
        return import_catalog(session, catalog, identity=hub.identity, source="a-long-file-name-v3.json").version


@pytest.mark.sqlite_only  # layout in Chromium; these pages' rows and times on PostgreSQL: test_page_words, test_pages
def test_the_admin_pages_fit_at_200_percent_zoom_and_every_column_has_a_header(loop_hub, browser):
    hub = loop_hub
    case_id, _point = walk_a_case(hub)
    push(hub.enroll_point("八达镇维新村便民服务站"), CERTIFIED)
    hub.token("八达镇木呈村便民服务站")  # a point with a token not yet used
    version = changed_catalog(hub)
    paths = [f"/cases/{case_id}", "/points", "/catalog", f"/catalog/{version}", f"/catalog/{version}/items/{MEDICAL_INSURANCE}",
             "/audit", "/supervision", f"/cases/{case_id}/result"]
    for width, height in SIZES:
        page = browser.new_page(viewport={"width": width, "height": height})
        log_in(page, hub.url, "admin", ADMIN_PASSWORD)
        for path in paths:
            page.goto(hub.url + path)
            shot(page, f"hub{path.replace('/', '-')}-{width}")
            # At 1024 every layout check of the crawl (wrapped dates and short cells, columns without a header,
            # sideways scrolling); at 512 (200% zoom) the sideways scrolling.
            found = (layout_problems(page.url, measure(page)) if width == 1024
                     else scroll_problems(page.url, page_width(page), f"{width}×{height}"))
            assert not found, report(found)
        page.goto(hub.url + "/points")
        # The destructive link reads as one word: it never breaks over two lines.
        links = page.locator("#points a.danger")
        assert links.count() >= 2
        for index in range(links.count()):
            assert links.nth(index).evaluate("link => link.getClientRects().length") == 1
            box = links.nth(index).bounding_box()
            line = links.nth(index).evaluate("link => parseFloat(getComputedStyle(link).lineHeight) || 24")
            assert box["height"] < 1.5 * line, (width, box)
        page.close()


@pytest.mark.sqlite_only  # layout in Chromium; these pages' rows and times on PostgreSQL: test_page_words, test_pages
def test_each_error_state_has_its_own_title(loop_hub, browser):
    hub = loop_hub
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    log_in(page, hub.url, "yb-li", "reviewer-pass")
    titles = {}
    for path in ("/cases/no-such-case", "/points", "/queue"):
        page.goto(hub.url + path)
        titles[path] = page.title()
    assert len(set(titles.values())) == 3, titles
    assert "不存在" in titles["/cases/no-such-case"] and "无权" in titles["/points"]
