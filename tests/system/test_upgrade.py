"""Upgrading a hub and a point made by the previous release: its real code makes the data, today's takes over.

The previous release (tests/support/previous_release.py) initializes a hub, enrolls a point, takes two cases and
syncs them; one is decided and its result reaches the point. Both stop. Today's ``serve`` refuses the old
schemas and names the command; ``pointkit-hub upgrade`` and ``pointkit upgrade`` bring them to the newest
revision (twice: the second changes nothing); today's servers then find everything and the loop goes on.
"""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

from tests.support.cluster import command, wait_until
from tests.support.previous_release import previous_release

from hub.migrate import MIGRATIONS as HUB
from pointkit.migrate import MIGRATIONS as POINT
from sync.envelope import PROTOCOL_VERSION
from sync.kit.idnumber import check_character
from sync.kit.migrate import sqlite_migration_engine

VILLAGE = "八达镇周邦村便民服务站"
# The previous release's hub imported its own sample catalog, which used the prefecture's code (451000).
MEDICAL_INSURANCE = "451000-YB-001"


def id_number(serial: str) -> str:
    id17 = "45102719800101" + serial
    return id17 + check_character(id17)


def take_case(staff, serial: str, name: str) -> dict:
    taken = staff.post("/api/cases", json={
        "item_code": MEDICAL_INSURANCE, "applicant": {"name": name, "id_number": id_number(serial), "phone": ""},
        "form": {"insured_category": "普通居民"}, "materials": ["id_card", "hukou"]})
    assert taken.status_code == 201, taken.text
    return taken.json()


def status_of(api, case_id: str) -> str:
    answer = api.get(f"/api/cases/{case_id}")
    return answer.json()["status"] if answer.status_code == 200 else f"HTTP {answer.status_code}"


def refused_serve(program: str, data: Path) -> str:
    """Run ``serve`` on an old schema: it must exit at once (not serve) and say why."""
    done = subprocess.run([program, "serve", "--data", str(data), "--port", "1"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode != 0, f"serve started on an old schema:\n{done.stdout}{done.stderr}"
    return done.stderr


def upgrade(program: str, data: Path) -> str:
    done = subprocess.run([program, "upgrade", "--data", str(data)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def revision(database: Path) -> str:
    with sqlite3.connect(database) as db:
        return db.execute("select version_num from alembic_version").fetchone()[0]


def test_a_hub_and_a_point_of_the_previous_release_upgrade_and_carry_on(cluster, tmp_path):
    old = previous_release(tmp_path)
    hub = cluster.start_hub(program=old.pointkit_hub, catalog=old.sample_catalog)
    cluster.add_reviewer("yb-li", "YB", "reviewer-pass-1")
    point = cluster.start_point(VILLAGE, "village", program=old.pointkit)
    staff, reviewer = point.api("staff"), hub.api("yb-li")
    decided = take_case(staff, "234", "韦秀兰")
    waiting = take_case(staff, "345", "黄德明")
    wait_until(lambda: status_of(reviewer, waiting["case_id"]) != "HTTP 404", timeout=30, what="the cases at the hub")
    answer = reviewer.post(f"/api/cases/{decided['case_id']}/decision",
                           json={"decision": "approved", "reason": "", "certificate_no": "YB-2026-0042"})
    assert answer.status_code == 200, answer.text
    wait_until(lambda: status_of(staff, decided["case_id"]) == "result_ready", timeout=30,
               what="the result at the old point")
    staff.close()
    reviewer.close()
    cluster.stop_server(point)
    cluster.stop_server(hub)

    hub_cmd, point_cmd = command("pointkit-hub"), command("pointkit")
    assert f"run: pointkit-hub upgrade --data {hub.data}" in refused_serve(hub_cmd, hub.data)
    refusal = refused_serve(point_cmd, point.data)
    assert f"back it up (pointkit backup --data {point.data} FILE), then run: pointkit upgrade --data {point.data}" \
        in refusal

    for program, data, database, migrations in ((hub_cmd, hub.data, "hub.db", HUB),
                                                (point_cmd, point.data, "point.db", POINT)):
        first = upgrade(program, data)
        assert "backup --data" in first and "from the release before migrations to schema revision" in first.lower()
        assert revision(data / database) == migrations.head()
        again = upgrade(program, data)
        assert f"already at schema revision {migrations.head()}; nothing to do" in again
        assert ("Counted the legal time limit of 1 open case(s)" in first) == (program == hub_cmd)
        assert "Counted" not in again
        # Cases from before the chain recorded them get a baseline entry once: verify checks them from then on.
        assert "baseline of 2 case(s) in the audit chain" in first.lower() and "baseline" not in again
        if program == hub_cmd:  # what each point's pull answers name, filled in from what the hub held
            with sqlite3.connect(data / database) as db:
                assert db.execute("select last_seq, last_receipt from point").fetchall() == [
                    db.execute("select max(seq), max(receipt_no) from rawenvelope, \"case\" "
                               "where rawenvelope.point_id = \"case\".point_id").fetchone()]
                assert db.execute("select last_seq from point").fetchone()[0] >= 2
        # The baseline revision was the previous release's real schema: upgraded, it is exactly today's.
        engine = sqlite_migration_engine(data / database)
        with engine.connect() as connection:
            assert migrations.differences(connection) == []
        engine.dispose()

    hub = cluster.start_hub()
    point = cluster.start_point(VILLAGE, "village", dirname=point.data.name)
    staff, reviewer = point.api("staff"), hub.api("yb-li")
    assert status_of(staff, waiting["case_id"]) in ("sent", "acked")
    assert status_of(reviewer, waiting["case_id"]) == "routed"
    # The previous release kept no legal time limit: the upgrade counted the open case's, and said so.
    waiting_at_hub = reviewer.get(f"/api/cases/{waiting['case_id']}").json()
    assert waiting_at_hub["legal_due_date"] > waiting_at_hub["due_date"]
    assert "legal_limit_counted" in [event["action"] for event in waiting_at_hub["events"]]
    assert status_of(staff, decided["case_id"]) == "result_ready"
    # The loop goes on: the old result is handed over, the waiting case decided, a new case taken and synced.
    handed = staff.post(f"/api/cases/{decided['case_id']}/pickup",
                        json={"pickup_code": decided["pickup_code"], "id_last4": id_number("234")[-4:]})
    assert handed.status_code == 200, handed.text
    assert handed.json()["result"]["document"]["certificate_no"] == "YB-2026-0042"
    answer = reviewer.post(f"/api/cases/{waiting['case_id']}/decision",
                           json={"decision": "approved", "reason": "", "certificate_no": "YB-2026-0043"})
    assert answer.status_code == 200, answer.text
    new = take_case(staff, "456", "覃丽华")
    wait_until(lambda: status_of(reviewer, decided["case_id"]) == "closed", timeout=30, what="the pickup at the hub")
    wait_until(lambda: status_of(staff, waiting["case_id"]) == "result_ready", timeout=30,
               what="the new result at the upgraded point")
    wait_until(lambda: status_of(reviewer, new["case_id"]) == "routed", timeout=30, what="the new case at the hub")
    with sqlite3.connect(hub.data / "hub.db") as db:
        assert db.execute("select protocol from point").fetchall() == [(PROTOCOL_VERSION,)], \
            "the point speaks today's protocol"

    for program, data in ((hub_cmd, hub.data), (point_cmd, point.data)):
        verified = subprocess.run([program, "audit", "verify", "--data", str(data)], capture_output=True, text=True,
                                  timeout=60)
        assert verified.returncode == 0, verified.stdout + verified.stderr
