"""Hub messages are verified before they touch a case; pickup checks code, ID digits and signature."""

from __future__ import annotations

import json
import uuid

import pytest
from hubside import GOOD_ID, rows, valid_form, point  # noqa: F401  (fixture)

from pointkit import db
from pointkit.intake import Applicant, receive_case
from pointkit.models import Case, InboxMessage
from pointkit.pickup import PickupError, collect
from pointkit.state import get_state
from sync import Identity, Kind


def receive(point):
    with db.session_scope(point.data_dir) as session:
        return receive_case(session, "staff", "T-001", Applicant("王小明", GOOD_ID), valid_form(),
                            ["id_card", "hukou"], identity=point.point_identity)


def load(point, case_id) -> Case:
    with db.session_scope(point.data_dir) as session:
        return session.get(Case, case_id)


def pick_up(point, key, code, last4):
    with db.session_scope(point.data_dir) as session:
        return collect(session, "staff", key, code, last4, identity=point.point_identity)


def test_result_is_applied_once_and_cursor_advances(point):
    case, _ = receive(point)
    message = point.result_message(case)
    report = point.apply(message)
    assert (report.applied, report.errors) == (1, [])
    stored = load(point, case.id)
    assert (stored.status, stored.decision) == ("result_ready", "approved")
    assert json.loads(stored.result_document)["certificate_no"] == "MZ-2026-0001"
    assert point.apply(message).skipped == 1
    with db.session_scope(point.data_dir) as session:
        assert get_state(session).pull_cursor == point.hub_seq


def test_status_update_is_recorded(point):
    case, _ = receive(point)
    point.apply(point.seal(Kind.STATUS, {"case_id": case.id, "status": "in_review",
                                         "at": "2026-01-06T09:00:00+00:00"}))
    stored = load(point, case.id)
    assert (stored.hub_status, stored.status) == ("in_review", "acked")


@pytest.mark.parametrize("forge", ["document", "envelope", "sender", "tampered", "other_point"])
def test_unverifiable_results_are_refused_and_skipped(point, forge):
    case, _ = receive(point)
    impostor = Identity.generate()
    if forge == "document":
        message = point.result_message(case, doc_signer=impostor)
    elif forge == "envelope":
        message = point.seal(Kind.RESULT, {"document": {}, "signature": ""}, signer=impostor)
    elif forge == "sender":
        message = point.seal(Kind.RESULT, {"document": {}, "signature": ""}, sender_id=uuid.uuid4())
    elif forge == "tampered":
        from sync import sign_document

        signed = sign_document(point.result_document(case, "rejected"), point.hub.sign_key)
        signed["document"]["decision"] = "approved"
        message = point.seal(Kind.RESULT, signed)
    else:
        document = {**point.result_document(case), "point_id": str(uuid.uuid4())}
        message = point.result_message(case, document=document)
    good_status = point.seal(Kind.STATUS, {"case_id": case.id, "status": "routed", "at": "2026-01-06T09:00:00Z"})
    report = point.apply(message, good_status)
    assert report.applied == 1 and len(report.errors) == 1
    stored = load(point, case.id)
    assert stored.status == "acked" and stored.result_document == ""
    assert [m.outcome for m in rows(point.data_dir, InboxMessage)] == ["refused", "applied"]
    with db.session_scope(point.data_dir) as session:
        assert get_state(session).pull_cursor == point.hub_seq


def test_pickup_needs_code_and_last4_and_seals_collected(point):
    case, code = receive(point)
    with pytest.raises(PickupError) as early:
        pick_up(point, case.receipt_no, code, GOOD_ID[-4:])
    assert early.value.reason == "not_ready"
    point.apply(point.result_message(case))
    wrong_code = "000000" if code != "000000" else "111111"
    for attempt in ((wrong_code, GOOD_ID[-4:]), (code, "1234")):
        with pytest.raises(PickupError) as refused:
            pick_up(point, case.receipt_no, *attempt)
        assert refused.value.reason == "wrong_pickup_code"
    assert load(point, case.id).status == "result_ready"
    collected, signed = pick_up(point, case.receipt_no, code, GOOD_ID[-4:].lower())
    assert collected.status == "collected" and signed["document"]["decision"] == "approved"
    last = point.outbox()[-1]
    assert (last.kind, last.seq) == (Kind.COLLECTED, 2)
    assert point.open_outbox(last)["case_id"] == case.id
    with pytest.raises(PickupError) as again:
        pick_up(point, case.id, code, GOOD_ID[-4:])
    assert again.value.reason == "not_ready"


def test_tampered_stored_result_is_not_handed_over(point):
    case, code = receive(point)
    point.apply(point.result_message(case, "rejected"))
    with db.session_scope(point.data_dir) as session:
        stored = session.get(Case, case.id)
        document = json.loads(stored.result_document)
        document["decision"] = "approved"
        stored.result_document = json.dumps(document)
        session.add(stored)
    with pytest.raises(PickupError) as refused:
        pick_up(point, case.receipt_no, code, GOOD_ID[-4:])
    assert refused.value.reason == "result_invalid"
    assert load(point, case.id).status == "result_ready"
    assert len(point.outbox()) == 1
