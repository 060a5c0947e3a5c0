"""Complaints (投诉) at the hub: a point's sealed COMPLAINT stored once, the office's steps through the desk's API,
the reply deadline's colours on the county's working days, the answers back to the point, and the audit chain.

A real hub on loopback (SQLite and PostgreSQL), a point made of ``sync`` only (hubkit.FakePoint); time moves through
the clock seam (the ``clock`` fixture)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timezone

from sqlmodel import select

from hub.catalog.calendar import county_calendar
from hub.core.models import AuditEntry, Complaint
from hub.trust.accounts import create_staff
from sync.envelope import Kind
from sync.kit.passwords import hash_password
from sync.kit.workdays import county_date
from sync.clock import utcnow

from tests.hub.hubkit import REVIEWER_PASSWORD, make_hub

OFFICE = "jc-chen"


def complaint_payload(**overrides) -> dict:
    """A COMPLAINT as a point sends it: about a department, from a named complainant with a phone."""
    complaint_id = str(uuid.uuid4())
    payload = {"complaint_id": complaint_id, "complaint_no": f"T-20261204-ABCDEF-{complaint_id[:4]}",
               "channel": "in_person", "category": "overdue", "subject": "department", "department_code": "YB",
               "contact": {"name": "韦秀兰", "phone": "13807761234"}, "text": "医保登记跑了三次还没办好",
               "code_hash": hash_password("123456"), "taken_at": datetime.now(timezone.utc).isoformat(),
               "staff": "staff", "staff_name": "黄丽"}
    payload.update(overrides)
    return payload


def add_office(hub) -> None:
    with hub.db() as session:
        create_staff(session, username=OFFICE, password=REVIEWER_PASSWORD, role="supervisor")


def answers(point) -> list[dict]:
    return [payload for envelope, payload in point.pull_all()[0] if envelope.header.kind == Kind.COMPLAINT_ANSWER]


def test_a_point_s_complaint_is_stored_once_assigned_turns_yellow_then_red_and_its_answers_go_back(hub, clock):
    add_office(hub)
    point = hub.enroll_point()
    payload = complaint_payload()
    sealed = point.seal(Kind.COMPLAINT, payload)
    [first] = point.client.push([sealed])
    assert first.status == "accepted", first
    [again] = point.client.push([point.seal(Kind.COMPLAINT, payload)])
    assert again.status == "duplicate" and again.reason == "complaint_exists", "the complaint id makes it idempotent"
    with hub.db() as session:
        [stored] = session.exec(select(Complaint)).all()
        assert (stored.complaint_no, stored.status, stored.point_id) == (payload["complaint_no"], "received",
                                                                         point.point_id)
        assert stored.contact == {"name": "韦秀兰", "phone": "13807761234"} and stored.taken_by == "黄丽"

    office, reviewer, other = hub.api(OFFICE), hub.api("yb-li"), hub.api("ny-wang")
    listed = office.get("/api/complaints").json()["complaints"]
    assert [c["complaint_no"] for c in listed] == [payload["complaint_no"]] and listed[0]["status"] == "received"
    assert reviewer.get("/api/complaints").json()["complaints"] == [], "not assigned yet: no department sees it"
    assigned = office.post(f"/api/complaints/{payload['complaint_id']}/assign", json={"department_code": "YB"})
    assert assigned.status_code == 200, assigned.text
    due = date.fromisoformat(assigned.json()["reply_due"])
    assert assigned.json()["reply_days"] == 5 and assigned.json()["colour"] == ""
    assert due > county_date(utcnow())
    assert other.get(f"/api/complaints/{payload['complaint_id']}").status_code == 404, "another department's"
    mine = reviewer.get("/api/complaints").json()["complaints"]
    assert [c["complaint_no"] for c in mine] == [payload["complaint_no"]]

    # On the due date four fifths of the reply period are used up: yellow. The day after: red. (API tokens last
    # hours: each day moved, everyone logs in again.)
    clock((due - county_date(utcnow())).days)
    assert hub.api("yb-li").get(f"/api/complaints/{payload['complaint_id']}").json()["colour"] == "yellow"
    clock(1)
    office, reviewer, other = hub.api(OFFICE), hub.api("yb-li"), hub.api("ny-wang")
    assert office.get("/api/complaints").json()["complaints"][0]["colour"] == "red"

    refused = other.post(f"/api/complaints/{payload['complaint_id']}/reply", json={"reply": "不是我们的"})
    assert refused.status_code == 404, "a reviewer replies only for their own department"
    early_close = office.post(f"/api/complaints/{payload['complaint_id']}/close", json={"result": "结案"})
    assert early_close.status_code == 409 and early_close.json()["reason"] == "not_replied"
    replied = reviewer.post(f"/api/complaints/{payload['complaint_id']}/reply",
                            json={"reply": "已核实，材料已补齐，本周内办结"})
    assert replied.status_code == 200 and replied.json()["status"] == "replied" and replied.json()["colour"] == ""
    closed = office.post(f"/api/complaints/{payload['complaint_id']}/close",
                         json={"result": "投诉属实，已督促医保局限期办结并向投诉人致歉"})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"

    sent = answers(point)
    assert [a["status"] for a in sent] == ["assigned", "replied", "closed"]
    assert sent[0]["reply_due"] == due.isoformat() and sent[0]["department"]
    assert sent[2]["reply"] == "已核实，材料已补齐，本周内办结" and sent[2]["result"].startswith("投诉属实")
    with hub.db() as session:
        steps = session.exec(select(AuditEntry).where(AuditEntry.subject == f"complaint:{payload['complaint_id']}")
                             .order_by(AuditEntry.id)).all()
    assert [entry.action for entry in steps] == ["complaint_received", "complaint_assigned", "complaint_replied",
                                                 "complaint_closed"]
    assert steps[2].detail["late"] is True, "replied after its due date"
    assert not any("韦秀兰" in str(entry.detail) or "13807761234" in str(entry.detail) for entry in steps)


def test_a_bad_complaint_is_refused_alone_and_the_rest_of_the_push_is_accepted(hub):
    point = hub.enroll_point()
    good = complaint_payload()
    anonymous_with_contact = complaint_payload(anonymous=True, code_hash="")
    results = point.client.push([point.seal(Kind.SUBMIT, point.submit()),
                                 point.seal(Kind.COMPLAINT, anonymous_with_contact),
                                 point.seal(Kind.COMPLAINT, good),
                                 point.seal(Kind.COMPLAINT, complaint_payload(category="rude"))])
    assert [r.status for r in results] == ["accepted", "rejected", "accepted", "rejected"]
    assert results[1].reason == "invalid_payload" and "韦秀兰" not in results[1].message
    with hub.db() as session:
        assert [c.id for c in session.exec(select(Complaint)).all()] == [good["complaint_id"]]
    taken = point.client.push([point.seal(Kind.COMPLAINT, complaint_payload(complaint_no=good["complaint_no"]))])
    assert taken[0].status == "rejected" and taken[0].reason == "complaint_no_taken"


def test_an_anonymous_complaint_and_one_taken_at_the_hub_get_no_code_and_send_nothing_to_a_point(hub):
    add_office(hub)
    point = hub.enroll_point()
    anonymous = complaint_payload(anonymous=True, contact={}, code_hash="", subject="general", department_code="")
    [result] = point.client.push([point.seal(Kind.COMPLAINT, anonymous)])
    assert result.status == "accepted", result
    office = hub.api(OFFICE)
    taken = office.post("/api/complaints", json={"channel": "phone", "category": "fees", "subject": "point",
                                                 "about_name": point.name, "contact_phone": "13907765555",
                                                 "text": "村服务站收取了复印费"})
    assert taken.status_code == 201, taken.text
    body = taken.json()
    assert body["complaint_no"].startswith("T-") and "-COUNTY-" in body["complaint_no"] and body["point_name"] == ""
    assert body["about_point_name"] == point.name
    with hub.db() as session:
        hub_taken = session.get(Complaint, body["complaint_id"])
        assert hub_taken.about_point_id == point.point_id and hub_taken.code_hash == ""
        assert session.get(Complaint, anonymous["complaint_id"]).code_hash == ""
    assert office.post("/api/complaints", json={"channel": "phone", "category": "fees", "text": "无联系方式"}
                       ).json()["reason"] == "invalid_input", "not anonymous: a name or a phone is needed"
    for complaint_id in (body["complaint_id"], anonymous["complaint_id"]):
        response = office.post(f"/api/complaints/{complaint_id}/assign", json={"department_code": "NY",
                                                                                "reply_days": 3})
        assert response.status_code == 200 and response.json()["reply_days"] == 3
    assert [a["complaint_id"] for a in answers(point)] == [anonymous["complaint_id"]], \
        "only the point that took a complaint hears of it"
    assert hub.api("yb-li").post("/api/complaints", json={"channel": "phone", "category": "fees",
                                                          "text": "x", "anonymous": True}).status_code == 403


def test_the_reply_period_an_assignment_proposes_is_the_hub_s_setting(tmp_path, live_server):
    hub = make_hub(tmp_path / "hub3").serve(live_server, COMPLAINT_REPLY_DAYS=3)
    try:
        add_office(hub)
        office = hub.api(OFFICE)
        taken = office.post("/api/complaints", json={"channel": "hub", "category": "attitude", "anonymous": True,
                                                     "text": "大厅导办人员不理人"}).json()
        assigned = office.post(f"/api/complaints/{taken['complaint_id']}/assign", json={"department_code": "ZR"})
        assert assigned.json()["reply_days"] == 3
        today = county_date(utcnow())
        assert date.fromisoformat(assigned.json()["reply_due"]) == county_calendar_of(hub).add_working_days(today, 3)
        too_long = office.post(f"/api/complaints/{taken['complaint_id']}/assign",
                               json={"department_code": "ZR", "reply_days": 61})
        assert too_long.status_code == 422
    finally:
        hub.close()


def county_calendar_of(hub):
    with hub.db() as session:
        return county_calendar(session)
