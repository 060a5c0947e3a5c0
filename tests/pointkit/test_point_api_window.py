"""The point API does what the window's pages do: find items by pinyin, issue one-time notices, send 补正."""

from __future__ import annotations

import httpx
import pytest
from tests.pointkit.hubside import GOOD_CASE, GOOD_ID, rows

from pointkit.models import AuditEntry, Case, OneTimeNotice, ScanFile
from pointkit.scans import scans_dir
from sync.envelope import Kind
from sync.clock import utcnow


def codes(api: httpx.Client, query: str | None) -> list[str]:
    answer = api.get("/api/items", params={} if query is None else {"q": query})
    assert answer.status_code == 200, answer.text
    return [item["code"] for item in answer.json()["items"]]


def test_items_are_found_by_code_name_pinyin_and_initials(api):
    assert codes(api, None) == codes(api, "") == ["T-001", "T-002"]
    assert codes(api, "zjdsp") == ["T-002"], "pinyin initials of 宅基地审批"
    assert codes(api, "Zhai Ji") == ["T-002"], "full pinyin, spaces and case ignored"
    assert codes(api, "测试") == ["T-001"] and codes(api, "homestead") == ["T-002"]
    assert codes(api, "t-00") == ["T-001", "T-002"] and codes(api, "T-002") == ["T-002"]
    assert codes(api, "qqqq") == []
    spec = api.get("/api/openapi.json").json()["paths"]
    assert [p["name"] for p in spec["/api/items"]["get"]["parameters"]] == ["q"]
    assert {"/api/notices", "/api/cases/{case_id}/supplement"} <= set(spec)


def test_a_one_time_notice_is_issued_only_for_missing_materials(point, api):
    incomplete = {**GOOD_CASE, "materials": ["id_card"]}
    issued = api.post("/api/notices", json=incomplete)
    assert issued.status_code == 201, issued.text
    notice = issued.json()
    assert notice["notice_no"].startswith("GZ-") and notice["item_code"] == "T-001"
    assert [m["code"] for m in notice["missing"]] == ["hukou"] and notice["missing"][0]["name_zh"] == "户口簿"
    assert notice["print_url"] == f"/notices/{notice['notice_id']}"
    [stored] = rows(point.data_dir, OneTimeNotice)
    assert stored.notice_no == notice["notice_no"] and stored.id_number == GOOD_ID
    assert [e.action for e in rows(point.data_dir, AuditEntry)][-1] == "notice_issued"

    complete = api.post("/api/notices", json=GOOD_CASE)
    assert (complete.status_code, complete.json()["reason"]) == (409, "nothing_missing")
    bad_id = api.post("/api/notices", json={**incomplete, "applicant": {"name": "王小明", "id_number": "123"}})
    assert (bad_id.status_code, bad_id.json()["reason"]) == (422, "invalid_input")
    assert "applicant.id_number" in bad_id.json()["fields"]
    elsewhere = api.post("/api/notices", json={**incomplete, "item_code": "T-002", "form": {}})
    assert elsewhere.status_code == 422 and elsewhere.json()["levels"] == ["township", "county"]
    assert api.post("/api/notices", json={**incomplete, "item_code": "NOPE"}).status_code == 404
    assert len(rows(point.data_dir, OneTimeNotice)) == 1 and rows(point.data_dir, Case) == []


@pytest.fixture
def waiting_case(point, api) -> str:
    """A received case for which the department asked for the household register again."""
    case_id = api.post("/api/cases", json=GOOD_CASE).json()["case_id"]
    point.apply(point.seal(Kind.SUPPLEMENT_REQUEST, {
        "case_id": case_id, "department": "MZ", "materials": ["hukou"], "note": "户口簿复印件不清晰",
        "requested_at": utcnow().isoformat()}))
    return case_id


def test_a_supplement_is_sent_over_the_api(point, api, waiting_case):
    url = f"/api/cases/{waiting_case}/supplement"
    before = {path.name for path in scans_dir(point.data_dir).glob("*")}
    nothing = api.post(url, data={"note": "x"})
    assert (nothing.status_code, nothing.json()["reason"]) == (422, "scans_required")
    stray = api.post(url, data={"scan_materials": "id_card"}, files={"scans": ("id.pdf", b"%PDF-1.4 id card")})
    assert (stray.status_code, stray.json()["reason"]) == (422, "unknown_material")
    assert {path.name for path in scans_dir(point.data_dir).glob("*")} == before, "refused scans leave no file"
    assert api.post("/api/cases/" + "0" * 36 + "/supplement", files={"scans": ("a.pdf", b"%PDF")}).status_code == 404

    sent = api.post(url, data={"note": "已重新复印", "scan_materials": "hukou"},
                    files={"scans": ("hukou.pdf", b"%PDF-1.4 household register")})
    assert sent.status_code == 202, sent.text
    assert sent.json()["status"] == "supplemented" and sent.json()["case_id"] == waiting_case
    [envelope] = [row for row in point.outbox() if row.kind == Kind.SUPPLEMENT]
    payload = point.open_outbox(envelope)
    assert payload["materials"] == ["hukou"] and payload["note"] == "已重新复印"
    assert [scan["name"] for scan in payload["scans"]] == ["hukou.pdf"]
    assert [f.case_id for f in rows(point.data_dir, ScanFile)] == [waiting_case]
    again = api.post(url, files={"scans": ("hukou.pdf", b"%PDF")})
    assert (again.status_code, again.json()["reason"]) == (409, "not_waiting")
