"""Signed pull and catalog requests: replay, staleness, strangers; cursors and hub time."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlmodel import select

from hub.core.models import OutMessage, Point
from sync.client import HubRefused
from sync.keys import Identity
from sync.clock import now_ms
from sync.signing import sign_request, verify_document
from sync.catalog import CatalogFile
from sync.messages import CATALOG_DOCUMENT_TYPE


def signed_get(point, path: str, query: str = "", *, key=None, clock_ms=None, point_id=None) -> httpx.Request:
    headers = sign_request(method="GET", path=path, query=query, body=b"",
                           point_id=str(point_id or point.point_id), key=key or point.identity.sign_key,
                           clock_ms=clock_ms)
    return httpx.Request("GET", f"{point.hub.url}{path}{'?' + query if query else ''}", headers=headers)


def test_a_replayed_pull_is_refused(hub):
    point = hub.enroll_point()
    request = signed_get(point, "/sync/v1/pull", "after=0")
    with httpx.Client() as client:
        first = client.send(request)
        assert first.status_code == 204 and first.headers["X-Pointkit-Cursor"] == "0"
        assert abs(int(first.headers["X-Pointkit-Hub-Time"]) - now_ms()) < 60_000
        replay = client.send(request)
    assert replay.status_code == 401 and replay.json()["reason"] == "replayed"


def test_pulls_that_do_not_prove_a_known_point_are_refused(hub):
    point = hub.enroll_point()
    requests = {
        "stale": signed_get(point, "/sync/v1/pull", "after=0", clock_ms=now_ms() - 3_600_000),
        "bad_signature": signed_get(point, "/sync/v1/pull", "after=0", key=Identity.generate().sign_key),
        "unknown_point": signed_get(point, "/sync/v1/pull", "after=0", point_id=uuid.uuid4()),
        "unsigned": httpx.Request("GET", hub.url + "/sync/v1/pull?after=0"),
    }
    with httpx.Client() as client:
        for problem, request in requests.items():
            response = client.send(request)
            assert response.status_code == 401 and response.json()["reason"] == problem, problem


def test_a_signature_for_one_query_does_not_cover_another(hub):
    point = hub.enroll_point()
    request = signed_get(point, "/sync/v1/pull", "after=0")
    tampered = httpx.Request("GET", hub.url + "/sync/v1/pull?after=5", headers=request.headers)
    with httpx.Client() as client:
        assert client.send(tampered).json()["reason"] == "bad_signature"


def test_bad_cursor_is_a_400(hub):
    point = hub.enroll_point()
    with httpx.Client() as client:
        response = client.send(signed_get(point, "/sync/v1/pull", "after=-1"))
    assert response.status_code == 400 and response.json()["reason"] == "bad_cursor"


def test_pull_pages_by_cursor(hub):
    point = hub.enroll_point()
    for _ in range(3):
        point.push_case()
    first = point.client.pull(0)
    assert first.cursor == 3 and len(first.envelopes) == 3
    assert point.client.pull(2).cursor == 3 and len(point.client.pull(2).envelopes) == 1
    assert point.client.pull(3).envelopes == []


def test_a_message_is_sealed_when_it_first_leaves_and_sent_the_same_way_after(hub):
    point = hub.enroll_point()
    case_id = point.push_case()
    with hub.db() as session:
        [queued] = session.exec(select(OutMessage)).all()
    assert queued.envelope is None and queued.payload["case_id"] == case_id and queued.signer == 1
    first = point.client.pull(0).envelopes
    assert point.client.pull(0).envelopes == first, "sealed once, then sent byte for byte"
    with hub.db() as session:
        assert session.exec(select(OutMessage.envelope)).one() == first[0]
    [(envelope, status)] = [point.open(data) for data in first]
    assert envelope.header.seq == 1 and status["case_id"] == case_id and status["status"] == "routed"


def test_catalog_is_the_signed_current_version(hub):
    point = hub.enroll_point()
    signed = point.client.catalog()
    document = verify_document(signed, point.hub_keys.verifier())
    assert document["type"] == CATALOG_DOCUMENT_TYPE and document["version"] == 1 and document["issued_at"]
    parsed = CatalogFile.model_validate({"departments": document["departments"], "items": document["items"]})
    assert {d.code for d in parsed.departments} >= {"YB", "NY", "ZR"}


def test_a_point_that_has_the_current_catalog_gets_204(hub):
    point = hub.enroll_point()
    assert point.client.catalog(have=1) is None
    assert verify_document(point.client.catalog(have=0), point.hub_keys.verifier())["version"] == 1


def test_revoked_points_cannot_pull(hub):
    point = hub.enroll_point()
    with hub.db() as session:
        row = session.get(Point, point.point_id)
        row.status = "revoked"
        session.add(row)
    with pytest.raises(HubRefused) as refused:
        point.client.pull(0)
    assert refused.value.status == 403 and refused.value.reason == "point_revoked"

