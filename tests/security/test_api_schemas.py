"""schemathesis against both servers' OpenAPI documents, over real servers.

For every documented operation it generates valid and invalid requests: no
answer may be a 5xx, and every answer must match what its document promises
(a documented status, its content type, its body). The documents themselves
come from the routes (sync/kit/openapi.py); the last tests check that a route
cannot be left out and that a wrong method is answered 405 with Allow.
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from pydantic import BaseModel
from schemathesis import GenerationMode
from schemathesis.checks import FailureGroup, ServerError, not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, ignored_auth, response_headers_conformance,
                                               response_schema_conformance, status_code_conformance)

from tests.support.cluster import Cluster, wait_until

# What the documents promise: no 5xx; only documented statuses, content types, bodies and headers; and no
# operation that needs a token answers without one. Not checked: schemathesis's guesses about strictness
# (unknown query arguments are ignored here by design, and JSON strings with NUL are refused on purpose).
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance, ignored_auth]
# Derandomized: the same examples on every run, so a CI run is not red one day and green the next.
EXAMPLES = settings(max_examples=15, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


VILLAGE = "八达镇周邦村便民服务站"


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    with Cluster(tmp_path_factory.mktemp("schemathesis"), reuse_init=True, setup_in_process=True) as cluster:
        cluster.start_hub()
        cluster.add_reviewer("yb-li", "YB", "reviewer-pass-1")
        cluster.start_point(VILLAGE, "village", sync_interval=3600)
        yield cluster


@pytest.fixture(scope="module")
def case_id(running):
    """One real case, received at the point and synced to the hub, so that schemathesis reaches the answers
    about a case and not only the 404s of made-up ids."""
    point = running.points[VILLAGE]
    taken = point.take_case("韦秀兰", "45102719800101234")
    staff, admin = point.api("staff"), running.hub.api("admin")
    wait_until(lambda: staff.post("/api/sync").status_code == 200
               and admin.get(f"/api/cases/{taken}").status_code == 200,
               timeout=60, what="the case at the hub", interval=0.5)
    staff.close()
    admin.close()
    return taken


def bearer(url: str, username: str, password: str) -> dict[str, str]:
    answer = httpx.post(url + "/api/login", json={"username": username, "password": password}, timeout=30)
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def exercise(url: str, headers: dict[str, str], known: dict[str, str] | None = None) -> list[str]:
    """Run every operation of the server's OpenAPI document with valid and invalid inputs.

    ``known``: path parameter -> a real value (a case id) that valid inputs use half of the time.
    """
    schema = schemathesis.openapi.from_url(url + "/api/openapi.json")
    seen = []
    for result in schema.get_all_operations():
        operation = result.ok()
        seen.append(f"{operation.method.upper()} {operation.path}")
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)
            if mode is GenerationMode.POSITIVE and known:
                strategy = st.tuples(strategy, st.booleans()).map(lambda drawn: with_known(*drawn, known))

            @given(strategy)
            @EXAMPLES
            def answers_within_schema(case):
                case.call_and_validate(base_url=url, headers=headers, checks=CHECKS)

            try:
                answers_within_schema()
            except Unsatisfiable:
                # An operation with no inputs (GET /api/status) has nothing to make invalid.
                assert mode is GenerationMode.NEGATIVE, f"no valid input for {seen[-1]}"
    return seen


def with_known(case, use_known: bool, known: dict[str, str]):
    if use_known and case.path_parameters:
        case.path_parameters.update({name: value for name, value in known.items() if name in case.path_parameters})
    return case


def test_hub_api_answers_within_its_schema(running, case_id):
    hub = running.hub
    seen = exercise(hub.url, bearer(hub.url, "admin", hub.logins["admin"]), {"case_id": case_id})
    assert {"POST /api/login", "GET /api/queue", "GET /api/cases/{case_id}", "POST /api/cases/{case_id}/decision",
            "GET /api/supervision.csv", "GET /api/conflicts", "POST /api/points", "POST /sync/v1/enroll"} <= set(seen)


def test_point_api_answers_within_its_schema(running, case_id):
    point = running.points[VILLAGE]
    seen = exercise(point.url, bearer(point.url, "staff", point.logins["staff"]), {"case_id": case_id})
    assert {"POST /api/login", "POST /api/cases", "GET /api/cases/{case_id}", "POST /api/cases/{case_id}/pickup",
            "POST /api/cases/{case_id}/amend", "POST /api/cases/{case_id}/withdraw", "POST /api/sync"} <= set(seen)


def test_the_harness_catches_a_server_error_and_a_schema_break(live_server):
    from flask import Flask, jsonify

    app = Flask(__name__)
    document = {
        "openapi": "3.1.0", "info": {"title": "broken", "version": "1"},
        "paths": {
            "/api/boom": {"get": {"responses": {"200": {"description": "ok", "content": {
                "application/json": {"schema": {"type": "object"}}}}}}},
            "/api/shape": {"get": {"responses": {"200": {"description": "ok", "content": {"application/json": {
                "schema": {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}}}}}}},
        },
    }
    app.add_url_rule("/healthz", "healthz", lambda: {"ok": True})
    app.add_url_rule("/api/openapi.json", "openapi", lambda: jsonify(document))
    app.add_url_rule("/api/boom", "boom", lambda: ("internal", 500))
    app.add_url_rule("/api/shape", "shape", lambda: {"n": "not a number"})
    app.add_url_rule("/api/csv", "csv", lambda: ("a,b\n", 200, {"Content-Type": "text/csv"}))
    server = live_server(app)
    with pytest.raises(FailureGroup) as caught:
        exercise(server.url, {})
    assert any(isinstance(failure, ServerError) for failure in caught.value.exceptions)
    document["paths"].pop("/api/boom")
    with pytest.raises(FailureGroup) as caught:
        exercise(server.url, {})
    assert "schema" in " ".join(str(failure) for failure in caught.value.exceptions).lower()
    document["paths"].pop("/api/shape")
    document["paths"]["/api/csv"] = {"get": {"responses": {"204": {"description": "nothing"}}}}
    with pytest.raises(FailureGroup) as caught:
        exercise(server.url, {})
    assert "undocumented status code" in " ".join(str(failure) for failure in caught.value.exceptions).lower()


def test_every_api_route_is_documented_from_its_own_rule():
    from flask import Blueprint, Flask

    from sync.kit.openapi import UndeclaredRoutes, documented, openapi_document

    class Answer(BaseModel):
        ok: bool

    app = Flask(__name__)
    api = Blueprint("api", __name__, url_prefix="/api")

    @api.get("/things/<thing_id>/parts/<int:part>")
    @documented("One part of a thing", answer=Answer, errors={404: ("not_found",)})
    def part(thing_id: str, part: int):
        return {"ok": True}

    @api.post("/things")
    def make_thing():
        return {"ok": True}

    app.register_blueprint(api)
    with pytest.raises(UndeclaredRoutes) as refused:
        openapi_document(app, title="t", version="1", description="")
    assert refused.value.routes == ["POST /api/things"]

    make_thing.openapi_declaration = part.openapi_declaration
    document = openapi_document(app, title="t", version="1", description="")
    operation = document["paths"]["/api/things/{thing_id}/parts/{part}"]["get"]
    assert [(p["name"], p["schema"]["type"]) for p in operation["parameters"]] == [
        ("thing_id", "string"), ("part", "integer")]
    assert set(operation["responses"]) == {"200", "401", "404"}
    assert operation["responses"]["404"]["content"]["application/json"]["schema"]["properties"]["reason"] == {
        "enum": ["not_found"]}
    assert "head" not in document["paths"]["/api/things/{thing_id}/parts/{part}"]


@pytest.mark.parametrize("side", ["hub", "point"])
def test_an_undocumented_method_is_refused_405_with_the_allowed_ones(running, side):
    server = running.hub if side == "hub" else running.points[VILLAGE]
    document = httpx.get(server.url + "/api/openapi.json", timeout=30).json()
    # The JSON APIs; /healthz is a probe, not refused in JSON (and on the point a form post needs CSRF first).
    for path, operations in document["paths"].items():
        if not path.startswith(("/api/", "/sync/")):
            continue
        url = server.url + path.replace("{", "").replace("}", "")
        answer = httpx.request("DELETE", url, timeout=30)
        assert answer.status_code == 405, (path, answer.status_code)
        assert answer.headers["Content-Type"] == "application/json"
        allowed = {method.strip() for method in answer.headers["Allow"].split(",")}
        documented_methods = {method.upper() for method in operations}
        if "GET" in documented_methods:
            documented_methods.add("HEAD")
        assert allowed - {"OPTIONS"} == documented_methods, path
