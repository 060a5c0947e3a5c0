"""Complaints at the window (pointkit/complaints.py): taken offline into the outbox, sealed; a wrong field writes
nothing; the hub's answers replace what the point shows; the kiosk's lookup by number and code.

The test plays the hub (tests/pointkit/hubside.py): it opens the sealed COMPLAINT and seals COMPLAINT_ANSWER as the
hub does."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import select

from pointkit import db
from pointkit.complaints import ComplaintError, ComplaintForm, look_up_complaint, take_complaint
from pointkit.models import AuditEntry, Complaint
from pointkit.state import load_identity
from sync.clock import utcnow
from sync.envelope import Kind
from sync.kit.passwords import verify_password
from sync.messages import FileComplaint


def taken(point, **fields) -> tuple[Complaint, str]:
    form = ComplaintForm(**{"channel": "phone", "category": "fees", "text": "复印收了十元",
                            "contact_name": "韦秀兰", "contact_phone": "13807761234", **fields})
    with db.session_scope(point.data_dir) as session:
        return take_complaint(session, "staff", form, identity=load_identity(point.data_dir), staff_name="黄丽")


def test_a_complaint_is_stored_and_sealed_in_one_step_and_its_code_kept_only_hashed(point):
    complaint, code = taken(point, subject="department", department_code="MZ")
    [row] = point.outbox()
    assert row.kind == Kind.COMPLAINT and row.state == "queued" and row.case_id == complaint.id
    payload = FileComplaint.model_validate(point.open_outbox(row))
    assert payload.complaint_id == complaint.id and payload.complaint_no == complaint.complaint_no
    assert payload.complaint_no.startswith("T-") and payload.department_code == "MZ"
    assert payload.contact.name == "韦秀兰" and payload.staff_name == "黄丽"
    assert len(code) == 6 and code not in complaint.code_hash and verify_password(code, payload.code_hash)
    second, _code = taken(point)
    assert second.complaint_no[:-4] == complaint.complaint_no[:-4]
    assert int(second.complaint_no[-4:]) == int(complaint.complaint_no[-4:]) + 1
    with db.session_scope(point.data_dir) as session:
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "complaint_taken")).first()
    assert "韦秀兰" not in entry.detail and "13807761234" not in entry.detail


def test_an_anonymous_complaint_has_no_contact_no_code_and_no_lookup(point):
    complaint, code = taken(point, anonymous=True)
    assert code == "" and complaint.code_hash == "" and complaint.contact_name == ""
    payload = point.open_outbox(point.outbox()[0])
    assert payload["anonymous"] and payload["contact"] == {"name": "", "phone": ""} and payload["code_hash"] == ""
    with db.session_scope(point.data_dir) as session, pytest.raises(ComplaintError) as refused:
        look_up_complaint(session, complaint.complaint_no, "")
    assert refused.value.reason == "wrong_code"


def test_a_wrong_field_writes_nothing(point):
    with pytest.raises(ComplaintError) as refused:
        taken(point, category="rude", subject="case", receipt_no="NO-SUCH", contact_name="", contact_phone="123")
    assert set(refused.value.fields) == {"category", "receipt_no", "contact_phone"}
    assert point.outbox() == []
    with db.session_scope(point.data_dir) as session:
        assert session.exec(select(Complaint)).all() == []


def test_the_hub_s_answers_replace_what_the_point_shows_and_the_kiosk_reads_them(point):
    complaint, code = taken(point)
    due = date.today() + timedelta(days=7)
    now = utcnow()
    report = point.apply(
        point.seal(Kind.COMPLAINT_ANSWER, {"complaint_id": complaint.id, "status": "assigned",
                                           "at": now.isoformat(), "department": "县民政局",
                                           "reply_due": due.isoformat()}),
        point.seal(Kind.COMPLAINT_ANSWER, {"complaint_id": complaint.id, "status": "closed",
                                           "at": (now + timedelta(hours=2)).isoformat(), "department": "县民政局",
                                           "reply_due": due.isoformat(), "reply": "已退还复印费",
                                           "result": "投诉属实，已责令改正"}),
        # An older answer arriving again after the newer one changes nothing.
        point.seal(Kind.COMPLAINT_ANSWER, {"complaint_id": complaint.id, "status": "assigned",
                                           "at": now.isoformat(), "department": "县民政局"}),
        point.seal(Kind.COMPLAINT_ANSWER, {"complaint_id": "0" * 36, "status": "closed", "at": now.isoformat()}))
    assert report.applied == 3 and len(report.errors) == 1 and "never took" in report.errors[0]
    with db.session_scope(point.data_dir) as session:
        shown = look_up_complaint(session, complaint.complaint_no, code)
        assert (shown.hub_status, shown.department_name, shown.reply_due) == ("closed", "县民政局", due)
        assert shown.reply == "已退还复印费" and shown.result == "投诉属实，已责令改正"
        with pytest.raises(ComplaintError):
            look_up_complaint(session, complaint.complaint_no, "999999" if code != "999999" else "000000")
        assert session.get(Complaint, complaint.id).kiosk_failures == 1
    assert [row.kind for row in point.outbox()] == [Kind.COMPLAINT], "an answer sends nothing back"


def test_five_wrong_codes_lock_the_complaint_s_lookup(point):
    complaint, code = taken(point)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        with db.session_scope(point.data_dir) as session, pytest.raises(ComplaintError) as refused:
            look_up_complaint(session, complaint.complaint_no, wrong)
        assert refused.value.reason == "wrong_code"
    with db.session_scope(point.data_dir) as session, pytest.raises(ComplaintError) as refused:
        look_up_complaint(session, complaint.complaint_no, code)
    assert refused.value.reason == "locked"
