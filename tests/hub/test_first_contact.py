"""首问责任制 at the hub: the first-contact clerk a SUBMIT names (both ingest paths; older points name none), REFERRAL
stored once and in the audit chain, and a case linked to its referral whichever of the two arrives first."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from sqlmodel import select

from hub.core.audit import verify_audit
from hub.core.models import AuditEntry, Case, CaseEvent, Referral
from hub.intake.copies import copy_payload
from sync.envelope import Kind
from tests.hub.hubkit import valid_id

TOWNSHIP = "八达镇政务服务中心"


def referral(slip_no: str, **overrides: Any) -> dict[str, Any]:
    """A REFERRAL payload as a point sends it."""
    payload = {"referral_id": str(uuid.uuid4()), "slip_no": slip_no,
               "resident": {"name": "韦秀兰", "phone": "13807761234", "id_number": ""},
               "item_code": "", "matter": "办理残疾人证", "to_kind": "department", "to_code": "CL",
               "to_name": "县残疾人联合会", "reason": "需到县残联现场评定", "first_contact_name": "黄丽",
               "first_contact_post": "站长", "staff": "staff", "referred_at": datetime.now(timezone.utc).isoformat()}
    payload.update(overrides)
    return payload


def test_a_case_names_its_first_contact_clerk_and_an_older_point_none(hub):
    point = hub.enroll_point()
    named = point.submit(first_contact_name="黄丽", first_contact_post="站长")
    older = point.submit(applicant={"name": "农金凤", "id_number": valid_id("45102719850303456"), "phone": ""})
    # Two plain cases in one push: the bulk path writes them.
    results = point.client.push([point.seal(Kind.SUBMIT, named), point.seal(Kind.SUBMIT, older)])
    assert [result.status for result in results] == ["accepted", "accepted"], results
    with hub.db() as session:
        case = session.get(Case, named["case_id"])
        assert (case.first_contact_name, case.first_contact_post, case.referral_no) == ("黄丽", "站长", "")
        received = session.exec(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                        CaseEvent.action == "received")).one()
        assert received.data == {"staff": "staff", "first_contact_name": "黄丽", "first_contact_post": "站长"}
        plain = session.get(Case, older["case_id"])
        assert (plain.first_contact_name, plain.first_contact_post) == ("", "")
        # A copy for a restored point carries the fields only when the point sent them.
        assert copy_payload(case)["case"]["first_contact_post"] == "站长"
        assert "first_contact_name" not in copy_payload(plain)["case"]
        assert verify_audit(session).broken is None
    admin = hub.api("admin")
    assert admin.get(f"/api/cases/{named['case_id']}").json()["first_contact"] == {"name": "黄丽", "post": "站长"}
    assert admin.get(f"/api/cases/{older['case_id']}").json()["first_contact"] == {"name": "", "post": ""}


def test_a_referral_is_stored_once_and_linked_to_the_case_opened_with_its_slip(hub):
    village = hub.enroll_point()
    township = hub.enroll_point(TOWNSHIP, "township")
    sent = referral("ZB-20261204-ABCDEF-0001")
    [result] = village.client.push([village.seal(Kind.REFERRAL, sent)])
    assert result.status == "accepted", result
    [again] = village.client.push([village.seal(Kind.REFERRAL, sent)])
    assert again.status == "duplicate" and again.reason == "referral_exists"
    case_id = township.push_case(referral_no=sent["slip_no"], first_contact_name="韦秀英",
                                 first_contact_post="窗口工作人员")
    with hub.db() as session:
        stored = session.exec(select(Referral)).one()
        assert (stored.slip_no, stored.case_id, stored.first_contact_name, stored.to_code) == (
            sent["slip_no"], case_id, "黄丽", "CL")
        line = session.exec(select(CaseEvent).where(CaseEvent.case_id == case_id,
                                                    CaseEvent.action == "referral_linked")).one()
        assert line.data == {"slip_no": sent["slip_no"], "point": village.name, "name": "黄丽", "post": "站长"}
        actions = [entry.action for entry in session.exec(select(AuditEntry).order_by(AuditEntry.id)).all()]
        assert actions.count("referral_received") == 1 and actions.count("referral_linked") == 1
        assert "韦秀兰" not in str([entry.detail for entry in session.exec(select(AuditEntry)).all()
                                   if entry.action.startswith("referral")]), "no resident data in the chain"
        assert verify_audit(session).broken is None


def test_a_case_that_arrives_before_its_referral_is_linked_when_the_referral_comes(hub):
    village = hub.enroll_point()
    township = hub.enroll_point(TOWNSHIP, "township")
    slip_no = "ZB-20261204-ABCDEF-0002"
    case_id = township.push_case(referral_no=slip_no)
    with hub.db() as session:
        assert session.get(Case, case_id).referral_no == slip_no
    [result] = village.client.push([village.seal(Kind.REFERRAL, referral(slip_no))])
    assert result.status == "accepted", result
    with hub.db() as session:
        assert session.exec(select(Referral.case_id)).one() == case_id


def test_a_referral_that_names_neither_the_matter_nor_where_to_go_is_rejected(hub):
    point = hub.enroll_point()
    frames = [point.seal(Kind.REFERRAL, referral("ZB-20261204-ABCDEF-0003", matter="")),
              point.seal(Kind.REFERRAL, referral("ZB-20261204-ABCDEF-0004", to_code=""))]
    assert [result.status for result in point.client.push(frames)] == ["rejected", "rejected"]
    with hub.db() as session:
        assert session.exec(select(Referral)).all() == []
