"""Evidence and people: the audit chain and its verifier, login delays, cookies, roles, clean logs."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from tests.hub.hubkit import ADMIN_PASSWORD, REVIEWER_PASSWORD, csrf_from
from sqlmodel import select

from hub.cli import main
from hub.trust.keys import load_identity
from hub.core.models import AuditEntry, Case, CaseEvent, LoginFailure, Staff
from sync import Kind, b64
from sync.clock import shift_clock
from sync.kit.passwords import password_needs_rehash

HUB_COMMAND = str(Path(sys.executable).parent / "pointkit-hub")


def _loop_once(hub) -> str:
    point = hub.enroll_point()
    case_id = point.push_case()
    assert hub.api("yb-li").post(f"/api/cases/{case_id}/decision", json={"decision": "approved"}).status_code == 200
    point.client.pull(point.client.pull(0).cursor)
    return case_id


def _verify_tampered(hub, tamper: list[str], undo: list[str]):
    """Run ``audit verify`` with the chain changed by the SQL ``tamper``, then put it back with ``undo``.

    Plain SQL on the hub's own database, whichever it is: what someone with database access could do.
    """
    with hub.engine.begin() as db:
        for statement in tamper:
            db.exec_driver_sql(statement)
    try:
        return _verify(hub.data_dir)
    finally:
        with hub.engine.begin() as db:
            for statement in undo:
                db.exec_driver_sql(statement)


def _verify(data: Path):
    return CliRunner().invoke(main, ["audit", "verify", "--data", str(data)])


def test_every_case_change_and_admin_action_is_chained(hub):
    case_id = _loop_once(hub)
    with hub.db() as session:
        entries = session.exec(select(AuditEntry).order_by(AuditEntry.id)).all()
    actions = [entry.action for entry in entries]
    for expected in ("user_added", "keys_created", "catalog_imported", "point_added", "point_enrolled",
                     "received", "routed", "approved", "result_issued", "delivered"):
        assert expected in actions, expected
    case_entries = [e for e in entries if e.subject == f"case:{case_id}"]
    # Each transaction that changed the case ends with the state it left the case's rows in.
    assert [e.action for e in case_entries] == ["received", "routed", "case_state", "approved", "result_issued",
                                                "case_state", "delivered", "case_state"]
    decided = case_entries[5]
    assert decided.actor == "hub" and decided.detail["case"]["decision"] == "approved"
    [task] = decided.detail["tasks"].values()
    assert (task["status"], task["decided_by"], task["department_code"]) == ("approved", "yb-li", "YB")
    assert "applicant_sha256" in decided.detail["case"]
    # A timeline line's own entry names it: verify checks the line against it.
    with hub.db() as session:
        lines = session.exec(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.at)).all()
    assert [e.detail["line"] for e in case_entries if e.action != "case_state"] == [str(line.id) for line in lines]
    with hub.db() as session:
        applicant = session.get(Case, case_id).applicant
    details = json.dumps([e.detail for e in entries], ensure_ascii=False)
    assert applicant["name"] not in details and applicant["id_number"] not in details
    # Two chains: the hub's (staff, keys, catalog, points) and the point's (its case); each links 1, 2, 3, …
    assert {e.chain for e in entries} == {"hub", f"point:{case_entries[0].chain.removeprefix('point:')}"}
    assert {e.chain for e in case_entries} == {case_entries[0].chain} != {"hub"}
    for chain in {e.chain for e in entries}:
        linked = [e for e in entries if e.chain == chain]
        assert [e.seq for e in linked] == list(range(1, len(linked) + 1)), chain
        assert all(linked[i].prev_hash == linked[i - 1].entry_hash for i in range(1, len(linked))), chain

    holds = subprocess.run([HUB_COMMAND, "audit", "verify", "--data", str(hub.data_dir)],
                           capture_output=True, text=True, timeout=60, check=False)
    assert holds.returncode == 0, holds.stderr
    assert f"Audit chain holds: {len(entries)} entries" in holds.stdout


def test_audit_verify_names_the_first_edited_removed_or_reordered_entry(hub):
    _loop_once(hub)
    with hub.db() as session:  # the case's point's chain: its entries' ids by position
        chain = session.exec(select(AuditEntry.chain).where(AuditEntry.chain != "hub")).first()
        ids = dict(session.exec(select(AuditEntry.seq, AuditEntry.id).where(AuditEntry.chain == chain)).all())
    where = f"chain = '{chain}'"

    with hub.engine.connect() as db:
        note = db.exec_driver_sql(f"select detail from auditentry where {where} and seq = 3").scalar_one()
    note = note if isinstance(note, str) else json.dumps(note)
    edit = f"""update auditentry set detail = '%s' where {where} and seq = 3"""
    result = _verify_tampered(hub, [edit % '{"note": "nothing happened"}'], [edit % note.replace("'", "''")])
    assert result.exit_code == 1
    assert f"Audit chain broken at entry {ids[3]}" in result.output and "edited" in result.output
    assert f"in the chain {chain}" in result.output

    # Removed: moved far past the chain's end (so the undo can bring the very row back).
    away = f"update auditentry set seq = 1000005 where {where} and seq = 2"
    home = f"update auditentry set seq = 2 where {where} and seq = 1000005"
    result = _verify_tampered(hub, [away], [home])
    assert result.exit_code == 1
    assert f"Audit chain broken at entry {ids[3]}" in result.output and "removed or renumbered" in result.output

    swap = [f"update auditentry set seq = -1 where {where} and seq = 2",
            f"update auditentry set seq = 2 where {where} and seq = 5",
            f"update auditentry set seq = 5 where {where} and seq = -1"]
    result = _verify_tampered(hub, swap, swap)
    assert result.exit_code == 1
    assert f"Audit chain broken at entry {ids[5]}" in result.output and "removed or reordered" in result.output

    assert _verify(hub.data_dir).exit_code == 0, "every tampering was undone"


def test_wrong_passwords_delay_that_name_from_that_address_and_are_audited_once(hub):
    client = hub.http()
    moved = 0
    try:
        for delay in (0, 0, 0, 1, 2):  # the fifth failure makes the next try wait 4 s
            shift_clock(delay * 1000)
            moved += delay * 1000
            response = client.post("/api/login", json={"username": "yb-li", "password": "wrong-password"})
            assert response.status_code == 401 and response.json()["reason"] == "bad_credentials", delay
        delayed = client.post("/api/login", json={"username": "yb-li", "password": REVIEWER_PASSWORD})
        assert delayed.status_code == 429 and delayed.json()["reason"] == "login_throttled"
        assert delayed.headers["Retry-After"] == "4" and "try again in 4 s" in delayed.json()["error"]

        page = hub.browser()
        form = page.get("/login?lang=en")
        refused = page.post("/login", data={"username": "yb-li", "password": REVIEWER_PASSWORD,
                                            "csrf_token": csrf_from(form.text)})
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "4"
        assert "Too many failed logins from this computer. Wait 4 seconds, then try again." in refused.text
        # Other accounts were never affected.
        assert client.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD}).status_code == 200

        shift_clock(4000)
        moved += 4000
        assert client.post("/api/login", json={"username": "yb-li", "password": REVIEWER_PASSWORD}).status_code == 200
    finally:
        shift_clock(-moved)
    with hub.db() as session:
        [entry] = session.exec(select(AuditEntry).where(AuditEntry.action == "login_throttled")).all()
        assert entry.subject == "staff:yb-li" and entry.detail == {"address": "127.0.0.1", "failures": 3}
        [record] = session.exec(select(LoginFailure)).all()
        assert (record.username, record.address, record.failures) == ("yb-li", "127.0.0.1", 5)
        assert record.throttled_until is None and record.succeeded_at is not None


def earlier_release_hash(password: str) -> str:
    """A password as releases before Werkzeug's hashing stored it: scrypt$N$r$p$b64(salt)$b64(digest)."""
    salt = os.urandom(16)
    digest = Scrypt(salt=salt, length=32, n=2**14, r=8, p=1).derive(password.encode("utf-8"))
    return f"scrypt$16384$8$1${b64(salt)}${b64(digest)}"


def test_a_password_stored_by_an_earlier_release_logs_in_and_is_stored_anew(hub):
    with hub.db() as session:
        reviewer = session.exec(select(Staff).where(Staff.username == "yb-li")).one()
        reviewer.password_hash = earlier_release_hash(REVIEWER_PASSWORD)
        session.add(reviewer)
    hub.browser("yb-li")
    with hub.db() as session:
        stored = session.exec(select(Staff).where(Staff.username == "yb-li")).one().password_hash
    assert stored.startswith("scrypt:16384:8:1$") and not password_needs_rehash(stored)
    assert hub.api("yb-li").get("/api/queue").status_code == 200, "the new hash takes the same password"
    wrong = hub.http().post("/api/login", json={"username": "yb-li", "password": "not-the-password"})
    assert wrong.status_code == 401


def test_session_cookie_is_httponly_and_samesite_lax(hub):
    client = hub.http()
    form = client.get("/login")
    response = client.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD,
                                           "csrf_token": csrf_from(form.text)})
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


def test_only_admins_see_and_rotate_hub_keys(hub):
    for username in ("yb-li", "op"):
        api = hub.api(username)
        assert api.get("/api/keys").status_code == 403
        assert api.post("/api/keys/rotate", json={}).status_code == 403
    assert hub.browser("op").get("/points").status_code == 403
    admin = hub.api("admin")
    assert admin.post("/api/keys/rotate", json={"post_quantum": "maybe"}).status_code == 422
    rotated = admin.post("/api/keys/rotate", json={"post_quantum": True})
    assert rotated.status_code == 201, rotated.text
    keys = rotated.json()["keys"]
    assert [k["generation"] for k in keys] == [1, 2] and keys[1]["current"] and keys[1]["suites"] == [2, 1]
    # The serving hub uses the new keys at once: a new point enrolls with the hybrid key first.
    hub.identity = load_identity(hub.data_dir)
    point = hub.enroll_point()
    assert point.enrollment["generation"] == 2 and point.enrollment["recipients"][0]["suite"] == 2
    with hub.db() as session:
        assert session.exec(select(AuditEntry).where(AuditEntry.action == "keys_rotated")).one().actor == "admin"


def test_logs_name_cases_never_residents(hub, caplog):
    caplog.set_level(logging.INFO)
    point = hub.enroll_point()
    payload = point.submit()
    bad = point.submit(applicant={**payload["applicant"], "id_number": "not-an-id"})
    results = point.client.push([point.seal(Kind.SUBMIT, payload), point.seal(Kind.SUBMIT, bad)])
    assert [r.status for r in results] == ["accepted", "rejected"]
    hub.api("yb-li").post(f"/api/cases/{payload['case_id']}/decision", json={"decision": "rejected",
                                                                              "reason": "材料不全"})
    text = caplog.text
    assert payload["case_id"] in text
    applicant = payload["applicant"]
    for secret in (applicant["name"], applicant["id_number"], applicant["phone"]):
        assert secret not in text

