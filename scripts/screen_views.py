"""Screenshots of the main pages of both apps and the kiosk at 1024×768, for a reviewer of a change to look at.

Starts a real hub, a village point and a township point, runs the full loop of tests/support/fullloop.py (a 补正
round, approval, pickup, a merged duplicate, a conflict still parked, a rejection, a one-time notice), then saves
each main page as artifacts/view-<name>.png: 1024 px wide, the whole page, in Chinese.

    scripts/screen_views [--out artifacts]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.cluster import Cluster, log_in
from tests.support.fullloop import ITEM, Loop, run_loop

ROOT = Path(__file__).resolve().parent.parent
VIEWPORT = {"width": 1024, "height": 768}


def views(loop: Loop) -> list[tuple[str, str, str | None, str]]:
    """(name, server, login, path) of every main page, in the order a case travels."""
    closed, open_case, merged = loop.closed["case_id"], loop.open["case_id"], loop.merged["case_id"]
    return [
        ("point-login", "point", None, "/login"),
        ("point-intake", "point", "staff", f"/cases/new?item={ITEM}"),
        ("point-items", "point", "staff", "/cases/new"),
        ("point-receipt", "point", "staff", f"/cases/{open_case}/receipt"),
        ("point-notice", "point", "staff", loop.notice_url),
        ("point-guide", "point", "staff", f"/items/{ITEM}/guide"),
        ("point-cases", "point", "staff", "/cases"),
        ("point-case-open", "point", "staff", f"/cases/{open_case}"),
        ("point-case-closed", "point", "staff", f"/cases/{closed}"),
        ("point-case-merged", "point", "staff", f"/cases/{merged}"),
        ("point-results", "point", "staff", "/results"),
        ("point-pickup", "point", "staff", "/pickup"),
        ("point-handover", "point", "staff", f"/cases/{closed}/handover"),
        ("point-sync", "point", "staff", "/sync"),
        ("kiosk", "point", None, "/status"),
        ("hub-login", "hub", None, "/login"),
        ("hub-queue", "hub", "yb-reviewer", "/queue"),
        ("hub-case-review", "hub", "yb-reviewer", f"/cases/{open_case}"),
        ("hub-case-closed", "hub", "admin", f"/cases/{closed}"),
        ("hub-result", "hub", "admin", f"/cases/{closed}/result"),
        ("hub-desk", "hub", "admin", "/desk"),
        ("hub-conflict", "hub", "admin", f"/desk/{loop.conflict_id}"),
        ("hub-supervision", "hub", "admin", "/supervision"),
        ("hub-catalog", "hub", "admin", "/catalog"),
        ("hub-catalog-version", "hub", "admin", "/catalog/1"),
        ("hub-points", "hub", "admin", "/points"),
        ("hub-departments", "hub", "admin", "/departments"),
    ]


def save_views(browser, loop: Loop, out: Path) -> list[Path]:
    """Screenshot every main page, and the kiosk showing a case; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    servers = {"point": loop.point, "hub": loop.hub}
    pages: dict[tuple[str, str | None], object] = {}
    saved = []

    def page_for(server: str, login: str | None):
        if (server, login) not in pages:
            page = pages[(server, login)] = browser.new_page(viewport=VIEWPORT)
            if login:
                log_in(page, servers[server].url, login, servers[server].logins[login])
        return pages[(server, login)]

    def save(page, name: str) -> None:
        path = out / f"view-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        saved.append(path)

    for name, server, login, path in views(loop):
        page = page_for(server, login)
        page.goto(servers[server].url + path)
        save(page, name)
    kiosk = page_for("point", None)
    kiosk.goto(loop.point.url + "/status")
    kiosk.fill("input[name=receipt_no]", loop.open["receipt_no"])
    kiosk.fill("input[name=pickup_code]", loop.open["pickup_code"])
    with kiosk.expect_navigation():
        kiosk.press("input[name=pickup_code]", "Enter")
    save(kiosk, "kiosk-result")
    for page in pages.values():
        page.close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "artifacts", help="Folder for the PNGs.")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as base, Cluster(Path(base)) as cluster, sync_playwright() as playwright:
        loop = run_loop(cluster)
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        for path in save_views(browser, loop, args.out):
            print(path)
        browser.close()


if __name__ == "__main__":
    main()
