"""Version skew: a point still running the previous release (protocol 1) works against this hub.

The previous release is real code: the tree of the last commit that spoke protocol 1, taken from this
repository's history with ``git archive`` and run from the same virtualenv. Nothing of today's point is
used for it.
"""

from __future__ import annotations

import sqlite3
import subprocess

from cluster import wait_until
from previous_release import previous_release

from sync.envelope import PROTOCOL_VERSION, SUPPORTED_PROTOCOLS
from sync.idnumber import check_character

VILLAGE = "泗城镇平兰村便民服务站"
MEDICAL_INSURANCE = "451000-YB-001"


def test_the_hub_speaks_the_current_and_the_previous_protocol():
    assert SUPPORTED_PROTOCOLS == (PROTOCOL_VERSION - 1, PROTOCOL_VERSION)


def test_a_point_on_the_previous_release_runs_the_whole_loop(cluster, tmp_path):
    hub = cluster.start_hub()
    cluster.add_reviewer("yb-li", "YB", "reviewer-pass-1")
    program = previous_release(tmp_path).pointkit
    old = cluster.start_point(VILLAGE, "village", program=program)
    staff = old.api("staff")
    version = subprocess.run([program, "--help"], capture_output=True, text=True)
    assert version.returncode == 0 and "sync" in version.stdout

    id17 = "45102719800101234"
    id_number = id17 + check_character(id17)
    taken = staff.post("/api/cases", json={
        "item_code": MEDICAL_INSURANCE, "applicant": {"name": "韦秀兰", "id_number": id_number, "phone": ""},
        "form": {"insured_category": "普通居民"}, "materials": ["id_card", "hukou"]})
    assert taken.status_code == 201, taken.text
    case_id, pickup_code = taken.json()["case_id"], taken.json()["pickup_code"]

    reviewer = hub.api("yb-li")
    wait_until(lambda: reviewer.get(f"/api/cases/{case_id}").status_code == 200, timeout=30,
               what="the old point's case at the hub")
    decided = reviewer.post(f"/api/cases/{case_id}/decision",
                            json={"decision": "approved", "reason": "", "certificate_no": "YB-2026-0042"})
    assert decided.status_code == 200, decided.text
    wait_until(lambda: staff.get(f"/api/cases/{case_id}").json()["status"] == "result_ready", timeout=30,
               what="the result at the old point")
    collected = staff.post(f"/api/cases/{case_id}/pickup",
                           json={"pickup_code": pickup_code, "id_last4": id_number[-4:]})
    assert collected.status_code == 200, collected.text
    assert collected.json()["result"]["document"]["certificate_no"] == "YB-2026-0042"
    wait_until(lambda: reviewer.get(f"/api/cases/{case_id}").json()["status"] == "closed", timeout=30,
               what="the case closed at the hub")
    with sqlite3.connect(hub.data / "hub.db") as db:
        (protocol,) = db.execute("select protocol from point where name = ?", (VILLAGE,)).fetchone()
    assert protocol == 1, "the hub knows this point speaks the previous protocol"
    with sqlite3.connect(old.data / "point.db") as db:
        refused = db.execute("select count(*) from inboxmessage where outcome = 'refused'").fetchone()[0]
    assert refused == 0, "the old point could read every message the hub sent it"
