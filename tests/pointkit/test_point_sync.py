"""The sync agent against a real hub on loopback: enroll, push, pull results, quarantine, pickup."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from tests.pointkit.hubside import GOOD_ID, rows
from pointkit import db
from pointkit.enrollment import EnrollmentError, enroll, record_enrollment
from pointkit.intake import Applicant, receive_case
from pointkit.models import Case, Outbox
from pointkit.outbox import seal_into_outbox
from pointkit.pickup import collect
from pointkit.state import get_state, load_identity
from pointkit.syncagent import sync_once
from sync.keys import Identity
from sync.envelope import Kind

hub_pkg = pytest.importorskip("hub.web")
from hub.trust.accounts import create_staff
from hub.catalog.versions import import_catalog, load_catalog_file
from hub.core.db import database_url, make_engine, session_scope
from hub.trust.enrollment import create_enrollment_token
from hub.instance import initialize
from hub.trust.keys import load_identity as load_hub_identity

SAMPLE_CATALOG = Path(__file__).resolve().parents[2] / "hub" / "data" / "sample_catalog.json"
VILLAGE = "周邦村便民服务站"
MEDICAL_INSURANCE = "451030-YB-001"


@pytest.fixture
def hub(tmp_path, live_server):
    data = tmp_path / "hub"
    initialize(data, admin_user="admin", admin_password="hub-admin-pass")
    engine = make_engine(database_url(data))
    identity = load_hub_identity(data)
    with session_scope(engine) as session:
        import_catalog(session, load_catalog_file(SAMPLE_CATALOG), identity=identity)
        create_staff(session, username="yb-li", password="reviewer-pass", role="reviewer", department_code="YB")
    app = hub_pkg.create_app(data, test_config={"TESTING": True})
    server = live_server(app)

    def token(name: str = VILLAGE, level: str = "village") -> str:
        with session_scope(engine) as session:
            return create_enrollment_token(session, name=name, level=level, identity=identity).token

    yield server.url, token
    app.extensions["hub_engine"].dispose()
    engine.dispose()


def receive(data_dir, item=MEDICAL_INSURANCE):
    with db.session_scope(data_dir) as session:
        return receive_case(session, "staff", item, Applicant("韦秀兰", GOOD_ID, "13807761234"),
                            {"insured_category": "普通居民"}, ["id_card", "hukou"], identity=load_identity(data_dir))


def test_the_loop_with_a_real_hub(tmp_path, hub):
    url, token = hub
    data = tmp_path / "point"
    enrolled = enroll(data, hub_url=url, token=token(), name="")
    assert enrolled.name == VILLAGE and enrolled.level == "village" and enrolled.catalog_version >= 1
    with pytest.raises(EnrollmentError, match="already holds"):
        enroll(data, hub_url=url, token="unused." + "0" * 16, name="")

    case, pickup_code = receive(data)
    report = sync_once(data)
    assert (report.pushed, report.accepted, report.errors) == (1, 1, [])
    assert rows(data, Case)[0].status == "acked" and rows(data, Outbox)[0].state == "acked"

    with httpx.Client(base_url=url) as desk:
        login = desk.post("/api/login", json={"username": "yb-li", "password": "reviewer-pass"}).json()
        decided = desk.post(f"/api/cases/{case.id}/decision", headers={"Authorization": f"Bearer {login['token']}"},
                            json={"decision": "approved", "reason": "", "certificate_no": "YB-2026-000001"})
        assert decided.status_code == 200, decided.text

    report = sync_once(data)
    assert report.applied >= 1 and report.errors == []
    (stored,) = rows(data, Case)
    assert (stored.status, stored.decision) == ("result_ready", "approved")
    with db.session_scope(data) as session:
        collected, signed = collect(session, "staff", stored.receipt_no, pickup_code, GOOD_ID[-4:],
                                    identity=load_identity(data))
        assert signed["document"]["certificate_no"] == "YB-2026-000001"
        state = get_state(session)
        assert state.online and state.last_sync_at and state.pull_cursor >= 2
    assert sync_once(data).accepted == 1  # the COLLECTED envelope
    assert {row.state for row in rows(data, Outbox)} == {"acked"}


def test_a_rejected_envelope_is_quarantined_and_the_rest_flow(tmp_path, hub):
    url, token = hub
    data = tmp_path / "point"
    enroll(data, hub_url=url, token=token(), name=VILLAGE)
    with db.session_scope(data) as session:
        bogus = {"case_id": "not-a-case", "receipt_no": "X-1", "item_code": MEDICAL_INSURANCE,
                 "applicant": {"name": "某某", "id_number": GOOD_ID}, "surprise": True}
        seal_into_outbox(session, get_state(session), load_identity(data), kind=Kind.SUBMIT, payload=bogus)
    good, _code = receive(data)
    report = sync_once(data)
    assert (report.pushed, report.accepted, report.rejected) == (2, 1, 1)
    bad_row, good_row = rows(data, Outbox)
    assert (bad_row.state, bad_row.reason) == ("quarantined", "invalid_payload")
    assert good_row.state == "acked"
    assert sync_once(data).pushed == 0, "quarantined envelopes are not re-sent every round"


def test_enrollment_refuses_a_name_mismatch_and_an_unknown_token(tmp_path, hub):
    url, token = hub
    with pytest.raises(EnrollmentError, match="different point name"):
        enroll(tmp_path / "a", hub_url=url, token=token(), name="另一个村")
    with pytest.raises(EnrollmentError):
        enroll(tmp_path / "b", hub_url=url, token="nosuchsecret." + "0" * 16, name="")


def test_keys_not_matching_the_token_are_never_pinned(tmp_path):
    hub, impostor = Identity.generate(), Identity.generate()
    response = {"point_id": str(uuid.uuid4()), "name": VILLAGE, "level": "village",
                "hub": {**impostor.public().to_json(), "fingerprint": hub.fingerprint}}
    with pytest.raises(EnrollmentError, match="refusing to trust"):
        record_enrollment(tmp_path / "p", identity=Identity.generate(), response=response,
                          token="secret." + hub.fingerprint[:16], hub_url="http://127.0.0.1:9")
    assert not (tmp_path / "p" / "point.db").exists() and not (tmp_path / "p" / "keys").exists()
