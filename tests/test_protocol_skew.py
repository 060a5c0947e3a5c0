"""Version skew: a point still running the previous release (protocol 1) works against this hub.

The previous release is real code: the tree of the last commit that spoke protocol 1, taken from this
repository's history with ``git archive`` and run from the same virtualenv. Nothing of today's point is
used for it.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cluster import wait_until

from sync.envelope import PROTOCOL_VERSION, SUPPORTED_PROTOCOLS
from sync.idnumber import check_character

ROOT = Path(__file__).resolve().parent.parent
# The last commit whose points spoke protocol 1 (before protocol versions were named).
PROTOCOL_1_RELEASE = "4315ee0e9334bda86e4cb2efb570ee004c3dac8e"
VILLAGE = "泗城镇平兰村便民服务站"
MEDICAL_INSURANCE = "451000-YB-001"


def previous_release(tmp_path: Path) -> str:
    """A ``pointkit`` command that runs the protocol-1 release's code."""
    tree = tmp_path / "pointkit-protocol-1"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", PROTOCOL_1_RELEASE, "pointkit", "sync"],
                             capture_output=True)
    if archive.returncode != 0:
        pytest.fail(f"this test needs the repository's history (git archive {PROTOCOL_1_RELEASE[:7]}): "
                    f"{archive.stderr.decode(errors='replace')}")
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    program = tmp_path / "pointkit-previous"
    program.write_text(f"#!/bin/sh\nPYTHONPATH={tree} exec {sys.executable} -P -c "
                       "'import sys; sys.argv[0] = \"pointkit\"; from pointkit.cli import main; main()' \"$@\"\n")
    program.chmod(0o755)
    return str(program)


def test_the_hub_speaks_the_current_and_the_previous_protocol():
    assert SUPPORTED_PROTOCOLS == (PROTOCOL_VERSION - 1, PROTOCOL_VERSION)


def test_a_point_on_the_previous_release_runs_the_whole_loop(cluster, tmp_path):
    hub = cluster.start_hub()
    cluster.add_reviewer("yb-li", "YB", "reviewer-pass-1")
    old = cluster.start_point(VILLAGE, "village", program=previous_release(tmp_path))
    staff = old.api("staff")
    version = subprocess.run([str(tmp_path / "pointkit-previous"), "--help"], capture_output=True, text=True)
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
