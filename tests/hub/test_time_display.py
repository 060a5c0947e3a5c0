"""What the hub shows about time: a decided case's clock stands at its decision, and limits running into a
year with no holiday calendar file are flagged on the case and the supervision page."""

from __future__ import annotations

from datetime import date, datetime

from tests.hub.hubkit import CERTIFIED, SLOW, push

from sync.envelope import Kind
from sync.clock import utcnow
from sync.kit.workdays import county_date, default_calendar


def test_a_decided_case_counts_elapsed_days_to_its_decision_not_to_today(loop_hub, clock):  # noqa: F811
    hub = loop_hub
    point = hub.enroll_point()
    case_id = push(point, CERTIFIED)  # promised 5 working days
    calendar = default_calendar()
    received = county_date(utcnow())
    clock((calendar.add_working_days(received, 2) - received).days)
    decided = hub.api("yb-li").post(f"/api/cases/{case_id}/decision", json={
        "decision": "approved", "certificate_no": "YB-1", "result_fields": {"valid_until": "2031-12-31"}})
    assert decided.status_code == 200, decided.text
    at_decision = decided.json()["time"]
    assert at_decision == {**at_decision, "state": "done", "elapsed_days": 2, "limit_days": 5}

    clock(30)
    later = hub.api("op").get(f"/api/cases/{case_id}").json()["time"]
    assert later == at_decision, "a month later the decided case still used 2 of 5 days"
    page = hub.browser("op").get(f"/cases/{case_id}?lang=en").text
    assert "Decided: 2 of 5 working days" in page


def test_limits_in_a_year_without_a_calendar_file_are_flagged(loop_hub):  # noqa: F811
    hub = loop_hub
    point = hub.enroll_point()
    # Received in December 2020 (a backlog entered late, its time accepted by an operator: the hub itself cannot
    # vouch for a time before the point was enrolled): 30 working days run into 2021; neither year has a file.
    payload = point.submit(SLOW, received_at="2020-12-21T02:00:00+00:00", clock_offset_ms=0)
    [parked] = point.client.push([point.seal(Kind.SUBMIT, payload)])
    assert (parked.status, parked.reason) == ("conflict", "suspicious_time"), parked
    old = payload["case_id"]
    op = hub.api("op")
    [conflict] = op.get("/api/conflicts?kind=suspicious_time").json()["conflicts"]
    accepted = op.post(f"/api/conflicts/{conflict['conflict_id']}/resolve", json={"action": "accept_claimed"})
    assert accepted.status_code == 200, accepted.text
    fresh = push(point, CERTIFIED)
    details = {case_id: op.get(f"/api/cases/{case_id}").json() for case_id in (old, fresh)}
    calendar = default_calendar()
    for detail in details.values():
        start = county_date(datetime.fromisoformat(detail["received_at"]))
        assert detail["calendar_missing"] == calendar.missing_years(start, date.fromisoformat(detail["legal_due_date"]))
    assert details[old]["calendar_missing"] == [2020, 2021]

    browser = hub.browser("op")
    page = browser.get(f"/cases/{old}").text
    assert 'id="calendar-missing"' in page and "2020, 2021年的节假日安排缺失" in page
    fresh_page = browser.get(f"/cases/{fresh}").text
    assert ('id="calendar-missing"' in fresh_page) == bool(details[fresh]["calendar_missing"])

    flagged = [detail for detail in details.values() if detail["calendar_missing"]]
    expected = {"years": sorted({year for detail in flagged for year in detail["calendar_missing"]}),
                "cases": len(flagged)}
    assert op.get("/api/supervision").json()["calendar_missing"] == expected
    supervision = browser.get("/supervision?lang=en").text
    assert 'id="calendar-missing"' in supervision
    assert f"the limits of {expected['cases']} open case" in supervision and "2020, 2021" in supervision
