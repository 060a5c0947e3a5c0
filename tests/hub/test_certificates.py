"""The certificate register (电子证照) at a real hub: approved results enter it, a point's signed lookup answers one
holder's valid certificates of the asked types only, and the 免提交 references a SUBMIT carries are checked again at
ingest: unknown, another holder's, expired or revoked ones park the case until its department settles it.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from hub.core.models import AuditEntry, Certificate
from sync.clock import utcnow
from sync.envelope import Kind
from sync.kit.certcode import read_code
from sync.kit.workdays import county_date
from tests.hub.hubkit import csrf_from, resident_id

# Points are townships and villages; 结婚登记 (MZ-017) is taken at the county only, so the register is shown with
# 残疾人证 (CL-020 issues disability_card, valid until a date) and the device subsidy whose material accepts it.
DISABILITY_CARD = "451030-CL-020"
DEVICE_SUBSIDY = "451030-CL-021"  # its "disability_card" material accepts disability_card
SOCIAL_CARD = "451030-RS-011"  # issues social_security_card, valid until a date
PENSION = "451030-RS-010"  # its "bank_card" material accepts social_security_card


@pytest.fixture
def county(hub):
    for username, department in (("cl-lan", "CL"), ("rs-huang", "RS")):
        hub.add_staff(username, department=department)
    point = hub.enroll_point("八达镇政务服务中心", "township")
    point.client.point_id, point.client.identity = point.point_id, point.identity
    return point


def push(point, item_code: str, **overrides) -> tuple[str, object]:
    payload = point.submit(item_code, received_at=utcnow().isoformat(), clock_offset_ms=0, **overrides)
    [answer] = point.client.push([point.seal(Kind.SUBMIT, payload)])
    return payload["case_id"], answer


def approve(hub, username: str, case_id: str, **fields: str) -> None:
    answer = hub.api(username).post(f"/api/cases/{case_id}/decision",
                                    json={"decision": "approved", "result_fields": fields})
    assert answer.status_code == 200, answer.text


def issue_card(hub, point, holder: str, number: str, valid_days: int = 3650) -> str:
    """A 残疾人证 case for ``holder``, approved with ``number`` valid ``valid_days`` from today."""
    case_id, answer = push(point, DISABILITY_CARD, applicant={"name": "韦秀兰", "id_number": holder, "phone": ""},
                           form={"disability_type": "肢体"}, materials=["id_card", "hukou", "photo", "assessment_form"])
    assert answer.status == "accepted", answer
    approve(hub, "cl-lan", case_id, certificate_no=number, grade="二级",
            valid_until=(county_date(utcnow()) + timedelta(days=valid_days)).isoformat())
    return case_id


def subsidy(point, holder: str, number: str, cert_type: str = "disability_card"):
    """A device subsidy for ``holder`` whose disability card is not handed over: certificate ``number`` instead."""
    return push(point, DEVICE_SUBSIDY, applicant={"name": "韦秀兰", "id_number": holder, "phone": ""},
                form={"device": "轮椅"}, materials=["disability_card"],
                certificates=[{"material": "disability_card", "cert_type": cert_type, "number": number}])


def test_an_approved_result_enters_the_register_signed_and_the_lookup_answers_one_holder_only(hub, county):
    holder, other = resident_id(), resident_id()
    case_id = issue_card(hub, county, holder, "CJR-000101")
    issue_card(hub, county, other, "CJR-000102")
    card_case, _ = push(county, SOCIAL_CARD, applicant={"name": "韦秀兰", "id_number": holder, "phone": ""},
                        form={"apply_type": "首次申领", "bank": "农村信用合作社"}, materials=["id_card", "photo"])
    valid_until = (county_date(utcnow()) + timedelta(days=3650)).isoformat()
    approve(hub, "rs-huang", card_case, card_no="SSC-0001", valid_until=valid_until)
    with hub.db() as session:
        row = session.exec(select(Certificate).where(Certificate.number == "CJR-000101")).one()
        assert (row.holder_id, row.cert_type, row.case_id, row.status) == (holder, "disability_card", case_id, "valid")
        assert row.key_generation == 1 and row.signed["document"]["generation"] == 1
        card = session.exec(select(Certificate).where(Certificate.number == "SSC-0001")).one()
        assert card.valid_until.isoformat() == valid_until

    found = county.client.certificate_lookup(holder, ["disability_card"])
    assert [record["number"] for record in found] == ["CJR-000101"], "her disability card only"
    signed, document = read_code(found[0]["code"])
    assert county.verify_result(signed)["holder_id"] == holder and document.cert_type == "disability_card"
    both = county.client.certificate_lookup(holder, ["disability_card", "social_security_card"])
    assert sorted(record["number"] for record in both) == ["CJR-000101", "SSC-0001"]
    assert county.client.certificate_lookup(resident_id(), ["disability_card"]) == []


def test_a_valid_reference_routes_and_bad_ones_park_the_case_with_the_reason(hub, county):
    holder, other = resident_id(), resident_id()
    issue_card(hub, county, holder, "CJR-000201")
    issue_card(hub, county, other, "CJR-000202")

    fine, answer = subsidy(county, holder, "CJR-000201")
    assert answer.status == "accepted" and answer.reason == "", answer
    detail = hub.api("cl-lan").get(f"/api/cases/{fine}").json()
    assert detail["status"] == "routed" and detail["certificates"] == [
        {"material": "disability_card", "number": "CJR-000201", "finding": "valid", "settled": ""}]

    # Each resident applies once (the same ID twice for one item is a duplicate application for an operator).
    for number, finding in (("CJR-000202", "not_holder"), ("CJR-999999", "unknown")):
        parked, answer = subsidy(county, resident_id(), number)
        assert (answer.status, answer.reason) == ("accepted", "certificate_parked"), answer
        assert f"disability_card={finding}" in answer.message
        detail = hub.api("cl-lan").get(f"/api/cases/{parked}").json()
        assert detail["status"] == "routed" and detail["certificates"][0]["finding"] == finding
    # Parked: no approval until the department settles it; the page says why and offers to go on.
    refused = hub.api("cl-lan").post(f"/api/cases/{parked}/decision", json={"decision": "approved"})
    assert refused.status_code == 409 and refused.json()["reason"] == "certificate_unsettled"
    page = hub.browser("cl-lan")
    shown = page.get(f"/cases/{parked}").text
    assert 'id="certificate-parked"' in shown and "CJR-999999" in shown
    assert f'action="/cases/{parked}/certificates/go-on"' in shown
    outsider = hub.browser("rs-huang")
    token = csrf_from(outsider.get("/queue").text)
    assert outsider.post(f"/cases/{parked}/certificates/go-on", data={"csrf_token": token}).status_code in (403, 404)
    went_on = page.post(f"/cases/{parked}/certificates/go-on", data={"csrf_token": csrf_from(shown)})
    assert went_on.status_code == 200 and 'id="certificate-parked"' not in went_on.text
    approve(hub, "cl-lan", parked)


def test_an_expired_certificate_parks_the_case(hub, county, clock):
    holder = resident_id()
    card_case, _ = push(county, SOCIAL_CARD, applicant={"name": "韦秀兰", "id_number": holder, "phone": ""},
                        form={"apply_type": "首次申领", "bank": "农村信用合作社"}, materials=["id_card", "photo"])
    approve(hub, "rs-huang", card_case, card_no="SSC-0301",
            valid_until=(county_date(utcnow()) + timedelta(days=2)).isoformat())
    assert [r["number"] for r in county.client.certificate_lookup(holder, ["social_security_card"])] == ["SSC-0301"]
    clock(5)
    assert county.client.certificate_lookup(holder, ["social_security_card"]) == [], "expired: not offered"
    case_id, answer = push(county, PENSION, applicant={"name": "韦秀兰", "id_number": holder, "phone": ""},
                           form={"start_month": county_date(utcnow()).isoformat()},
                           materials=["id_card", "hukou", "bank_card"],
                           certificates=[{"material": "bank_card", "cert_type": "social_security_card",
                                          "number": "SSC-0301"}])
    assert (answer.reason, "bank_card=expired" in answer.message) == ("certificate_parked", True), answer
    assert hub.api("rs-huang").get(f"/api/cases/{case_id}").json()["certificates"][0]["finding"] == "expired"


def test_revoking_is_audited_announced_to_points_and_parks_the_next_case(hub, county):
    holder = resident_id()
    issue_card(hub, county, holder, "CJR-000401")
    page = hub.browser("admin")
    shown = page.get("/certificates", params={"q": holder}).text
    assert "CJR-000401" in shown
    empty = page.post("/certificates/CJR-000401/revoke", data={"csrf_token": csrf_from(shown), "reason": ""})
    assert empty.status_code == 422
    revoked = page.post("/certificates/CJR-000401/revoke",
                        data={"csrf_token": csrf_from(shown), "reason": "残疾评定结论被依法撤销"})
    assert revoked.status_code == 200 and "残疾评定结论被依法撤销" in revoked.text, (revoked.url, revoked.text[-800:])
    with hub.db() as session:
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "certificate_revoked")).one()
        assert entry.subject == "CJR-000401" and entry.actor == "admin"
    messages, _ = county.pull_all()
    announced = [payload for envelope, payload in messages if envelope.header.kind == Kind.CERTIFICATE_REVOKED]
    assert announced and announced[0]["number"] == "CJR-000401"
    assert announced[0]["reason"] == "残疾评定结论被依法撤销"
    assert county.client.certificate_lookup(holder, ["disability_card"]) == []
    _, answer = subsidy(county, holder, "CJR-000401")
    assert answer.reason == "certificate_parked" and "disability_card=revoked" in answer.message
