"""What the window's staff pages and printouts say (issues 19 and 26): states in words, the clerk's real name,
what cannot change offered no more, scans checked by content, a repeat application warned of, searches that find
nothing, badges for what waits, and errors tied to their fields."""

from __future__ import annotations

import io
import json
import re
from itertools import pairwise

from sqlmodel import select

from sync.clock import utcnow
from sync.envelope import Kind
from sync.signing import sign_document
from tests.pointkit.hubside import GOOD_ID, ITEMS, OTHER_ID, catalog_document, jpeg_photo, rows
from tests.pointkit.test_point_pages import (  # noqa: F401 (fixtures)
    app,
    client,
    csrf,
    hub_status,
    intake_form,
    kiosk,
    shown,
    visible_text,
)

from pointkit import db
from pointkit.catalog import store_catalog
from pointkit.models import AuditEntry, Case, OneTimeNotice, Outbox, ScanFile
from pointkit.state import get_state

REPEAT_REASON = "原申请材料遗失，群众重新申请"


def receive(client, **overrides) -> tuple[Case, str]:  # noqa: F811
    """Receive T-001 through the intake page: the new case and the pickup code its receipt printed once."""
    answer = client.post("/cases/new?item=T-001", data=intake_form(client, **overrides))
    assert answer.status_code == 302, visible_text(answer.get_data(as_text=True))[:600]
    receipt = client.get(answer.headers["Location"]).get_data(as_text=True)
    case_id = answer.headers["Location"].split("/")[2]
    (case,) = [case for case in rows(client.application.config["DATA_DIR"], Case) if case.id == case_id]
    return case, re.search(r'id="pickup-code"[^>]*>(\d{6})<', receipt).group(1)


def test_the_case_list_and_page_say_where_a_case_stands_in_words(point, client):  # noqa: F811
    case, _code = receive(client)
    point.apply(point.seal(Kind.STATUS, hub_status(case, "routed", state="routed")))
    listing = visible_text(client.get("/cases").get_data(as_text=True))
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "县中心状态" not in listing, "the label of the hub's column is no state"
    assert "已分送审批部门" in listing
    assert shown(page, "case-status") == "已报送县中心" and shown(page, "hub-status") == "已分送审批部门"


def test_the_receipt_and_the_notice_name_the_clerk_and_the_materials(point, client):  # noqa: F811
    case, _code = receive(client)
    receipt = client.get(f"/cases/{case.id}/receipt").get_data(as_text=True)
    assert shown(receipt, "receipt-staff") == "张三" and "经办人" in receipt
    assert shown(receipt, "receipt-materials") == "居民身份证、户口簿"
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert shown(page, "case-staff") == "张三" and shown(page, "case-materials") == "居民身份证、户口簿"
    assert (case.staff, case.staff_name) == ("staff", "张三")
    english = client.get(f"/cases/{case.id}/receipt?lang=en").get_data(as_text=True)
    assert shown(english, "receipt-materials") == "Resident ID card, Household register"

    notice = client.post("/cases/new?item=T-001", data=intake_form(client, materials=["id_card"],
                                                                   applicant_id_number=OTHER_ID))
    assert notice.status_code == 302 and "/notices/" in notice.headers["Location"]
    printed = visible_text(client.get(notice.headers["Location"] + "?lang=zh").get_data(as_text=True))
    assert "经办人：张三" in printed and "经办人：staff" not in printed
    assert [row.staff_name for row in rows(point.data_dir, OneTimeNotice)] == ["张三"]


def test_a_repeat_application_is_warned_of_and_its_reason_kept(point, client):  # noqa: F811
    first, _code = receive(client)
    warned = client.post("/cases/new?item=T-001", data=intake_form(client))
    page = warned.get_data(as_text=True)
    assert warned.status_code == 422 and len(rows(point.data_dir, Case)) == 1
    assert first.receipt_no in shown(page, "repeat-warning") and "在办申请" in page
    assert f'href="/cases/{first.id}"' in page and 'id="repeat_reason"' in page
    assert "已有在办申请" in re.search(r"<title>(.*?)</title>", page).group(1)
    assert 'value="王小明"' in page, "what the clerk typed stays"
    empty = client.post("/cases/new?item=T-001", data=intake_form(client, repeat_reason=" "))
    marked = empty.get_data(as_text=True)
    assert empty.status_code == 422 and 'aria-describedby="error-repeat_reason"' in marked

    still = client.post("/cases/new?item=T-001", data=intake_form(client, repeat_reason=REPEAT_REASON,
                                                                   applicant_name=""))
    assert still.status_code == 422 and f'value="{REPEAT_REASON}"' in still.get_data(as_text=True), "kept"
    second, _code = receive(client, repeat_reason=REPEAT_REASON)
    assert (second.duplicate_of, second.duplicate_reason) == (first.receipt_no, REPEAT_REASON)
    assert REPEAT_REASON in shown(client.get(f"/cases/{second.id}").get_data(as_text=True), "case-repeat")
    (entry,) = [row for row in rows(point.data_dir, AuditEntry)
                if row.action == "case_received" and row.subject == second.id]
    assert json.loads(entry.detail)["repeat_reason"] == REPEAT_REASON and first.receipt_no in entry.detail
    # Another item, or a resident whose earlier case is over, is no repeat.
    point.apply(point.seal(Kind.STATUS, hub_status(first, "withdrawn", state="withdrawn")))
    point.apply(point.seal(Kind.STATUS, hub_status(second, "withdrawn", state="withdrawn")))
    third, _code = receive(client)
    assert third.duplicate_of == ""


def test_a_closed_case_offers_no_change_and_refuses_one(point, client):  # noqa: F811
    case, _code = receive(client)
    point.apply(point.seal(Kind.STATUS, hub_status(case, "merged", state="merged")))
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert 'id="withdraw-form"' not in page and 'id="amend-link"' not in page
    token = csrf(client, f"/cases/{case.id}")
    client.post(f"/cases/{case.id}/withdraw", data={"csrf_token": token, "reason": "群众不再需要"})
    client.post(f"/cases/{case.id}/amend", data={"csrf_token": token, "field_category": "普通居民",
                                                 "field_household_size": "5"})
    assert [row.kind for row in rows(point.data_dir, Outbox)] == [Kind.SUBMIT], "nothing queued for a merged case"


def test_a_merged_case_collected_here_with_the_other_receipt_says_so(point, client):  # noqa: F811
    first, code = receive(client)
    second, second_code = receive(client, repeat_reason=REPEAT_REASON)
    for case in (first, second):
        point.apply(point.result_message(case))
    handed = client.post("/pickup", data={"csrf_token": csrf(client, "/pickup"), "receipt_no": first.receipt_no,
                                          "pickup_code": code, "id_last4": GOOD_ID[-4:]})
    assert handed.status_code == 302
    # The hub closes the merged twin: "collected elsewhere" from where it stands, but it was here.
    point.apply(point.seal(Kind.STATUS, hub_status(second, "collected_elsewhere", state="closed",
                                                   note="collected at 古障村便民服务站")))
    page = visible_text(client.get(f"/cases/{second.id}").get_data(as_text=True))
    listing = visible_text(client.get("/cases").get_data(as_text=True))
    for text in (page, listing):
        assert "本服务点领取" in text and "其他服务点" not in text
    assert "更正" not in page and "撤回申请" not in page
    refused = client.post("/pickup", data={"csrf_token": csrf(client, "/pickup"), "receipt_no": second.receipt_no,
                                           "pickup_code": second_code, "id_last4": GOOD_ID[-4:]})
    assert refused.status_code == 422 and "另一张回执在本窗口领取" in refused.get_data(as_text=True)
    assert "本服务点领取" in shown(kiosk(client, second, second_code), "kiosk-state")


def test_only_scans_are_received_and_a_program_never_travels(point, app, client):  # noqa: F811
    form = intake_form(client)
    exe = b"MZ\x90\x00" + b"\x00" * 200 + b"This program cannot be run in DOS mode"
    refused = client.post("/cases/new?item=T-001", content_type="multipart/form-data", data={
        **form, "scans_id_card": [(io.BytesIO(exe), "bad.exe")], "scans": [(io.BytesIO(exe), "photo.jpg")]})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert 'aria-invalid="true" aria-describedby="error-scans_id_card"' in page
    assert "不是扫描件" in shown(page, "error-scans_id_card") and "不是扫描件" in shown(page, "error-scans")
    assert "未受理" in re.search(r"<title>(.*?)</title>", page).group(1)
    assert rows(point.data_dir, Case) == [] and rows(point.data_dir, Outbox) == []
    assert rows(point.data_dir, ScanFile) == [] and not any((point.data_dir / "scans").glob("*"))

    api = app.test_client()
    token = api.post("/api/login", json={"username": "staff", "password": "window-pass-1"}).get_json()["token"]
    answer = api.post("/api/cases", headers={"Authorization": f"Bearer {token}"}, data={"case": json.dumps({
        "item_code": "T-001", "applicant": {"name": "王小明", "id_number": GOOD_ID},
        "form": {"category": "普通居民", "household_size": "4"}, "materials": ["id_card", "hukou"]}),
        "scan_materials": ["id_card"], "scans": [(io.BytesIO(exe), "bad.exe")]}, content_type="multipart/form-data")
    assert answer.status_code == 422 and answer.get_json()["fields"] == {"scans_id_card": "not an image (JPEG, PNG, "
                                                                                     "TIFF) or a PDF"}
    assert rows(point.data_dir, Outbox) == []

    taken = client.post("/cases/new?item=T-001", content_type="multipart/form-data", data={
        **intake_form(client), "scans_id_card": [(io.BytesIO(jpeg_photo()), "身份证.jpg")],
        "scans": [(io.BytesIO(b"%PDF-1.4 household register"), "户口簿.pdf")]})
    assert taken.status_code == 302
    assert sorted(row.name for row in rows(point.data_dir, ScanFile)) == ["户口簿.pdf", "身份证.jpg"]


def test_a_search_without_results_says_what_to_try(client):  # noqa: F811
    page = client.get("/cases/new?q=nosuchthing").get_data(as_text=True)
    text = shown(page, "no-items")
    assert "没有与" in text and "拼音首字母" in text and "事项编码" in text
    assert 'id="items"' not in page


def test_the_nav_shows_what_waits_for_the_window(point, client):  # noqa: F811
    nav = client.get("/cases").get_data(as_text=True)
    assert 'id="supplement-badge"' not in nav and 'id="results-badge"' not in nav
    waiting, _code = receive(client)
    ready, _code = receive(client, applicant_id_number=OTHER_ID)
    point.apply(point.seal(Kind.SUPPLEMENT_REQUEST, {"case_id": waiting.id, "department": "MZ",
                                                     "materials": ["hukou"], "note": "户口簿复印件不清晰",
                                                     "requested_at": utcnow().isoformat()}))
    point.apply(point.result_message(ready))
    nav = client.get("/cases/new").get_data(as_text=True)
    assert shown(nav, "supplement-badge") == "待补正1件" and shown(nav, "results-badge") == "待领取1件"


def test_errors_are_tied_to_their_fields_and_states_have_their_own_titles(point, app, client):  # noqa: F811
    bad = client.post("/cases/new?item=T-001", data=intake_form(client, applicant_name="",
                                                                field_household_size="四"))
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422
    for name in ("applicant_name", "field_household_size"):
        tag = re.search(rf'<(?:input|select)[^>]*id="{name}"[^>]*>', page).group(0)
        assert 'aria-invalid="true"' in tag and f'aria-describedby="error-{name}"' in tag
        assert f'id="error-{name}"' in page
    assert 'aria-invalid' not in re.search(r'<input[^>]*id="applicant_phone"[^>]*>', page).group(0)
    blank_title = re.search(r"<title>(.*?)</title>", client.get("/cases/new?item=T-001").get_data(as_text=True))
    assert re.search(r"<title>(.*?)</title>", page).group(1) != blank_title.group(1)

    anonymous = app.test_client()
    login_title = re.search(r"<title>(.*?)</title>", anonymous.get("/login").get_data(as_text=True)).group(1)
    wrong = anonymous.post("/login", data={"username": "staff", "password": "wrong-pass",
                                           "csrf_token": csrf(anonymous, "/login")}).get_data(as_text=True)
    assert re.search(r"<title>(.*?)</title>", wrong).group(1) != login_title and "登录失败" in wrong
    assert 'aria-describedby="login-error"' in re.search(r'<input[^>]*id="password"[^>]*>', wrong).group(0)

    case, _code = receive(client)
    point.apply(point.result_message(case))
    pickup_title = re.search(r"<title>(.*?)</title>", client.get("/pickup").get_data(as_text=True)).group(1)
    refused = client.post("/pickup", data={"csrf_token": csrf(client, "/pickup"), "receipt_no": case.receipt_no,
                                           "pickup_code": "000000", "id_last4": "0000"}).get_data(as_text=True)
    assert re.search(r"<title>(.*?)</title>", refused).group(1) not in (pickup_title, "")
    assert "未能发放结果" in re.search(r"<title>(.*?)</title>", refused).group(1)


def test_guides_read_plainly_and_tables_name_every_column(point, client):  # noqa: F811
    guide = client.get("/items/T-001/guide").get_data(as_text=True)
    assert "超期未办结视为准予" in guide and "超时默认" not in guide
    for label in ("办理地点", "办理时间", "咨询电话", "收费依据"):
        assert f"<th>{label}</th>" in guide, label
    assert shown(guide, "guide-place") == "古障村便民服务站" and shown(guide, "guide-fee-basis") == "不收费"
    assert "法定节假日除外" in shown(guide, "guide-hours") and "12345" in shown(guide, "guide-phone")
    elsewhere = client.get("/items/T-002/guide").get_data(as_text=True)
    assert shown(elsewhere, "guide-place") == "县政务服务中心、乡镇政务服务中心"
    levels = [int(level) for level in re.findall(r"<h([1-6])", guide)]
    assert all(b - a <= 1 for a, b in pairwise(levels)), levels
    assert "<th></th>" not in client.get("/cases/new?q=T").get_data(as_text=True)
    form = visible_text(client.get("/cases/new?item=T-001").get_data(as_text=True))
    assert "主管部门：" in form and "docs/" not in form
    assert "（原件，1份）" in form


def test_same_day_items_read_as_ji_ban(point, client):  # noqa: F811
    same_day = {**ITEMS[1], "code": "T-003", "name_zh": "即办事项", "legal_days": 0, "promised_days": 0,
                "levels": ["village"]}
    with db.session_scope(point.data_dir) as session:
        store_catalog(session, get_state(session), sign_document(catalog_document(2, [*ITEMS, same_day]),
                                                                 point.hub.sign_key))
    for path in ("/cases/new?q=T-003", "/cases/new?item=T-003", "/items/T-003/guide"):
        text = visible_text(client.get(path).get_data(as_text=True))
        assert "即办" in text and "0个工作日" not in text, path


def test_the_sync_page_says_why_the_hub_refused_an_envelope_in_words(point, client):  # noqa: F811
    receive(client)
    with db.session_scope(point.data_dir) as session:
        (row,) = session.exec(select(Outbox)).all()
        row.state, row.reason, row.last_error = "quarantined", "unknown_point", "no such point is enrolled"
        session.add(row)
    page = client.get("/sync").get_data(as_text=True)
    text = visible_text(page)
    assert "县中心不认识本服务点" in text
    assert "unknown_point" not in text and "no such point" not in text, "the hub's own words only on hover"
    assert 'title="unknown_point: no such point is enrolled"' in page


def test_drafts_name_the_clerk_who_saved_them(point, client):  # noqa: F811
    saved = client.post("/cases/new?item=T-001", data=intake_form(client, action="draft"))
    assert saved.status_code == 302
    listing = client.get("/drafts").get_data(as_text=True)
    assert re.search(r'class="draft-staff">张三<', listing) and ">staff<" not in listing
