"""Hub messages are verified before they touch a case; pickup checks code, ID digits and signature."""

from __future__ import annotations

import json
import uuid

import pytest
from tests.pointkit.hubside import GOOD_ID, OTHER_ID, rows, valid_form

from pointkit import db
from pointkit.audit import verify as verify_audit
from pointkit.intake import Applicant, point_code, receive_case
from pointkit.models import AuditEntry, Case, InboxMessage
from pointkit.pickup import PickupError, collect, collect_by_id_number
from pointkit.restored import take_hub_numbers
from pointkit.state import get_state
from sync.envelope import Envelope, Kind
from sync.keys import Identity


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
        from sync.signing import sign_document

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


def restored_receipt(point, number: int) -> str:
    """One of this point's receipt numbers its restored database does not hold."""
    with db.session_scope(point.data_dir) as session:
        return f"20260105-{point_code(get_state(session).point_id)}-{number:04d}"


def test_a_restored_point_asks_once_for_the_cases_behind_the_numbers_it_skipped(point):
    """The hub holds envelopes 1-7 from this point; the restored point's own numbers stop at 2: it numbers on
    from 8 and asks for the cases of 2-7 in one request, sealed and signed like any intent."""
    receive(point)
    with db.session_scope(point.data_dir) as session:
        state = get_state(session)
        assert take_hub_numbers(session, state, point.point_identity, last_seq=7, last_receipt="")
        assert not take_hub_numbers(session, state, point.point_identity, last_seq=7, last_receipt="")
    request = point.outbox()[-1]
    assert (request.kind, request.seq) == (Kind.COPY_REQUEST, 8)
    asked = point.open_outbox(request)
    assert (asked["from_seq"], asked["to_seq"]) == (2, 7)


def test_a_case_copy_is_stored_without_a_pickup_code_and_its_refused_result_comes_again(point):
    receipt_no = restored_receipt(point, 3)
    copy = point.case_copy(receipt_no)
    case_id = Envelope.parse(copy).open(point.point_identity)["case"]["case_id"]
    stand_in = Case(id=case_id, receipt_no=receipt_no, item_code="T-001", item_name="测试事项甲")
    early = point.result_message(stand_in)  # sent before the copy: refused, as before this point knew the case
    report = point.apply(early)
    assert report.applied == 0 and "never received" in report.errors[0]
    assert [row.case_id for row in rows(point.data_dir, InboxMessage)] == [case_id]

    assert point.apply(copy, point.result_message(stand_in)).errors == []
    stored = load(point, case_id)
    assert (stored.status, stored.decision, stored.pickup_code_hash) == ("result_ready", "approved", "")
    assert stored.restored_at is not None and stored.id_number == GOOD_ID
    assert {row.outcome for row in rows(point.data_dir, InboxMessage)} == {"applied", "resent"}, \
        "the refusal before the copy is no longer shown as one"
    assert point.apply(point.case_copy(receipt_no, case_id=case_id)).errors == [], "a second copy changes nothing"
    assert load(point, case_id).status == "result_ready"

    with pytest.raises(PickupError) as no_code:
        pick_up(point, receipt_no, "123456", GOOD_ID[-4:])
    assert no_code.value.reason == "no_pickup_code_here" and load(point, case_id).pickup_failures == 0


def hand_over_by_id(point, key: str, id_number: str, reason: str = "restored_no_code", note: str = ""):
    with db.session_scope(point.data_dir) as session:
        return collect_by_id_number(session, "staff", key, id_number, reason, note, identity=point.point_identity)


def test_a_restored_case_is_handed_over_on_the_whole_id_number_with_a_reason_in_the_audit_chain(point):
    receipt_no = restored_receipt(point, 4)
    copy = point.case_copy(receipt_no)
    point.apply(copy)
    (case,) = rows(point.data_dir, Case)
    point.apply(point.result_message(case))

    for id_number, reason, note, refusal in (
            (OTHER_ID, "restored_no_code", "", "wrong_id_number"),
            (GOOD_ID[:-4] + "0000", "receipt_lost", "", "wrong_id_number"),
            (GOOD_ID[-4:], "restored_no_code", "", "id_number_incomplete"),
            (GOOD_ID, "other", "", "reason_required"),
            (GOOD_ID, "because", "", "reason_required")):
        with pytest.raises(PickupError) as refused:
            hand_over_by_id(point, receipt_no, id_number, reason, note)
        assert refused.value.reason == refusal, (id_number, reason)
    assert load(point, case.id).pickup_failures == 2, "wrong ID numbers count towards the pickup lock"

    collected, signed = hand_over_by_id(point, receipt_no, GOOD_ID.lower(), "other", "居民回执被水浸")
    assert collected.status == "collected" and signed["document"]["case_id"] == case.id
    last = point.outbox()[-1]
    assert last.kind == Kind.COLLECTED and point.open_outbox(last)["case_id"] == case.id
    entries = [entry for entry in rows(point.data_dir, AuditEntry) if entry.subject == case.id]
    handed = [entry for entry in entries if entry.action == "case_collected_by_id_check"]
    assert len(handed) == 1 and handed[0].actor == "staff"
    assert json.loads(handed[0].detail) == {"receipt_no": receipt_no, "reason": "other", "note": "居民回执被水浸"}
    assert not any(GOOD_ID in entry.detail or GOOD_ID.lower() in entry.detail for entry in entries), \
        "the ID number is never in the audit log"
    with db.session_scope(point.data_dir) as session:
        assert verify_audit(session).holds


def test_a_case_received_here_needs_a_real_reason_to_go_without_its_code_and_a_closed_copy_never_again(point):
    case, _code = receive(point)
    point.apply(point.result_message(case))
    with pytest.raises(PickupError) as refused:
        hand_over_by_id(point, case.receipt_no, GOOD_ID)
    assert refused.value.reason == "reason_required", "its code can be checked here: say why the resident has none"

    handed_over = restored_receipt(point, 5)
    point.apply(point.case_copy(handed_over, closed=True))
    closed = next(row for row in rows(point.data_dir, Case) if row.receipt_no == handed_over)
    assert (closed.status, closed.collected_at is not None) == ("collected", True)
    point.apply(point.result_message(closed))
    assert load(point, closed.id).status == "collected" and load(point, closed.id).result_document, \
        "the result comes for reprinting, never for a second handover"

    taken_twice = point.apply(point.case_copy(case.receipt_no))
    assert taken_twice.applied == 0 and "another case here holds" in taken_twice.errors[0]
