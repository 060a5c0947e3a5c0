"""Enrollment: one-time token bound to name and hub fingerprint, proof of possession."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlmodel import select

from hub.core.models import EnrollmentToken, Point
from tests.hub.hubkit import VILLAGE, FakePoint
from sync.client import HubClient, HubRefused
from sync.keys import Identity
from sync.signing import sign_document


def test_good_token_enrolls_and_pins_the_hub_keys(hub):
    token = hub.token()
    point = FakePoint(hub, VILLAGE, "village", token)
    answer = point.enrollment
    assert answer["name"] == VILLAGE and answer["level"] == "village"
    assert answer["hub"]["fingerprint"] == hub.identity.fingerprint
    assert token.endswith("." + hub.identity.fingerprint[:16])
    assert point.hub_keys.fingerprint == hub.identity.fingerprint
    assert isinstance(answer["hub_time_ms"], int)
    with hub.db() as session:
        row = session.get(Point, point.point_id)
        assert row.status == "active" and row.fingerprint == point.identity.fingerprint
        tokens = session.exec(select(EnrollmentToken)).all()
        assert [t.used_at is not None for t in tokens] == [True]
        assert token not in {t.token_hash for t in tokens}, "only the token's hash is stored"


def test_a_token_works_once(hub):
    token = hub.token()
    FakePoint(hub, VILLAGE, "village", token)
    with pytest.raises(HubRefused) as refused:
        FakePoint(hub, VILLAGE, "village", token)
    assert refused.value.reason == "token_used" and refused.value.status == 403


def test_unknown_and_expired_tokens_are_refused(hub):
    with pytest.raises(HubRefused) as unknown:
        FakePoint(hub, VILLAGE, "village", "made-up." + hub.identity.fingerprint[:16])
    assert unknown.value.reason == "token_unknown"

    token = hub.token()
    with hub.db() as session:
        for row in session.exec(select(EnrollmentToken)).all():
            row.expires_at = row.created_at - timedelta(seconds=1)
            session.add(row)
    with pytest.raises(HubRefused) as expired:
        FakePoint(hub, VILLAGE, "village", token)
    assert expired.value.reason == "token_expired"


def test_name_must_match_the_token(hub):
    token = hub.token(VILLAGE)
    with pytest.raises(HubRefused) as refused:
        FakePoint(hub, "另一个村", "village", token)
    assert refused.value.reason == "name_mismatch"


def test_proof_must_be_made_with_the_presented_key(hub):
    token = hub.token()
    keys, impostor = Identity.generate(), Identity.generate()
    claim = {"token": token, "name": VILLAGE, **keys.public().to_json()}
    proof = sign_document(claim, impostor.sign_key)["signature"]
    response = httpx.post(hub.url + "/sync/v1/enroll", json={**claim, "proof": proof})
    assert response.status_code == 403 and response.json()["reason"] == "bad_proof"
    with hub.db() as session:
        assert session.exec(select(Point)).one().status == "pending", "a failed proof changes nothing"
    # The token still works for the real point afterwards.
    with HubClient(hub.url, attempts=1) as client:
        assert client.enroll(token=token, name=VILLAGE, identity=keys)["name"] == VILLAGE


def test_bad_enroll_bodies_get_json_errors(hub):
    assert httpx.post(hub.url + "/sync/v1/enroll", content=b"nope").json()["reason"] == "invalid_json"
    response = httpx.post(hub.url + "/sync/v1/enroll", json={"token": "x"})
    assert response.status_code == 422 and "proof" in response.json()["fields"]
