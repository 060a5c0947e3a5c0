"""A point's claimed intake time is judged against what the hub can vouch for: a backdated case never earns
视为准予 on its own, it waits for an operator with the evidence; an item a point's level does not receive is
refused."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlmodel import select
from tests.hub.hubkit import SILENT

from hub.trust.keys import load_identity
from hub.core.models import Case, Point, ReviewTask
from hub.approval.supervision import supervise
from sync.envelope import Kind
from sync.clock import utcnow

HOURS = timedelta(hours=1)


def send(point, payload) -> tuple[str, str]:
    [result] = point.client.push([point.seal(Kind.SUBMIT, payload)])
    return result.status, result.reason


def case_row(hub, case_id: str) -> Case:
    with hub.db() as session:
        found = session.get(Case, case_id)
        session.expunge(found)
        return found


def the_conflict(hub, case_id: str) -> dict:
    op = hub.api("op")
    listed = [c for c in op.get("/api/conflicts?kind=suspicious_time").json()["conflicts"] if c["case_id"] == case_id]
    assert len(listed) == 1, listed
    return op.get(f"/api/conflicts/{listed[0]['conflict_id']}").json()


def deemed_now(hub) -> list[str]:
    with hub.db() as session:
        deemed = supervise(session, load_identity(hub.data_dir))
        session.commit()
    return deemed


def test_a_backdated_case_waits_for_an_operator_and_is_never_deemed_approved_meanwhile(loop_hub):
    hub = loop_hub
    township = hub.enroll_point("八达镇政务服务中心", "township")
    payload = township.submit(SILENT, received_at="2020-01-02T02:00:00+00:00", clock_offset_ms=0)
    assert send(township, payload) == ("conflict", "suspicious_time")
    case_id = payload["case_id"]
    parked = case_row(hub, case_id)
    assert parked.status == "needs_attention" and parked.due_date is None and parked.legal_due_date is None
    with hub.db() as session:
        assert session.exec(select(ReviewTask).where(ReviewTask.case_id == case_id)).all() == [], "not routed"
    assert case_id not in deemed_now(hub), "never deemed approved while parked"

    conflict = the_conflict(hub, case_id)
    detail = conflict["detail"]
    assert detail["claimed"].startswith("2020-01-02") and detail["rule"] == "enrollment"
    assert {bound["rule"] for bound in detail["evidence"]} >= {"enrollment", "catalog"}
    assert conflict["actions"] == ["accept_claimed", "accept_earliest", "reject"]
    page = hub.browser("op").get(f"/desk/{conflict['conflict_id']}").text
    assert 'id="intake-evidence"' in page and "受理时间存疑" in page and "该服务点于此时注册" in page
    assert "2020-01-02 10:00" in page, "times in county time"

    # The earliest the hub can vouch for: the clock counts from there, nothing is deemed today.
    answer = hub.api("op").post(f"/api/conflicts/{conflict['conflict_id']}/resolve",
                                json={"action": "accept_earliest"})
    assert answer.status_code == 200, answer.text
    routed = case_row(hub, case_id)
    assert routed.status == "routed" and routed.intake_vouched_by == "op"
    assert routed.vouched_intake is not None and routed.legal_due_date > utcnow().date()
    assert case_id not in deemed_now(hub)
    # The case's timeline says both steps in Chinese.
    timeline = hub.browser("op").get(f"/cases/{case_id}").text.split('<tbody id="timeline">')[1].split("</tbody>")[0]
    assert "服务点报送的受理时间早于县中心可以确认的时间" in timeline
    assert "受理时间按县中心可以确认的最早时间" in timeline and "accept_earliest" not in timeline


def test_an_operator_who_accepts_the_old_time_names_the_dates_on_the_deemed_result(loop_hub):
    hub = loop_hub
    township = hub.enroll_point("八达镇政务服务中心", "township")
    payload = township.submit(SILENT, received_at="2020-01-02T02:00:00+00:00", clock_offset_ms=0)
    send(township, payload)
    conflict = the_conflict(hub, payload["case_id"])
    assert hub.api("op").post(f"/api/conflicts/{conflict['conflict_id']}/resolve",
                              json={"action": "accept_claimed"}).status_code == 200
    assert payload["case_id"] in deemed_now(hub)
    messages, _ = township.pull_all()
    [signed] = [body for envelope, body in messages if envelope.header.kind == Kind.RESULT]
    document = township.verify_result(signed)
    assert document["deemed_approval"] is True
    assert "自2020-01-02受理" in document["reason"] and "受理时间由op认定" in document["reason"]
    assert str(case_row(hub, payload["case_id"]).legal_due_date) in document["reason"]


def test_each_bound_the_hub_holds_evidence_for(loop_hub):
    hub = loop_hub
    point = hub.enroll_point()
    now = utcnow()
    # In order and on time: accepted (no conflict).
    first = point.submit(received_at=now.isoformat(), clock_offset_ms=0)
    assert send(point, first)[0] == "accepted"
    # Sequence: the next envelope claims an intake hours before the case sent before it.
    earlier = point.submit(received_at=(now - 2 * HOURS).isoformat(), clock_offset_ms=0)
    assert send(point, earlier) == ("conflict", "suspicious_time")
    assert the_conflict(hub, earlier["case_id"])["detail"]["rule"] == "sequence"

    # Sync: the point said (on a signed pull) it had sealed 2 envelopes; number 3 cannot be older than that.
    point.client.pull(0, sealed=point.seq)
    later = point.submit(received_at=(utcnow() - 3 * HOURS).isoformat(), clock_offset_ms=0)
    point.seq += 5  # a later envelope number than the point reported
    assert send(point, later) == ("conflict", "suspicious_time")
    detail = the_conflict(hub, later["case_id"])["detail"]
    assert detail["rule"] in ("sync", "sequence") and any(bound["rule"] == "sync" for bound in detail["evidence"])

    # A small clock difference is not suspicious.
    close = point.submit(received_at=(utcnow() - timedelta(minutes=5)).isoformat(), clock_offset_ms=0)
    assert send(point, close)[0] == "accepted"


def test_an_item_the_points_level_does_not_receive_is_refused(loop_hub):
    hub = loop_hub
    village = hub.enroll_point()
    payload = village.submit("451030-MZ-017")  # county level only
    assert send(village, payload) == ("rejected", "not_accepted_here")
    with hub.db() as session:
        assert session.get(Case, payload["case_id"]) is None


def test_the_hub_keeps_the_newest_sealed_count_a_point_reports(loop_hub):
    hub = loop_hub
    point = hub.enroll_point()
    point.client.pull(0, sealed=7)
    point.client.pull(0, sealed=3)  # never backwards
    point.client.pull(0)  # a point from before the report says nothing
    with hub.db() as session:
        stored = session.get(Point, point.point_id)
        assert stored.sealed_seq == 7 and stored.sealed_at is not None
        assert stored.sealed_at.replace(tzinfo=stored.sealed_at.tzinfo or timezone.utc) <= datetime.now(timezone.utc)
