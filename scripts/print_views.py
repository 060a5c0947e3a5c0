"""Render every printout as it comes off the printer: A4, print media, in headless Chromium.

Starts a real hub and point, makes one of each printout (receipt, one-time notice, service guide,
supplement notice at the point; the signed result at the hub) and saves each as a PDF and as a PNG
of the print-media page at A4 width under artifacts/print-*.{pdf,png}, for a person to look at.

    scripts/print_views [--out artifacts]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from tests.support.cluster import Cluster, log_in, wait_until

from sync.kit.idnumber import check_character

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
# A4 at 96 CSS pixels per inch: 210 mm x 297 mm.
A4_VIEWPORT = {"width": 794, "height": 1123}
ITEM = "451030-YB-001"


def applicant(first17: str) -> dict:
    return {"name": "韦秀兰", "id_number": first17 + check_character(first17), "phone": "13807761234"}


def save_print(page, url: str, out: Path, name: str) -> Path:
    """The page at ``url`` in print media: a PDF on A4 and a full-page PNG at A4 width."""
    page.goto(url)
    page.emulate_media(media="print")
    page.pdf(path=str(out / f"print-{name}.pdf"), format="A4", print_background=True)
    png = out / f"print-{name}.png"
    page.screenshot(path=str(png), full_page=True)
    page.emulate_media(media="screen")
    return png


def make_printouts(cluster: Cluster) -> dict[str, tuple[str, str]]:
    """One of each printout; returns name -> (server, path)."""
    hub = cluster.start_hub()
    cluster.add_reviewer("yb-li", "YB", "reviewer-pass-1")
    point = cluster.start_point("八达镇周邦村便民服务站", "village")
    staff, reviewer = point.api("staff"), hub.api("yb-li")
    body = {"item_code": ITEM, "form": {"insured_category": "普通居民"}, "materials": ["id_card", "hukou"]}
    received = staff.post("/api/cases", json={**body, "applicant": applicant("45102719800101234")}).json()
    supplemented = staff.post("/api/cases", json={**body, "applicant": applicant("45102719810203456")}).json()
    notice = staff.post("/api/notices", json={**body, "applicant": applicant("45102719820304567"),
                                              "materials": ["id_card"]}).json()
    for case in (received, supplemented):
        wait_until(lambda: reviewer.get(f"/api/cases/{case['case_id']}").json().get("status") == "routed",
                   timeout=30, what="the case at the hub")
    asked = reviewer.post(f"/api/cases/{supplemented['case_id']}/supplement",
                          json={"materials": ["hukou"], "note": "户口簿复印件不清晰，请携带原件重新复印本人页和户主页"})
    assert asked.status_code == 200, asked.text
    approved = reviewer.post(f"/api/cases/{received['case_id']}/decision",
                             json={"decision": "approved", "certificate_no": "YB-2026-000123"})
    assert approved.status_code == 200, approved.text
    wait_until(lambda: staff.get(f"/api/cases/{supplemented['case_id']}").json()["status"] == "supplement_requested",
               timeout=30, what="the supplement request at the point")
    return {
        "receipt": ("point", f"/cases/{received['case_id']}/receipt"),
        "notice": ("point", notice["print_url"]),
        "guide": ("point", f"/items/{ITEM}/guide"),
        "supplement-notice": ("point", f"/cases/{supplemented['case_id']}/supplement-notice"),
        "result": ("hub", f"/cases/{received['case_id']}/result"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "artifacts", help="Folder for the PDFs and PNGs.")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as base, Cluster(Path(base)) as cluster, sync_playwright() as playwright:
        printouts = make_printouts(cluster)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        pages = {}
        for server, username in (("point", "staff"), ("hub", "yb-li")):
            running = cluster.hub if server == "hub" else next(iter(cluster.points.values()))
            pages[server] = (browser.new_page(viewport=A4_VIEWPORT), running.url)
            log_in(pages[server][0], running.url, username, running.logins[username])
        for name, (server, path) in printouts.items():
            page, url = pages[server]
            print(save_print(page, url + path, args.out, name))
        browser.close()


if __name__ == "__main__":
    main()
