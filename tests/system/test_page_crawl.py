"""Every page of both apps, after a full loop, as clerks, reviewers, operators and residents see it (issues 19, 26).

One loop on real servers leaves every kind of case behind (tests/support/fullloop.py): one through a 补正 round,
approved, collected and rated; a duplicate merged on the conflict desk; an identity conflict still parked for the
operator; one rejected and waiting at the window; one still with its department; a one-time notice. Then each role
starts at its home page and
follows every same-origin link (one page per path pattern, a few of each for case pages, which differ by state),
and the error and result states forms lead to are added: refused logins, a refused intake, a wrong pickup code,
the kiosk's result and its wrong code, an unknown address.

Every page is checked at 1024×768 (tests/support/pagecheck.py): no server error or broken link, no English word
outside codes and units, no raw state key, no Python repr, no table cell that wraps a date or a short word, no
sideways scrolling (and none at 512×384 either), no skipped heading level, a header on every table column, nothing
from another origin, no WCAG 2.0/2.1 A or AA violation that axe-core finds; each error or result state has a title
of its own. The test fails once, at the end, with every problem found: page → problem → offending text, also
written to artifacts/page-crawl.txt.

    scripts/test tests/system/test_page_crawl.py -q      # only the crawl
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import pytest

from scripts.screen_views import save_views
from tests.support.browser import ARTIFACTS, shot
from tests.support.cluster import log_in
from tests.support.fullloop import ITEM, run_loop
from tests.support.pagecheck import (Problem, axe_problems, layout_problems, measure, page_width, report,
                                     scroll_problems, shape, text_problems)

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1024, "height": 768}
# 200% zoom of a 1024×768 screen.
ZOOMED = {"width": 512, "height": 384}
# Case pages look different in every state: visit this many of each pattern with an id in it.
SAME_PATTERN_PAGES = 8
# Never followed: they end the session or answer in JSON for programs.
SKIPPED = re.compile(r"^/(logout|api/)")


@dataclass
class Crawl:
    """The pages seen so far and everything wrong with them."""

    problems: list[Problem] = field(default_factory=list)
    reported: set[tuple[str, ...]] = field(default_factory=set)  # (server, path pattern, problem, what)
    visited: dict[str, int] = field(default_factory=dict)  # pattern -> pages of it visited
    checked: set[str] = field(default_factory=set)  # patterns axe and the zoomed viewport have seen
    titles: dict[str, str] = field(default_factory=dict)  # label -> title
    allowed: set[str] = field(default_factory=set)
    pages: int = 0


def pattern(server_name: str, role: str, url: str) -> str:
    """The page kind of a URL: ids, receipt numbers, item codes and versions become <id>; query values drop out."""
    parts = urlsplit(url)
    path = "/".join("<id>" if any(ch.isdigit() for ch in segment) else segment for segment in parts.path.split("/"))
    keys = sorted(key for key, _ in parse_qsl(parts.query) if key != "lang")
    return f"{server_name} {role} {path}" + (f"?{'&'.join(keys)}" if keys else "")


def check_page(crawl: Crawl, page, url: str, kind: str, *, thorough: bool) -> list[str]:
    """Check the page on screen; with ``thorough`` also axe-core and the zoomed viewport. Returns its links."""
    crawl.pages += 1
    measured = measure(page)
    found = text_problems(url, measured["text"], crawl.allowed) + layout_problems(url, measured)
    if thorough:
        found += axe_problems(url, page)
        page.set_viewport_size(ZOOMED)
        found += scroll_problems(url, page_width(page), "512×384")
        page.set_viewport_size(DESKTOP)
    for problem in found:
        # The same word or cell on every case page, twice on one page, or for two roles, is one problem to fix.
        server, _role, path = kind.split(" ", 2)
        key = (server, path, problem.kind, shape(problem.detail.split(" in «")[0].split(" (and ")[0]))
        if key not in crawl.reported:
            crawl.reported.add(key)
            crawl.problems.append(problem)
    crawl.titles.setdefault(kind, page.title())
    return page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")


def crawl_from(crawl: Crawl, page, base: str, server_name: str, role: str, seeds: list[str]) -> None:
    """Breadth-first over same-origin GET links from ``seeds``, as ``role``."""
    queue = deque(base + seed for seed in seeds)
    seen: set[str] = set()
    while queue:
        url = queue.popleft().split("#")[0]
        parts = urlsplit(url)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k != "lang"]
        url = base + parts.path + (f"?{urlencode(query)}" if query else "")
        if url in seen or not url.startswith(base + "/") or SKIPPED.match(parts.path):
            continue
        seen.add(url)
        kind = pattern(server_name, role, url)
        limit = SAME_PATTERN_PAGES if "<id>" in kind else 1
        if crawl.visited.get(kind, 0) >= limit:
            continue
        crawl.visited[kind] = crawl.visited.get(kind, 0) + 1
        head = page.request.get(url, max_redirects=0)
        if head.status >= 400 or head.status < 200:
            crawl.problems.append(Problem(url, "answered", f"HTTP {head.status} (as {role})"))
            continue
        if head.status >= 300:
            queue.append(urljoin(url, head.headers.get("location", "")))
            continue
        if "text/html" not in head.headers.get("content-type", ""):
            continue  # a download (CSV, a scan): fetched, answered, not a page
        page.goto(url)
        links = check_page(crawl, page, url, kind, thorough=kind not in crawl.checked)
        if kind not in crawl.checked:
            crawl.checked.add(kind)
            shot(page, "crawl-" + re.sub(r"[^\w]+", "-", kind).strip("-")[:80])
        queue.extend(link for link in links if link.startswith(base + "/"))


def state_page(crawl: Crawl, page, label: str, blank_label: str | None = None) -> None:
    """A page a form or a wrong address led to (an error or a result): checked like any page; its title must
    differ from the blank form's."""
    url = page.url
    check_page(crawl, page, url, label, thorough=True)
    shot(page, "crawl-state-" + label)
    if blank_label and crawl.titles.get(label) == crawl.titles.get(blank_label):
        crawl.problems.append(Problem(url, "same title as the blank form",
                                      f"{label}: {crawl.titles[label]!r} (blank: {blank_label})"))


def test_every_page_of_both_apps_after_a_full_loop(cluster, browser):
    loop = run_loop(cluster)
    hub, point = loop.hub, loop.point
    # Login names are ids a person typed (the accounts here have no display names); the search hint's pinyin
    # initials and the test's own query are the words staff type.
    crawl = Crawl(allowed={*hub.logins, *point.logins, "ylbx", "zzzz"})

    sessions = [
        (point, "point", "staff", ["/", "/cases", "/results", "/pickup", "/sync", "/drafts", loop.notice_url,
                                   f"/cases/new?item={ITEM}", f"/items/{ITEM}/guide", "/cases/new?q=zzzz"]),
        (point, "point", "resident", ["/status", "/login"]),
        (hub, "hub", "admin", ["/"]),
        (hub, "hub", "reviewer", ["/"]),
        (hub, "hub", "public", ["/login"]),
    ]
    pages = {}
    for server, name, role, seeds in sessions:
        page = browser.new_page(viewport=DESKTOP)
        username = {"staff": "staff", "admin": "admin", "reviewer": "yb-reviewer"}.get(role)
        if username:
            log_in(page, server.url, username, server.logins[username])
        crawl_from(crawl, page, server.url, name, role, seeds)
        pages[(name, role)] = page

    # The states forms lead to, each beside the blank page it came from.
    public_point, staff_page = pages[("point", "resident")], pages[("point", "staff")]
    for page, server, name in ((public_point, point, "point"), (pages[("hub", "public")], hub, "hub")):
        page.goto(server.url + "/login")
        crawl.titles.setdefault(f"{name}-login", page.title())
        page.fill("input[name=username]", "staff" if name == "point" else "admin")
        page.fill("input[name=password]", "not-the-password")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        state_page(crawl, page, f"{name}-login-refused", f"{name}-login")
        page.goto(server.url + "/no-such-page")
        state_page(crawl, page, f"{name}-not-found", f"{name}-login")

    # Error pages: a case that is not there, a page the role may not open.
    staff_page.goto(f"{point.url}/cases/no-such-case")
    state_page(crawl, staff_page, "point-no-case")
    for role, path in (("admin", "/cases/no-such-case"), ("reviewer", "/points")):
        pages[("hub", role)].goto(hub.url + path)
        state_page(crawl, pages[("hub", role)], f"hub-{role}-{path.split('/')[1]}-refused")

    staff_page.goto(f"{point.url}/cases/new?item={ITEM}")
    crawl.titles.setdefault("intake", staff_page.title())
    with staff_page.expect_navigation():
        staff_page.eval_on_selector("#receive", "button => button.form.submit()")
    state_page(crawl, staff_page, "intake-refused", "intake")

    staff_page.goto(f"{point.url}/pickup")
    crawl.titles.setdefault("pickup", staff_page.title())
    rejected = loop.rejected
    staff_page.fill("input[name=receipt_no]", rejected["receipt_no"])
    staff_page.fill("input[name=pickup_code]", "000000" if rejected["pickup_code"] != "000000" else "111111")
    staff_page.fill("input[name=id_last4]", rejected["id_number"][-4:])
    with staff_page.expect_navigation():
        staff_page.eval_on_selector("input[name=pickup_code]", "input => input.form.submit()")
    state_page(crawl, staff_page, "pickup-wrong-code", "pickup")

    for label, code in (("kiosk-result", loop.open["pickup_code"]),
                        ("kiosk-wrong-code", "000000" if loop.open["pickup_code"] != "000000" else "111111")):
        public_point.goto(f"{point.url}/status")
        crawl.titles.setdefault("kiosk", public_point.title())
        public_point.fill("input[name=receipt_no]", loop.open["receipt_no"])
        public_point.fill("input[name=pickup_code]", code)
        with public_point.expect_navigation():
            public_point.press("input[name=pickup_code]", "Enter")
        state_page(crawl, public_point, label, "kiosk")

    for page in pages.values():
        page.close()
    # The same loop gives scripts/screen_views its pages: run here, it cannot rot.
    views = save_views(browser, loop, ARTIFACTS)
    assert all(view.stat().st_size > 2_000 for view in views), views
    ARTIFACTS.mkdir(exist_ok=True)
    written = report(crawl.problems)
    (ARTIFACTS / "page-crawl.txt").write_text(written + "\n", encoding="utf-8")
    assert crawl.pages >= 30, f"the crawl reached only {crawl.pages} pages: {sorted(crawl.visited)}"
    if crawl.problems:
        pytest.fail(f"{len(crawl.problems)} problems on {crawl.pages} pages ({len(crawl.checked)} kinds; also in "
                    f"artifacts/page-crawl.txt):\n{written}", pytrace=False)
