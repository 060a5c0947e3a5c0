"""Pre-checks at the point: the hub's PRECHECK copy applied (an older copy never replaces a newer one, a malformed
one is refused alone), the clerk's answer sealed up as PRECHECK_ANSWER, the kiosk's lookup checked against the
code's hash and locked after 5 wrong codes, and copies past their time expired here with their kept files."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from sync.clock import utcnow
from sync.envelope import Kind
from sync.kit.passwords import hash_password

from pointkit import db
from pointkit.models import Precheck
from pointkit.prechecks import (
    PrecheckError,
    answer_here,
    kept_path,
    look_up_at_kiosk,
    tidy_prechecks,
)

from tests.pointkit.hubside import GOOD_ID

CODE = "246810"


def copy(precheck_id: str, *, status: str = "submitted", at=None, expires_in=timedelta(days=30)) -> dict:
    now = utcnow()
    return {"precheck_id": precheck_id, "precheck_no": "YS-20261205-0001", "item_code": "T-001", "reviewer": "point",
            "applicant": {"name": "韦秀兰", "id_number": GOOD_ID, "phone": "13807761234"},
            "files": [{"file_id": str(uuid.uuid4()), "material": "id_card", "name": "id.jpg", "size": 10,
                       "sha256": "0" * 64, "key_b64": "A" * 43}],
            "status": status, "outcome": "", "notes": {}, "answered_by": "",
            "submitted_at": now.isoformat(), "expires_at": (now + expires_in).isoformat(),
            "at": (at or now).isoformat(), "code_hash": hash_password(CODE)}


def test_a_copy_is_applied_an_older_one_ignored_and_a_malformed_one_refused_alone(point):
    precheck_id = str(uuid.uuid4())
    newer = copy(precheck_id, status="answered")
    older = copy(precheck_id, at=utcnow() - timedelta(hours=1))
    broken = {**copy(str(uuid.uuid4())), "reviewer": "nobody"}
    report = point.apply(point.seal(Kind.PRECHECK, newer), point.seal(Kind.PRECHECK, broken),
                         point.seal(Kind.PRECHECK, older))
    assert report.applied == 2 and len(report.errors) == 1
    with db.session_scope(point.data_dir) as session:
        assert session.get(Precheck, precheck_id).status == "answered"


def test_the_clerk_s_answer_goes_up_sealed_and_the_kiosk_locks_after_five_wrong_codes(point):
    precheck_id = str(uuid.uuid4())
    point.apply(point.seal(Kind.PRECHECK, copy(precheck_id)))
    with db.session_scope(point.data_dir) as session:
        row = session.get(Precheck, precheck_id)
        with pytest.raises(PrecheckError) as empty:
            answer_here(session, point.point_identity, row, outcome="notice", notes={"hukou": " "}, staff="staff",
                        materials={"id_card", "hukou"})
        assert empty.value.fields == {"notes": "notice_empty"}
        answer_here(session, point.point_identity, row, outcome="notice", notes={"hukou": "请带户口簿原件"},
                    staff="staff", materials={"id_card", "hukou"})
    [sent] = [row for row in point.outbox() if row.kind == Kind.PRECHECK_ANSWER]
    payload = point.open_outbox(sent)
    assert (payload["precheck_id"], payload["outcome"], payload["notes"]) == (
        precheck_id, "notice", {"hukou": "请带户口簿原件"})

    with db.session_scope(point.data_dir) as session:
        assert look_up_at_kiosk(session, "ys-20261205-0001 ", CODE).outcome == "notice"
    for _ in range(5):
        with db.session_scope(point.data_dir) as session, pytest.raises(PrecheckError) as wrong:
            look_up_at_kiosk(session, "YS-20261205-0001", "000000")
        assert wrong.value.reason == "wrong_code"
    with db.session_scope(point.data_dir) as session, pytest.raises(PrecheckError) as locked:
        look_up_at_kiosk(session, "YS-20261205-0001", CODE)
    assert locked.value.reason == "locked"


def test_copies_past_their_time_expire_here_and_their_kept_files_are_deleted(point):
    precheck_id = str(uuid.uuid4())
    stale = copy(precheck_id, expires_in=timedelta(seconds=-1))
    point.apply(point.seal(Kind.PRECHECK, stale))
    kept = kept_path(point.data_dir, stale["files"][0]["file_id"])
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_bytes(b"sealed")
    assert tidy_prechecks(point.data_dir) == 1
    assert not kept.exists()
    with db.session_scope(point.data_dir) as session:
        assert session.get(Precheck, precheck_id).status == "expired"
