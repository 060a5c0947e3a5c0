"""Keys and trust at the point: sealing suites, hub key rotation, point key rotation, revocation, clock offset.

The hub's half runs at the transport seam (hubside.FakeHubSide.transport): it
verifies and opens what the point pushes the way the hub does, with keys the
test holds.
"""

from __future__ import annotations

import uuid

import pytest
from click.testing import CliRunner
from tests.pointkit.hubside import GOOD_ID, catalog_document, rows, valid_form

from pointkit import create_app, db
from pointkit.auth import create_staff
from pointkit.catalog import store_catalog
from pointkit.cli import main
from pointkit.enrollment import EnrollmentError, record_enrollment
from pointkit.intake import Applicant, receive_case
from pointkit.models import AuditEntry, Case, HubKey, InboxMessage, Outbox
from pointkit.state import get_state, load_identity
from pointkit.syncagent import sync_once
from pointkit.trust import opening_keys
from sync.envelope import Envelope, Kind, seal_envelope
from sync.keys import Identity, Suite
from sync.signing import sign_document
from sync.envelope import HUB_SENDER_ID
from sync.rotation import hub_keys_payload, read_point_keys


def receive(point) -> Case:
    with db.session_scope(point.data_dir) as session:
        case, _code = receive_case(session, "staff", "T-001", Applicant("王小明", GOOD_ID), valid_form(),
                                   ["id_card", "hukou"], identity=load_identity(point.data_dir))
    return case


def state_of(point):
    with db.session_scope(point.data_dir) as session:
        return get_state(session)


def enroll_with(tmp_path, hub: Identity, **extra):
    response = {"point_id": str(uuid.uuid4()), "name": "古障村便民服务站", "level": "village",
                "hub": {**hub.public().to_json(), "fingerprint": hub.fingerprint}, **extra}
    data = tmp_path / "pq-point"
    record_enrollment(data, identity=Identity.generate(), response=response, token="t." + hub.fingerprint[:16],
                      hub_url="http://127.0.0.1:9")
    return data


def test_envelopes_are_sealed_to_the_hubs_preferred_suite(tmp_path):
    hub = Identity.generate(post_quantum=True)
    data = enroll_with(tmp_path, hub, recipients=[key.to_json() for key in hub.recipient_keys()], generation=1)
    with db.session_scope(data) as session:
        store_catalog(session, get_state(session), sign_document(catalog_document(), hub.sign_key))
        receive_case(session, "staff", "T-001", Applicant("王小明", GOOD_ID), valid_form(), ["id_card", "hukou"],
                     identity=load_identity(data))
    (row,) = [row for row in rows(data, Outbox)]
    envelope = Envelope.parse(row.envelope)
    assert envelope.header.suite == Suite.MLKEM768_X25519_CHACHA
    assert envelope.open(hub)["applicant"]["id_number"] == GOOD_ID
    with pytest.raises(Exception):
        envelope.open(hub.enc_key)  # the X25519 key alone does not open a hybrid envelope
    db.dispose(data)


def test_enrollment_without_recipients_seals_to_x25519_and_refuses_unbound_recipients(tmp_path, point):
    case = receive(point)
    envelope = Envelope.parse(point.outbox()[0].envelope)
    assert envelope.header.suite == Suite.X25519_CHACHA and point.open_outbox(point.outbox()[0])["case_id"] == case.id
    hub, stranger = Identity.generate(post_quantum=True), Identity.generate(post_quantum=True)
    with pytest.raises(EnrollmentError, match="fingerprinted X25519 key"):
        enroll_with(tmp_path, hub, recipients=[stranger.recipient_keys()[0].to_json()])
    assert not (tmp_path / "pq-point" / "point.db").exists()


def test_hub_key_rotation_is_trusted_only_when_a_trusted_key_signs_it(point):
    case = receive(point)
    new_hub = Identity.generate(post_quantum=True)
    impostor = Identity.generate(post_quantum=True)
    forged = point.seal(Kind.HUB_KEYS, hub_keys_payload(impostor, 2), signer=impostor)
    proof_forged = point.seal(Kind.HUB_KEYS, {**hub_keys_payload(new_hub, 2),
                                              "proof": hub_keys_payload(impostor, 2)["proof"]})
    report = point.apply(forged, proof_forged)
    assert report.applied == 0 and len(report.errors) == 2
    assert state_of(point).hub_generation == 1 and len(rows(point.data_dir, HubKey)) == 1

    old_hub = point.hub
    announcement = point.seal(Kind.HUB_KEYS, hub_keys_payload(new_hub, 2))  # signed with the old key
    assert point.apply(announcement).applied == 1
    state = state_of(point)
    assert state.hub_generation == 2 and state.hub_fingerprint == new_hub.fingerprint
    assert len(rows(point.data_dir, HubKey)) == 2
    assert point.apply(announcement).skipped == 1

    # The envelope queued before the rotation stays sealed to the old key; new ones go to the new hybrid key.
    first = Envelope.parse(point.outbox()[0].envelope)
    assert first.open(old_hub)["case_id"] == case.id
    receive(point)
    latest = Envelope.parse(point.outbox()[-1].envelope)
    assert latest.header.suite == Suite.MLKEM768_X25519_CHACHA
    assert latest.header.recipient_key_id == new_hub.recipient_keys()[0].key_id
    assert latest.open(new_hub)["item_code"] == "T-001"

    # Messages signed by either trusted key verify: the old one may still be on its way.
    point.retired_hubs.append(old_hub)
    point.hub = new_hub
    assert point.apply(point.result_message(case, doc_signer=old_hub)).applied == 1
    with db.session_scope(point.data_dir) as session:
        assert session.get(Case, case.id).status == "result_ready"
    actions = [entry.action for entry in rows(point.data_dir, AuditEntry)]
    assert "hub_keys_applied" in actions and "result_applied" in actions


def test_point_key_rotation_switches_only_after_the_hubs_ack(point):
    old = load_identity(point.data_dir)
    point.point_sign_keys.append(old.sign_public)
    result = CliRunner().invoke(main, ["keys", "rotate", "--data", str(point.data_dir)])
    assert result.exit_code == 0, result.output
    assert "acknowledges" in result.output
    again = CliRunner().invoke(main, ["keys", "rotate", "--data", str(point.data_dir)])
    assert again.exit_code == 1 and "already waiting" in again.stderr

    (row,) = point.outbox()
    assert row.kind == Kind.POINT_KEYS
    envelope = Envelope.parse(row.envelope)
    envelope.verify(old.sign_key.public_key())  # signed with the current key
    announced = read_point_keys(envelope.open(point.hub), point.point_id())
    assert load_identity(point.data_dir).sign_public == old.sign_public, "no switch before the ack"
    assert state_of(point).pending_key_envelope_id == row.envelope_id

    case = receive(point)
    Envelope.parse(point.outbox()[-1].envelope).verify(old.sign_key.public_key())
    # A hub message sealed to the old key before the rotation, pulled in the same round as the ack.
    early = seal_envelope(kind=Kind.STATUS, payload={"case_id": case.id, "status": "routed",
                                                     "at": "2026-01-06T09:00:00+00:00"},
                          sender_id=HUB_SENDER_ID, seq=1, sender_key=point.hub.sign_key,
                          recipient_key=old.enc_key.public_key()).to_bytes()
    report = sync_once(point.data_dir, transport=point.transport([early]))
    assert (report.accepted, report.applied, report.errors) == (2, 1, [])

    new = load_identity(point.data_dir)
    assert (new.sign_public, new.enc_public) == (announced.sign_public, announced.enc_public)
    state = state_of(point)
    assert (state.pending_key_envelope_id, state.pending_key_prefix) == ("", "")
    assert {old.enc_key_id, new.enc_key_id} <= set(opening_keys(point.data_dir))
    actions = [entry.action for entry in rows(point.data_dir, AuditEntry)]
    assert actions.index("keys_rotate_requested") < actions.index("keys_switched")

    # From now on the point signs with the new key (the hub learnt it from the announcement).
    receive(point)
    Envelope.parse(point.outbox()[-1].envelope).verify(new.sign_key.public_key())
    assert sync_once(point.data_dir, transport=point.transport()).accepted == 1


def test_a_revoked_point_keeps_its_queue_and_says_so(point):
    receive(point)
    point.revoked = True
    report = sync_once(point.data_dir, transport=point.transport())
    assert report.revoked and report.rejected == 0
    assert [row.state for row in point.outbox()] == ["queued"]
    assert rows(point.data_dir, Case)[0].status == "queued"
    state = state_of(point)
    assert state.revoked and "revoked" in state.last_error
    assert sync_once(point.data_dir, transport=point.transport()).revoked, "still revoked, still queued"
    assert [row.state for row in point.outbox()] == ["queued"]
    assert [entry.action for entry in rows(point.data_dir, AuditEntry)].count("point_revoked") == 1

    with db.session_scope(point.data_dir) as session:
        create_staff(session, "staff", "window-pass-1")
    client = create_app(point.data_dir, test_config={"TESTING": True}).test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
    client.post("/login", data={"username": "staff", "password": "window-pass-1", "csrf_token": csrf})
    sync_page = client.get("/sync").get_data(as_text=True)
    assert "本服务点已被县中心停用（吊销），请联系县信息中心" in sync_page and 'id="revoked-banner"' in sync_page
    english = client.get("/sync?lang=en").get_data(as_text=True)
    assert "This point has been revoked by the county hub; contact county IT." in english

    point.revoked = False
    report = sync_once(point.data_dir, transport=point.transport())
    assert report.accepted == 1 and not state_of(point).revoked


def test_a_signed_request_refused_as_revoked_marks_the_point(point):
    point.revoked = True
    report = sync_once(point.data_dir, transport=point.transport())
    assert report.revoked and state_of(point).revoked


def test_clock_offset_is_kept_and_shown(point):
    sync_once(point.data_dir, transport=point.transport())
    with db.session_scope(point.data_dir) as session:
        state = get_state(session)
        state.clock_offset_ms = -366 * 86400 * 1000
        session.add(state)
        create_staff(session, "staff", "window-pass-1")
    client = create_app(point.data_dir, test_config={"TESTING": True}).test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
    client.post("/login", data={"username": "staff", "password": "window-pass-1", "csrf_token": csrf})
    sync_page = client.get("/sync").get_data(as_text=True)
    assert "本机时钟与县中心相差" in sync_page and "-31622400秒" in sync_page and "请校准本机时钟" in sync_page
    assert "县中心密钥版本" in sync_page and state_of(point).hub_fingerprint in sync_page


def test_hub_message_refusals_are_recorded_not_applied(point):
    bogus = point.seal(Kind.HUB_KEYS, {"type": "pointkit.hubkeys/v1", "generation": 5})
    report = point.apply(bogus)
    assert report.applied == 0 and "not valid" in report.errors[0]
    assert [m.outcome for m in rows(point.data_dir, InboxMessage)] == ["refused"]
    assert state_of(point).hub_generation == 1
