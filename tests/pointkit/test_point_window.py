"""The intake window's pages: ID checks, pinyin search, prefill, drafts, one-time notices, guides, level refusal."""

from __future__ import annotations

import json
import re

import pytest
from tests.pointkit.hubside import GOOD_ID, ITEMS, OTHER_ID, catalog_document, rows

from pointkit import create_app, db
from pointkit.auth import create_staff
from pointkit.catalog import store_catalog
from pointkit.itemsearch import find_items
from pointkit.models import AuditEntry, Case, IntakeDraft, OneTimeNotice
from pointkit.state import get_state
from sync.signing import sign_document
from sync.kit.idnumber import check_character, id_number_problem

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
INSURANCE_ITEMS = [
    {"code": "YB-001", "name_zh": "城乡居民基本医疗保险参保登记", "name_en": "Basic medical insurance enrolment"},
    {"code": "RS-002", "name_zh": "城乡居民基本养老保险参保登记", "name_en": "Basic pension insurance enrolment"},
    {"code": "YB-003", "name_zh": "医疗救助申请", "name_en": "Medical assistance"},
    {"code": "MZ-004", "name_zh": "最低生活保障申请", "name_en": "Minimum living allowance"},
]


@pytest.fixture
def client(point):
    with db.session_scope(point.data_dir) as session:
        create_staff(session, "staff", "window-pass-1", display_name="张三")
    client = create_app(point.data_dir, test_config={"TESTING": True}).test_client()
    response = client.post("/login", data={"username": "staff", "password": "window-pass-1",
                                           "csrf_token": csrf(client, "/login")})
    assert response.status_code == 302
    return client


def csrf(client, path: str) -> str:
    return CSRF.search(client.get(path).get_data(as_text=True)).group(1)


def form(client, **overrides) -> dict:
    data = {"csrf_token": csrf(client, "/cases/new?item=T-001"), "item_code": "T-001", "applicant_name": "王小明",
            "applicant_id_number": GOOD_ID, "applicant_phone": "13800138000", "field_category": "低保对象",
            "field_household_size": "4", "materials": ["id_card", "hukou"]}
    data.update(overrides)
    return data


def publish(point, extra_items: list[dict]) -> None:
    """A newer catalog with more items (same shape as the fixture's), stored as a sync would store it."""
    items = ITEMS + [{"departments": ["MZ"], "legal_days": 20, "promised_days": 5, "levels": ["village"],
                      **item} for item in extra_items]
    with db.session_scope(point.data_dir) as session:
        store_catalog(session, get_state(session), sign_document(catalog_document(2, items), point.hub.sign_key))


@pytest.mark.parametrize("id_number", [GOOD_ID, OTHER_ID, "45102719800101234" + check_character("45102719800101234")])
def test_valid_id_numbers_pass_the_checksum(id_number):
    assert id_number_problem(id_number) is None


@pytest.mark.parametrize("id_number, problem", [
    ("110105194912310021", "check character does not match (mistyped digit?)"),
    ("440524198001010014", "check character does not match (mistyped digit?)"),
    ("11010519490231002X", "contains an impossible birth date"),
    ("11010518001231002X", "contains an impossible birth date"),
    ("11010519491231002", "must be 18 characters"),
    ("1101051949123100AX", "must be 17 digits followed by a digit or X"),
])
def test_invalid_id_numbers_say_what_is_wrong(id_number, problem):
    assert id_number_problem(id_number) == problem


def test_a_mistyped_id_is_refused_on_the_page_in_chinese_and_english(client, point):
    response = client.post("/cases/new?item=T-001", data=form(client, applicant_id_number="110105194912310021"))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="error-applicant_id_number"> 校验位不符' in page and 'value="王小明"' in page
    english = client.post("/cases/new?item=T-001&lang=en", data=form(client, applicant_id_number="110105194912310021"))
    assert "check character does not match" in english.get_data(as_text=True)
    assert rows(point.data_dir, Case) == [] and rows(point.data_dir, OneTimeNotice) == []


def test_pinyin_initials_full_pinyin_code_and_name_find_items(point):
    publish(point, INSURANCE_ITEMS)
    with db.session_scope(point.data_dir) as session:
        def codes(query: str) -> list[str]:
            return [item.code for item in find_items(session, query)]

        # 医疗保险 and 养老保险 share the initials y-l-b-x; 医疗救助 (yljz) and 最低生活保障 do not match.
        assert codes("ylbx") == ["RS-002", "YB-001"]
        assert codes("YLBX") == codes(" y l b x ") == ["RS-002", "YB-001"]
        assert codes("yiliao") == ["YB-001", "YB-003"]
        assert codes("医疗") == ["YB-001", "YB-003"]
        assert codes("dibao") == [] and codes("zdshbz") == ["MZ-004"]
        assert codes("yb-003") == ["YB-003"] and codes("YB-00") == ["YB-001", "YB-003"]
        assert codes("pension") == ["RS-002"]
        assert len(codes("")) == len(ITEMS) + len(INSURANCE_ITEMS)


def test_search_page_works_without_script(client, point):
    publish(point, INSURANCE_ITEMS)
    page = client.get("/cases/new?q=ylbx").get_data(as_text=True)
    assert '<input type="search" id="q" name="q" value="ylbx"' in page and "<script" not in page
    assert "城乡居民基本医疗保险参保登记" in page and "城乡居民基本养老保险参保登记" in page
    assert "最低生活保障申请" not in page and "医疗救助申请" not in page
    assert "/cases/new?item=YB-001" in page and "/items/YB-001/guide" in page
    # An item the village may not receive says where to go instead of linking to the form.
    township_only = client.get("/cases/new?q=zjd").get_data(as_text=True)
    assert "宅基地审批" in township_only and "请到乡镇政务服务中心、县政务服务中心办理" in township_only
    assert "/cases/new?item=T-002" not in township_only


def test_an_existing_catalog_without_search_keys_is_backfilled(point):
    with db.session_scope(point.data_dir) as session:
        session.connection().exec_driver_sql("UPDATE catalogitem SET search_text = ''")
    with db.session_scope(point.data_dir) as session:
        assert [item.code for item in find_items(session, "zjdsp")] == ["T-002"]


def test_missing_materials_print_a_one_time_notice_listing_all_of_them(client, point):
    response = client.post("/cases/new?item=T-001", data=form(client, materials=["photo"]))
    assert response.status_code == 302 and "/notices/" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    missing = re.findall(r'<tr class="missing-material"><td>\d+</td><td>([^<]+)</td>', page)
    assert missing == ["居民身份证", "户口簿"], "every missing required material, and only those"
    assert "照片" not in re.search(r'id="missing-materials">(.*?)</table>', page, re.S).group(1)
    assert "一次性告知书" in page and "测试事项甲" in page and "T-001" in page and "王小明" in page
    assert "办事指南" in page and "承诺时限" in page and "12345政务服务便民热线" in page, "the item's guide"
    assert GOOD_ID not in page, "the ID number is masked on the printout"
    (notice,) = rows(point.data_dir, OneTimeNotice)
    assert notice.notice_no.startswith("GZ-") and notice.notice_no in page
    assert [m["code"] for m in json.loads(notice.missing_json)] == ["id_card", "hukou"]
    audited = [entry for entry in rows(point.data_dir, AuditEntry) if entry.action == "notice_issued"]
    assert [entry.subject for entry in audited] == [notice.id]
    assert "王小明" not in audited[0].detail and GOOD_ID not in audited[0].detail
    assert rows(point.data_dir, Case) == [] and point.outbox() == [], "nothing received"
    assert "Please bring all of the following" in client.get(response.headers["Location"] + "?lang=en").get_data(
        as_text=True)


def test_no_notice_while_other_fields_are_wrong(client, point):
    response = client.post("/cases/new?item=T-001", data=form(client, materials=[], applicant_name=""))
    assert response.status_code == 422 and "另缺必需材料：居民身份证、户口簿" in response.get_data(as_text=True)
    assert rows(point.data_dir, OneTimeNotice) == []


def test_prefill_from_the_residents_earlier_application(client, point):
    first = client.post("/cases/new?item=T-001", data=form(client, field_note="第一次"))
    assert first.status_code == 302
    (earlier,) = rows(point.data_dir, Case)
    page = client.post("/cases/new?item=T-001", data={
        "csrf_token": csrf(client, "/cases/new?item=T-001"), "item_code": "T-001", "action": "prefill",
        "applicant_id_number": GOOD_ID.lower(), "applicant_phone": "13911112222"}).get_data(as_text=True)
    assert f"受理编号{earlier.receipt_no}" in page
    assert 'value="王小明"' in page and 'value="第一次"' in page and 'value="低保对象" selected' in page
    assert 'value="13911112222"' in page and 'value="13800138000"' not in page, "what was typed wins"
    assert len(rows(point.data_dir, Case)) == 1, "prefilling receives nothing"
    unknown = client.post("/cases/new?item=T-001", data={
        "csrf_token": csrf(client, "/cases/new?item=T-001"), "item_code": "T-001", "action": "prefill",
        "applicant_id_number": OTHER_ID}).get_data(as_text=True)
    assert "本点没有该身份证号的以往申请" in unknown and 'value="王小明"' not in unknown


def test_a_draft_is_saved_resumed_and_gone_once_received(client, point):
    saved = client.post("/cases/new?item=T-001", data=form(client, action="draft", applicant_id_number="",
                                                          materials=["hukou"]))
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/drafts")
    listing = client.get("/drafts").get_data(as_text=True)
    assert "测试事项甲" in listing and "王小明" in listing
    (draft,) = rows(point.data_dir, IntakeDraft)
    resumed = client.get(f"/cases/new?item=T-001&draft={draft.id}").get_data(as_text=True)
    assert 'value="王小明"' in resumed and f'name="draft_id" value="{draft.id}"' in resumed
    assert 'value="hukou" checked' in resumed and 'value="id_card" checked' not in resumed
    assert rows(point.data_dir, Case) == []
    received = client.post("/cases/new?item=T-001", data=form(client, draft_id=str(draft.id)))
    assert received.status_code == 302 and "/receipt" in received.headers["Location"]
    assert rows(point.data_dir, IntakeDraft) == [] and len(rows(point.data_dir, Case)) == 1
    assert "暂无暂存件" in client.get("/drafts").get_data(as_text=True)


def test_a_draft_can_be_deleted(client, point):
    client.post("/cases/new?item=T-001", data=form(client, action="draft"))
    (draft,) = rows(point.data_dir, IntakeDraft)
    response = client.post(f"/drafts/{draft.id}/delete", data={"csrf_token": csrf(client, "/drafts")})
    assert response.status_code == 302 and rows(point.data_dir, IntakeDraft) == []
    assert client.post(f"/drafts/{draft.id}/delete", data={"csrf_token": csrf(client, "/drafts")}).status_code == 404


def test_an_item_not_accepted_here_says_where_to_go_and_shows_no_form(client, point):
    page = client.get("/cases/new?item=T-002").get_data(as_text=True)
    assert "本级不受理此事项" in page and "乡镇政务服务中心、县政务服务中心" in page and "县民政局" in page
    assert 'id="receive"' not in page and "/items/T-002/guide" in page
    posted = client.post("/cases/new?item=T-002", data={"csrf_token": csrf(client, "/cases/new"),
                                                          "item_code": "T-002", "applicant_name": "王小明"})
    assert posted.status_code == 422 and rows(point.data_dir, Case) == []


def test_the_service_guide_prints_the_ten_public_fields(client, point):
    page = client.get("/items/T-002/guide").get_data(as_text=True)
    for label in ("事项编码", "主管部门", "办理方式", "受理层级", "设定依据", "受理条件", "办理流程", "法定时限",
                  "承诺时限", "超期未办结视为准予", "收费", "投诉渠道", "申请材料"):
        assert label in page, label
    assert "宅基地审批" in page and "20个工作日" in page and "15个工作日" in page and "@media print" in page
    assert "Homestead approval" in client.get("/items/T-002/guide?lang=en").get_data(as_text=True)
    assert client.get("/items/NOPE/guide").status_code == 404


def test_a_limit_reaching_a_year_without_a_calendar_file_warns(client, point):
    # 300 working days from any day of 2026 lands in 2027, which has no schedule file yet.
    publish(point, [{"code": "LONG-1", "name_zh": "长时限事项", "name_en": "Long item", "promised_days": 300}])
    page = client.get("/cases/new?item=LONG-1").get_data(as_text=True)
    assert 'id="calendar-missing"' in page and "2027" in page
    assert 'id="calendar-missing"' not in client.get("/cases/new?item=T-001").get_data(as_text=True)
