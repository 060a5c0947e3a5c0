"""Pre-checks (网上预审) at the hub: the public residents' site's form posts with real photos, the department's
answer, the resident reading it by number and code (wrong codes locked), the limits per ID and per address, the
storage cap, the pixel budget, and expiry deleting the files.

A real hub on loopback (SQLite and PostgreSQL) with the sample catalog; photos made with Pillow."""

from __future__ import annotations

import io
import random
from datetime import timedelta

import pytest
from click.testing import CliRunner
from PIL import Image
from sqlmodel import select

from hub.approval.prechecks import (
    Applicant,
    PrecheckLimits,
    PrecheckRefused,
    Upload,
    expire_prechecks,
    sealed_photo,
    submit_precheck,
)
from hub.approval.scanstore import SCANS_DIR, LocalScanStore
from hub.catalog.versions import find_item
from hub.cli import main
from hub.core.clock import utc_now
from hub.core.models import AuditEntry, Precheck, PrecheckPhoto
from sync.attachments import decrypt_attachment
from sync.keys import unb64

from tests.hub.hubkit import VILLAGE, csrf_from, resident_id

DEPARTMENT_ITEM = "451030-CL-020"  # 残疾人证新办: answered by the 残联 (CL) at the hub
POINT_ITEM = "451030-YB-001"
PAGE_LIMIT = 30 * 1024


def photo(width: int = 3000, height: int = 2000, *, seed: int = 1) -> bytes:
    """A noisy JPEG like a phone's photo of a paper (noise keeps it from compressing to nothing)."""
    rng = random.Random(seed)
    small = Image.frombytes("RGB", (width // 10, height // 10), rng.randbytes(width // 10 * height // 10 * 3))
    out = io.BytesIO()
    small.resize((width, height)).save(out, "JPEG", quality=95)
    return out.getvalue()


def applicant() -> Applicant:
    return Applicant(name="韦秀兰", id_number=resident_id(), phone="13807761234")


def test_a_resident_pre_checks_on_the_public_site_the_department_answers_and_she_reads_it(hub):
    hub.enroll_point()
    hub.add_staff("cl-li", department="CL")
    site = hub.browser()
    index = site.get("/residents/", params={"q": "残疾人证"})
    assert index.status_code == 200 and "残疾人证新办" in index.text and "医疗保险" not in index.text
    assert len(index.content) < PAGE_LIMIT
    guide = site.get(f"/residents/items/{DEPARTMENT_ITEM}")
    assert "申请材料" in guide.text or "Materials" in guide.text
    form = site.get(f"/residents/items/{DEPARTMENT_ITEM}/precheck")
    assert form.status_code == 200 and len(form.content) < PAGE_LIMIT and VILLAGE in form.text
    token = csrf_from(form.text)
    fields = {"csrf_token": token, "name": "韦秀兰", "id_number": resident_id(), "phone": "13807761234",
              "point": VILLAGE}

    refused = site.post(f"/residents/items/{DEPARTMENT_ITEM}/precheck", data=fields,
                        files=[("file_id_card", ("id.jpg", b"MZ\x90\x00 not a photo", "image/jpeg"))])
    assert refused.status_code == 422
    assert "不是照片或PDF" in refused.text

    big = photo()
    sent = site.post(f"/residents/items/{DEPARTMENT_ITEM}/precheck", data=fields,
                     files=[("file_id_card", ("id.jpg", big, "image/jpeg")),
                            ("file_hukou", ("hukou.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf"))])
    assert sent.status_code == 200, sent.text[:2000]
    number = _between(sent.text, 'id="precheck-no">', "<")
    code = _between(sent.text, 'id="precheck-code">', "<")
    with hub.db() as session:
        precheck = session.exec(select(Precheck).where(Precheck.precheck_no == number)).one()
        assert precheck.reviewer == "department" and precheck.department_code == "CL"
        photos = session.exec(select(PrecheckPhoto).where(PrecheckPhoto.precheck_id == precheck.id)).all()
        id_photo = next(p for p in photos if p.material == "id_card")
        stored = decrypt_attachment(sealed_photo(hub.data_dir, id_photo), unb64(id_photo.key_b64))
        # Re-encoded to a legible size: the longest side 2000 pixels, far fewer bytes than the phone sent.
        assert Image.open(io.BytesIO(stored)).size == (2000, 1333) and len(stored) < len(big) / 2
        precheck_id = precheck.id

    waiting = site.post("/residents/prechecks", data={"csrf_token": token, "precheck_no": number, "code": code})
    assert "等待审查" in waiting.text

    desk = hub.browser("cl-li")
    assert number in desk.get("/prechecks/").text
    page = desk.get(f"/prechecks/{precheck_id}")
    answered = desk.post(f"/prechecks/{precheck_id}", data={
        "csrf_token": csrf_from(page.text), "outcome": "notice", "note_hukou": "户口簿缺少本人页，请补拍"})
    assert answered.status_code == 200 and number not in answered.text.split("id=\"prechecks\"")[0]

    read = site.post("/residents/prechecks", data={"csrf_token": token, "precheck_no": number, "code": code})
    assert "一次性告知" in read.text and "户口簿缺少本人页，请补拍" in read.text
    assert len(read.content) < PAGE_LIMIT

    for _ in range(5):
        wrong = site.post("/residents/prechecks", data={"csrf_token": token, "precheck_no": number, "code": "000000"
                                                        if code != "000000" else "111111"})
        assert wrong.status_code == 422
    locked = site.post("/residents/prechecks", data={"csrf_token": token, "precheck_no": number, "code": code})
    assert locked.status_code == 422 and "锁定" in locked.text
    with hub.db() as session:
        actions = [row.action for row in session.exec(select(AuditEntry).where(
            AuditEntry.subject == f"precheck:{precheck_id}").order_by(AuditEntry.id)).all()]
    assert actions == ["precheck_submitted", "precheck_answered", "precheck_lookup_locked"]


def test_submissions_are_limited_per_id_number_and_per_address_and_by_total_storage(hub):
    hub.enroll_point()
    files = [Upload("id_card", "id.jpg", photo(400, 300))]
    limits = PrecheckLimits(per_id_per_day=2, per_address_per_day=3)
    with hub.db() as session:
        item = find_item(session, POINT_ITEM)
        same = applicant()
        for _ in range(2):
            submit_precheck(session, hub.data_dir, item=item, point_name=VILLAGE, applicant=same, uploads=files,
                            client_address="10.0.0.1", limits=limits)
        with pytest.raises(PrecheckRefused) as per_id:
            submit_precheck(session, hub.data_dir, item=item, point_name=VILLAGE, applicant=same, uploads=files,
                            client_address="10.0.0.2", limits=limits)
        assert per_id.value.reason == "too_many_for_id"
        submit_precheck(session, hub.data_dir, item=item, point_name=VILLAGE, applicant=applicant(), uploads=files,
                        client_address="10.0.0.1", limits=limits)
        with pytest.raises(PrecheckRefused) as per_address:
            submit_precheck(session, hub.data_dir, item=item, point_name=VILLAGE, applicant=applicant(),
                            uploads=files, client_address="10.0.0.1", limits=limits)
        assert per_address.value.reason == "too_many_from_address"
        # A day later the same ID number may send again.
        submit_precheck(session, hub.data_dir, item=item, point_name=VILLAGE, applicant=same, uploads=files,
                        client_address="10.0.0.3", limits=limits, now=utc_now() + timedelta(days=1, minutes=1))
        with pytest.raises(PrecheckRefused) as full:
            submit_precheck(session, hub.data_dir, item=item, point_name=VILLAGE, applicant=applicant(),
                            uploads=files, client_address="10.0.0.4", limits=PrecheckLimits(storage_bytes=1000))
        assert full.value.reason == "storage_full"
        session.rollback()


def test_an_image_over_the_pixel_budget_is_refused_from_its_header_and_a_renamed_file_by_its_content(hub):
    hub.enroll_point()
    with hub.db() as session:
        item = find_item(session, POINT_ITEM)
        with pytest.raises(PrecheckRefused) as refused:
            submit_precheck(session, hub.data_dir, item=item, point_name=VILLAGE, applicant=applicant(),
                            uploads=[Upload("id_card", "id.jpg", photo(400, 300)),
                                     Upload("hukou", "hukou.png", photo(1000, 800))],
                            client_address="10.0.0.1", limits=PrecheckLimits(max_pixels=500_000))
        assert refused.value.fields == {"file_hukou": "more pixels than the limit"}
        with pytest.raises(PrecheckRefused) as renamed:
            submit_precheck(session, hub.data_dir, item=item, point_name=VILLAGE, applicant=applicant(),
                            uploads=[Upload("id_card", "id.jpg", b"#!/bin/sh\necho hi\n")],
                            client_address="10.0.0.1")
        assert renamed.value.fields == {"file_id_card": "not an image (JPEG, PNG, TIFF) or a PDF"}
        session.rollback()
    assert not any(hub.data_dir.joinpath("scans").glob("*.sealed"))


def test_pre_checks_past_their_time_expire_and_their_files_are_deleted(hub):
    hub.enroll_point()
    with hub.db() as session:
        item = find_item(session, POINT_ITEM)
        old = submit_precheck(session, hub.data_dir, item=item, point_name=VILLAGE, applicant=applicant(),
                              uploads=[Upload("id_card", "id.jpg", photo(400, 300))], client_address="10.0.0.1",
                              limits=PrecheckLimits(expiry_days=1), now=utc_now() - timedelta(days=2))
        fresh = submit_precheck(session, hub.data_dir, item=item, point_name=VILLAGE, applicant=applicant(),
                                uploads=[Upload("id_card", "id.jpg", photo(400, 300))], client_address="10.0.0.1")
        old_files = [LocalScanStore(hub.data_dir / SCANS_DIR).path(row.id) for row in session.exec(
            select(PrecheckPhoto).where(PrecheckPhoto.precheck_id == old.precheck.id)).all()]
        assert old_files and all(path.exists() for path in old_files)
        assert expire_prechecks(session, hub.data_dir) == [old.precheck.precheck_no]
        assert not any(path.exists() for path in old_files)
        assert session.get(Precheck, old.precheck.id).status == "expired"
        assert session.get(Precheck, fresh.precheck.id).status == "submitted"
        assert expire_prechecks(session, hub.data_dir) == []


def _between(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0].strip()


def test_the_expire_command_expires_what_is_past_its_time_and_says_so(hub):
    hub.enroll_point()
    with hub.db() as session:
        old = submit_precheck(session, hub.data_dir, item=find_item(session, POINT_ITEM), point_name=VILLAGE,
                              applicant=applicant(), uploads=[Upload("id_card", "id.jpg", photo(400, 300))],
                              client_address="10.0.0.1", now=utc_now() - timedelta(days=31))
        number = old.precheck.precheck_no
    result = CliRunner().invoke(main, ["prechecks", "expire", "--data", str(hub.data_dir)])
    assert result.exit_code == 0, result.output
    assert f"{number}\texpired" in result.output and "Expired 1 pre-check(s)" in result.output
    with hub.db() as session:
        assert session.exec(select(PrecheckPhoto)).all() == []


def test_a_post_over_the_body_cap_is_refused_before_it_is_read_in_words_that_name_the_limit(hub):
    hub.enroll_point()
    hub.app.config["PRECHECK_LIMITS"] = {"max_body_bytes": 200_000}
    site = hub.browser()
    form = site.get(f"/residents/items/{POINT_ITEM}/precheck")
    refused = site.post(f"/residents/items/{POINT_ITEM}/precheck",
                        data={"csrf_token": csrf_from(form.text), "name": "韦秀兰", "id_number": resident_id(),
                              "phone": "13807761234", "point": VILLAGE},
                        files=[("file_id_card", ("id.jpg", photo(1600, 1200), "image/jpeg"))])
    assert refused.status_code == 413
    assert "超过" in refused.text
    with hub.db() as session:
        assert session.exec(select(Precheck)).all() == []
