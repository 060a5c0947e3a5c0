"""The JSON API over a real waitress server: contract shapes, 4xx reasons, nothing stored on bad input."""

from __future__ import annotations

import json
from datetime import date, timedelta

import httpx
import pytest
from tests.pointkit.hubside import GOOD_CASE, GOOD_ID, ITEMS, catalog_document, rows

from pointkit import db
from pointkit.catalog import store_catalog
from pointkit.models import Case, Outbox
from pointkit.state import get_state
from sync.envelope import Kind
from sync.signing import sign_document
from sync.clock import utcnow
from sync.kit.workdays import county_date, default_calendar


def test_login_and_auth(point, api):
    with httpx.Client(base_url=str(api.base_url)) as anonymous:
        check_login_and_auth(anonymous)


def check_login_and_auth(anonymous: httpx.Client) -> None:
    assert anonymous.get("/healthz").json() == {"ok": True}
    bad = anonymous.post("/api/login", json={"username": "staff", "password": "nope"})
    assert (bad.status_code, bad.json()["reason"]) == (401, "bad_credentials")
    assert anonymous.post("/api/login", content=b"not json").status_code == 400
    assert anonymous.get("/api/cases").json()["reason"] == "unauthorized"
    assert anonymous.get("/api/cases", headers={"Authorization": "Bearer forged"}).status_code == 401
    good = anonymous.post("/api/login", json={"username": "staff", "password": "window-pass-1"}).json()
    assert (good["username"], good["role"]) == ("staff", "staff") and len(good["token"]) > 30
    spec = anonymous.get("/api/openapi.json").json()
    assert {"/api/login", "/api/cases", "/api/cases/{case_id}/pickup", "/api/status"} <= set(spec["paths"])
    assert "CaseCreate" in spec["components"]["schemas"]


def test_items_say_what_is_accepted_here(api):
    body = api.get("/api/items").json()
    assert body["catalog_version"] == 1
    by_code = {item["code"]: item for item in body["items"]}
    assert by_code["T-001"]["accepted_here"] and not by_code["T-002"]["accepted_here"]
    assert by_code["T-001"]["materials"][0]["code"] == "id_card"
    assert {"name", "type", "required"} <= set(by_code["T-001"]["fields"][0])


def test_case_round_trip(point, api):
    created = api.post("/api/cases", json=GOOD_CASE)
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == {"case_id", "receipt_no", "pickup_code", "promised_date", "status", "calendar_missing"}
    assert body["status"] == "queued" and len(body["pickup_code"]) == 6
    listed = api.get("/api/cases").json()["cases"]
    assert [c["receipt_no"] for c in listed] == [body["receipt_no"]]
    assert api.get("/api/cases", params={"status": "collected"}).json()["cases"] == []
    assert api.get("/api/cases", params={"status": "bogus"}).status_code == 422
    detail = api.get(f"/api/cases/{body['case_id']}").json()
    assert detail["applicant"]["id_number"] == GOOD_ID and detail["result"] is None
    assert detail["form"]["category"] == "普通居民" and detail["materials"] == ["id_card", "hukou"]
    assert api.get("/api/cases/nope").status_code == 404


def test_the_receipt_answer_warns_of_a_year_without_a_holiday_calendar(point, api):
    """POST /api/cases says what the receipt says: the promised date counts weekends only in such a year."""
    long_item = {**ITEMS[0], "code": "LONG-1", "promised_days": 365, "legal_days": 365}
    with db.session_scope(point.data_dir) as session:
        store_catalog(session, get_state(session),
                      sign_document(catalog_document(2, [*ITEMS, long_item]), point.hub.sign_key))
    body = api.post("/api/cases", json={**GOOD_CASE, "item_code": "LONG-1"}).json()
    promised = date.fromisoformat(body["promised_date"])
    expected = default_calendar().missing_years(county_date(utcnow()), promised)
    assert expected and body["calendar_missing"] == expected, "365 working days on run into a year with no file"
    assert api.post("/api/cases", json=GOOD_CASE).json()["calendar_missing"] == default_calendar().missing_years(
        county_date(utcnow()), default_calendar().add_working_days(county_date(utcnow()), ITEMS[0]["promised_days"]))


def test_a_case_answers_the_hubs_dates_over_the_printed_one(point, api):
    case_id = api.post("/api/cases", json=GOOD_CASE).json()["case_id"]
    printed = date.fromisoformat(api.get(f"/api/cases/{case_id}").json()["promised_date"])
    assert api.get(f"/api/cases/{case_id}").json()["current_promised_date"] == printed.isoformat()
    moved = printed + timedelta(days=7)
    point.apply(point.seal(Kind.STATUS, {"case_id": case_id, "status": "supplemented", "state": "in_review",
                                         "at": utcnow().isoformat(), "promised_date": moved.isoformat(),
                                         "legal_date": (moved + timedelta(days=9)).isoformat(), "paused_days": 5}))
    [listed] = api.get("/api/cases").json()["cases"]
    assert (listed["promised_date"], listed["current_promised_date"]) == (printed.isoformat(), moved.isoformat())
    assert (listed["hub_status"], listed["paused_days"], listed["clock_paused"]) == ("in_review", 5, False)
    assert listed["legal_date"] == (moved + timedelta(days=9)).isoformat()


@pytest.mark.parametrize("mutate, status, reason", [
    (lambda c: {**c, "item_code": "NOPE"}, 404, "unknown_item"),
    (lambda c: {**c, "item_code": "T-002", "form": {}, "materials": []}, 422, "not_accepted_here"),
    (lambda c: {**c, "materials": ["id_card"]}, 422, "materials_missing"),
    (lambda c: {**c, "applicant": {**c["applicant"], "id_number": "110105194912310021"}}, 422, "invalid_input"),
    (lambda c: {**c, "applicant": {**c["applicant"], "name": ""}}, 422, "invalid_input"),
    (lambda c: {**c, "form": {**c["form"], "household_size": "many"}}, 422, "invalid_input"),
    (lambda c: {**c, "form": {**c["form"], "category": ["nested"]}}, 422, "invalid_input"),
    (lambda c: {**c, "materials": "id_card"}, 422, "invalid_input"),
    (lambda c: {k: v for k, v in c.items() if k != "applicant"}, 422, "invalid_input"),
    (lambda c: {**c, "extra": 1}, 422, "invalid_input"),
    (lambda c: [c], 400, "invalid_json"),
])
def test_bad_case_input_is_a_4xx_and_stores_nothing(point, api, mutate, status, reason):
    response = api.post("/api/cases", json=mutate(GOOD_CASE))
    assert response.status_code == status, response.text
    body = response.json()
    assert body["reason"] == reason and body["error"]
    if reason == "materials_missing":
        assert body["missing"] == ["户口簿"]
    if reason == "invalid_input" and "fields" in body:
        assert body["fields"]
    assert rows(point.data_dir, Case) == [] and rows(point.data_dir, Outbox) == []


def test_garbage_bodies_never_500(point, api):
    for content in (b"", b"{", b"\xff\xfe", b"null", json.dumps({"item_code": 5}).encode()):
        response = api.post("/api/cases", content=content, headers={"Content-Type": "application/json"})
        assert 400 <= response.status_code < 500
    assert rows(point.data_dir, Case) == []


def test_pickup_over_the_api(point, api):
    body = api.post("/api/cases", json=GOOD_CASE).json()
    url = f"/api/cases/{body['case_id']}/pickup"
    right = {"pickup_code": body["pickup_code"], "id_last4": GOOD_ID[-4:]}
    assert api.post(url, json=right).json()["reason"] == "not_ready"
    with db.session_scope(point.data_dir) as session:
        case = session.get(Case, body["case_id"])
    point.apply(point.result_message(case))
    wrong = api.post(url, json={**right, "id_last4": "0000"})
    assert (wrong.status_code, wrong.json()["reason"]) == (403, "wrong_pickup_code")
    assert api.post(url, json={"pickup_code": ""}).status_code == 422
    done = api.post(url, json=right)
    assert done.status_code == 200, done.text
    result = done.json()
    assert result["status"] == "collected" and result["result"]["document"]["decision"] == "approved"
    assert result["receipt_no"] == body["receipt_no"] and result["result"]["signature"]
    assert api.post(url, json=right).status_code == 409


def test_tampered_result_is_409(point, api):
    body = api.post("/api/cases", json=GOOD_CASE).json()
    with db.session_scope(point.data_dir) as session:
        case = session.get(Case, body["case_id"])
    point.apply(point.result_message(case, "rejected"))
    with db.session_scope(point.data_dir) as session:
        stored = session.get(Case, body["case_id"])
        stored.result_document = stored.result_document.replace("rejected", "approved")
        session.add(stored)
    response = api.post(f"/api/cases/{body['case_id']}/pickup",
                        json={"pickup_code": body["pickup_code"], "id_last4": GOOD_ID[-4:]})
    assert (response.status_code, response.json()["reason"]) == (409, "result_invalid")


def test_sync_with_hub_down_is_503_and_status_goes_offline(point, api):
    api.post("/api/cases", json=GOOD_CASE)
    response = api.post("/api/sync")
    assert (response.status_code, response.json()["reason"]) == (503, "hub_unreachable")
    status = api.get("/api/status").json()
    assert status["online"] is False and status["queued"] == 1 and status["quarantined"] == 0
    assert "county hub" in status["last_error"]
    assert status["level"] == "village" and status["catalog_version"] == 1
    assert set(status) == {"point_id", "name", "level", "online", "queued", "quarantined", "last_sync_at",
                           "last_error", "catalog_version", "clock_offset_ms", "revoked", "hub_generation",
                           "hub_fingerprint", "sealing_suite", "key_rotation_pending", "scans_waiting",
                           "scan_bytes_waiting", "metered", "stuck_steps", "catalog_received", "catalog_total"}
    assert status["stuck_steps"] == {"push": "cannot connect to the county hub (no network, or the hub is down)"}
