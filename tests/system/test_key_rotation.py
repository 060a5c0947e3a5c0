"""Key rotation, the post-quantum suite and a wildly wrong point clock, across real processes."""

from __future__ import annotations

import sqlite3

from tests.support.cluster import command, wait_until
from sync.envelope import Envelope
from sync.keys import Suite
from sync.clock import CLOCK_SKEW_ENV
from sync.kit.idnumber import check_character

VILLAGE = "八达镇周邦村便民服务站"
YEAR_MS = 365 * 24 * 3600 * 1000


def receive(staff) -> str:
    answer = staff.post("/api/cases", json={
        "item_code": "451030-YB-001",
        "applicant": {"name": "韦秀兰", "id_number": "45102719800101234" + check_character("45102719800101234"),
                      "phone": "13807761234"},
        "form": {"insured_category": "普通居民"}, "materials": ["id_card", "hukou"]})
    assert answer.status_code == 201, answer.text
    return answer.json()["case_id"]


def sealed_suite(point, case_id: str) -> Suite:
    with sqlite3.connect(point.data / "point.db") as db:
        (data,) = db.execute("select envelope from outbox where case_id = ? and kind = 1", (case_id,)).fetchone()
    return Envelope.parse(bytes(data)).header.suite


def approve_and_collect(hub, point, case_id: str) -> dict:
    reviewer, staff = hub.api("yb-li"), point.api("staff")
    wait_until(lambda: reviewer.get(f"/api/cases/{case_id}").status_code == 200, timeout=30,
               what="the case at the hub")
    decided = reviewer.post(f"/api/cases/{case_id}/decision",
                            json={"decision": "approved", "reason": "", "certificate_no": ""})
    assert decided.status_code == 200, decided.text
    return wait_until(lambda: (c := staff.get(f"/api/cases/{case_id}").json())["status"] == "result_ready" and c,
                      timeout=30, what="the result at the point")


def test_hub_turns_on_post_quantum_then_the_point_rotates_and_the_loop_goes_on(cluster):
    hub = cluster.start_hub()
    cluster.add_reviewer("yb-li", "YB", "reviewer-pass-1")
    village = cluster.start_point(VILLAGE, "village")
    staff = village.api("staff")

    before = receive(staff)
    assert sealed_suite(village, before) == Suite.X25519_CHACHA
    approve_and_collect(hub, village, before)

    # County IT rotates the hub's keys and turns on the hybrid suite.
    cluster.run(command("pointkit-hub"), "keys", "rotate", "--pq", "--data", str(hub.data))
    status = wait_until(lambda: (s := staff.get("/api/status").json())["hub_generation"] == 2 and s,
                        timeout=30, what="the point to learn generation 2")
    assert status["sealing_suite"] == Suite.MLKEM768_X25519_CHACHA
    after = receive(staff)
    assert sealed_suite(village, after) == Suite.MLKEM768_X25519_CHACHA
    result = approve_and_collect(hub, village, after)
    assert result["decision"] == "approved"

    # The point rotates its own keys; the hub takes the new ones and the loop goes on.
    admin = hub.api("admin")

    def hub_lists_fingerprint() -> str:
        [listed] = [p for p in admin.get("/api/points").json()["points"] if p["point_id"] == status["point_id"]]
        return listed["fingerprint"]

    old_fingerprint = hub_lists_fingerprint()
    cluster.run(command("pointkit"), "keys", "rotate", "--data", str(village.data))
    wait_until(lambda: not staff.get("/api/status").json()["key_rotation_pending"], timeout=30,
               what="the hub to acknowledge the point's new keys")
    assert hub_lists_fingerprint() != old_fingerprint
    third = receive(staff)
    assert approve_and_collect(hub, village, third)["decision"] == "approved"

    # Every step is in both audit chains, and both hold.
    for tool, data in (("pointkit-hub", hub.data), ("pointkit", village.data)):
        output = cluster.run(command(tool), "audit", "verify", "--data", str(data))
        assert "holds" in output, output


def test_a_point_whose_clock_is_a_year_wrong_still_syncs(cluster):
    hub = cluster.start_hub()
    cluster.add_reviewer("yb-li", "YB", "reviewer-pass-1")
    village = cluster.start_point(VILLAGE, "village", env={CLOCK_SKEW_ENV: str(-YEAR_MS)})
    staff = village.api("staff")
    # Its first sync round tells it the hub's time. (A case received before that claims an intake a year before
    # the point was enrolled: the hub parks it for an operator, tests/hub/test_intake_time.py.)
    wait_until(lambda: abs(staff.get("/api/status").json()["clock_offset_ms"] - YEAR_MS) < 60_000, timeout=30,
               what="the point to learn the hub's time")
    case_id = receive(staff)
    result = approve_and_collect(hub, village, case_id)
    assert result["decision"] == "approved"
    # Recorded when a sync round ends (the result may come in the same round as the case went out).
    wait_until(lambda: abs(staff.get("/api/status").json()["clock_offset_ms"] - YEAR_MS) < 60_000, timeout=30,
               what="the point to record the offset it measured")
