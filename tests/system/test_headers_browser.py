"""The security headers in headless Chromium, on real servers (issue 27, case 6).

The key pages of both servers (login, the hub's case page, its decision and result pages, the point's intake
page, receipt, pickup and kiosk, the residents' pre-check page on both) load under the pages' policy with no
Content-Security-Policy violation in the console, and their scripts still run: the print buttons and the kiosk's
"show the code". A PDF scan opened from the hub's case page, in a tab of its own, displays inline under the scan's
own ``sandbox`` policy: its pixels reach the screen. Screenshots go to artifacts/headers-*.png.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

import pytest
from PIL import Image, ImageDraw

from tests.support.browser import shot
from tests.support.cluster import log_in, wait_until

from sync.kit.idnumber import check_character

pytestmark = pytest.mark.browser

ITEM = "451030-YB-001"  # 城乡居民基本医疗保险参保登记 in the sample catalog, decided by YB
VILLAGE = "八达镇周邦村便民服务站"
REVIEWER, REVIEWER_PASSWORD = "yb-li", "reviewer-pass-1"
DESKTOP = {"width": 1024, "height": 768}
# The scan's frame is drawn in this red: seen on screen, the PDF viewer rendered the scan.
SCAN_RED = (220, 0, 0)
# Enough red pixels to be the frame, not a stray icon of the viewer.
RED_PIXELS = 2000


def pdf_scan() -> bytes:
    """A one-page PDF of a household register "scan": a thick red frame around a line of text."""
    image = Image.new("RGB", (600, 400), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 40, 560, 360), outline=SCAN_RED, width=12)
    draw.text((120, 190), "HUKOU 45102719800101234", fill="black")
    out = io.BytesIO()
    image.save(out, "PDF")
    return out.getvalue()


def red_pixels(png: bytes) -> int:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return sum(1 for r, g, b in image.get_flattened_data() if r > 180 and g < 80 and b < 80)


@dataclass
class Watch:
    """Every document the pages loaded with its headers, and every CSP complaint or script error they logged."""

    documents: dict[str, dict[str, str]] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)

    def attach(self, page) -> None:
        page.on("console", lambda message: self._console(page, message))
        page.on("pageerror", lambda error: self.violations.append(f"{page.url}: script error {error}"))
        page.on("response", self._response)

    def _console(self, page, message) -> None:
        if message.type == "error" and ("Content Security Policy" in message.text or "Refused to" in message.text):
            self.violations.append(f"{page.url}: {message.text}")

    def _response(self, response) -> None:
        if response.request.resource_type == "document":
            self.documents[response.url] = response.all_headers()


def receive_with_pdf(point, first17: str) -> dict:
    applicant = {"name": "韦秀兰", "id_number": first17 + check_character(first17), "phone": "13807761234"}
    case = {"item_code": ITEM, "applicant": applicant, "form": {"insured_category": "普通居民"},
            "materials": ["id_card", "hukou"]}
    response = point.api("staff").post("/api/cases", data={"case": json.dumps(case)},
                                       files=[("scans", ("hukou.pdf", pdf_scan(), "application/pdf"))])
    assert response.status_code == 201, response.text
    return response.json()


def test_pages_run_under_the_policy_and_a_pdf_scan_shows_in_its_sandbox(cluster, browser):
    hub = cluster.start_hub()
    cluster.add_reviewer(REVIEWER, "YB", REVIEWER_PASSWORD)
    point = cluster.start_point(VILLAGE, "village")
    case = receive_with_pdf(point, "45102719800101234")
    reviewer_api = hub.api(REVIEWER)
    wait_until(lambda: any(scan["status"] == "complete"
                           for scan in reviewer_api.get(f"/api/cases/{case['case_id']}").json().get("scans", [])),
               timeout=60, what="the case and its PDF scan at the hub")
    watch = Watch()
    context = browser.new_context(viewport=DESKTOP)
    context.on("page", watch.attach)

    # The hub: login, the case page, the scan in a tab of its own, the decision, the printable result.
    portal = context.new_page()
    log_in(portal, hub.url, REVIEWER, REVIEWER_PASSWORD)
    check_page_headers(f"{hub.url}/login", watch.documents[f"{hub.url}/login"])
    portal.goto(f"{hub.url}/cases/{case['case_id']}")
    shot(portal, "headers-hub-case")
    with portal.expect_popup() as opened:
        portal.click("a[href*='/scans/']")
    scan = opened.value
    scan.wait_for_load_state()
    assert "/scans/" in scan.url
    wait_until(lambda: red_pixels(scan.screenshot()) >= RED_PIXELS, timeout=20,
               what="the PDF scan drawn on screen under its sandbox policy")
    shot(scan, "headers-hub-scan-pdf")
    with portal.expect_navigation():
        portal.click("#approve")
    shot(portal, "headers-hub-decision")
    with portal.expect_navigation():
        portal.click("#confirm-approve")
    with portal.expect_navigation():
        portal.click("#result-link")
    assert not watch.violations, "\n".join(watch.violations)
    assert printed(portal), "the result's print button runs its script"
    residents = context.new_page()
    residents.goto(f"{hub.url}/residents/items/{ITEM}/precheck")

    # The point: intake, the receipt, pickup, the kiosk, the residents' pre-check.
    window = context.new_page()
    log_in(window, point.url, "staff", point.logins["staff"])
    window.goto(f"{point.url}/cases/new?item={ITEM}")
    shot(window, "headers-point-intake")
    window.goto(f"{point.url}/cases/{case['case_id']}/receipt")
    assert printed(window), "the receipt's print button runs its script"
    window.goto(f"{point.url}/pickup")
    kiosk = context.new_page()
    kiosk.goto(f"{point.url}/status")
    kiosk.fill("#pickup_code", "123456")
    kiosk.click("#show-code")
    assert kiosk.get_attribute("#pickup_code", "type") == "text", "the kiosk's show-code script runs"
    shot(kiosk, "headers-point-kiosk")
    kiosk.goto(f"{point.url}/residents/items/{ITEM}/precheck")

    assert not watch.violations, "\n".join(watch.violations)
    # Chromium hands a PDF's answer to its viewer and reports no headers for it: ask again in the same session.
    scan_headers = context.request.get(scan.url).headers
    assert scan_headers["content-security-policy"] == "sandbox", "the scan keeps its own, stricter policy"
    assert scan_headers["content-type"] == "application/pdf" and scan_headers["cache-control"] == "no-store"
    # Our pages only: the PDF viewer is a page of Chromium's own.
    pages = {url: headers for url, headers in watch.documents.items()
             if url.startswith((hub.url, point.url)) and "/scans/" not in url}
    assert len(pages) >= 10, sorted(pages)
    for url, headers in pages.items():
        check_page_headers(url, headers)


def check_page_headers(url: str, headers: dict[str, str]) -> None:
    policy = headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in policy and "'unsafe-inline'" not in policy, (url, policy)
    assert headers.get("cache-control") == "no-store", (url, headers.get("cache-control"))
    assert headers.get("x-content-type-options") == "nosniff", url


def printed(page) -> bool:
    """Click the page's print button with window.print replaced by a marker: True when its script called it."""
    page.evaluate("window.print = () => { window.printCalled = true; }")
    page.click("#print")
    return page.evaluate("window.printCalled === true")
