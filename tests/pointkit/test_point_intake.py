"""受理: validation stores nothing; a received case is queued sealed, with no plaintext in the outbox."""

from __future__ import annotations

import sqlite3

import pytest
from tests.pointkit.hubside import GOOD_ID, OTHER_ID, make_point, rows, valid_form

from pointkit import db
from pointkit.intake import Applicant, IntakeError, receive_case
from pointkit.models import Case, Outbox
from pointkit.state import get_state
from sync.envelope import Kind
from sync.kit.passwords import verify_password


def receive(point, *, item="T-001", applicant=None, form=None, materials=("id_card", "hukou")):
    with db.session_scope(point.data_dir) as session:
        return receive_case(session, "staff", item, applicant or Applicant("王小明", GOOD_ID, "13800138000"),
                            valid_form() if form is None else form, list(materials),
                            identity=point.point_identity)


def assert_nothing_stored(point):
    assert rows(point.data_dir, Case) == []
    assert rows(point.data_dir, Outbox) == []
    with db.session_scope(point.data_dir) as session:
        assert get_state(session).next_seq == 1


@pytest.mark.parametrize("form, field, message", [
    ({**valid_form(), "category": "富人"}, "form.category", "choose one of the listed options"),
    ({**valid_form(), "household_size": "四"}, "form.household_size", "must be a number"),
    ({**valid_form(), "household_size": "nan"}, "form.household_size", "must be a number"),
    ({**valid_form(), "household_size": ""}, "form.household_size", "required"),
    ({**valid_form(), "expected_date": "2026-02-30"}, "form.expected_date", "must be a date (YYYY-MM-DD)"),
    ({**valid_form(), "expected_date": "20260601"}, "form.expected_date", "must be a date (YYYY-MM-DD)"),
    ({**valid_form(), "spouse_id": "110105194912310021"}, "form.spouse_id",
     "check character does not match (mistyped digit?)"),
    ({**valid_form(), "contact_phone": "23800138000"}, "form.contact_phone", "must be 11 digits starting with 1"),
    ({**valid_form(), "note": "x" * 201}, "form.note", "too long"),
    ({**valid_form(), "surprise": "1"}, "form.surprise", "not a field of this item"),
])
def test_each_field_type_is_checked_and_nothing_is_stored(point, form, field, message):
    with pytest.raises(IntakeError) as refused:
        receive(point, form=form)
    assert refused.value.reason == "invalid_input"
    assert refused.value.fields[field] == message
    assert_nothing_stored(point)


@pytest.mark.parametrize("applicant, field", [
    (Applicant("", GOOD_ID), "applicant.name"),
    (Applicant("王小明", "11010519491231002Y"), "applicant.id_number"),
    (Applicant("王小明", "110105194912310021"), "applicant.id_number"),
    (Applicant("王小明", GOOD_ID, "1380013800"), "applicant.phone"),
])
def test_applicant_is_checked(point, applicant, field):
    with pytest.raises(IntakeError) as refused:
        receive(point, applicant=applicant)
    assert field in refused.value.fields
    assert_nothing_stored(point)


def test_missing_required_material_lists_each_by_name(point):
    with pytest.raises(IntakeError) as refused:
        receive(point, materials=["photo"])
    assert refused.value.reason == "materials_missing"
    assert [m["name_zh"] for m in refused.value.missing] == ["居民身份证", "户口簿"]
    assert_nothing_stored(point)


def test_item_not_accepted_at_this_level(point):
    with pytest.raises(IntakeError) as refused:
        receive(point, item="T-002", form={}, materials=[])
    assert refused.value.reason == "not_accepted_here"
    assert refused.value.levels == ["township", "county"]
    assert "go to township, county" in str(refused.value)
    assert_nothing_stored(point)


def test_unknown_item(point):
    with pytest.raises(IntakeError) as refused:
        receive(point, item="NOPE")
    assert refused.value.reason == "unknown_item"
    assert_nothing_stored(point)


def test_township_point_accepts_township_items(tmp_path):
    township = make_point(tmp_path / "township", level="township")
    case, _ = receive(township, item="T-002", form={}, materials=[])
    assert case.status == "queued"
    db.dispose(township.data_dir)


def test_received_case_is_queued_sealed_to_the_hub(point):
    case, pickup_code = receive(point, applicant=Applicant("王小明", GOOD_ID.lower(), ""))
    assert len(pickup_code) == 6 and pickup_code.isdigit()
    assert verify_password(pickup_code, case.pickup_code_hash) and pickup_code not in case.pickup_code_hash
    assert case.status == "queued" and case.id_number == GOOD_ID
    assert case.receipt_no.endswith("-0001") and len(case.receipt_no.split("-")[1]) == 6
    assert case.promised_date > case.received_at.date()
    (row,) = point.outbox()
    assert (row.seq, row.kind, row.state, row.case_id) == (1, Kind.SUBMIT, "queued", case.id)
    payload = point.open_outbox(row)
    assert payload["applicant"] == {"name": "王小明", "id_number": GOOD_ID, "phone": ""}
    assert payload["receipt_no"] == case.receipt_no and payload["catalog_version"] == 1
    second, _ = receive(point, applicant=Applicant("李四", OTHER_ID))
    assert second.receipt_no.endswith("-0002")
    assert [r.seq for r in point.outbox()] == [1, 2]


def test_outbox_rows_hold_no_plaintext_personal_data(point):
    receive(point, applicant=Applicant("王小明", GOOD_ID, "13800138000"))
    connection = sqlite3.connect(db.database_path(point.data_dir))
    outbox_bytes = b"".join(
        b"|".join(value if isinstance(value, bytes) else str(value).encode() for value in row)
        for row in connection.execute("SELECT * FROM outbox"))
    connection.close()
    assert outbox_bytes
    for secret in ("王小明", GOOD_ID, "13800138000", "普通居民"):
        assert secret.encode() not in outbox_bytes
