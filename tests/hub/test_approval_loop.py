"""The department loop's time side: 补正 pauses the clock, warnings, overdue, silence-is-consent, ratings.

Time moves through the clock seam (sync.clock.shift_clock in this process, POINTKIT_CLOCK_SKEW_MS for
the CLI subprocess); nothing sleeps.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

from sqlmodel import select

from hub.core.models import AuditEntry, SupplementRound
from tests.hub.hubkit import CERTIFIED, DAY_MS, NATURAL, SILENT, SLOW, csrf_from, push
from sync.envelope import Kind
from sync.catalog import DEFAULT_SUPPLEMENT_DAYS
from sync.clock import utcnow
from sync.kit.workdays import county_date, default_calendar

HUB_CLI = str(Path(sys.executable).parent / "pointkit-hub")


def test_supplement_pauses_the_clock_and_returns_to_the_same_department(loop_hub, clock):
    hub = loop_hub
    point = hub.enroll_point()
    case_id = push(point, CERTIFIED)
    yb = hub.api("yb-li")
    before = yb.get(f"/api/cases/{case_id}").json()
    assert before["time"]["state"] in ("normal", "warning") and before["due_date"]

    refused = yb.post(f"/api/cases/{case_id}/supplement", json={"materials": ["no_such"], "note": "看不清"})
    assert refused.status_code == 422 and refused.json()["reason"] == "unknown_material"
    asked = yb.post(f"/api/cases/{case_id}/supplement", json={"materials": ["hukou"], "note": "户口簿复印件不清晰"})
    assert asked.status_code == 200, asked.text
    assert asked.json()["status"] == "supplement_requested" and asked.json()["time"]["state"] == "paused"
    assert yb.post(f"/api/cases/{case_id}/decision", json={"decision": "approved"}).json()["reason"] == "not_open"

    messages, cursor = point.pull_all()
    [request] = [payload for envelope, payload in messages if envelope.header.kind == Kind.SUPPLEMENT_REQUEST]
    assert request["materials"] == ["hukou"] and request["note"] == "户口簿复印件不清晰"
    # The resident has the item's 补正 period (the catalog default: 15 working days) from the day after.
    return_by = default_calendar().add_working_days(county_date(utcnow()), DEFAULT_SUPPLEMENT_DAYS)
    assert (request["return_by"], request["return_within"], request["return_unit"]) == (
        return_by.isoformat(), DEFAULT_SUPPLEMENT_DAYS, "working_days")
    # Every STATUS names the case's state at the hub and its dates as the hub counts them now.
    routed, paused = [payload for envelope, payload in messages if envelope.header.kind == Kind.STATUS]
    assert (routed["status"], routed["state"], routed["paused_days"]) == ("routed", "routed", 0)
    assert (routed["promised_date"], routed["legal_date"]) == (before["due_date"], before["legal_due_date"])
    assert (paused["status"], paused["state"], paused["promised_date"]) == (
        "supplement_requested", "supplement_requested", before["due_date"])

    # The resident comes back a week later: the clock stood still meanwhile.
    asked_on = county_date(utcnow())
    clock(7)
    yb = hub.api("yb-li")
    assert yb.get(f"/api/cases/{case_id}").json()["time"]["state"] == "paused", "no overdue while paused"
    supplement = {"case_id": case_id, "materials": ["hukou"], "note": "已补交清晰复印件",
                  "supplemented_at": utcnow().isoformat(), "staff": "staff"}
    [result] = point.client.push([point.seal(Kind.SUPPLEMENT, supplement)])
    assert result.status == "accepted", result

    after = yb.get(f"/api/cases/{case_id}").json()
    stood = default_calendar().working_days_between(asked_on, county_date(utcnow()))
    assert stood >= 5 and after["paused_days"] == stood
    assert date.fromisoformat(after["due_date"]) == default_calendar().add_working_days(
        date.fromisoformat(before["due_date"]), stood)
    assert after["status"] == "in_review" and after["tasks"][0]["status"] == "open"
    assert after["supplements"][0]["paused_days"] == stood and after["time"]["state"] != "overdue"
    assert case_id in {c["case_id"] for c in yb.get("/api/queue").json()["cases"]}, "back with YB"
    # The point hears the dates the pause moved: it never counts them itself.
    [moved] = [payload for envelope, payload in point.pull_all(cursor)[0] if envelope.header.kind == Kind.STATUS]
    assert (moved["status"], moved["state"], moved["paused_days"]) == ("supplemented", "in_review", stood)
    assert (moved["promised_date"], moved["legal_date"]) == (after["due_date"], after["legal_due_date"])

    missing = yb.post(f"/api/cases/{case_id}/decision", json={"decision": "approved"})
    assert missing.status_code == 422 and missing.json()["reason"] == "result_fields_required"
    done = yb.post(f"/api/cases/{case_id}/decision", json={"decision": "approved", "certificate_no": "YB-9",
                                                           "result_fields": {"valid_until": "2027-12-31"}}).json()
    document = point.verify_result(done["result"])
    assert document["result_fields"] == {"valid_until": "2027-12-31"} and document["certificate_no"] == "YB-9"
    actions = [event["action"] for event in done["events"]]
    assert actions.index("supplement_requested") < actions.index("supplemented") < actions.index("result_issued")


def test_warning_overdue_and_the_supervision_figures(loop_hub, clock):
    hub = loop_hub
    point = hub.enroll_point()
    case_id = push(point, SLOW)  # promised 20 working days
    due = date.fromisoformat(hub.api("op").get(f"/api/cases/{case_id}").json()["due_date"])
    calendar = default_calendar()
    clock((calendar.add_working_days(county_date(utcnow()), 17) - county_date(utcnow())).days)
    op = hub.api("op")
    assert op.get(f"/api/cases/{case_id}").json()["time"]["state"] == "warning", "17 of 20 days used"
    assert [c["case_id"] for c in op.get("/api/queue?time=warning").json()["cases"]] == [case_id]
    assert op.get("/api/queue?time=overdue").json()["cases"] == []
    clock((due - county_date(utcnow())).days + 1)
    op = hub.api("op")
    assert op.get(f"/api/cases/{case_id}").json()["time"]["state"] == "overdue"
    figures = op.get("/api/supervision").json()
    rs = next(row for row in figures["departments"] if row["code"] == "RS")
    assert (rs["open"], rs["warning"], rs["overdue"], rs["on_time_rate"]) == (1, 0, 1, None)
    [row] = [p for p in figures["points"] if p["point"] == point.name]
    assert row["backlog"] == 1 and row["last_sync"]
    csv_text = op.get("/api/supervision.csv").text
    assert csv_text.startswith("\ufeffcode,name,decided") and "RS,县人力资源和社会保障局,0,0,,1,0,1," in csv_text
    assert hub.api("yb-li").get("/api/supervision").status_code == 403, "reviewers do not supervise"


def test_a_supplement_not_answered_by_its_return_date_turns_up_in_supervision(loop_hub, clock):
    hub = loop_hub
    point = hub.enroll_point()
    natural, working = push(point, NATURAL), push(point, CERTIFIED)
    yb = hub.api("yb-li")
    for case_id in (natural, working):
        asked = yb.post(f"/api/cases/{case_id}/supplement", json={"materials": ["hukou"], "note": "户口簿复印件不清晰"})
        assert asked.status_code == 200, asked.text
    today, calendar = county_date(utcnow()), default_calendar()
    # 10 natural days from the day after the request; a period ending on a rest day ends on the next working day.
    natural_by = today + timedelta(days=10)
    while not calendar.is_working_day(natural_by):
        natural_by += timedelta(days=1)
    [round_] = yb.get(f"/api/cases/{natural}").json()["supplements"]
    assert (round_["return_by"], round_["return_overdue"]) == (natural_by.isoformat(), False)
    working_by = calendar.add_working_days(today, DEFAULT_SUPPLEMENT_DAYS)
    assert yb.get(f"/api/cases/{working}").json()["supplements"][0]["return_by"] == working_by.isoformat()

    clock((natural_by - today).days)
    op = hub.api("op")
    assert op.get("/api/supervision").json()["overdue_supplements"] == [], "the return date itself is still in time"
    clock(1)
    op = hub.api("op")
    figures = op.get("/api/supervision").json()
    [late] = figures["overdue_supplements"]
    receipt_no = op.get(f"/api/cases/{natural}").json()["receipt_no"]
    assert (late["case_id"], late["receipt_no"], late["department"], late["point"]) == (
        natural, receipt_no, "YB", point.name)
    assert (late["return_by"], late["days_overdue"]) == (natural_by.isoformat(), 1)
    assert next(row for row in figures["departments"] if row["code"] == "YB")["supplement_overdue"] == 1
    detail = op.get(f"/api/cases/{natural}").json()
    assert detail["supplements"][0]["return_overdue"] and detail["time"]["state"] == "paused", "the clock stays paused"
    board = hub.browser("op").get("/supervision").text
    assert f'id="overdue-supplement-{receipt_no}"' in board and "逾期未补正" in board
    assert receipt_no in op.get("/api/supervision.csv").text

    # As the notice said, the application counts as withdrawn: YB records it, only where its date has passed.
    yb, portal = hub.api("yb-li"), hub.browser("yb-li")
    assert 'id="withdraw-unanswered"' in portal.get(f"/cases/{natural}").text
    assert 'id="withdraw-unanswered"' not in portal.get(f"/cases/{working}").text
    early = yb.post(f"/api/cases/{working}/withdraw-unanswered", json={})
    assert (early.status_code, early.json()["reason"]) == (409, "not_overdue")
    assert hub.api("ny-wang").post(f"/api/cases/{natural}/withdraw-unanswered", json={}).status_code in (404, 409)
    ended = yb.post(f"/api/cases/{natural}/withdraw-unanswered", json={})
    assert ended.status_code == 200 and ended.json()["status"] == "withdrawn", ended.text
    assert op.get("/api/supervision").json()["overdue_supplements"] == []
    [told] = [payload for envelope, payload in point.pull_all()[0]
              if envelope.header.kind == Kind.STATUS and payload["case_id"] == natural and payload["status"] == "withdrawn"]
    assert told["state"] == "withdrawn" and "视为撤回申请" in told["note"]
    late = {"case_id": natural, "materials": ["hukou"], "note": "迟到补交", "supplemented_at": utcnow().isoformat(),
            "staff": "staff"}
    [result] = point.client.push([point.seal(Kind.SUPPLEMENT, late)])
    assert (result.status, result.reason) == ("accepted", "not_waiting")


def test_the_upgrade_counts_the_return_date_of_supplements_requested_before_the_hub_kept_one(loop_hub):
    hub = loop_hub
    point = hub.enroll_point()
    case_id = push(point, CERTIFIED)
    assert hub.api("yb-li").post(f"/api/cases/{case_id}/supplement",
                                 json={"materials": ["hukou"], "note": "重拍"}).status_code == 200
    with hub.db() as session:
        [round_] = session.exec(select(SupplementRound)).all()
        expected, round_.return_by = round_.return_by, None
        session.add(round_)

    def upgrade() -> str:
        done = subprocess.run([HUB_CLI, "upgrade", "--data", str(hub.data_dir)], capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "Counted the return date of 1 open supplement request(s)" in upgrade()
    assert "return date" not in upgrade(), "a second run finds none"
    with hub.db() as session:
        assert session.exec(select(SupplementRound)).one().return_by == expected
    assert "return_date_counted" in [event["action"] for event in
                                     hub.api("op").get(f"/api/cases/{case_id}").json()["events"]]


def test_silence_is_consent_deems_approval_past_the_legal_limit(loop_hub):
    hub = loop_hub
    point = hub.enroll_point()
    silent = push(point, SILENT)
    ordinary = push(point, SLOW)
    legal_due = date.fromisoformat(hub.api("op").get(f"/api/cases/{silent}").json()["legal_due_date"])

    def supervise(days: int) -> str:
        env = {**os.environ, "POINTKIT_CLOCK_SKEW_MS": str(days * DAY_MS)}
        done = subprocess.run([HUB_CLI, "supervise", "--data", str(hub.data_dir)], capture_output=True, text=True,
                              env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "0 case(s) deemed approved" in supervise((legal_due - county_date(utcnow())).days)
    output = supervise((legal_due - county_date(utcnow())).days + 1)
    assert f"{silent}\tdeemed approved" in output and "1 case(s)" in output

    op = hub.api("op")
    detail = op.get(f"/api/cases/{silent}").json()
    assert detail["status"] == "result_issued" and detail["decision"] == "approved"
    assert "deemed_approved" in [event["action"] for event in detail["events"]]
    assert op.get(f"/api/cases/{ordinary}").json()["status"] == "routed", "only where the item says so"
    with hub.db() as session:
        assert session.exec(select(AuditEntry).where(AuditEntry.action == "deemed_approved",
                                                     AuditEntry.subject == f"case:{silent}")).first()
    messages, _cursor = point.pull_all()
    [signed] = [payload for envelope, payload in messages if envelope.header.kind == Kind.RESULT]
    document = point.verify_result(signed)
    assert document["deemed_approval"] is True and document["decided_by"] == "hub"


def test_low_ratings_are_followed_up_until_closed(loop_hub):
    hub = loop_hub
    point = hub.enroll_point()
    case_id = push(point, CERTIFIED)
    yb = hub.api("yb-li")
    yb.post(f"/api/cases/{case_id}/decision", json={"decision": "rejected", "reason": "不符合参保条件"})
    rate = {"case_id": case_id, "score": 2, "comment": "等了很久", "rated_at": utcnow().isoformat()}
    [early] = point.client.push([point.seal(Kind.RATE, rate)])
    assert early.status == "rejected" and early.reason == "not_closed"
    collected = {"case_id": case_id, "collected_at": utcnow().isoformat(), "staff": "staff"}
    [rated_twice, closed, rated] = point.client.push(
        [point.seal(Kind.COLLECTED, collected), point.seal(Kind.RATE, rate), point.seal(Kind.RATE, rate)])
    assert (rated_twice.status, closed.status, rated.status) == ("accepted", "accepted", "duplicate")

    op = hub.api("op")
    [low] = op.get("/api/supervision").json()["low_ratings"]
    assert low["case_id"] == case_id and low["follow_up"] == "open" and low["comment"] == "等了很久"
    empty = op.post(f"/api/ratings/{case_id}/follow-up", json={"note": " ", "close": True})
    assert empty.status_code == 422
    done = op.post(f"/api/ratings/{case_id}/follow-up", json={"note": "已电话回访，解释政策", "close": True})
    assert done.status_code == 200 and done.json()["follow_up"] == "closed"
    assert op.get("/api/supervision").json()["low_ratings"][0]["follow_up"] == "closed"
    yb_row = next(r for r in op.get("/api/supervision").json()["departments"] if r["code"] == "YB")
    assert yb_row["rating_average"] == 2.0


def test_the_case_starts_at_true_intake_on_the_hubs_clock(loop_hub):
    """A point whose clock runs two days ahead: its reported offset puts 受理 back on the right day."""
    hub = loop_hub
    point = hub.enroll_point()
    ahead = utcnow() + timedelta(days=2)
    case_id = point.push_case(SLOW, received_at=ahead.isoformat(), clock_offset_ms=-2 * DAY_MS)
    due = hub.api("op").get(f"/api/cases/{case_id}").json()["due_date"]
    assert due == default_calendar().add_working_days(county_date(utcnow()), 20).isoformat()


def test_the_portal_pages_filter_decide_request_supplements_and_print(loop_hub):
    hub = loop_hub
    point = hub.enroll_point()
    first, second = push(point, CERTIFIED), push(point, SLOW)
    reviewer = hub.browser("yb-li")
    queue = reviewer.get("/queue?time=normal")
    assert queue.status_code == 200 and "time-normal" in queue.text
    page = reviewer.get(f"/cases/{first}")
    assert 'name="result_valid_until"' in page.text and 'value="hukou"' in page.text

    token = csrf_from(page.text)
    unticked = reviewer.post(f"/cases/{first}", data={"csrf_token": token, "decision": "supplement", "note": "重拍"})
    assert unticked.status_code == 422 and "勾选" in unticked.text
    missing = reviewer.post(f"/cases/{first}", data={"csrf_token": token, "decision": "approved"})
    assert missing.status_code == 422 and "结果" in missing.text, "the required result field is asked for"
    done = reviewer.post(f"/cases/{first}", data={"csrf_token": token, "decision": "approved",
                                                   "result_valid_until": "2027-06-30", "confirmed": "yes"})
    assert done.status_code == 200 and 'id="result-link"' in done.text
    printed = reviewer.get(f"/cases/{first}/result")
    assert printed.status_code == 200 and "<svg" in printed.text and "2027-06-30" in printed.text

    operator = hub.browser("op")
    assert operator.get(f"/queue?item={SLOW}").text.count("time-") >= 1
    assert first not in operator.get(f"/queue?item={SLOW}").text and second in operator.get(f"/queue?item={SLOW}").text
    board = operator.get("/supervision?lang=en")
    assert board.status_code == 200 and 'id="dept-YB"' in board.text and "Electronic supervision" in board.text
    assert operator.get("/supervision.csv").headers["content-type"].startswith("text/csv")
    assert reviewer.get("/supervision").status_code == 403
