"""The staff JSON API: login, roles, and 4xx JSON (never a 500, nothing stored) for bad input."""

from __future__ import annotations

from sqlmodel import func, select

from hub.core.models import ApiToken, CaseEvent, EnrollmentToken, Point, ReviewTask
from tests.hub.hubkit import valid_id

COUNTED = (ApiToken, EnrollmentToken, Point, ReviewTask, CaseEvent)


def counts(hub) -> dict[str, int]:
    with hub.db() as session:
        return {model.__name__: session.exec(select(func.count()).select_from(model)).one() for model in COUNTED}


def test_login_answers_the_contract(hub):
    client = hub.http()
    answer = client.post("/api/login", json={"username": "yb-li", "password": "reviewer-pass"}).json()
    assert set(answer) == {"token", "username", "role", "department"}
    assert (answer["username"], answer["role"], answer["department"]) == ("yb-li", "reviewer", "YB")
    wrong = client.post("/api/login", json={"username": "yb-li", "password": "nope"})
    assert wrong.status_code == 401 and wrong.json()["reason"] == "bad_credentials"
    assert client.get("/api/queue", headers={"Authorization": "Bearer " + answer["token"] + "x"}).status_code == 401


BAD_INPUTS = [
    ("/api/login", None, 400, "invalid_json"),
    ("/api/login", [], 400, "invalid_json"),
    ("/api/login", {"username": "admin"}, 422, "invalid_input"),
    ("/api/login", {"username": "a" * 500, "password": "x"}, 422, "invalid_input"),
    ("/api/points", {"name": "新村", "level": "county"}, 422, "invalid_input"),
    ("/api/points", {"name": "", "level": "village"}, 422, "invalid_input"),
    ("/api/points", {"name": "新村", "level": "village", "extra": 1}, 422, "invalid_input"),
    ("/api/cases/no-such-case/decision", {"decision": "approved"}, 404, "not_found"),
    ("/api/cases/x/decision", {"decision": "maybe"}, 422, "invalid_input"),
    ("/api/nowhere", {}, 404, "not_found"),
]


def test_bad_input_gets_a_json_4xx_and_stores_nothing(hub):
    admin = hub.api("admin")
    before = counts(hub)
    for path, body, status, reason in BAD_INPUTS:
        if body is None:
            response = admin.post(path, content=b"{not json", headers={"Content-Type": "application/json"})
        else:
            response = admin.post(path, json=body)
        assert response.status_code == status, (path, body, response.text)
        answer = response.json()
        assert answer["reason"] == reason and answer["error"], (path, body)
        if reason == "invalid_input":
            assert answer["fields"], (path, body)
    assert counts(hub) == before


def test_wrong_method_and_missing_token_are_json_too(hub):
    client = hub.http()
    assert client.delete("/api/queue").json()["reason"] == "method_not_allowed"
    assert client.get("/api/points").json()["reason"] == "unauthorized"
    assert client.get("/api/cases/whatever").status_code == 401


def test_points_are_admin_only_and_a_new_point_gets_a_token(hub):
    reviewer = hub.api("yb-li")
    assert reviewer.get("/api/points").status_code == 403
    assert reviewer.post("/api/points", json={"name": "新村", "level": "village"}).status_code == 403
    admin = hub.api("admin")
    created = admin.post("/api/points", json={"name": "新村", "level": "village"})
    assert created.status_code == 201
    body = created.json()
    assert set(body) == {"name", "level", "token", "expires_at"}
    assert body["token"].endswith("." + hub.identity.fingerprint[:16])
    [listed] = admin.get("/api/points").json()["points"]
    assert listed["name"] == "新村" and listed["status"] == "pending" and listed["enrolled_at"] is None
    assert set(listed) == {"point_id", "name", "level", "status", "fingerprint", "enrolled_at", "last_contact",
                           "revoked_at", "token_expires_at"}
    assert listed["token_expires_at"] == body["expires_at"]
    # A second token for a still-pending point is fine; an enrolled name is refused.
    assert admin.post("/api/points", json={"name": "新村", "level": "village"}).status_code == 201
    hub.enroll_point("已注册村")
    taken = admin.post("/api/points", json={"name": "已注册村", "level": "village"})
    assert taken.status_code == 409 and taken.json()["reason"] == "point_exists"


def test_case_detail_has_the_contract_fields(hub):
    point = hub.enroll_point()
    id_number = valid_id()
    case_id = point.push_case(applicant={"name": "韦秀兰", "id_number": id_number, "phone": "13807761234"})
    detail = hub.api("yb-li").get(f"/api/cases/{case_id}").json()
    for key in ("case_id", "receipt_no", "item_code", "item_name", "point_name", "status", "received_at",
                "promised_date", "applicant", "form", "materials", "tasks", "events", "result"):
        assert key in detail, key
    assert detail["applicant"] == {"name": "韦秀兰", "id_number": id_number, "phone": "13807761234"}
    assert set(detail["tasks"][0]) >= {"department", "stage", "status", "decided_by", "reason"}
    assert set(detail["events"][0]) == {"at", "actor", "action", "note"}
    assert detail["result"] is None


def test_openapi_describes_the_api_without_auth(hub):
    document = hub.http().get("/api/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert {"/api/login", "/api/queue", "/api/cases/{case_id}", "/api/cases/{case_id}/decision",
            "/api/points"} <= set(document["paths"])
    assert "DecisionRequest" in document["components"]["schemas"]
    assert hub.http().get("/healthz").json() == {"ok": True}
