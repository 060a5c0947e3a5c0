"""并联审批 under a lead department: a department's decision is its opinion, the lead opens the review, calls a
joint site survey, and issues the combined result only with every department's opinion in front of it."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from sqlmodel import select

from hub.core.models import AuditEntry, JointOpinion
from hub.approval.supervision import supervise_once
from hub.core.audit import verify_audit
from hub.core.auditrows import cross_check
from sync.clock import utcnow
from sync.envelope import Kind
from tests.hub.hubkit import HOMESTEAD, csrf_from
from tests.hub.test_supervision_orders import cards_of, days_until

TOWNSHIP = "八达镇政务服务中心"
FORM = {"site_area": "120", "site_location": "周邦村三组"}
RESULT_FIELDS = {"homestead_permit_no": "宅审〔2026〕17号", "planning_permit_no": "乡字第451030202600017号"}


def joint_case(hub):
    point = hub.enroll_point(name=TOWNSHIP, level="township")
    hub.add_staff("xz-huang", department="XZ", township=TOWNSHIP)  # the lead: 八达镇's own 乡镇人民政府
    return point, point.push_case(HOMESTEAD, form=FORM)


def in_a_day() -> str:
    """Tomorrow, written with the county's offset as a lead's tool would send it."""
    return (utcnow() + timedelta(days=1)).astimezone().isoformat()


def queue_rows(client) -> dict[str, dict]:
    return {row["case_id"]: row for row in client.get("/api/queue").json()["cases"]}


def test_a_rejection_is_an_opinion_and_cancels_nothing(hub):
    point, case_id = joint_case(hub)
    zr, ny, xz = hub.api("zr-zhao"), hub.api("ny-wang"), hub.api("xz-huang")
    detail = zr.post(f"/api/cases/{case_id}/decision",
                     json={"decision": "rejected", "reason": "选址位于基本农田保护区", "certificate_no": ""}).json()
    assert detail["status"] == "in_review" and detail["result"] is None
    assert {t["department"]: t["status"] for t in detail["tasks"]} == {"NY": "open", "XZ": "open", "ZR": "rejected"}
    assert case_id in queue_rows(ny) and case_id in queue_rows(xz), "the others' tasks stay open"
    joint = ny.get(f"/api/cases/{case_id}/joint").json()
    assert joint["lead"] == "XZ" and joint["opened_at"] is None and joint["meetings"] == []
    assert joint["departments"] == [
        {"code": "NY", "state": "open", "opinion": None, "text": "", "given_by": "", "given_at": None},
        {"code": "ZR", "state": "given", "opinion": "disagree", "text": "选址位于基本农田保护区", "given_by": "zr-zhao",
         "given_at": joint["departments"][1]["given_at"]},
        {"code": "XZ", "state": "open", "opinion": None, "text": "", "given_by": "", "given_at": None}]
    messages, _cursor = point.pull_all()
    assert Kind.RESULT not in [envelope.header.kind for envelope, _payload in messages], "no result yet"
    # An approval with words is an approval with those conditions, and needs no result fields from a department.
    ny.post(f"/api/cases/{case_id}/decision", json={"decision": "approved", "reason": "建房不得占用耕地",
                                                    "certificate_no": ""})
    joint = xz.get(f"/api/cases/{case_id}/joint").json()
    assert [(d["code"], d["opinion"]) for d in joint["departments"]] == [
        ("NY", "agree_with_conditions"), ("ZR", "disagree"), ("XZ", None)]
    assert not queue_rows(xz)[case_id]["waiting_for_lead"], "the lead's own opinion is still missing"


def test_the_lead_calls_a_site_survey_and_issues_the_combined_result(hub):
    point, case_id = joint_case(hub)
    zr, ny, xz = hub.api("zr-zhao"), hub.api("ny-wang"), hub.api("xz-huang")
    opened = xz.post(f"/api/cases/{case_id}/joint/open", json={})
    assert opened.status_code == 200 and opened.json()["opened_at"] and opened.json()["opened_by"] == "xz-huang"
    survey = xz.post(f"/api/cases/{case_id}/joint/meetings", json={
        "kind": "site_survey", "scheduled_at": in_a_day(), "place": "周邦村三组宅基地现场", "departments": ["ZR", "XZ"]})
    assert survey.status_code == 201, survey.text
    meeting_id = survey.json()["meeting_id"]
    assert [row["case_id"] for row in zr.get("/api/queue").json()["cases"]] == [case_id]
    assert xz.post(f"/api/cases/{case_id}/joint/meetings/{meeting_id}/held", json={}).status_code == 200
    for client, opinion, text in ((zr, "agree_with_conditions", "建筑高度不超过三层"), (xz, "agree", "")):
        answer = client.post(f"/api/cases/{case_id}/joint/opinions",
                             json={"opinion": opinion, "text": text, "meeting_id": meeting_id})
        assert answer.status_code == 200, answer.text
    waiting = xz.post(f"/api/cases/{case_id}/joint/decision", json={"decision": "approved", "reason": "",
                                                                    "result_fields": RESULT_FIELDS})
    assert waiting.status_code == 409 and waiting.json()["reason"] == "opinions_missing"
    assert "NY" in waiting.json()["error"]
    assert ny.post(f"/api/cases/{case_id}/joint/opinions", json={"opinion": "agree", "text": ""}).status_code == 200
    row = queue_rows(xz)[case_id]
    assert row["waiting_for_lead"] and row["status"] == "in_review"
    assert case_id not in queue_rows(ny), "a department that gave its opinion is done"

    decided = xz.post(f"/api/cases/{case_id}/joint/decision", json={"decision": "approved", "reason": "",
                                                                     "result_fields": RESULT_FIELDS})
    assert decided.status_code == 200, decided.text
    joint = decided.json()
    assert joint["decided_by"] == "xz-huang" and not joint["waiting_for_lead"]
    [meeting] = joint["meetings"]
    assert meeting["held_at"] and meeting["departments"] == ["ZR", "XZ"]
    assert [(o["department"], o["opinion"]) for o in meeting["opinions"]] == [
        ("ZR", "agree_with_conditions"), ("XZ", "agree")]
    again = xz.post(f"/api/cases/{case_id}/joint/decision", json={"decision": "rejected", "reason": "重复"})
    assert again.status_code == 409 and again.json()["reason"] == "already_decided"

    messages, _cursor = point.pull_all()
    document = point.verify_result(messages[-1][1])
    assert document["decision"] == "approved" and document["result_fields"] == RESULT_FIELDS
    assert document["department"] == "NY,ZR,XZ" and document["decided_by"] == "xz-huang"
    actions = [event["action"] for event in xz.get(f"/api/cases/{case_id}").json()["events"]]
    assert [a for a in actions if a.startswith("joint_")] == [
        "joint_opened", "joint_meeting_called", "joint_meeting_held", "joint_opinion", "joint_opinion",
        "joint_opinion", "joint_decided"]
    assert actions[-1] == "result_issued"
    with hub.db() as session:
        assert len(session.exec(select(JointOpinion)).all()) == 3
        audited = {entry.action for entry in session.exec(select(AuditEntry)).all()}
        assert {"joint_opened", "joint_meeting_called", "joint_meeting_held", "joint_decided"} <= audited
        assert verify_audit(session).broken is None and cross_check(session) == []


@pytest.mark.sqlite_only  # refusals only: the queries are the ones the flow above runs on PostgreSQL too
def test_the_joint_review_refuses_steps_out_of_turn(hub):
    _point, case_id = joint_case(hub)
    zr, ny, xz, op = hub.api("zr-zhao"), hub.api("ny-wang"), hub.api("xz-huang"), hub.api("op")

    def refused(client, path, body, status, reason):
        answer = client.post(f"/api/cases/{case_id}/joint{path}", json=body)
        assert (answer.status_code, answer.json().get("reason")) == (status, reason), answer.text

    assert op.get(f"/api/cases/{case_id}/joint").json()["lead"] == "XZ", "an operator reads it"
    refused(zr, "/open", {}, 403, "not_lead")
    meeting = {"kind": "review_meeting", "scheduled_at": in_a_day(), "place": "县政务服务中心三楼会议室",
               "departments": ["NY", "ZR"]}
    refused(xz, "/meetings", meeting, 409, "not_opened")
    assert xz.post(f"/api/cases/{case_id}/joint/open", json={}).status_code == 200
    refused(xz, "/open", {}, 409, "already_opened")
    refused(zr, "/meetings", meeting, 403, "not_lead")
    refused(xz, "/meetings", {**meeting, "scheduled_at": (utcnow() - timedelta(hours=1)).isoformat()}, 422,
            "meeting_in_past")
    refused(xz, "/meetings", {**meeting, "departments": ["NY", "YB"]}, 422, "not_a_department")
    refused(xz, "/meetings", {**meeting, "kind": "dinner"}, 422, "invalid_input")
    meeting_id = xz.post(f"/api/cases/{case_id}/joint/meetings", json=meeting).json()["meeting_id"]
    refused(ny, "/opinions", {"opinion": "agree", "meeting_id": meeting_id}, 409, "meeting_not_held")
    refused(zr, f"/meetings/{meeting_id}/held", {}, 403, "not_lead")
    assert xz.post(f"/api/cases/{case_id}/joint/meetings/{meeting_id}/held", json={}).status_code == 200
    refused(xz, f"/meetings/{meeting_id}/held", {}, 409, "already_held")
    refused(xz, "/opinions", {"opinion": "agree", "meeting_id": meeting_id}, 403, "not_invited")
    refused(ny, "/opinions", {"opinion": "disagree", "text": " "}, 422, "text_required")
    refused(op, "/opinions", {"opinion": "agree"}, 403, "forbidden")
    for client, opinion, text in ((ny, "agree", ""), (zr, "disagree", "不符合国土空间规划"), (xz, "agree", "")):
        assert client.post(f"/api/cases/{case_id}/joint/opinions",
                           json={"opinion": opinion, "text": text}).status_code == 200
    refused(zr, "/decision", {"decision": "rejected", "reason": "不符合规划"}, 403, "not_lead")
    refused(xz, "/decision", {"decision": "rejected", "reason": ""}, 422, "reason_required")
    refused(xz, "/decision", {"decision": "approved", "result_fields": RESULT_FIELDS}, 422, "reason_required")
    # The lead rejects with its own reason, which is the result's.
    decided = xz.post(f"/api/cases/{case_id}/joint/decision",
                      json={"decision": "rejected", "reason": "县自然资源局认定选址不符合国土空间规划"})
    assert decided.status_code == 200, decided.text
    detail = xz.get(f"/api/cases/{case_id}").json()
    assert detail["status"] == "result_issued" and detail["decision"] == "rejected"
    assert detail["reason"] == "县自然资源局认定选址不符合国土空间规划"
    refused(ny, "/opinions", {"opinion": "agree"}, 409, "already_decided")
    assert hub.api("yb-li").get(f"/api/cases/{case_id}/joint").status_code == 404


def test_the_lead_cancels_a_meeting_and_calls_a_new_one(hub):
    _point, case_id = joint_case(hub)
    zr, ny, xz = hub.api("zr-zhao"), hub.api("ny-wang"), hub.api("xz-huang")
    assert xz.post(f"/api/cases/{case_id}/joint/open", json={}).status_code == 200
    survey = {"kind": "site_survey", "scheduled_at": in_a_day(), "place": "周邦村三组宅基地现场",
              "departments": ["ZR", "NY"]}
    meeting_id = xz.post(f"/api/cases/{case_id}/joint/meetings", json=survey).json()["meeting_id"]
    cancel = f"/api/cases/{case_id}/joint/meetings/{meeting_id}/cancel"
    zr_portal = hub.browser("zr-zhao")
    assert "周邦村三组宅基地现场" in zr_portal.get("/queue").text, "the invitation is on the department's queue"

    def refused(client, path, body, status, reason):
        answer = client.post(path, json=body)
        assert (answer.status_code, answer.json().get("reason")) == (status, reason), answer.text

    refused(zr, cancel, {"reason": "下雨"}, 403, "not_lead")
    refused(xz, cancel, {"reason": "  "}, 422, "reason_required")
    refused(xz, cancel, {}, 422, "reason_required")
    refused(xz, f"/api/cases/{case_id}/joint/meetings/{uuid.uuid4()}/cancel", {"reason": "下雨"}, 404, "no_meeting")
    # The lead cancels it on its page: without a reason nothing is saved, with one the row says 已取消.
    lead_page = hub.browser("xz-huang")
    page = lead_page.get(f"/cases/{case_id}/joint").text
    assert 'id="cancel-form-1"' in page and 'for="cancel-reason-1"' in page
    form = {"csrf_token": csrf_from(page), "meeting_id": meeting_id, "action": "cancel"}
    empty = lead_page.post(f"/cases/{case_id}/joint", data={**form, "cancel_reason": " "})
    assert empty.status_code == 422 and "请填写取消会议的原因" in empty.text
    page = lead_page.post(f"/cases/{case_id}/joint", data={**form, "cancel_reason": "暴雨，现场无法踏勘"}).text
    assert "已取消：暴雨，现场无法踏勘" in page and 'id="cancel-form-1"' not in page and 'id="held-1"' not in page
    [meeting] = xz.get(f"/api/cases/{case_id}/joint").json()["meetings"]
    assert meeting["cancelled_at"] and meeting["cancel_reason"] == "暴雨，现场无法踏勘" and meeting["held_at"] is None

    refused(xz, cancel, {"reason": "再次取消"}, 409, "already_cancelled")
    refused(xz, f"/api/cases/{case_id}/joint/meetings/{meeting_id}/held", {}, 409, "already_cancelled")
    refused(zr, f"/api/cases/{case_id}/joint/opinions", {"opinion": "agree", "meeting_id": meeting_id}, 409,
            "meeting_cancelled")
    assert "周邦村三组宅基地现场" not in zr_portal.get("/queue").text, "the invitation is gone"
    timeline = hub.browser("op").get(f"/cases/{case_id}").text
    assert "联合踏勘已取消：暴雨，现场无法踏勘" in timeline

    # To move it the lead calls a new one; a held meeting can no longer be cancelled.
    moved = xz.post(f"/api/cases/{case_id}/joint/meetings", json={**survey, "place": "八达镇政府会议室"})
    assert moved.status_code == 201, moved.text
    assert "八达镇政府会议室" in zr_portal.get("/queue").text
    moved_cancel = f"/api/cases/{case_id}/joint/meetings/{moved.json()['meeting_id']}/cancel"
    assert xz.post(moved_cancel.replace("/cancel", "/held"), json={}).status_code == 200
    refused(xz, moved_cancel, {"reason": "下雨"}, 409, "already_held")
    assert ny.post(f"/api/cases/{case_id}/joint/opinions", json={"opinion": "agree", "text": "",
                                                                "meeting_id": moved.json()["meeting_id"]}
                   ).status_code == 200
    actions = [event["action"] for event in xz.get(f"/api/cases/{case_id}").json()["events"]]
    assert [a for a in actions if a.startswith("joint_meeting")] == [
        "joint_meeting_called", "joint_meeting_cancelled", "joint_meeting_called", "joint_meeting_held"]
    with hub.db() as session:
        audited = [entry for entry in session.exec(select(AuditEntry)).all()
                   if entry.action == "joint_meeting_cancelled"]
        assert len(audited) == 1 and verify_audit(session).broken is None and cross_check(session) == []


def test_a_case_waiting_for_its_lead_past_its_limit_earns_the_lead_a_card(hub, clock):
    point = hub.enroll_point(name=TOWNSHIP, level="township")
    hub.add_staff("xz-huang", department="XZ", township=TOWNSHIP)
    case_id = point.push_case(HOMESTEAD, form=FORM, received_at=utcnow().isoformat(), clock_offset_ms=0)
    xz = hub.api("xz-huang")
    for username in ("ny-wang", "zr-zhao", "xz-huang"):
        assert hub.api(username).post(f"/api/cases/{case_id}/joint/opinions",
                                      json={"opinion": "agree", "text": ""}).status_code == 200
    due = date.fromisoformat(xz.get(f"/api/cases/{case_id}").json()["due_date"])
    clock(days_until(due) + 1)
    supervise_once(hub.engine, hub.data_dir)
    assert {(card.department_code, card.colour) for card in cards_of(hub, case_id)} == {("XZ", "yellow"),
                                                                                         ("XZ", "red")}
    report = hub.api("op").get("/api/supervision").json()
    assert {card["colour"] for card in report["cards"] if card["waiting_for_lead"]} == {"yellow", "red"}
    [figures] = [row for row in report["departments"] if row["code"] == "XZ"]
    assert (figures["open"], figures["overdue"]) == (1, 1), "the waiting case is the lead's open work"
    xz = hub.api("xz-huang")  # a token of the day before has expired
    assert xz.post(f"/api/cases/{case_id}/joint/open", json={}).status_code == 200
    assert xz.post(f"/api/cases/{case_id}/joint/decision",
                   json={"decision": "approved", "result_fields": RESULT_FIELDS}).status_code == 200
    assert all(card.cleared_at is not None for card in cards_of(hub, case_id)), "the result settles the lead's cards"


@pytest.mark.sqlite_only  # a page's wording; the decision rules run on PostgreSQL in the tests above
def test_the_confirmation_page_says_what_a_department_s_approval_does(hub):
    """Nothing false to a reviewer: on a joint case her approval is her department's opinion and issues nothing,
    while the last department's approval of a single-department case issues the signed result at once."""
    _point, case_id = joint_case(hub)
    reviewer = hub.browser("ny-wang")
    asked = reviewer.post(f"/cases/{case_id}", data={"csrf_token": csrf_from(reviewer.get(f"/cases/{case_id}").text),
                                                     "decision": "approved"})
    assert asked.status_code == 200 and "<title>确认准予 · " in asked.text
    assert "记为本部门意见" in asked.text and "由牵头部门出具办理结果" in asked.text
    assert "发送到服务点" not in asked.text and 'id="confirm-certificate"' not in asked.text

    single = hub.enroll_point().push_case()
    yb = hub.browser("yb-li")
    asked = yb.post(f"/cases/{single}", data={"csrf_token": csrf_from(yb.get(f"/cases/{single}").text),
                                             "decision": "approved"})
    assert "记为本部门意见" not in asked.text and 'id="confirm-certificate"' in asked.text
