"""People at the window: login delays, cookie flags, roles on the server, the pickup lock, no personal data in logs."""

from __future__ import annotations

import json
import logging
import os
import re
from datetime import timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from sqlmodel import select
from tests.pointkit.hubside import GOOD_ID, rows, valid_form

from pointkit import db
from pointkit.cli import _log_to_file, main
from pointkit.intake import Applicant, receive_case
from pointkit.models import ApiToken, AuditEntry, Case, LoginFailure, Outbox, Staff
from pointkit.state import load_identity
from pointkit.syncagent import sync_once
from sync import b64
from sync.kit.passwords import password_needs_rehash
from sync.clock import shift_clock, utcnow

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(client, path: str) -> str:
    return CSRF.search(client.get(path).get_data(as_text=True)).group(1)


@pytest.fixture
def api(app, live_server):
    server = live_server(app)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def login(client, username="staff", password="window-pass-1"):
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf(client, "/login")})


def unlock_by_time(data_dir, model, key, column):
    """Move the stored lock time into the past, as 15 minutes passing would."""
    with db.session_scope(data_dir) as session:
        row = session.get(model, key)
        setattr(row, column, utcnow() - timedelta(seconds=1))
        session.add(row)


def receive(point):
    with db.session_scope(point.data_dir) as session:
        return receive_case(session, "staff", "T-001", Applicant("王小明", GOOD_ID, "13800138000"), valid_form(),
                            ["id_card", "hukou"], identity=load_identity(point.data_dir))


def fail_until_a_delay_of_4_seconds(post_wrong) -> int:
    """Five checked wrong passwords, the clock moved over the delays between them (1 s, 2 s): the next try waits
    4 s. Returns the milliseconds the clock moved, to move it back."""
    moved = 0
    for delay in (0, 0, 0, 1, 2):
        shift_clock(delay * 1000)
        moved += delay * 1000
        assert post_wrong().status_code == 401, delay
    return moved


def test_wrong_passwords_delay_that_name_from_that_address_not_the_account(point, api):
    moved = fail_until_a_delay_of_4_seconds(
        lambda: api.post("/api/login", json={"username": "staff", "password": "wrong"}))
    try:
        refused = api.post("/api/login", json={"username": "staff", "password": "window-pass-1"})
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "4"
        assert refused.json()["reason"] == "login_throttled" and "try again in 4 s" in refused.json()["error"]
        assert api.post("/api/login", json={"username": "boss", "password": "window-pass-2"}).status_code == 200
        shift_clock(4000)
        moved += 4000
        assert api.post("/api/login", json={"username": "staff", "password": "window-pass-1"}).status_code == 200
    finally:
        shift_clock(-moved)
    throttled = [e for e in rows(point.data_dir, AuditEntry) if e.action == "login_throttled"]
    assert [(e.subject, json.loads(e.detail)) for e in throttled] == [("staff", {"address": "127.0.0.1",
                                                                                 "failures": 3})]
    [record] = rows(point.data_dir, LoginFailure)
    assert (record.username, record.address, record.failures) == ("staff", "127.0.0.1", 5)
    assert record.throttled_until is None and record.succeeded_at is not None


def test_the_login_page_says_how_long_to_wait_in_chinese(app):
    client = app.test_client()
    moved = fail_until_a_delay_of_4_seconds(lambda: login(client, password="wrong"))
    try:
        refused = login(client)
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "4"
        assert "这台电脑登录失败次数过多。请等待4秒后再试。" in refused.get_data(as_text=True)
        assert client.get("/cases").status_code == 302, "still not logged in"
    finally:
        shift_clock(-moved)


def test_session_cookie_is_httponly_and_samesite(app):
    client = app.test_client()
    response = login(client)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie



def test_strangers_are_sent_to_the_login_page_and_back(app):
    client = app.test_client()
    shown = client.get("/cases?lang=en")
    to = urlsplit(shown.headers["Location"])
    assert shown.status_code == 302 and to.path == "/login" and parse_qs(to.query) == {"next": ["/cases?lang=en"]}
    page = client.get(shown.headers["Location"]).get_data(as_text=True)
    assert "Please log in" not in page, "no English-only sentence from the login library"
    back = client.post(shown.headers["Location"], data={"username": "staff", "password": "window-pass-1",
                                                        "csrf_token": CSRF.search(page).group(1)})
    assert back.status_code == 302 and back.headers["Location"] == "/cases?lang=en"


def test_a_removed_account_is_logged_out_at_once(point, app):
    client = app.test_client()
    login(client)
    assert client.get("/cases").status_code == 200
    with db.session_scope(point.data_dir) as session:
        staff = session.exec(select(Staff).where(Staff.username == "staff")).one()
        for token in session.exec(select(ApiToken).where(ApiToken.staff_id == staff.id)):
            session.delete(token)
        session.delete(staff)
    gone = client.get("/cases")
    assert gone.status_code == 302 and gone.headers["Location"].startswith("/login")


def test_a_window_form_post_needs_this_sessions_token(point, app):
    client, other = app.test_client(), app.test_client()
    login(client)
    login(other, "boss", "window-pass-2")
    missing = client.post("/sync/settings", data={})
    assert missing.status_code == 400 and "安全令牌" in missing.get_data(as_text=True)
    another_sessions = csrf(other, "/sync")
    foreign = client.post("/sync/settings?lang=en", data={"csrf_token": another_sessions})
    assert foreign.status_code == 400 and "security token" in foreign.get_data(as_text=True)
    assert client.post("/logout", data={"csrf_token": another_sessions}).status_code == 400
    assert client.get("/cases").status_code == 200, "still logged in: the forged logout was refused"


def test_the_api_never_takes_the_page_session(app):
    client = app.test_client()
    login(client)
    for method, path in (("GET", "/api/cases"), ("POST", "/api/cases"), ("POST", "/api/sync")):
        answer = client.open(path, method=method, json={})
        assert answer.status_code == 401 and answer.get_json()["reason"] == "unauthorized", path


def earlier_release_hash(password: str) -> str:
    """A password as releases before Werkzeug's hashing stored it: scrypt$N$r$p$b64(salt)$b64(digest)."""
    salt = os.urandom(16)
    digest = Scrypt(salt=salt, length=32, n=2**14, r=8, p=1).derive(password.encode("utf-8"))
    return f"scrypt$16384$8$1${b64(salt)}${b64(digest)}"


def test_a_password_stored_by_an_earlier_release_logs_in_and_is_stored_anew(point, app):
    with db.session_scope(point.data_dir) as session:
        staff = session.exec(select(Staff).where(Staff.username == "staff")).one()
        staff.password_hash = earlier_release_hash("window-pass-1")
        session.add(staff)
    assert login(app.test_client()).status_code == 302
    with db.session_scope(point.data_dir) as session:
        stored = session.exec(select(Staff).where(Staff.username == "staff")).one().password_hash
    assert stored.startswith("scrypt:16384:8:1$") and not password_needs_rehash(stored)
    assert login(app.test_client()).status_code == 302, "the new hash takes the same password"
    assert login(app.test_client(), password="not-the-password").status_code == 401

def test_requeue_is_for_admins_only_and_audited(point, app):
    receive(point)
    with db.session_scope(point.data_dir) as session:
        row = session.exec(select(Outbox)).first()
        row.state, row.reason = "quarantined", "invalid_payload"
        session.add(row)
    staff = app.test_client()
    login(staff)
    token = csrf(staff, "/sync")
    assert staff.post(f"/sync/requeue/{row.id}", data={"csrf_token": token}).status_code == 403
    assert rows(point.data_dir, Outbox)[0].state == "quarantined"
    boss = app.test_client()
    login(boss, "boss", "window-pass-2")
    assert boss.post(f"/sync/requeue/{row.id}", data={"csrf_token": csrf(boss, "/sync")}).status_code == 302
    assert rows(point.data_dir, Outbox)[0].state == "queued"
    (entry,) = [e for e in rows(point.data_dir, AuditEntry) if e.action == "envelope_requeued"]
    assert entry.actor == "boss"


def ready_case(point):
    case, code = receive(point)
    point.apply(point.result_message(case))
    return case, code


def test_five_wrong_pickup_tries_lock_the_case_even_for_the_right_code(point, api):
    case, code = ready_case(point)
    token = api.post("/api/login", json={"username": "staff", "password": "window-pass-1"}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    wrong = "000000" if code != "000000" else "111111"
    url = f"/api/cases/{case.id}/pickup"
    for attempt in ([wrong, GOOD_ID[-4:]], [code, "0000"], [wrong, "0000"], [wrong, GOOD_ID[-4:]]):
        answer = api.post(url, headers=auth, json={"pickup_code": attempt[0], "id_last4": attempt[1]})
        assert answer.json()["reason"] == "wrong_pickup_code"
    fifth = api.post(url, headers=auth, json={"pickup_code": wrong, "id_last4": GOOD_ID[-4:]})
    assert fifth.status_code == 423 and fifth.json()["reason"] == "pickup_locked" and fifth.json()["unlocks_at"]
    right = api.post(url, headers=auth, json={"pickup_code": code, "id_last4": GOOD_ID[-4:]})
    assert right.status_code == 423 and right.json()["reason"] == "pickup_locked"
    assert rows(point.data_dir, Case)[0].status == "result_ready"
    actions = [e.action for e in rows(point.data_dir, AuditEntry)]
    assert actions.count("pickup_failed") == 5 and actions.count("pickup_locked") == 1

    unlock_by_time(point.data_dir, Case, case.id, "pickup_locked_until")
    done = api.post(url, headers=auth, json={"pickup_code": code, "id_last4": GOOD_ID[-4:]})
    assert done.status_code == 200 and done.json()["status"] == "collected"


def test_the_pickup_page_says_the_case_is_locked_in_chinese(point, app):
    case, code = ready_case(point)
    client = app.test_client()
    login(client)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        page = client.post("/pickup", data={"csrf_token": csrf(client, "/pickup"), "receipt_no": case.receipt_no,
                                            "pickup_code": wrong, "id_last4": GOOD_ID[-4:]})
    text = page.get_data(as_text=True)
    assert page.status_code == 422 and "取件已被锁定" in text and "连续5次" in text
    right = client.post("/pickup", data={"csrf_token": csrf(client, "/pickup"), "receipt_no": case.receipt_no,
                                         "pickup_code": code, "id_last4": GOOD_ID[-4:]})
    assert right.status_code == 422 and "取件已被锁定" in right.get_data(as_text=True)


def test_a_kiosk_lock_never_locks_the_staff_desk(point, app):
    case, code = ready_case(point)
    wrong = "000000" if code != "000000" else "111111"
    kiosk = app.test_client()
    pages = [kiosk.post("/status", data={"csrf_token": csrf(kiosk, "/status"), "receipt_no": case.receipt_no,
                                         "pickup_code": wrong}).get_data(as_text=True) for _ in range(5)]
    # The kiosk never counts the tries left (only a real receipt has a count): each wrong answer says the rule.
    assert all("连续输错5次，该回执将锁定15分钟" in page and "再错" not in page for page in pages[:4]), pages[0]
    assert "连续输错5次，已锁定。请到窗口咨询" in pages[4] and "再错" not in pages[4]
    locked = load_case(point, case.id)
    assert locked.kiosk_locked_until is not None and locked.pickup_locked_until is None and locked.pickup_failures == 0
    # The lock names the minute it surely ends: never a time at which it is still locked.
    unlocks = as_county(locked.kiosk_locked_until)
    said = (unlocks.replace(second=0, microsecond=0) + timedelta(minutes=1 if unlocks.second or
                                                               unlocks.microsecond else 0)).strftime("%H:%M")
    assert said in pages[4], pages[4]

    staff = app.test_client()
    login(staff)
    page = staff.post("/pickup", data={"csrf_token": csrf(staff, "/pickup"), "receipt_no": case.receipt_no,
                                       "pickup_code": code, "id_last4": GOOD_ID[-4:]})
    assert page.status_code == 302, page.get_data(as_text=True)
    assert load_case(point, case.id).status == "collected"
    actions = [e.action for e in rows(point.data_dir, AuditEntry)]
    assert actions.count("kiosk_failed") == 5 and actions.count("kiosk_locked") == 1 and "pickup_failed" not in actions


def test_staff_hand_over_without_the_code_on_the_whole_id_number_with_a_reason(point, app):
    case, _code = ready_case(point)
    staff = app.test_client()
    login(staff)
    form = staff.get(f"/pickup?receipt_no={case.receipt_no}").get_data(as_text=True)
    assert 'id="without-code"' in form and "群众无法提供取件码" in form and "restored_no_code" not in form
    wrong = staff.post("/pickup", data={"csrf_token": csrf(staff, "/pickup"), "receipt_no": case.receipt_no,
                                        "id_number": GOOD_ID[:-4] + "0000", "reason": "receipt_lost", "note": ""})
    assert wrong.status_code == 422 and "再错4次将锁定15分钟" in wrong.get_data(as_text=True)
    done = staff.post("/pickup", data={"csrf_token": csrf(staff, "/pickup"), "receipt_no": case.receipt_no,
                                       "id_number": GOOD_ID, "reason": "code_forgotten", "note": ""})
    assert done.status_code == 302 and load_case(point, case.id).status == "collected"
    (entry,) = [e for e in rows(point.data_dir, AuditEntry) if e.action == "case_collected_by_id_check"]
    assert entry.actor == "staff" and '"reason": "code_forgotten"' in entry.detail and GOOD_ID not in entry.detail


def load_case(point, case_id: str) -> Case:
    with db.session_scope(point.data_dir) as session:
        found = session.get(Case, case_id)
        session.expunge(found)
        return found


def as_county(moment):
    from sync.kit.workdays import COUNTY_TIMEZONE

    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(COUNTY_TIMEZONE)


def test_no_personal_data_in_the_log(point, app, api):
    _log_to_file(point.data_dir)
    try:
        case, code = ready_case(point)
        token = api.post("/api/login", json={"username": "staff", "password": "window-pass-1"}).json()["token"]
        for _ in range(6):
            api.post("/api/login", json={"username": "boss", "password": "wrong-" + GOOD_ID})
        wrong = "000000" if code != "000000" else "111111"
        for _ in range(6):
            api.post(f"/api/cases/{case.id}/pickup", headers={"Authorization": f"Bearer {token}"},
                     json={"pickup_code": wrong, "id_last4": GOOD_ID[-4:]})
        sync_once(point.data_dir, transport=point.transport())
        point.revoked = True
        sync_once(point.data_dir, transport=point.transport())
    finally:
        for handler in list(logging.getLogger("pointkit").handlers):
            if getattr(handler, "baseFilename", "").startswith(str(point.data_dir.resolve())):
                logging.getLogger("pointkit").removeHandler(handler)
                handler.close()
    log = (point.data_dir / "point.log").read_text(encoding="utf-8")
    assert "sync round" in log and "failed logins of boss from 127.0.0.1" in log
    for secret in ("王小明", GOOD_ID, GOOD_ID[-4:], "13800138000", code):
        assert secret not in log


def test_new_commands_have_help():
    for command in (["keys"], ["keys", "rotate"], ["audit"], ["audit", "verify"]):
        result = CliRunner().invoke(main, [*command, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output
    for command in (main.commands["keys"].commands["rotate"], main.commands["audit"].commands["verify"]):
        assert command.help
        for param in command.params:
            if param.param_type_name == "option":
                assert param.help, f"{command.name} {param.name} has no help"
