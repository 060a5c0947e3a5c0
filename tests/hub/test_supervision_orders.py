"""电子监察 as records: yellow, red and legal-limit cards, supervision orders (督办单) answered and closed, and the
follow-up deadline of low ratings, over a real hub on loopback.

Time moves through the clock seam (sync.clock.shift_clock in this process, POINTKIT_CLOCK_SKEW_MS for the CLI
subprocess); nothing sleeps.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

from sqlmodel import select

from hub.approval.supervision import FOLLOW_UP_DAYS, supervise_once
from hub.catalog.calendar import import_year
from hub.core.audit import verify_audit
from hub.core.models import AuditEntry, Rating, SupervisionCard, SupervisionOrder
from hub.trust.accounts import create_staff
from sync.clock import utcnow
from sync.envelope import Kind
from sync.kit.workdays import county_date, default_calendar
from tests.hub.hubkit import CERTIFIED, DAY_MS, REVIEWER_PASSWORD, push

HUB_CLI = str(Path(sys.executable).parent / "pointkit-hub")
OFFICE = "jc-zhou"


def add_staff(hub, username: str, role: str, department: str | None = None, name: str = "") -> None:
    with hub.db() as session:
        create_staff(session, username=username, password=REVIEWER_PASSWORD, role=role, department_code=department,
                     display_name=name)


def days_until(day: date) -> int:
    return (day - county_date(utcnow())).days


def cards_of(hub, case_id: str) -> list[SupervisionCard]:
    with hub.db() as session:
        return list(session.exec(select(SupervisionCard).where(SupervisionCard.case_id == case_id)
                                 .order_by(SupervisionCard.raised_at, SupervisionCard.colour)).all())


def test_cards_are_raised_once_per_colour_name_the_reviewer_and_clear_on_decision(loop_hub, clock):
    hub = loop_hub
    point = hub.enroll_point()
    case_id = push(point, CERTIFIED)  # YB: promised 5 working days, legal 10
    calendar, today = default_calendar(), county_date(utcnow())
    assert supervise_once(hub.engine, hub.data_dir).cards == {"yellow": 0, "red": 0, "legal": 0}

    clock(days_until(calendar.add_working_days(today, 4)))  # 4 of 5 days used: the warning line
    first = supervise_once(hub.engine, hub.data_dir)
    again = supervise_once(hub.engine, hub.data_dir)
    assert (first.cards["yellow"], again.cards["yellow"]) == (1, 0), "one yellow card, however often the round runs"
    [yellow] = cards_of(hub, case_id)
    assert (yellow.colour, yellow.department_code, yellow.reviewer) == ("yellow", "YB", "yb-li")
    assert yellow.raised_at is not None and yellow.cleared_at is None

    due = date.fromisoformat(hub.api("op").get(f"/api/cases/{case_id}").json()["due_date"])
    clock(days_until(due) + 1)
    red_round = supervise_once(hub.engine, hub.data_dir)
    assert red_round.cards == {"yellow": 0, "red": 1, "legal": 0} and len(red_round.orders) == 1
    assert supervise_once(hub.engine, hub.data_dir).orders == [], "one order per card"
    office = hub.api("op")
    figures = office.get("/api/supervision").json()
    yb = next(row for row in figures["departments"] if row["code"] == "YB")
    assert (yb["yellow_cards"], yb["red_cards"], yb["legal_cards"]) == (1, 1, 0)
    assert [(card["colour"], card["reviewer"], card["due_date"]) for card in figures["cards"]] == [
        ("red", "yb-li", due.isoformat()), ("yellow", "yb-li", due.isoformat())]
    assert "红牌" in hub.browser("op").get("/supervision").text
    sheet = hub.browser("op").get("/supervision.csv").text
    assert "黄牌,红牌,超法定时限" in sheet and f"红牌,{figures['cards'][0]['receipt_no']}" in sheet
    assert "red," in office.get("/api/supervision.csv").text

    decided = hub.api("yb-li").post(f"/api/cases/{case_id}/decision", json={
        "decision": "approved", "result_fields": {"valid_until": "2030-12-31"}})
    assert decided.status_code == 200, decided.text
    assert all(card.cleared_at is not None for card in cards_of(hub, case_id)), "cleared when YB decides"
    assert hub.api("op").get("/api/supervision").json()["cards"] == []
    with hub.db() as session:
        actions = [entry.action for entry in session.exec(select(AuditEntry).where(
            AuditEntry.subject == f"case:{case_id}")).all()]
        assert actions.count("card_raised") == 2 and actions.count("card_cleared") == 2
        assert verify_audit(session).broken is None


def test_a_paused_case_raises_no_card_and_the_reviewer_who_last_acted_is_named(loop_hub, clock):
    hub = loop_hub
    add_staff(hub, "yb-chen", "reviewer", "YB", "陈静")  # YB now has two reviewers: neither is its only one
    point = hub.enroll_point()
    case_id = push(point, CERTIFIED)
    asked = hub.api("yb-chen").post(f"/api/cases/{case_id}/supplement",
                                    json={"materials": ["hukou"], "note": "户口簿复印件不清晰"})
    assert asked.status_code == 200, asked.text
    legal_due = date.fromisoformat(asked.json()["legal_due_date"])
    clock(days_until(legal_due) + 3)
    assert supervise_once(hub.engine, hub.data_dir).cards == {"yellow": 0, "red": 0, "legal": 0}
    assert cards_of(hub, case_id) == [], "the clock stands still during 补正: no card while paused"

    returned = {"case_id": case_id, "materials": ["hukou"], "note": "已补交", "supplemented_at": utcnow().isoformat(),
                "staff": "staff"}
    [result] = point.client.push([point.seal(Kind.SUPPLEMENT, returned)])
    assert result.status == "accepted", result
    due = date.fromisoformat(hub.api("op").get(f"/api/cases/{case_id}").json()["due_date"])
    assert supervise_once(hub.engine, hub.data_dir).cards["red"] == 0, "the pause moved the promised date"
    clock(days_until(due) + 1)
    supervise_once(hub.engine, hub.data_dir)
    cards = cards_of(hub, case_id)
    assert {card.colour for card in cards} == {"yellow", "red"}
    assert {card.reviewer for card in cards} == {"yb-chen"}, "the reviewer who last acted on the case"
    other = push(point, CERTIFIED)
    clock(days_until(default_calendar().add_working_days(county_date(utcnow()), 4)))
    supervise_once(hub.engine, hub.data_dir)
    [unnamed] = cards_of(hub, other)
    assert unnamed.reviewer == "", "nobody acted and YB has two reviewers: none is named, none invented"
    page = hub.browser("op").get("/supervision").text
    assert "未能确定" in page and "陈静" in page


def run_supervise(hub, days: int) -> str:
    env = {**os.environ, "POINTKIT_CLOCK_SKEW_MS": str(days * DAY_MS)}
    done = subprocess.run([HUB_CLI, "supervise", "--data", str(hub.data_dir)], capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_legal_limit_breach_raises_an_order_the_department_answers_and_the_office_closes(loop_hub, clock):
    hub = loop_hub
    add_staff(hub, OFFICE, "supervisor", name="周监察")
    point = hub.enroll_point()
    case_id = push(point, CERTIFIED)
    legal_due = date.fromisoformat(hub.api("op").get(f"/api/cases/{case_id}").json()["legal_due_date"])
    skip = days_until(legal_due) + 1
    clock(skip)
    output = run_supervise(hub, skip)
    year = county_date(utcnow()).year
    assert f"督办〔{year}〕0001\tsupervision order raised" in output and f"督办〔{year}〕0002" in output
    assert "1 yellow, 1 red, 1 past the legal limit" in output
    assert "0 supervision order(s)" in run_supervise(hub, skip), "the second round raises nothing again"

    yb, office = hub.api("yb-li"), hub.api(OFFICE, REVIEWER_PASSWORD)
    orders = {order["source"]: order for order in yb.get("/api/orders").json()["orders"]}
    assert set(orders) == {"red_card", "legal_limit"}
    legal = orders["legal_limit"]
    answer_by = default_calendar().add_working_days(county_date(utcnow()), 3)
    assert (legal["department"], legal["reviewer"], legal["status"], legal["due_date"], legal["overdue"]) == (
        "YB", "yb-li", "open", answer_by.isoformat(), False)
    assert "法定时限" in legal["text"] and legal["receipt_no"] in legal["text"]
    assert hub.api("ny-wang").get("/api/orders").json()["orders"] == [], "a reviewer sees her department's only"
    foreign = hub.api("ny-wang").post(f"/api/orders/{legal['order_id']}/answer", json={"answer": "不是我们的"})
    assert foreign.status_code == 404
    assert yb.post(f"/api/orders/{legal['order_id']}/answer", json={"answer": " "}).json()["reason"] == \
        "answer_required"
    early = office.post(f"/api/orders/{legal['order_id']}/close", json={"result": "同意"})
    assert (early.status_code, early.json()["reason"]) == (409, "not_answered")
    answered = yb.post(f"/api/orders/{legal['order_id']}/answer",
                       json={"answer": "经办人病假未交接，已于当日办结，今后建立AB岗。"})
    assert answered.status_code == 200 and answered.json()["status"] == "answered", answered.text
    assert yb.post(f"/api/orders/{legal['order_id']}/answer", json={"answer": "再答"}).status_code == 409
    assert hub.api("yb-li").post(f"/api/orders/{legal['order_id']}/close", json={"result": "x"}).status_code == 403
    closed = office.post(f"/api/orders/{legal['order_id']}/close", json={"result": "答复属实，予以销号，通报批评一次。"})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"

    # The red card's order stays unanswered past its deadline: overdue on the desk.
    clock(days_until(answer_by) + 1)
    office = hub.api(OFFICE, REVIEWER_PASSWORD)
    red = next(order for order in office.get("/api/orders?status=open").json()["orders"])
    assert red["source"] == "red_card" and red["overdue"] is True
    yb = next(row for row in office.get("/api/supervision").json()["departments"] if row["code"] == "YB")
    assert (yb["open_orders"], yb["overdue_orders"], yb["legal_cards"]) == (1, 1, 1)
    desk = hub.browser(OFFICE).get("/orders").text
    assert f'id="order-{red["order_no"]}" class="time-overdue"' in desk and "超期" in desk

    # The office issues orders by hand: about a case by its receipt number, about a department's work.
    refused = office.post("/api/orders", json={"text": "请说明", "days": 2})
    assert (refused.status_code, refused.json()["reason"]) == (422, "department_required")
    by_hand = office.post("/api/orders", json={"case": legal["receipt_no"], "text": "请说明超期原因", "days": 2})
    assert by_hand.status_code == 201, by_hand.text
    assert (by_hand.json()["source"], by_hand.json()["department"], by_hand.json()["order_no"]) == (
        "office", "YB", f"督办〔{year}〕0003")
    general = office.post("/api/orders", json={"department": "NY", "text": "请自查本月超期件"}).json()
    assert (general["case_id"], general["department"], general["reviewer"]) == (None, "NY", "ny-wang")

    events = [event["action"] for event in office.get(f"/api/cases/{case_id}").json()["events"]]
    for action in ("card_raised", "order_issued", "order_answered", "order_closed"):
        assert action in events, action
    with hub.db() as session:
        assert session.exec(select(AuditEntry).where(AuditEntry.action == "order_issued",
                                                     AuditEntry.subject == f"order:{general['order_id']}")).first()
        assert len(session.exec(select(SupervisionOrder)).all()) == 4
        assert verify_audit(session).broken is None
    page = hub.browser(OFFICE).get(f"/cases/{case_id}").text
    assert "超过法定时限" in page and "督办单" in page


def test_a_low_ratings_follow_up_is_due_in_working_days_over_a_holiday(loop_hub, clock):
    hub = loop_hub
    today = county_date(utcnow())
    tuesday = today + timedelta(days=(1 - today.weekday()) % 7 or 7)
    holiday = tuesday + timedelta(days=1)
    schedule = {"year": holiday.year, "source": "pointkit test schedule (made up)", "holidays": [
        {"name_zh": "测试假期", "name_en": "Test holiday", "rest": [holiday.isoformat(), holiday.isoformat()],
         "workdays": []}]}
    with hub.db() as session:
        import_year(session, schedule, identity=hub.identity, actor="admin")
    point = hub.enroll_point()
    case_id = push(point, CERTIFIED)
    assert hub.api("yb-li").post(f"/api/cases/{case_id}/decision",
                                 json={"decision": "rejected", "reason": "不符合条件"}).status_code == 200
    [collected] = point.client.push([point.seal(Kind.COLLECTED, {
        "case_id": case_id, "collected_at": utcnow().isoformat(), "staff": "staff"})])
    assert collected.status == "accepted"

    clock(days_until(tuesday))  # the rating reaches the hub on the Tuesday before the Wednesday off
    [rated] = point.client.push([point.seal(Kind.RATE, {"case_id": case_id, "score": 1, "comment": "态度差",
                                                        "rated_at": utcnow().isoformat()})])
    assert rated.status == "accepted"
    # Thursday, Friday, then Monday: three working days, the holiday and the weekend skipped.
    expected = tuesday + timedelta(days=6)
    assert FOLLOW_UP_DAYS == 3
    [low] = hub.api("op").get("/api/supervision").json()["low_ratings"]
    assert (low["follow_up_due"], low["follow_up_overdue"]) == (expected.isoformat(), False)
    clock(days_until(expected))
    assert hub.api("op").get("/api/supervision").json()["low_ratings"][0]["follow_up_overdue"] is False
    clock(1)
    assert hub.api("op").get("/api/supervision").json()["low_ratings"][0]["follow_up_overdue"] is True
    receipt_no = low["receipt_no"]
    page = hub.browser("op").get("/supervision").text
    assert f'class="time-overdue" id="follow-up-due-{receipt_no}"' in page

    # A low rating from before follow-ups had a due date gets one at the next round, from the rating's day.
    with hub.db() as session:
        rating = session.get(Rating, case_id)
        rating.follow_up_due = None
        session.add(rating)
    assert supervise_once(hub.engine, hub.data_dir).follow_ups_dated == 1
    with hub.db() as session:
        assert session.get(Rating, case_id).follow_up_due == expected
    assert supervise_once(hub.engine, hub.data_dir).follow_ups_dated == 0
    assert "follow_up_due_counted" in [event["action"] for event in
                                       hub.api("op").get(f"/api/cases/{case_id}").json()["events"]]


def test_order_numbers_stay_unique_and_in_sequence_when_issued_at_once(loop_hub):
    hub = loop_hub
    add_staff(hub, OFFICE, "supervisor")
    clients = [hub.api(OFFICE, REVIEWER_PASSWORD) for _ in range(6)]
    with ThreadPoolExecutor(len(clients)) as pool:
        answers = list(pool.map(lambda client: client.post("/api/orders", json={
            "department": "NY", "text": "请自查本月超期件并书面报告"}), clients))
    assert [answer.status_code for answer in answers] == [201] * 6, [answer.text for answer in answers]
    year = county_date(utcnow()).year
    assert sorted(answer.json()["order_no"] for answer in answers) == [f"督办〔{year}〕{n:04d}" for n in range(1, 7)]
    with hub.db() as session:
        assert verify_audit(session).broken is None
