"""Points the hub trusts: key rotation, revocation, token expiry, signed requests and clocks."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from click.testing import CliRunner
from tests.hub.hubkit import VILLAGE, csrf_from
from sqlmodel import select
from tests.hub.test_syncapi import signed_get

from hub.cli import main
from hub.core.clock import as_utc, utc_now
from hub.core.models import AuditEntry, Case, EnrollmentToken, OutMessage, Point
from sync.envelope import Envelope, Kind
from sync.client import HubClient
from sync.keys import Identity
from sync.clock import now_ms
from sync.rotation import point_keys_payload
from sync.kit.workdays import COUNTY_TIMEZONE


def test_a_point_rotates_its_keys_and_both_generations_are_accepted(hub):
    point = hub.enroll_point()
    old = point.identity
    signed_before = point.seal(Kind.SUBMIT, point.submit())
    new = Identity.generate()
    [rotated] = point.client.push([point.seal(Kind.POINT_KEYS, point_keys_payload(point.point_id, new))])
    assert rotated.status == "accepted", rotated
    [again] = point.client.push([point.seal(Kind.POINT_KEYS, point_keys_payload(point.point_id, new))])
    assert again.status == "rejected" and again.reason == "bad_signature", "a rotation must be signed by the current key"

    # Envelopes signed before the rotation may still arrive; they are accepted, and so are new ones.
    [late] = point.client.push([signed_before])
    assert late.status == "accepted", late
    point.identity = point.client.identity = new
    fresh = point.submit()
    [result] = point.client.push([point.seal(Kind.SUBMIT, fresh)])
    assert result.status == "accepted", result

    # Messages are sealed when they leave, so from now on to the new key, the ones queued before the
    # rotation too; a request signed by the old key still works.
    with hub.db() as session:
        queued = session.exec(select(OutMessage).order_by(OutMessage.seq)).all()
        listed = session.get(Point, point.point_id)
        assert listed.fingerprint == new.fingerprint
    assert [row.envelope for row in queued] == [None] * len(queued)
    pulled = [Envelope.parse(data) for data in point.client.pull(0).envelopes]
    assert len(pulled) == len(queued) >= 2
    assert fresh["case_id"] in [envelope.open(new.enc_key)["case_id"] for envelope in pulled]
    with httpx.Client() as client:
        assert client.send(signed_get(point, "/sync/v1/pull", "after=0", key=old.sign_key)).status_code == 200
    admin = hub.api("admin")
    [shown] = admin.get("/api/points").json()["points"]
    assert shown["fingerprint"] == new.fingerprint
    assert new.fingerprint in hub.browser("admin").get("/points").text


def test_a_revoked_point_is_refused_and_what_it_sent_before_stays(hub):
    point = hub.enroll_point()
    case_id = point.push_case()
    accepted_before = point.seal(Kind.SUBMIT, point.submit(), seq=1)
    queued = point.seal(Kind.SUBMIT, point.submit())
    with hub.db() as session:
        before = session.get(Case, case_id).status

    revoked = CliRunner().invoke(main, ["points", "revoke", VILLAGE, "--data", str(hub.data_dir)])
    assert revoked.exit_code == 0 and "revoked" in revoked.output, revoked.output
    again = CliRunner().invoke(main, ["points", "revoke", VILLAGE, "--data", str(hub.data_dir)])
    assert again.exit_code == 1 and "already revoked" in again.output

    for envelope in (queued, accepted_before):
        [result] = point.client.push([envelope])
        assert result.status == "rejected" and result.reason == "point_revoked", result
    with httpx.Client() as client:
        for path, query in (("/sync/v1/pull", "after=0"), ("/sync/v1/catalog", "")):
            response = client.send(signed_get(point, path, query))
            assert response.status_code == 403 and response.json()["reason"] == "point_revoked"
            assert response.json()["error"]
    with hub.db() as session:
        assert session.get(Case, case_id).status == before, "the case it sent before is unchanged"
        assert len(session.exec(select(Case)).all()) == 1, "nothing new was applied"
        assert session.exec(select(AuditEntry).where(AuditEntry.action == "point_revoked")).one().actor == "cli"
    listed = CliRunner().invoke(main, ["points", "list", "--data", str(hub.data_dir)]).output
    assert f"{VILLAGE}\tvillage\trevoked" in listed and "revoked 20" in listed


def test_revoking_on_the_points_page_is_admin_only_confirmed_and_csrf_protected(hub):
    point = hub.enroll_point()
    reviewer = hub.browser("yb-li")
    assert reviewer.get(f"/points/{point.point_id}/revoke").status_code == 403
    assert hub.api("yb-li").post(f"/api/points/{point.point_id}/revoke").status_code == 403

    admin = hub.browser("admin")
    page = admin.get("/points")
    assert f"/points/{point.point_id}/revoke" in page.text
    confirm = admin.get(f"/points/{point.point_id}/revoke")
    assert confirm.status_code == 200 and point.identity.fingerprint in confirm.text
    assert admin.post(f"/points/{point.point_id}/revoke", data={}).status_code == 400, "no CSRF token, no revoke"
    with hub.db() as session:
        assert session.get(Point, point.point_id).status == "active"
    done = admin.post(f"/points/{point.point_id}/revoke", data={"csrf_token": csrf_from(confirm.text)})
    assert done.status_code == 200 and str(done.url).endswith("/points")
    with hub.db() as session:
        assert session.get(Point, point.point_id).status == "revoked"
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "point_revoked")).one()
        assert entry.actor == "admin"
    assert hub.api("admin").post(f"/api/points/{point.point_id}/revoke").json()["reason"] == "already_revoked"


def on_county_clock(moment: str) -> str:
    """How staff pages show a time: on the county's clock (UTC+8), to the minute."""
    return datetime.fromisoformat(moment).astimezone(COUNTY_TIMEZONE).strftime("%Y-%m-%d %H:%M")


def test_token_lifetime_is_chosen_per_point_and_pending_points_show_it(hub):
    added = CliRunner().invoke(main, ["points", "add", "短期村", "--level", "village", "--expires-hours", "2",
                                      "--data", str(hub.data_dir)])
    assert added.exit_code == 0, added.output
    with hub.db() as session:
        row = session.exec(select(EnrollmentToken)).one()
        assert abs(as_utc(row.expires_at) - (utc_now() + timedelta(hours=2))) < timedelta(minutes=1)
    listed = CliRunner().invoke(main, ["points", "list", "--data", str(hub.data_dir)]).output
    assert "短期村\tvillage\tpending\t-\t-\ttoken expires 20" in listed
    too_long = CliRunner().invoke(main, ["points", "add", "x", "--level", "village", "--expires-hours", "0",
                                         "--data", str(hub.data_dir)])
    assert too_long.exit_code == 2
    admin = hub.api("admin")
    response = admin.post("/api/points", json={"name": "长期村", "level": "village", "expires_hours": 721})
    assert response.status_code == 422 and "expires_hours" in response.json()["fields"]
    created = admin.post("/api/points", json={"name": "长期村", "level": "village", "expires_hours": 1})
    assert created.status_code == 201
    page = hub.browser("admin").get("/points").text
    assert "长期村" in page and on_county_clock(created.json()["expires_at"]) in page


def test_a_stale_request_is_refused_with_the_hub_time_and_the_client_resigns(hub):
    point = hub.enroll_point()
    with httpx.Client() as client:
        stale = client.send(signed_get(point, "/sync/v1/pull", "after=0", clock_ms=now_ms() - 366 * 86_400_000))
        assert stale.status_code == 401 and stale.json()["reason"] == "stale"
        assert abs(int(stale.headers["X-Pointkit-Hub-Time"]) - now_ms()) < 60_000
        for refused in (client.post(hub.url + "/sync/v1/push", content=b"x"),
                        client.get(hub.url + "/sync/v1/nowhere")):
            assert refused.status_code in (404, 415) and "X-Pointkit-Hub-Time" in refused.headers
    # A laptop a year behind: refused once as stale, then signed again on the hub's clock.
    with HubClient(hub.url, point_id=point.point_id, identity=point.identity, attempts=1,
                   clock_offset_ms=-366 * 86_400_000) as late:
        assert late.pull(0).cursor == 0


def test_a_point_cannot_pull_another_points_messages(hub):
    village = hub.enroll_point()
    other = hub.enroll_point("八达镇政务服务中心", "township")
    other.push_case()
    with httpx.Client() as client:
        posing = client.send(signed_get(village, "/sync/v1/pull", "after=0", point_id=other.point_id))
        assert posing.status_code == 401 and posing.json()["reason"] == "bad_signature"
        asking = client.send(signed_get(village, "/sync/v1/pull", f"after=0&point={other.point_id}"))
        assert asking.status_code == 403 and asking.json()["reason"] == "wrong_point"
        own = client.send(signed_get(village, "/sync/v1/pull", "after=0"))
        assert own.status_code == 204, "the village has no messages; the township's are not served to it"
    assert len(other.client.pull(0).envelopes) == 1
