"""Pre-checks between the hub and points (protocol 5): the PRECHECK copy a point pulls (its files' keys sealed
inside), a file fetched by the point's signed GET and by no other point, a clerk's PRECHECK_ANSWER from the right
point only, and a SUBMIT naming the pre-check that gets the hub's stored files as complete scans. A bad envelope is
refused alone; the rest of the push goes on.

A real hub on loopback (SQLite and PostgreSQL), points made of ``sync`` only (hubkit.FakePoint)."""

from __future__ import annotations

import io
from datetime import datetime, timezone

import pytest
from PIL import Image
from sqlmodel import select

from hub.approval.prechecks import Applicant, Upload, submit_precheck
from hub.catalog.versions import find_item
from hub.core.models import CaseScan, Precheck
from sync.attachments import decrypt_attachment, sha256_hex
from sync.client import HubRefused
from sync.envelope import Kind
from sync.keys import unb64

from tests.hub.hubkit import MEDICAL_INSURANCE, VILLAGE, resident_id

OTHER_VILLAGE = "八达镇那桃村便民服务站"


def photo() -> bytes:
    out = io.BytesIO()
    Image.effect_noise((400, 300), 50).convert("RGB").save(out, "JPEG")
    return out.getvalue()


def test_a_pre_check_travels_to_its_point_is_answered_there_and_taken_into_a_case_with_the_hub_s_files(hub):
    village, other = hub.enroll_point(), hub.enroll_point(OTHER_VILLAGE)
    with hub.db() as session:
        submitted = submit_precheck(session, hub.data_dir, item=find_item(session, MEDICAL_INSURANCE),
                                    point_name=VILLAGE, applicant=Applicant("韦秀兰", resident_id(), "13807761234"),
                                    uploads=[Upload("id_card", "id.jpg", photo()), Upload("hukou", "hk.jpg", photo())],
                                    client_address="10.0.0.1")
        precheck_id = submitted.precheck.id

    messages, _cursor = village.pull_all()
    [(envelope, copy)] = [(e, p) for e, p in messages if e.header.kind == Kind.PRECHECK]
    assert copy["precheck_id"] == precheck_id and copy["reviewer"] == "point" and copy["status"] == "submitted"
    assert not [p for e, p in other.pull_all()[0] if e.header.kind == Kind.PRECHECK]
    first = copy["files"][0]
    sealed = village.client.precheck_file(precheck_id, first["file_id"])
    assert sha256_hex(decrypt_attachment(sealed, unb64(first["key_b64"]))) == first["sha256"]
    with pytest.raises(HubRefused) as refused:
        other.client.precheck_file(precheck_id, first["file_id"])
    assert refused.value.status == 404

    answer = {"precheck_id": precheck_id, "outcome": "notice", "notes": {"hukou": "户口簿本人页缺失"},
              "staff": "staff", "answered_at": datetime.now(timezone.utc).isoformat()}
    [stranger] = other.client.push([other.seal(Kind.PRECHECK_ANSWER, answer)])
    assert stranger.status == "rejected" and stranger.reason == "unknown_precheck"
    [answered] = village.client.push([village.seal(Kind.PRECHECK_ANSWER, answer)])
    assert answered.status == "accepted", answered
    with hub.db() as session:
        row = session.get(Precheck, precheck_id)
        assert (row.status, row.outcome, row.notes) == ("answered", "notice", {"hukou": "户口簿本人页缺失"})
        assert row.answered_by == f"{VILLAGE}/staff"

    file_ids = [entry["file_id"] for entry in copy["files"]]
    stolen = other.submit(precheck_id=precheck_id, precheck_scans=file_ids)
    plain = other.submit()
    results = other.client.push([other.seal(Kind.SUBMIT, stolen), other.seal(Kind.SUBMIT, plain)])
    assert [(r.status, r.reason) for r in results][0] == ("rejected", "unknown_precheck")
    assert results[1].status == "accepted"

    taken = village.submit(precheck_id=precheck_id, precheck_scans=file_ids)
    [result] = village.client.push([village.seal(Kind.SUBMIT, taken)])
    assert result.status == "accepted", result
    with hub.db() as session:
        scans = session.exec(select(CaseScan).where(CaseScan.case_id == taken["case_id"])).all()
        assert sorted((s.scan_id, s.sha256, s.status) for s in scans) == sorted(
            (f["file_id"], f["sha256"], "complete") for f in copy["files"])
        row = session.get(Precheck, precheck_id)
        assert (row.status, row.case_id) == ("taken", taken["case_id"])
    again = village.submit(precheck_id=precheck_id, precheck_scans=file_ids)
    [twice] = village.client.push([village.seal(Kind.SUBMIT, again)])
    assert (twice.status, twice.reason) == ("rejected", "unknown_precheck")
    newest = [p for e, p in village.pull_all()[0] if e.header.kind == Kind.PRECHECK][-1]
    assert newest["status"] == "taken"
