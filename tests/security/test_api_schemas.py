"""schemathesis against both servers' OpenAPI documents, over real servers.

For every documented operation it generates valid and invalid requests: no
answer may be a 5xx, and every answer must match the schema its document
promises (status, content type, body).
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import FailureGroup, ServerError, not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from tests.support.cluster import Cluster

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
EXAMPLES = settings(max_examples=15, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    with Cluster(tmp_path_factory.mktemp("schemathesis")) as cluster:
        cluster.start_hub()
        cluster.add_reviewer("yb-li", "YB", "reviewer-pass-1")
        cluster.start_point("泗城镇平兰村便民服务站", "village", sync_interval=3600)
        yield cluster


def bearer(url: str, username: str, password: str) -> dict[str, str]:
    answer = httpx.post(url + "/api/login", json={"username": username, "password": password}, timeout=30)
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def exercise(url: str, headers: dict[str, str]) -> list[str]:
    """Run every operation of the server's OpenAPI document with valid and invalid inputs."""
    schema = schemathesis.openapi.from_url(url + "/api/openapi.json")
    seen = []
    for result in schema.get_all_operations():
        operation = result.ok()
        seen.append(f"{operation.method.upper()} {operation.path}")
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(operation.as_strategy(generation_mode=mode))
            @EXAMPLES
            def answers_within_schema(case):
                case.call_and_validate(base_url=url, headers=headers, checks=CHECKS)

            try:
                answers_within_schema()
            except Unsatisfiable:
                # An operation with no inputs (GET /api/queue) has nothing to make invalid.
                assert mode is GenerationMode.NEGATIVE, f"no valid input for {seen[-1]}"
    return seen


def test_hub_api_answers_within_its_schema(running):
    hub = running.hub
    seen = exercise(hub.url, bearer(hub.url, "admin", hub.logins["admin"]))
    assert {"POST /api/login", "GET /api/queue", "POST /api/cases/{case_id}/decision", "POST /api/points"} <= set(seen)


def test_point_api_answers_within_its_schema(running):
    point = running.points["泗城镇平兰村便民服务站"]
    seen = exercise(point.url, bearer(point.url, "staff", point.logins["staff"]))
    assert {"POST /api/login", "POST /api/cases", "POST /api/cases/{case_id}/pickup", "POST /api/sync"} <= set(seen)


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
    server = live_server(app)
    with pytest.raises(FailureGroup) as caught:
        exercise(server.url, {})
    assert any(isinstance(failure, ServerError) for failure in caught.value.exceptions)
    document["paths"].pop("/api/boom")
    with pytest.raises(FailureGroup) as caught:
        exercise(server.url, {})
    assert "schema" in " ".join(str(failure) for failure in caught.value.exceptions).lower()
