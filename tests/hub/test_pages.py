"""Staff pages: Chinese by default, English on request, CSRF on every form, roles on the server."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from hub.core.clock import as_utc
from hub.core.models import Case, ReviewTask, Staff
from tests.hub.hubkit import REVIEWER_PASSWORD, csrf_from
from sync.kit.workdays import COUNTY_TIMEZONE

# The web layer alone (language, redirects, CSRF, roles, cookie sessions, escaping), over queries and writes the API
# tests run on PostgreSQL too: SQLite only. The queue and case pages, which show stored times, run on both.
web_layer = pytest.mark.sqlite_only


@web_layer
def test_login_page_is_chinese_by_default_and_english_on_request(hub):
    client = hub.browser()
    chinese = client.get("/login").text
    assert "登录" in chinese and 'name="username"' in chinese and 'name="password"' in chinese
    assert 'lang="zh-CN"' in chinese and 'href="/login?lang=en"' in chinese
    english = client.get("/login?lang=en").text
    assert "Log in" in english and "登录" not in english
    assert "Log in" in client.get("/login").text, "the choice is remembered"


@web_layer
def test_root_redirects_to_login_then_queue(hub):
    anonymous = hub.browser()
    assert anonymous.get("/").url.path == "/login"
    assert hub.browser("yb-li").get("/").url.path == "/queue"


@web_layer
def test_wrong_password_shows_a_chinese_error(hub):
    client = hub.browser()
    token = csrf_from(client.get("/login").text)
    response = client.post("/login", data={"username": "admin", "password": "wrong", "csrf_token": token})
    assert response.status_code == 401 and "用户名或密码错误" in response.text


@web_layer
def test_a_form_post_without_the_csrf_token_is_refused(hub):
    client = hub.browser()
    client.get("/login")
    response = client.post("/login", data={"username": "admin", "password": "hub-admin-pass"})
    assert response.status_code == 400 and "表单已失效" in response.text
    assert client.get("/queue").url.path == "/login", "not logged in"


def test_reviewer_queue_links_each_case_and_the_case_page_decides(hub):
    point = hub.enroll_point()
    case_id = point.push_case()
    desk = hub.browser("yb-li")
    queue = desk.get("/queue").text
    with hub.db() as session:
        case = session.get(Case, case_id)
        receipt_no, received = case.receipt_no, as_utc(case.received_at).astimezone(COUNTY_TIMEZONE)
    assert f'href="/cases/{case_id}">{receipt_no}</a>' in queue
    page = desk.get(f"/cases/{case_id}").text
    # Times on the county's clock (UTC+8), as staff live by it.
    assert received.strftime("%Y-%m-%d %H:%M") in queue and received.strftime("%Y-%m-%d %H:%M") in page
    assert "韦秀兰" in page and "普通居民" in page and "参保类别" in page and "居民身份证" in page
    assert '<textarea id="reason" name="reason"' in page and 'name="certificate_no"' in page
    assert 'name="decision" value="approved"' in page and 'name="decision" value="rejected"' in page

    # Rejecting without a reason re-renders with a Chinese error and changes nothing.
    token = csrf_from(page)
    refused = desk.post(f"/cases/{case_id}", data={"csrf_token": token, "decision": "rejected", "reason": "",
                                                   "certificate_no": "kept"})
    assert refused.status_code == 422 and "不予批准必须填写理由" in refused.text
    assert 'value="kept"' in refused.text
    with hub.db() as session:
        assert session.exec(select(ReviewTask)).one().status == "open"

    approved = desk.post(f"/cases/{case_id}", data={"csrf_token": token, "decision": "approved",
                                                    "certificate_no": "YB-9", "reason": "", "confirmed": "yes"})
    assert approved.status_code == 200 and approved.url.path == f"/cases/{case_id}"
    assert "已出件" in approved.text and "YB-9" in approved.text
    assert 'name="decision"' not in approved.text, "no form once the department has decided"


@web_layer
def test_other_departments_get_404_and_no_form(hub):
    point = hub.enroll_point()
    case_id = point.push_case()
    other = hub.browser("ny-wang")
    assert other.get(f"/cases/{case_id}").status_code == 404
    operator_page = hub.browser("op").get(f"/cases/{case_id}").text
    assert "韦秀兰" in operator_page and 'name="decision"' not in operator_page


@web_layer
def test_points_page_is_admin_only_and_shows_the_token_once(hub):
    assert hub.browser("yb-li").get("/points").status_code == 403
    admin = hub.browser("admin")
    page = admin.get("/points?lang=en").text
    assert "Add a point" in page and '<select id="level" name="level">' in page
    created = admin.post("/points", data={"csrf_token": csrf_from(page), "name": "新村", "level": "village"})
    match = re.search(r'<code id="enrollment-token" class="token">([^<]+)</code>', created.text)
    assert match and match.group(1).endswith(hub.identity.fingerprint[:16])
    assert "enrollment-token" not in admin.get("/points").text


@web_layer
def test_every_page_escapes_what_points_send(hub):
    point = hub.enroll_point()
    case_id = point.push_case(form={"insured_category": "<script>alert(1)</script>"})
    page = hub.browser("yb-li").get(f"/cases/{case_id}?lang=en").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "Approve" in page and "Timeline" in page


@web_layer
def test_logout_ends_the_session(hub):
    desk = hub.browser("yb-li")
    token = csrf_from(desk.get("/queue").text)
    assert desk.post("/logout", data={"csrf_token": token}).url.path == "/login"
    assert desk.get("/queue").url.path == "/login"


@web_layer
def test_a_logged_in_form_post_needs_this_sessions_token(hub):
    admin, other = hub.browser("admin"), hub.browser("op")
    with hub.db() as session:
        reviewer_id = session.exec(select(Staff).where(Staff.username == "yb-li")).one().id
    missing = admin.post(f"/staff/{reviewer_id}/disable", data={})
    assert missing.status_code == 400 and "表单已失效" in missing.text and "<html" in missing.text
    another_sessions = csrf_from(other.get("/queue").text)
    foreign = admin.post(f"/staff/{reviewer_id}/disable?lang=en", data={"csrf_token": another_sessions})
    assert foreign.status_code == 400 and "This form has expired" in foreign.text
    with hub.db() as session:
        assert session.get(Staff, reviewer_id).disabled_at is None, "nothing changed"


@web_layer
def test_strangers_are_sent_to_the_login_page_and_back(hub):
    stranger = hub.browser()
    shown = stranger.get("/supervision?lang=en")
    assert shown.url.path == "/login" and shown.url.params["next"] == "/supervision?lang=en"
    assert "Log in" in shown.text and "Please log in" not in shown.text
    logged_in = stranger.post(shown.url, data={"username": "op", "password": REVIEWER_PASSWORD,
                                               "csrf_token": csrf_from(shown.text)})
    assert logged_in.url.path == "/supervision"


@web_layer
def test_the_api_never_takes_the_page_session(hub):
    page = hub.browser("admin")
    for method, path in (("GET", "/api/queue"), ("POST", "/api/conflicts/x/resolve"), ("GET", "/api/points")):
        answer = page.request(method, path, json={})
        assert answer.status_code == 401 and answer.json()["reason"] == "unauthorized", path
