"""Routing and decisions: single, joint and staged routes; signed results the point can pull."""

from __future__ import annotations

from sqlmodel import select

from hub.catalog.versions import import_catalog, load_catalog_file
from hub.core.models import Case, OutMessage
from tests.hub.hubkit import HOMESTEAD, SAMPLE_CATALOG
from sync.envelope import Kind

APPROVE = {"decision": "approved", "reason": "", "certificate_no": ""}


def reject(reason: str) -> dict:
    return {"decision": "rejected", "reason": reason, "certificate_no": ""}


def queue_ids(client) -> set[str]:
    response = client.get("/api/queue")
    assert response.status_code == 200, response.text
    return {case["case_id"] for case in response.json()["cases"]}


def test_single_route_goes_to_the_items_department_only(hub):
    point = hub.enroll_point()
    case_id = point.push_case()
    yb, ny = hub.api("yb-li"), hub.api("ny-wang")
    [entry] = yb.get("/api/queue").json()["cases"]
    assert entry["case_id"] == case_id and entry["department"] == "YB" and entry["point_name"] == point.name
    assert entry["due_date"] and entry["item_name"] == "城乡居民基本医疗保险参保登记"
    assert case_id not in queue_ids(ny)
    assert ny.get(f"/api/cases/{case_id}").status_code == 404, "other departments cannot read it"
    refused = ny.post(f"/api/cases/{case_id}/decision", json=APPROVE)
    assert refused.status_code == 404
    assert case_id in queue_ids(hub.api("op")), "operators see every open case"
    assert case_id in {c["case_id"] for c in hub.api("op").get("/api/queue?department=YB").json()["cases"]}
    assert case_id not in {c["case_id"] for c in hub.api("op").get("/api/queue?department=NY").json()["cases"]}


def test_approval_issues_a_signed_result_the_point_pulls_verifies_and_opens(hub):
    point = hub.enroll_point()
    case_id = point.push_case()
    yb = hub.api("yb-li")
    decided = yb.post(f"/api/cases/{case_id}/decision",
                      json={"decision": "approved", "reason": "", "certificate_no": "YB-2026-000123"})
    assert decided.status_code == 200, decided.text
    detail = decided.json()
    assert detail["status"] == "result_issued" and detail["tasks"][0]["decided_by"] == "yb-li"
    assert case_id not in queue_ids(yb), "decided work leaves the queue"
    assert yb.post(f"/api/cases/{case_id}/decision", json=APPROVE).json()["reason"] == "not_open"

    messages, cursor = point.pull_all()
    kinds = [envelope.header.kind for envelope, _payload in messages]
    assert kinds == [Kind.STATUS, Kind.RESULT] and cursor == 2
    assert all(envelope.header.seq == n for n, (envelope, _p) in enumerate(messages, start=1))
    signed = messages[1][1]
    document = point.verify_result(signed)
    assert document["case_id"] == case_id and document["decision"] == "approved"
    assert document["certificate_no"] == "YB-2026-000123" and document["point_id"] == str(point.point_id)
    assert signed == detail["result"]

    # Pulling past the result marks it delivered; an empty pull answers 204 with the same cursor.
    again = point.client.pull(cursor)
    assert again.envelopes == [] and again.cursor == cursor
    assert yb.get(f"/api/cases/{case_id}").json()["status"] == "delivered"
    with hub.db() as session:
        assert all(m.delivered_at is not None for m in session.exec(select(OutMessage)).all())


def test_rejection_needs_a_reason_and_changes_nothing_without_one(hub):
    point = hub.enroll_point()
    case_id = point.push_case()
    yb = hub.api("yb-li")
    refused = yb.post(f"/api/cases/{case_id}/decision", json=reject("  "))
    assert refused.status_code == 422 and refused.json()["reason"] == "reason_required"
    detail = yb.get(f"/api/cases/{case_id}").json()
    assert detail["status"] == "routed" and detail["tasks"][0]["status"] == "open"
    rejected = yb.post(f"/api/cases/{case_id}/decision", json=reject("户口簿与身份证信息不一致"))
    assert rejected.status_code == 200
    messages, _cursor = point.pull_all()
    document = point.verify_result(messages[-1][1])
    assert document["decision"] == "rejected" and document["reason"] == "户口簿与身份证信息不一致"


def test_joint_route_waits_for_every_department_then_the_lead_decides(hub):
    point = hub.enroll_point(name="八达镇政务服务中心", level="township")
    hub.add_staff("xz-huang", department="XZ", township="八达镇政务服务中心")
    case_id = point.push_case(HOMESTEAD, form={"site_area": "120", "site_location": "周邦村三组"})
    ny, zr, xz = hub.api("ny-wang"), hub.api("zr-zhao"), hub.api("xz-huang")
    assert case_id in queue_ids(ny) & queue_ids(zr) & queue_ids(xz)

    assert ny.post(f"/api/cases/{case_id}/decision", json=APPROVE).json()["status"] == "in_review"
    assert case_id not in queue_ids(ny) and case_id in queue_ids(zr)
    detail = zr.post(f"/api/cases/{case_id}/decision", json=reject("选址位于基本农田保护区")).json()
    assert detail["status"] == "in_review" and detail["result"] is None, "a rejection is the department's opinion"
    final = xz.post(f"/api/cases/{case_id}/decision", json=APPROVE).json()
    assert final["status"] == "in_review" and case_id in queue_ids(xz), "the lead (XZ) still issues the result"
    assert [(t["department"], t["status"]) for t in final["tasks"]] == [
        ("NY", "approved"), ("XZ", "approved"), ("ZR", "rejected")]
    assert xz.post(f"/api/cases/{case_id}/joint/open", json={}).status_code == 200
    decided = xz.post(f"/api/cases/{case_id}/joint/decision", json={"decision": "rejected", "reason": "选址位于基本农田保护区"})
    assert decided.status_code == 200, decided.text
    document = xz.get(f"/api/cases/{case_id}").json()["result"]["document"]
    assert document["decision"] == "rejected" and document["department"] == "NY,ZR,XZ"
    assert "基本农田" in document["reason"]


def test_staged_route_opens_the_next_stage_after_approval(hub):
    catalog = load_catalog_file(SAMPLE_CATALOG)
    staged = catalog.items[-1].model_copy(update={"code": "451030-ST-007", "route": "staged", "lead_department": None,
                                                  "result_fields": [],
                                                  "departments": ["ZR", "NY"]})
    catalog.items.append(staged)
    with hub.db() as session:
        assert import_catalog(session, catalog, identity=hub.identity).version == 2
    point = hub.enroll_point(name="八达镇政务服务中心", level="township")
    case_id = point.push_case("451030-ST-007", form={})
    zr, ny = hub.api("zr-zhao"), hub.api("ny-wang")
    assert case_id in queue_ids(zr) and case_id not in queue_ids(ny), "stage 2 waits for stage 1"
    assert zr.post(f"/api/cases/{case_id}/decision", json=APPROVE).json()["status"] == "in_review"
    assert case_id in queue_ids(ny)
    detail = ny.post(f"/api/cases/{case_id}/decision", json=APPROVE).json()
    assert detail["status"] == "result_issued"
    assert [(t["department"], t["stage"], t["status"]) for t in detail["tasks"]] == [
        ("ZR", 1, "approved"), ("NY", 2, "approved")]
    assert [e["action"] for e in detail["events"]].count("stage_opened") == 1


def test_admin_may_decide_any_open_task_operator_none(hub):
    point = hub.enroll_point()
    case_id = point.push_case()
    refused = hub.api("op").post(f"/api/cases/{case_id}/decision", json=APPROVE)
    assert refused.status_code == 403 and refused.json()["reason"] == "forbidden"
    assert hub.api("admin").post(f"/api/cases/{case_id}/decision", json=APPROVE).status_code == 200
    with hub.db() as session:
        assert session.get(Case, case_id).certificate_no, "an approval without a number gets one"
