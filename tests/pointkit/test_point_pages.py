"""The window's pages: Chinese by default, English on request, CSRF on every form, intake to pickup."""

from __future__ import annotations

import html
import re
import uuid
from datetime import date, timedelta

import pytest
from tests.pointkit.hubside import GOOD_ID, OTHER_ID, rows

from sync.envelope import Kind
from sync.clock import utcnow
from sync.messages import RECONCILED_OUTCOMES

from pointkit import create_app, db
from pointkit.amend import resume_numbering
from pointkit.auth import create_staff
from pointkit.intake import point_code
from pointkit.i18n import HUB_STATUS_LABELS, STATUS_LABELS
from pointkit.models import Case, Outbox
from pointkit.state import get_state

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(client, path: str) -> str:
    return CSRF.search(client.get(path).get_data(as_text=True)).group(1)


@pytest.fixture
def app(point):
    with db.session_scope(point.data_dir) as session:
        create_staff(session, "staff", "window-pass-1", display_name="张三")
        create_staff(session, "boss", "window-pass-2", role="admin")
    return create_app(point.data_dir, test_config={"TESTING": True})


@pytest.fixture
def client(app):
    client = app.test_client()
    token = csrf(client, "/login")
    response = client.post("/login", data={"username": "staff", "password": "window-pass-1", "csrf_token": token})
    assert response.status_code == 302
    return client


def intake_form(client, **overrides) -> dict:
    data = {"csrf_token": csrf(client, "/cases/new?item=T-001"), "item_code": "T-001",
            "applicant_name": "王小明", "applicant_id_number": GOOD_ID, "applicant_phone": "13800138000",
            "field_category": "普通居民", "field_household_size": "4", "field_expected_date": "2026-06-01",
            "materials": ["id_card", "hukou"]}
    data.update(overrides)
    return data


def test_login_page_in_chinese_and_english(app):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    assert "工作人员登录" in page and 'name="username"' in page and 'name="password"' in page
    assert "?lang=en" in page
    english = client.get("/login?lang=en").get_data(as_text=True)
    assert "Staff login" in english and "工作人员登录" not in english
    assert "Staff login" in client.get("/login").get_data(as_text=True)  # the choice sticks (cookie)
    assert client.get("/").headers["Location"].endswith("/login")
    assert client.get("/cases").status_code == 302


def test_wrong_password_and_post_without_csrf(app):
    client = app.test_client()
    token = csrf(client, "/login")
    wrong = client.post("/login", data={"username": "staff", "password": "x", "csrf_token": token})
    assert wrong.status_code == 401 and "用户名或密码错误" in wrong.get_data(as_text=True)
    refused = client.post("/login", data={"username": "staff", "password": "window-pass-1"})
    assert refused.status_code == 400 and "安全令牌" in refused.get_data(as_text=True)


def test_form_posts_without_csrf_are_refused(point, client):
    data = intake_form(client)
    del data["csrf_token"]
    assert client.post("/cases/new?item=T-001", data=data).status_code == 400
    assert client.post("/sync/now").status_code == 400
    assert rows(point.data_dir, Case) == []


def test_every_page_renders_in_both_languages(point, client):
    case_id = client.post("/cases/new?item=T-001", data=intake_form(client)).headers["Location"].split("/")[-2]
    # Staff indicators (待上传: the queue) show on clerks' pages, never on a page a resident reads.
    resident = (f"/cases/{case_id}/receipt", "/results", "/pickup")
    for path in ("/cases/new", "/cases/new?item=T-001", "/cases", f"/cases/{case_id}", "/sync", *resident):
        chinese = client.get(path + ("&" if "?" in path else "?") + "lang=zh")
        assert chinese.status_code == 200, path
        text = chinese.get_data(as_text=True)
        assert "古障村便民服务站" in text and "lang=en" in text, path
        assert ("待上传" in text) is (path not in resident), path
        english = client.get(path + ("&" if "?" in path else "?") + "lang=en").get_data(as_text=True)
        assert ("Queued: 1" in english) is (path not in resident) and "lang=zh" in english, path
    assert client.get("/nowhere").status_code == 404


def test_intake_page_keeps_values_and_marks_errors(point, client):
    page = client.get("/cases/new?item=T-001").get_data(as_text=True)
    assert 'name="field_category"' in page and "<select" in page
    assert 'type="date" id="field_expected_date"' in page and 'type="number"' in page
    assert 'name="materials" value="id_card"' in page and 'id="receive"' in page
    response = client.post("/cases/new?item=T-001", data=intake_form(
        client, applicant_id_number="110105194912310021", field_household_size="", materials=["id_card"]))
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "校验位不符" in text and "必填" in text and 'value="王小明"' in text
    assert "一次性告知书" in text and "户口簿" in text
    assert rows(point.data_dir, Case) == [] and rows(point.data_dir, Outbox) == []
    english = client.post("/cases/new?item=T-001&lang=en", data=intake_form(client, field_household_size="x"))
    assert "must be a number" in english.get_data(as_text=True)
    township = client.post("/cases/new?item=T-002&lang=zh", data=intake_form(client, item_code="T-002"))
    assert "乡镇政务服务中心" in township.get_data(as_text=True)


def test_receipt_shows_the_pickup_code_once(point, client):
    response = client.post("/cases/new?item=T-001", data=intake_form(client, applicant_name="<b>王小明</b>"))
    assert response.status_code == 302
    receipt = client.get(response.headers["Location"]).get_data(as_text=True)
    (case,) = rows(point.data_dir, Case)
    code = re.search(r'id="pickup-code"[^>]*>(\d{6})<', receipt).group(1)
    assert f'id="receipt-no" class="big">{case.receipt_no}<' in receipt
    assert "<svg" in receipt and "window.print()" in receipt and "受理回执" in receipt
    assert GOOD_ID not in receipt and GOOD_ID[-4:] in receipt and "<b>" not in receipt
    again = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'id="pickup-code"' not in again and code not in again
    listing = client.get("/cases").get_data(as_text=True)
    assert case.receipt_no in listing and "待上传" in listing and f"/cases/{case.id}" in listing


def test_pickup_pages(point, client):
    location = client.post("/cases/new?item=T-001", data=intake_form(client)).headers["Location"]
    code = re.search(r'id="pickup-code"[^>]*>(\d{6})<', client.get(location).get_data(as_text=True)).group(1)
    (case,) = rows(point.data_dir, Case)
    point.apply(point.result_message(case))
    results = client.get("/results").get_data(as_text=True)
    assert case.receipt_no in results and "准予" in results
    form = {"csrf_token": csrf(client, "/pickup"), "receipt_no": case.receipt_no, "pickup_code": code}
    wrong = client.post("/pickup", data={**form, "id_last4": "9999"})
    assert wrong.status_code == 422 and "取件码或身份证后四位不符" in wrong.get_data(as_text=True)
    done = client.post("/pickup", data={**form, "id_last4": GOOD_ID[-4:]})
    assert done.status_code == 302
    sheet = client.get(done.headers["Location"]).get_data(as_text=True)
    assert re.search(r'id="result-decision"[^>]*>准予<', sheet) and "MZ-2026-0001" in sheet
    assert "签名已在本窗口验证通过" in sheet and "<svg" in sheet
    assert rows(point.data_dir, Case)[0].status == "collected"


def title(page) -> str:
    return html.unescape(re.search(r"<title>(.*?)</title>", page.get_data(as_text=True), re.S).group(1))


def test_a_refused_pickup_and_each_kiosk_answer_have_a_title_of_their_own(point, client):
    """A browser tab or a screen reader tells a refusal from the blank form by its title alone."""
    case, _receipt, code = receive_with_code(client)
    point.apply(point.result_message(case))
    wrong = "000000" if code != "000000" else "111111"
    refused = client.post("/pickup", data={"csrf_token": csrf(client, "/pickup"), "receipt_no": case.receipt_no,
                                           "pickup_code": wrong, "id_last4": GOOD_ID[-4:]})
    assert refused.status_code == 422 and title(refused).startswith("未能发放结果")
    assert title(client.get("/pickup")).startswith("取件 ")
    resident = client.application.test_client()
    answers = [resident.post("/status", data={"csrf_token": csrf(resident, "/status"), "receipt_no": case.receipt_no,
                                              "pickup_code": typed}) for typed in (code, wrong)]
    titles = [title(resident.get("/status")), *map(title, answers)]
    assert len(set(titles)) == 3, titles


def test_a_receipt_given_here_before_a_restore_sends_the_resident_to_the_county(point, client):
    """A point restored from an older backup lacks the cases it took after the backup. Their receipts are still
    this point's numbers, no newer than the newest the hub holds from it: staff and the kiosk say the case is
    safe at the county instead of "no such case"."""
    client.post("/cases/new?item=T-001", data=intake_form(client))
    (case,) = rows(point.data_dir, Case)
    prefix = case.receipt_no[:-4]
    lost = f"{prefix}0003"
    page = client.get(f"/pickup/find?q={lost}").get_data(as_text=True)
    assert 'id="find-none"' in page and 'id="find-held"' not in page, "no restore known yet: a plain miss"
    with db.session_scope(point.data_dir) as session:  # what the hub's pull answer makes the point do
        resume_numbering(session, get_state(session), receipt_floor=f"{prefix}0004")
    page = client.get(f"/pickup/find?q={lost.lower()}").get_data(as_text=True)
    assert 'id="find-held"' in page and "办件完好保存在县级中心" in page
    for other in (f"{prefix}0005", "20260101-ZZZZZZ-0001", case.receipt_no):
        assert 'id="find-held"' not in client.get(f"/pickup/find?q={other}").get_data(as_text=True), other
    kiosk = client.post("/status", data={"csrf_token": csrf(client, "/status"), "receipt_no": lost,
                                         "pickup_code": "123456"})
    assert kiosk.status_code == 422 and "办件完好保存在县级中心" in kiosk.get_data(as_text=True)


def test_a_case_sent_back_to_a_restored_point_is_handed_over_on_the_whole_id_number(point, client):
    """The pickup page of a case the hub copied back asks for the whole ID number and a reason instead of the
    pickup code, which only the old laptop could check; the kiosk sends the resident to the window."""
    client.post("/cases/new?item=T-001", data=intake_form(client))
    (own,) = rows(point.data_dir, Case)
    receipt_no = own.receipt_no[:-4] + "0009"
    point.apply(point.case_copy(receipt_no))
    restored = next(case for case in rows(point.data_dir, Case) if case.receipt_no == receipt_no)
    point.apply(point.result_message(restored))

    page = client.get(f"/pickup?receipt_no={receipt_no}").get_data(as_text=True)
    assert 'id="id-check-form"' in page and 'name="pickup_code"' not in page
    assert "本机没有其取件码" in page and "完整身份证号" in page and "群众遗失回执" in page
    # The receipt number is not a word: its point code is random hex, "AAA458" one time in a few.
    form = page.split('id="restored-note"')[1].replace(receipt_no, "")
    assert not re.search(r">[^<]*[A-Za-z]{3,}[^<]*<", form), "no English word on the Chinese form"
    assert "Whole ID number" in client.get(f"/pickup?receipt_no={receipt_no}&lang=en").get_data(as_text=True)
    assert "本机没有其取件码" in client.get(f"/cases/{restored.id}?lang=zh").get_data(as_text=True)

    form = {"csrf_token": csrf(client, "/pickup"), "receipt_no": receipt_no, "reason": "restored_no_code"}
    by_code = client.post("/pickup", data={"csrf_token": form["csrf_token"], "receipt_no": receipt_no,
                                           "pickup_code": "123456", "id_last4": GOOD_ID[-4:]})
    assert by_code.status_code == 422 and "本机无法核验其取件码" in by_code.get_data(as_text=True)
    assert 'id="id-check-form"' in by_code.get_data(as_text=True)
    wrong = client.post("/pickup", data={**form, "id_number": OTHER_ID})
    assert wrong.status_code == 422 and "身份证号与申请人不符" in wrong.get_data(as_text=True)
    done = client.post("/pickup", data={**form, "id_number": GOOD_ID})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/cases/{restored.id}/handover")
    assert "准予" in client.get(done.headers["Location"]).get_data(as_text=True)

    other = own.receipt_no[:-4] + "0010"
    point.apply(point.case_copy(other))
    kiosk = client.post("/status", data={"csrf_token": csrf(client, "/status"), "receipt_no": other,
                                         "pickup_code": "123456"})
    assert kiosk.status_code == 422 and "请携带身份证到窗口咨询" in kiosk.get_data(as_text=True)


def test_case_page_corrects_withdraws_and_shows_the_hubs_word(point, client):
    client.post("/cases/new?item=T-001", data=intake_form(client))
    (case,) = rows(point.data_dir, Case)
    page_url, amend_url = f"/cases/{case.id}", f"/cases/{case.id}/amend"
    page = client.get(page_url + "?lang=zh").get_data(as_text=True)
    assert 'id="amend-link"' in page and 'id="withdraw-form"' in page and "撤回申请" in page
    assert 'id="hub-decision"' not in page, "no word from the hub yet"

    # The correction page starts from the case's values; a bad value is marked and nothing is queued.
    assert 'id="field_household_size" name="field_household_size" value="4"' in client.get(amend_url).get_data(
        as_text=True)
    values = {"field_category": "普通居民", "field_household_size": "4", "field_expected_date": "2026-06-01"}
    assert client.post(amend_url, data={**values, "field_household_size": "5"}).status_code == 400, "CSRF"
    bad = client.post(amend_url, data={**values, "csrf_token": csrf(client, amend_url), "field_household_size": "四"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422 and 'id="error-field_household_size"' in text and "须为数字" in text
    assert 'value="四"' in text, "what staff typed stays in the form"
    same = client.post(amend_url + "?lang=en", data={**values, "csrf_token": csrf(client, amend_url)})
    assert same.status_code == 422 and "No field differs from the case as received" in same.get_data(as_text=True)
    assert [row.kind for row in rows(point.data_dir, Outbox)] == [Kind.SUBMIT]
    done = client.post(amend_url + "?lang=zh", data={**values, "csrf_token": csrf(client, amend_url),
                                                     "field_household_size": "5"}, follow_redirects=True)
    assert "更正已排队报送县中心" in done.get_data(as_text=True)
    amendment = rows(point.data_dir, Outbox)[-1]
    assert amendment.kind == Kind.AMEND and point.open_outbox(amendment)["form"] == {"household_size": "5"}

    # The hub's word on a conflict, in the page's language; its default words are not repeated as the reason.
    word = {"conflict_id": str(uuid.uuid4()), "conflict_type": "same_field", "case_id": case.id,
            "outcome": "take_left", "note": "以群众提交的原件为准", "version": 3, "at": utcnow().isoformat()}
    point.apply(point.seal(Kind.RECONCILED, word))
    page = client.get(page_url + "?lang=zh").get_data(as_text=True)
    assert "县中心对冲突的处理结果" in page and "县中心保留了已有的版本" in page
    assert re.search(r'id="hub-note">以群众提交的原件为准<', page)
    point.apply(point.seal(Kind.RECONCILED, {**word, "outcome": "merge_cases",
                                             "note": RECONCILED_OUTCOMES["merge_cases"]}))
    english = client.get(page_url + "?lang=en").get_data(as_text=True)
    assert "The two applications were merged into one" in english and 'id="hub-note"' not in english

    # Withdrawal needs a reason; once sent, the page offers no more changes.
    token = csrf(client, page_url)
    empty = client.post(f"/cases/{case.id}/withdraw?lang=zh", data={"csrf_token": token, "reason": " "},
                        follow_redirects=True)
    assert "请填写群众撤回申请的原因" in empty.get_data(as_text=True) and len(rows(point.data_dir, Outbox)) == 2
    client.post(f"/cases/{case.id}/withdraw", data={"csrf_token": token, "reason": "群众不再需要"})
    withdrawal = rows(point.data_dir, Outbox)[-1]
    assert withdrawal.kind == Kind.WITHDRAW and point.open_outbox(withdrawal)["reason"] == "群众不再需要"
    page = client.get(page_url).get_data(as_text=True)
    assert 'id="withdraw-form"' not in page and 'id="amend-link"' not in page


def test_sync_page_reports_the_hub_down_in_plain_words(point, client):
    token = csrf(client, "/sync")
    response = client.post("/sync/now", data={"csrf_token": token}, follow_redirects=True)
    text = response.get_data(as_text=True)
    assert "同步失败" in text and "无法连接县中心" in text and 'id="sync-now"' in text
    assert "离线" in text


def test_requeue_is_for_admins_only(point, client, app):
    token = csrf(client, "/sync")
    assert client.post("/sync/requeue/1", data={"csrf_token": token}).status_code == 403


def receive_with_code(client) -> tuple[Case, str, str]:
    """A case received through the intake page: (case, its receipt's address, the pickup code printed once)."""
    location = client.post("/cases/new?item=T-001", data=intake_form(client)).headers["Location"]
    code = re.search(r'id="pickup-code"[^>]*>(\d{6})<', client.get(location).get_data(as_text=True)).group(1)
    return rows(client.application.config["DATA_DIR"], Case)[0], location, code


def hub_status(case: Case, status: str, **fields) -> dict:
    return {"case_id": case.id, "status": status, "at": utcnow().isoformat(), "note": "", **fields}


def kiosk(client, case: Case, code: str) -> str:
    answer = client.post("/status", data={"csrf_token": csrf(client, "/status"), "receipt_no": case.receipt_no,
                                          "pickup_code": code})
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def shown(page: str, element_id: str) -> str:
    return re.search(rf'id="{element_id}"[^>]*>([^<]*)<', page).group(1)


def test_the_date_the_hub_moved_replaces_the_printed_one_on_every_page(point, client):
    case, receipt, code = receive_with_code(client)
    printed = case.promised_date
    moved, legal = printed + timedelta(days=7), printed + timedelta(days=20)
    # The hub routed the case, a 补正 stopped its clock 5 working days, and both dates moved that far.
    point.apply(point.seal(Kind.STATUS, hub_status(case, "routed", state="routed", promised_date=str(printed),
                                                   legal_date=str(legal - timedelta(days=7)))))
    assert shown(client.get(f"/cases/{case.id}").get_data(as_text=True), "promised-date") == str(printed)
    point.apply(point.seal(Kind.STATUS, hub_status(case, "supplemented", state="in_review", promised_date=str(moved),
                                                   legal_date=str(legal), paused_days=5)))

    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert shown(page, "promised-date") == str(moved) and shown(page, "promised-date-printed") == str(printed)
    assert "因补正或特别程序暂停计时，顺延5个工作日" in shown(page, "promised-date-why") and shown(page, "legal-date") == str(legal)
    assert shown(page, "hub-status") == "审批部门审批中"
    listing = client.get("/cases").get_data(as_text=True)
    assert f"{moved} <del" in listing and str(printed) in listing
    reprint = client.get(receipt).get_data(as_text=True)
    assert shown(reprint, "reprint-mark") == "（补打）" and shown(reprint, "promised-date") == str(moved)
    assert shown(reprint, "promised-date-printed") == str(printed) and "因补正或特别程序暂停计时，顺延5个工作日" in reprint
    board = kiosk(client, case, code)
    assert shown(board, "kiosk-promised") == str(moved) and shown(board, "kiosk-state") == "县级部门审批中"
    assert "因补正或特别程序暂停计时，顺延5个工作日" in board
    # A message sealed before this point upgraded names no state: it changes the words, never the dates.
    point.apply(point.seal(Kind.STATUS, hub_status(case, "routed")))
    assert shown(client.get(f"/cases/{case.id}").get_data(as_text=True), "promised-date") == str(moved)


def visible_text(page: str) -> str:
    return html.unescape(re.sub(r"<style.*?</style>|<[^>]+>", " ", page, flags=re.S))


def test_no_page_shows_a_stored_state_key(point, client):
    case, receipt, code = receive_with_code(client)

    def pages() -> dict[str, str]:
        return {path: visible_text(client.get(path).get_data(as_text=True))
                for path in (f"/cases/{case.id}", "/cases", receipt)} | {"kiosk": visible_text(kiosk(client, case, code))}

    def assert_words_only(*keys: str) -> None:
        for where, text in pages().items():
            for key in keys:
                assert not re.search(rf"\b{key}\b", text), f"{key} on {where}"

    for state in [*HUB_STATUS_LABELS, "a_state_only_a_newer_hub_knows"]:
        point.apply(point.seal(Kind.STATUS, hub_status(case, state, state=state, promised_date=str(case.promised_date))))
        assert_words_only(state, *STATUS_LABELS)
    point.apply(point.seal(Kind.SUPPLEMENT_REQUEST, {"case_id": case.id, "department": "MZ", "materials": ["hukou"],
                                                     "note": "户口簿复印件不清晰", "requested_at": utcnow().isoformat()}))
    assert_words_only(*STATUS_LABELS)
    (case,) = rows(point.data_dir, Case)
    point.apply(point.result_message(case))
    assert_words_only(*STATUS_LABELS, *HUB_STATUS_LABELS)
    assert shown(client.get(f"/cases/{case.id}").get_data(as_text=True), "hub-status") == "已作出决定，结果正发往本窗口"
    handed = client.post("/pickup", data={"csrf_token": csrf(client, "/pickup"), "receipt_no": case.receipt_no,
                                          "pickup_code": code, "id_last4": GOOD_ID[-4:]})
    assert handed.status_code == 302
    assert_words_only(*STATUS_LABELS, *HUB_STATUS_LABELS)


def test_the_supplement_notice_says_by_when_and_what_happens_after(point, client):
    case, receipt, code = receive_with_code(client)
    return_by = date.today() + timedelta(days=10)
    point.apply(point.seal(Kind.SUPPLEMENT_REQUEST, {
        "case_id": case.id, "department": "MZ", "materials": ["hukou"], "note": "户口簿复印件不清晰",
        "requested_at": utcnow().isoformat(), "return_by": str(return_by), "return_within": 10,
        "return_unit": "natural_days"}))
    notice = client.get(f"/cases/{case.id}/supplement-notice").get_data(as_text=True)
    assert shown(notice, "supplement-deadline") == str(return_by)
    assert f"请于{return_by}前" in notice and "10日（自然日）" in notice and "古障村便民服务站" in notice
    assert "视为撤回申请" in shown(notice, "supplement-consequence")
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert shown(page, "return-by") == f"请于{return_by}前补交材料。" and "视为撤回申请" in page
    board = kiosk(client, case, code)
    assert f"请于{return_by}前补交材料" in board and "需要补交材料" in shown(board, "kiosk-state")
    assert "暂停计时" in board
    # Not brought in time: the department records the application as withdrawn; nothing is left to bring.
    point.apply(point.seal(Kind.STATUS, hub_status(case, "withdrawn", state="withdrawn")))
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert 'id="supplement-form"' not in page and shown(page, "hub-status") == "已撤回"
    assert client.get(f"/cases/{case.id}/supplement-notice").status_code == 404
    assert shown(kiosk(client, case, code), "kiosk-state") == "已撤回"

def test_the_id_number_handover_works_by_keyboard_at_1024x768(point, app, live_server, browser):
    """Chromium, keyboard only: the ID number field has focus, Tab reaches the reason, the note and the button."""
    from tests.support.cluster import log_in
    from tests.support.browser import shot

    with db.session_scope(point.data_dir) as session:
        receipt_no = f"20260105-{point_code(get_state(session).point_id)}-0002"
    point.apply(point.case_copy(receipt_no))
    (restored,) = rows(point.data_dir, Case)
    point.apply(point.result_message(restored))
    server = live_server(app)
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    log_in(page, server.url, "staff", "window-pass-1")
    page.goto(f"{server.url}/pickup?receipt_no={receipt_no}")
    assert page.evaluate("document.activeElement.id") == "id_number"
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024, "no sideways scrolling at 1024x768"
    page.keyboard.type(GOOD_ID)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "reason"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "note"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "collect-by-id"
    shot(page, "point-pickup-by-id-number")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "准予" in page.inner_text("#result-decision")
    assert rows(point.data_dir, Case)[0].status == "collected"
