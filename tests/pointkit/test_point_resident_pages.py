"""The pages a resident reads or touches, measured in Chromium (适老化): the kiosk in large print with 60 px
targets across the screen, and every other resident page at the point (pickup, receipt, notices, guide, results,
handover) with text of 16 px at least, main text of 18 px, 44 px targets, line spacing of 1.3, a header on every
table column and no heading that skips a level; none scrolls sideways at 1024x768 or at 512x384 (200% zoom). The
kiosk itself: no staff indicators, a receipt number typed in any case, one answer for an unknown receipt and a wrong
code, a title for each answer, a code the resident can show."""

from __future__ import annotations

from datetime import date

import pytest

from sync.clock import utcnow
from sync.envelope import Kind
from tests.pointkit.hubside import GOOD_CASE, GOOD_ID, ITEMS
from tests.support.browser import has_focus, shot
from tests.support.cluster import log_in

from pointkit import db
from pointkit.models import Case

pytestmark = pytest.mark.browser

SCREEN = {"width": 1024, "height": 768}
ZOOMED = {"width": 512, "height": 384}  # 1024x768 at 200% zoom
# The national elder-friendly norms (适老化) for the kiosk, and the figures for the other resident pages.
KIOSK = {"smallest": 18, "main": 24, "target": 60}
RESIDENT = {"smallest": 16, "main": 18, "target": 44}
MIN_LINE_HEIGHT = 1.3

# What a page looks like to a measuring eye: the text sizes and line heights, the targets, the sideways scroll.
MEASURE = """
() => {
  const visible = el => { const r = el.getBoundingClientRect(), s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; };
  const describe = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + ' "' +
    (el.innerText || el.value || '').trim().slice(0, 24) + '"';
  const texts = [], lines = [], chars = {};
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node; (node = walker.nextNode());) {
    const el = node.parentElement, text = node.textContent.trim();
    if (!text || !el || ['SCRIPT', 'STYLE', 'OPTION'].includes(el.tagName) || !visible(el)) continue;
    const s = getComputedStyle(el), size = parseFloat(s.fontSize);
    texts.push([size, describe(el)]);
    if (el.closest('main')) chars[size] = (chars[size] || 0) + text.length;
    const lineHeight = s.lineHeight === 'normal' ? 0 : parseFloat(s.lineHeight) / size;
    if (!el.closest('button')) lines.push([lineHeight, describe(el)]);
  }
  // A link inside a sentence is exempt; a link standing alone (a paragraph of its own, a cell, a list) is a target.
  const inSentence = el => { const block = el.closest('p, li, td, th, dd');
    return el.tagName === 'A' && block && block.innerText.trim().length > el.innerText.trim().length + 2 &&
      !el.closest('.noprint, nav, header'); };
  const targets = [];
  for (const el of document.querySelectorAll('a[href], button, input:not([type=hidden]), select, summary')) {
    if (!visible(el) || inSentence(el)) continue;
    // A radio button or a checkbox is tapped through its label.
    const box = (['radio', 'checkbox'].includes(el.type) && el.closest('label') || el).getBoundingClientRect();
    targets.push([Math.round(Math.min(box.width, box.height)), describe(el)]);
  }
  // Every column has a header: a header row (all th) names each of its cells.
  const unnamed = [...document.querySelectorAll('tr')].filter(tr => tr.cells.length > 1 &&
    [...tr.cells].every(c => c.tagName === 'TH') && [...tr.cells].some(c => !c.textContent.trim())).map(describe);
  // Headings go down one level at a time.
  const levels = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].map(h => [+h.tagName[1], describe(h)]);
  const skipped = levels.filter((h, i) => i > 0 && h[0] > levels[i - 1][0] + 1).map(h => h[1]);
  const main = Object.entries(chars).sort((a, b) => b[1] - a[1])[0];
  const scroller = document.scrollingElement;
  return {texts, lines, targets, unnamed, skipped, main: main ? parseFloat(main[0]) : 0,
          sideways: scroller.scrollWidth - scroller.clientWidth};
}
"""


def assert_large_print(page, name: str, figures: dict, *, opened: str = "") -> None:
    """Fail when ``page`` (as loaded now, with the ``opened`` <details> open) is below ``figures`` at 1024x768 or
    scrolls sideways at 512x384."""
    for viewport in (SCREEN, ZOOMED):
        page.set_viewport_size(viewport)
        page.reload()
        if opened:
            page.locator(f"{opened} summary").click()
        seen = page.evaluate(MEASURE)
        where = f"{name} at {viewport['width']}x{viewport['height']}"
        assert seen["sideways"] <= 0, f"{where} scrolls sideways by {seen['sideways']} px"
        if viewport is ZOOMED:
            shot(page, f"resident-{name}-512")
            continue
        shot(page, f"resident-{name}")
        small = sorted({(size, what) for size, what in seen["texts"] if size < figures["smallest"]})
        assert not small, f"{where}: text under {figures['smallest']} px: {small[:8]}"
        assert seen["main"] >= figures["main"], f"{where}: main text is {seen['main']} px"
        tight = sorted({(round(h, 2), what) for h, what in seen["lines"] if h < MIN_LINE_HEIGHT})
        assert not tight, f"{where}: line spacing under {MIN_LINE_HEIGHT}: {tight[:8]}"
        tiny = sorted({(size, what) for size, what in seen["targets"] if size < figures["target"]})
        assert not tiny, f"{where}: targets under {figures['target']} px: {tiny[:8]}"
        assert not seen["unnamed"], f"{where}: a table column without a header: {seen['unnamed']}"
        assert not seen["skipped"], f"{where}: a heading skips a level: {seen['skipped']}"


def staff_page(api, browser):
    page = browser.new_page(viewport=SCREEN)
    log_in(page, str(api.base_url), "staff", "window-pass-1")
    return page


def test_every_resident_page_at_the_point_is_in_large_print_and_fits_at_200_percent(point, api, browser):
    url = str(api.base_url)
    waiting = api.post("/api/cases", json=GOOD_CASE).json()
    ready = api.post("/api/cases", json=GOOD_CASE).json()
    notice = api.post("/api/notices", json={**GOOD_CASE, "materials": ["id_card"]}).json()
    with db.session_scope(point.data_dir) as session:
        ready_case = session.get(Case, ready["case_id"])
        session.expunge(ready_case)
    point.apply(point.seal(Kind.SUPPLEMENT_REQUEST, {
        "case_id": waiting["case_id"], "department": "MZ", "materials": ["hukou"], "note": "户口簿复印件不清晰",
        "requested_at": utcnow().isoformat(), "return_by": str(date.today()), "return_within": 10,
        "return_unit": "natural_days"}))
    # Decided at 20:00 UTC on 1 March: 2 March in the county.
    decided = {**point.result_document(ready_case), "decided_at": "2026-03-01T20:00:00+00:00"}
    point.apply(point.result_message(ready_case, document=decided))
    page = staff_page(api, browser)

    page.goto(f"{url}/results")
    assert_large_print(page, "results", RESIDENT)
    page.goto(f"{url}/pickup?receipt_no={ready['receipt_no']}")
    assert_large_print(page, "pickup", RESIDENT, opened="#without-code")
    page.goto(f"{url}/cases/{waiting['case_id']}/receipt")
    assert_large_print(page, "receipt", RESIDENT)
    page.goto(f"{url}{notice['print_url']}")
    assert_large_print(page, "notice", RESIDENT)
    page.goto(f"{url}/cases/{waiting['case_id']}/supplement-notice")
    assert_large_print(page, "supplement-notice", RESIDENT)
    page.goto(f"{url}/items/{ITEMS[0]['code']}/guide")
    assert_large_print(page, "guide", RESIDENT)
    referral = api.post("/api/referrals", json={"resident_name": "王小明", "item_code": ITEMS[0]["code"],
                                                "to_kind": "department", "to_code": "MZ", "reason": "需到县民政局现场核实"})
    assert referral.status_code == 201, referral.text
    page.goto(f"{url}{referral.json()['slip_url']}")
    assert_large_print(page, "referral-slip", RESIDENT)
    handed = api.post(f"/api/cases/{ready['case_id']}/pickup",
                      json={"pickup_code": ready["pickup_code"], "id_last4": GOOD_ID[-4:]})
    assert handed.status_code == 200, handed.text
    page.goto(f"{url}/cases/{ready['case_id']}/handover")
    assert_large_print(page, "handover", RESIDENT)
    assert page.locator("#decided-on").inner_text() == "2026-03-02", "the county's date, not UTC's"
    # No staff indicator on a page the resident reads; the clerk's own pages keep theirs.
    assert page.locator("#link-state").count() == 0 and page.locator("#queued-count").count() == 0
    page.goto(f"{url}/cases")
    assert page.locator("#link-state").is_visible() and page.locator("#queued-count").is_visible()
    # The kiosk opened in a browser where staff are logged in still shows nothing of theirs.
    page.goto(f"{url}/status")
    assert page.locator("nav.main, #link-state, #queued-count").count() == 0


def test_the_kiosk_is_large_print_across_the_screen_and_shows_no_staff_indicator(point, api, browser):
    case = api.post("/api/cases", json=GOOD_CASE).json()
    page = browser.new_page(viewport=SCREEN)
    page.goto(f"{api.base_url}/status")
    assert page.locator("#link-state, #queued-count, #scans-waiting, nav.main").count() == 0
    assert_large_print(page, "kiosk", KIOSK)
    page.set_viewport_size(SCREEN)
    page.reload()
    for target in ("#receipt_no", "#pickup_code", "#kiosk-check"):
        box = page.locator(target).bounding_box()
        assert box["height"] >= KIOSK["target"] and box["width"] >= 0.5 * SCREEN["width"], (target, box)

    # The same keyboard path as ever: the receipt number has focus, Tab to the code, Enter.
    assert has_focus(page, "receipt_no")
    page.keyboard.type(case["receipt_no"])
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "pickup_code"
    page.keyboard.type(case["pickup_code"])
    with page.expect_navigation():
        page.keyboard.press("Enter")
    answer = page.locator("#kiosk-answer")
    assert page.locator("#kiosk-state").inner_text() == "已受理，正在报送县级部门"
    promised = date.fromisoformat(case["promised_date"])
    assert page.locator("#kiosk-date").inner_text() == f"承诺办结日期：{promised.year}年{promised.month}月{promised.day}日"
    box = answer.bounding_box()
    assert box["width"] >= 0.8 * (SCREEN["width"] - 100)
    assert float(answer.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 32
    assert page.title().startswith("办件进度查询结果")
    assert_large_print(page, "kiosk-answer", KIOSK)
    # In English too, whose words run longer.
    page.goto(f"{api.base_url}/status?lang=en")
    assert_large_print(page, "kiosk-en", KIOSK)
    page.fill("#receipt_no", case["receipt_no"])
    page.fill("#pickup_code", case["pickup_code"])
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("#kiosk-date").inner_text() == f"Promised by {promised:%B} {promised.day}, {promised.year}"
    assert_large_print(page, "kiosk-answer-en", KIOSK)


def test_the_resident_can_show_the_pickup_code_she_typed(point, api, browser):
    page = browser.new_page(viewport=SCREEN)
    page.goto(f"{api.base_url}/status")
    code = page.locator("#pickup_code")
    toggle = page.locator("#show-code")
    code.fill("123456")
    assert code.get_attribute("type") == "password" and toggle.inner_text() == "显示取件码"
    toggle.focus()
    page.keyboard.press("Enter")
    assert code.get_attribute("type") == "text" and toggle.get_attribute("aria-pressed") == "true"
    assert toggle.inner_text() == "隐藏取件码" and code.input_value() == "123456"
    shot(page, "resident-kiosk-code-shown")
    toggle.click()
    assert code.get_attribute("type") == "password" and toggle.get_attribute("aria-pressed") == "false"


def kiosk_answer(page, url: str, receipt_no: str, code: str) -> tuple[str, str]:
    page.goto(f"{url}/status")
    page.fill("#receipt_no", receipt_no)
    page.fill("#pickup_code", code)
    with page.expect_navigation():
        page.click("#kiosk-check")
    text = page.locator("#kiosk-error").inner_text() if page.locator("#kiosk-error").count() else ""
    return page.title(), text


def test_the_kiosk_reads_a_receipt_number_in_any_case_and_answers_an_unknown_one_as_a_wrong_code(point, api, browser):
    case = api.post("/api/cases", json=GOOD_CASE).json()
    wrong = "000000" if case["pickup_code"] != "000000" else "111111"
    url = str(api.base_url)
    page = browser.new_page(viewport=SCREEN)
    # Lower case, spaces around it, full-width digits and dash from a Chinese input method: the printed number.
    full_width = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() or c == "-" else c for c in case["receipt_no"].lower())
    for typed in (case["receipt_no"].lower(), f"  {case['receipt_no']} ", full_width):
        _title, error = kiosk_answer(page, url, typed, case["pickup_code"])
        assert not error and page.locator("#kiosk-state").is_visible(), (typed, error)

    unknown_title, unknown = kiosk_answer(page, url, case["receipt_no"][:-4] + "9999", wrong)
    assert_large_print(page, "kiosk-refused", KIOSK)
    wrong_title, wrong_code = kiosk_answer(page, url, case["receipt_no"], wrong)
    assert unknown == wrong_code and unknown_title == wrong_title, "no answer tells which receipts exist"
    assert "受理编号或取件码不正确" in unknown and "再错" not in unknown
    assert wrong_title.startswith("受理编号或取件码不正确")
    page.goto(f"{url}/status")
    assert page.title().startswith("办件进度查询") and page.title() != wrong_title
    with db.session_scope(point.data_dir) as session:
        assert session.get(Case, case["case_id"]).kiosk_failures == 1, "the wrong code still counts towards the lock"
