"""Focus is visible everywhere (issue 26): Tab through every stop of the pages clerks, reviewers, operators and
residents use by keyboard, and measure each stop's focus ring against the background behind it (WCAG 1.4.11, 3:1).
An orange outline on white (about 2:1) or on the point's grey bar fails."""

from __future__ import annotations

import pytest

from tests.support.browser import shot
from tests.support.cluster import log_in
from tests.support.pagecheck import focus_problems, focus_stops, report
from tests.system.test_reconcile import intake, parked, resident

pytestmark = pytest.mark.browser


def test_every_focus_stop_has_a_ring_at_3_to_1(cluster, browser):
    hub = cluster.start_hub()
    cluster.add_reviewer("yb-li", "YB", "reviewer-pass-1")
    point = cluster.start_point("八达镇周邦村便民服务站", "village")
    staff, operator = point.api("staff"), hub.api("admin")
    case_id = intake(staff, resident(11))
    conflict = parked(operator, "duplicate", intake(staff, resident(11)))

    pages = [
        (point, "staff", ["/cases/new?item=451030-YB-001", "/cases", f"/cases/{case_id}", "/pickup"]),
        (point, None, ["/status", "/login"]),
        (hub, "yb-li", ["/queue", f"/cases/{case_id}"]),
        (hub, "admin", ["/desk", f"/desk/{conflict['conflict_id']}"]),
    ]
    problems = []
    stops = 0
    for server, username, paths in pages:
        page = browser.new_page(viewport={"width": 1024, "height": 768})
        if username:
            log_in(page, server.url, username, server.logins[username])
        for path in paths:
            page.goto(server.url + path)
            found = focus_stops(page)
            assert found, f"no focus stop on {path}"
            stops += len(found)
            problems += focus_problems(server.url + path, found)
        # A picture of the ring on the session's first page, a few stops in, for a person to look at.
        page.goto(server.url + paths[0])
        for _ in range(4):
            page.keyboard.press("Tab")
        shot(page, f"focus-{'hub' if server is hub else 'point'}-{username or 'public'}")
        page.close()
    assert not problems, f"{len(problems)} of {stops} focus stops are faint:\n" + report(problems)
