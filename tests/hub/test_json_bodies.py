"""Every JSON body either server reads refuses hostile input with a 4xx and a reason, never a 500.

Each POST or PATCH under /api/ and /sync/v1/ of the hub and of a point (found in the apps' URL maps, so a
new endpoint is covered the day it is added) gets bodies nested 100,000 deep, over the size limit, with
NUL characters, unpaired surrogates, NaN and numbers of thousands of digits, signed in as the admin or the
window staff so the body is what gets judged.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from pointkit import create_app as create_point_app
from pointkit import db as point_db
from pointkit.auth import create_staff
from pointkit.enrollment import enroll

HOSTILE_BODIES = {
    "nested 100,000 deep": b"[" * 100_000 + b"]" * 100_000,
    "a field nested 5,000 deep": b'{"username": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
    "over the size limit": b'{"username": "' + b"x" * (2 * 1024 * 1024) + b'"}',
    # Shaped as a login, so that on the code before these checks the text reached the database.
    "a NUL character": b'{"username": "a\\u0000", "password": "b\\u0000"}',
    "an unpaired surrogate": b'{"username": "\\ud800", "password": "\\udfff"}',
    "NaN": b'{"username": NaN, "expires_hours": Infinity}',
    "5,000 digits": b'{"expires_hours": 1' + b"0" * 5_000 + b"}",
    "400 digits": b'{"expires_hours": 1' + b"0" * 400 + b', "score": -1' + b"0" * 400 + b"}",
}


def json_endpoints(app) -> list[tuple[str, str]]:
    """(method, path) of each rule of ``app`` that takes a body (POST or PATCH) under /api/ and /sync/v1/,
    its variables filled in."""
    endpoints = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/api/", "/sync/v1/")):
            path = rule.rule.replace("<int:", "<").replace("<", "{").replace(">", "}").format(
                **{name: str(uuid.uuid4()) for name in rule.arguments})
            endpoints.extend((method, path) for method in sorted({"POST", "PATCH"} & set(rule.methods)))
    return endpoints


# Endpoints that take no body: a hostile one is ignored (the point's "sync now").
IGNORE_BODIES = {"/api/sync"}


def assert_all_refused(url: str, endpoints: list[tuple[str, str]], token: str) -> None:
    with httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Bearer {token}"}) as client:
        for method, path in endpoints:
            for what, body in HOSTILE_BODIES.items():
                answer = client.request(method, path, content=body, headers={"Content-Type": "application/json"})
                refused = path in IGNORE_BODIES or 400 <= answer.status_code < 500
                assert refused and answer.status_code < 500, (method, path, what, answer.status_code, answer.text[:300])
                if answer.status_code >= 400:
                    assert answer.json()["reason"], (method, path, what, answer.text[:300])


def test_the_hubs_json_bodies_refuse_hostile_input(hub):
    endpoints = json_endpoints(hub.app)
    assert {("POST", "/api/login"), ("POST", "/sync/v1/enroll"), ("POST", "/api/points")} <= set(endpoints)
    token = hub.api("admin").headers["Authorization"].split()[1]
    assert_all_refused(hub.url, endpoints, token)
    deep = httpx.post(hub.url + "/api/login", content=HOSTILE_BODIES["nested 100,000 deep"],
                      headers={"Content-Type": "application/json"})
    assert (deep.status_code, deep.json()["reason"]) == (400, "too_deep") and "send a plain JSON" in deep.text
    large = httpx.post(hub.url + "/api/login", content=HOSTILE_BODIES["over the size limit"],
                       headers={"Content-Type": "application/json"})
    assert (large.status_code, large.json()["reason"]) == (413, "too_large")


@pytest.fixture
def point_server(hub, tmp_path, live_server):
    data = tmp_path / "point"
    enroll(data, hub_url=hub.url, token=hub.token("八达镇土黄村便民服务站"))
    with point_db.session_scope(data) as session:
        create_staff(session, "staff", "window-pass-1")
    app = create_point_app(data, test_config={"TESTING": True})
    yield app, live_server(app).url
    point_db.dispose(data)


def test_the_points_json_bodies_refuse_hostile_input(point_server):
    app, url = point_server
    endpoints = json_endpoints(app)
    assert {("POST", "/api/login"), ("POST", "/api/cases"), ("POST", "/api/notices")} <= set(endpoints)
    token = httpx.post(url + "/api/login", json={"username": "staff", "password": "window-pass-1"}).json()["token"]
    assert_all_refused(url, endpoints, token)
    # The case of a multipart intake is JSON too.
    for body in HOSTILE_BODIES.values():
        answer = httpx.post(url + "/api/cases", data={"case": body.decode("ascii")},
                            files=[("scans", ("a.pdf", b"%PDF-1.4"))], headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code in (400, 413, 422) and answer.json()["reason"], answer.text[:300]
