"""Hub key generations: rotation announced to points, old generations still open, purge, the PQ option."""

from __future__ import annotations

import sqlite3

import pytest
from click.testing import CliRunner
from tests.hub.hubkit import VILLAGE, FakePoint, make_hub
from sqlmodel import select

from hub.cli import main
from hub.trust.enrollment import create_enrollment_token
from hub.core.models import Case, HubKey
from sync.envelope import Envelope, EnvelopeError, Kind
from sync.client import HubRefused
from sync.keys import Identity, RecipientKey, Suite
from sync.rotation import read_hub_keys


def cli(*args: str, ok: bool = True):
    result = CliRunner().invoke(main, list(args))
    if ok:
        assert result.exit_code == 0, result.output
    return result


def test_rotation_announces_the_new_keys_and_old_envelopes_still_open(hub):
    point = hub.enroll_point()
    first_case = point.submit()
    sealed_to_old = point.seal(Kind.SUBMIT, first_case)

    rotated = cli("keys", "rotate", "--data", str(hub.data_dir))
    new_identity = Identity.load(hub.data_dir / "keys", "hub")
    assert new_identity.fingerprint != hub.identity.fingerprint
    assert f"New fingerprint: {new_identity.fingerprint}" in rotated.output
    assert Identity.load(hub.data_dir / "keys", "hub-g1").fingerprint == hub.identity.fingerprint

    # An envelope sealed to generation 1 before the point heard of the rotation still opens.
    [result] = point.client.push([sealed_to_old])
    assert result.status == "accepted", result

    # The announcement comes first and verifies with the key the point pinned at enrollment;
    # what follows (the status of the case just pushed) is signed by the new key.
    announcement, status = [Envelope.parse(data) for data in point.client.pull(0).envelopes]
    assert announcement.header.kind == Kind.HUB_KEYS and status.header.kind == Kind.STATUS
    announcement.verify(hub.identity.sign_key.public_key())
    hub_keys, sign_public, recipients = read_hub_keys(announcement.open(point.identity.enc_key))
    assert hub_keys.generation == 2 and sign_public == new_identity.sign_public
    assert recipients == new_identity.recipient_keys()
    status.verify(new_identity.sign_key.public_key())

    # The point seals to the new key from then on; results are signed by it.
    second = point.submit()
    [result] = point.client.push([point.seal(Kind.SUBMIT, second, recipient=recipients[0])])
    assert result.status == "accepted", result
    decided = hub.api("yb-li").post(f"/api/cases/{second['case_id']}/decision", json={"decision": "approved"})
    assert decided.status_code == 200, decided.text
    pulled = point.client.pull(2)
    [result_envelope] = [Envelope.parse(data) for data in pulled.envelopes
                         if Envelope.parse(data).header.kind == Kind.RESULT]
    result_envelope.verify(new_identity.sign_key.public_key())
    with pytest.raises(EnvelopeError):
        result_envelope.verify(hub.identity.sign_key.public_key())
    signed = result_envelope.open(point.identity.enc_key)
    point.hub_keys = new_identity.public()
    assert point.verify_result(signed)["case_id"] == second["case_id"]

    listed = cli("keys", "list", "--data", str(hub.data_dir)).output.splitlines()
    assert listed[0].startswith(f"1\t{hub.identity.fingerprint}\tX25519_CHACHA\tcreated ")
    assert listed[0].endswith("held") and listed[1].endswith("current")


def test_a_point_enrolling_after_rotation_gets_the_new_keys_and_old_tokens_are_superseded(hub):
    old_token = hub.token("旧村")
    cli("keys", "rotate", "--data", str(hub.data_dir))
    current = Identity.load(hub.data_dir / "keys", "hub")
    with hub.db() as session:
        token = create_enrollment_token(session, name=VILLAGE, level="village", identity=current).token
    point = FakePoint(hub, VILLAGE, "village", token)
    assert point.enrollment["generation"] == 2
    assert point.enrollment["hub"]["fingerprint"] == current.fingerprint
    assert point.recipient == current.recipient_keys()[0]
    with pytest.raises(HubRefused) as refused:
        FakePoint(hub, "旧村", "village", old_token)
    assert refused.value.reason == "token_superseded" and "ask the admin for a new one" in str(refused.value)


def test_a_purged_generation_no_longer_opens_anything(hub):
    point = hub.enroll_point()
    sealed_to_old = point.seal(Kind.SUBMIT, point.submit())
    cli("keys", "rotate", "--data", str(hub.data_dir))

    refused = cli("keys", "purge", "2", "--data", str(hub.data_dir), ok=False)
    assert refused.exit_code == 1 and "current key" in refused.output
    cli("keys", "purge", "1", "--data", str(hub.data_dir))
    assert not (hub.data_dir / "keys" / "hub-g1-enc.pem").exists()
    again = cli("keys", "purge", "1", "--data", str(hub.data_dir), ok=False)
    assert again.exit_code == 1 and "already purged" in again.output

    [result] = point.client.push([sealed_to_old])
    assert result.status == "rejected" and result.reason == "unknown_key"
    assert "no longer holds" in result.message
    with hub.db() as session:
        assert session.exec(select(Case)).all() == [], "nothing was applied"
        purged = session.get(HubKey, 1)
        assert purged.purged_at is not None
    assert "purged" in cli("keys", "list", "--data", str(hub.data_dir)).output.splitlines()[0]


def test_pq_hub_prefers_the_hybrid_suite_and_opens_it(tmp_path, live_server):
    hub = make_hub(tmp_path / "hub", post_quantum=True).serve(live_server)
    try:
        point = hub.enroll_point()
        recipients = [RecipientKey.from_json(item) for item in point.enrollment["recipients"]]
        assert [key.suite for key in recipients] == [Suite.MLKEM768_X25519_CHACHA, Suite.X25519_CHACHA]
        assert point.enrollment["generation"] == 1
        sealed = point.seal(Kind.SUBMIT, point.submit())
        assert Envelope.parse(sealed).header.suite == Suite.MLKEM768_X25519_CHACHA
        [result] = point.client.push([sealed])
        assert result.status == "accepted", result
        # Without --no-pq a rotation keeps the hybrid key; with it, the new generation is X25519 only.
        cli("keys", "rotate", "--data", str(hub.data_dir))
        cli("keys", "rotate", "--no-pq", "--data", str(hub.data_dir))
        listed = cli("keys", "list", "--data", str(hub.data_dir)).output.splitlines()
        assert [line.split("\t")[2] for line in listed] == [
            "MLKEM768_X25519_CHACHA, X25519_CHACHA", "MLKEM768_X25519_CHACHA, X25519_CHACHA", "X25519_CHACHA"]
        assert not (hub.data_dir / "keys" / "hub-mlkem.seed").exists()
    finally:
        hub.close()


@pytest.mark.sqlite_only  # hubs from before key generations were SQLite files
def test_a_hub_from_before_generations_keeps_its_key_as_generation_1(tmp_path):
    from hub.core.db import database_url, make_engine, session_scope
    from hub.migrate import init_db
    from hub.instance import initialize
    from hub.trust.keys import ensure_keys

    data = tmp_path / "hub"
    done = initialize(data, admin_password="admin-pass-1")
    # What an issue-2 hub held: hub-*.pem only, no generation rows.
    for path in (data / "keys").glob("hub-g1-*"):
        path.unlink()
    with sqlite3.connect(data / "hub.db") as db:
        db.execute("delete from hubkey")
    engine = make_engine(database_url(data))
    init_db(engine)
    with session_scope(engine) as session:
        keyring = ensure_keys(session, data)
    engine.dispose()
    assert keyring.generation == 1 and keyring.fingerprint == done.fingerprint
    assert Identity.load(data / "keys", "hub-g1").fingerprint == done.fingerprint
    listed = cli("keys", "list", "--data", str(data)).output
    assert listed.startswith(f"1\t{done.fingerprint}\t")
