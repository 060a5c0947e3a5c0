"""A village laptop is stolen with cases still queued: county IT revokes the point, and
nothing the thief replays (its envelopes, its signed requests, its own sync) is applied."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import uuid

import httpx

from tests.support.cluster import command, wait_until
from sync.envelope import Kind
from sync.framing import CONTENT_TYPE, encode_frames
from sync.keys import Identity
from sync.kit.idnumber import check_character
from sync.signing import sign_request

VILLAGE = "八达镇周邦村便民服务站"


def receive(staff, name: str) -> str:
    answer = staff.post("/api/cases", json={
        "item_code": "451030-YB-001",
        "applicant": {"name": name, "id_number": "45102719800101234" + check_character("45102719800101234"),
                      "phone": "13807761234"},
        "form": {"insured_category": "普通居民"}, "materials": ["id_card", "hukou"]})
    assert answer.status_code == 201, answer.text
    return answer.json()["case_id"]


def hub_cases(hub) -> dict[str, str]:
    with sqlite3.connect(hub.data / "hub.db") as db:
        return dict(db.execute('select id, status from "case"').fetchall())


def test_revoked_laptop_replays_are_all_refused_and_earlier_cases_stay(cluster, tmp_path):
    hub = cluster.start_hub()
    village = cluster.start_point(VILLAGE, "village", sync_interval=3600)
    staff = village.api("staff")
    sent = receive(staff, "韦秀兰")
    wait_until(lambda: sent in hub_cases(hub), timeout=30, what="the first case at the hub")
    # ... and the hub's answer at the point (the hub commits before it answers).
    # "sent" is set as the push leaves, before the hub answers: wait for the answer itself.
    wait_until(lambda: staff.get(f"/api/cases/{sent}").json()["status"] not in ("queued", "sent"), timeout=30,
               what="the point to hear the hub took the first case")

    # The link is down; the laptop takes two more cases, then it is stolen.
    cluster.stop_server(hub)
    queued = [receive(staff, "黄建国"), receive(staff, "覃美玲")]
    cluster.stop_server(village)
    stolen = tmp_path / "stolen"
    shutil.copytree(village.data, stolen)
    with sqlite3.connect(stolen / "point.db") as db:
        queued = db.execute("select envelope, kind from outbox where state = 'queued'").fetchall()
        point_id = uuid.UUID(db.execute("select point_id from pointstate").fetchone()[0])
    envelopes = [bytes(envelope) for envelope, _ in queued]
    # The two cases, and whatever else the laptop queued while the link was down (the thief replays it all).
    assert [kind for _, kind in queued].count(int(Kind.SUBMIT)) == 2, [kind for _, kind in queued]

    # County IT revokes the point; the hub comes back.
    cluster.run(command("pointkit-hub"), "points", "revoke", VILLAGE, "--data", str(hub.data))
    hub = cluster.start_hub()
    before = hub_cases(hub)

    # The thief replays the queued envelopes...
    pushed = httpx.post(hub.url + "/sync/v1/push", content=encode_frames(envelopes),
                        headers={"Content-Type": CONTENT_TYPE})
    if pushed.status_code == 200:
        assert {(r["status"], r["reason"]) for r in pushed.json()["results"]} == {("rejected", "point_revoked")}
    else:
        assert pushed.status_code == 403 and pushed.json()["reason"] == "point_revoked"
    # ...signs requests with the laptop's keys...
    keys = Identity.load(stolen / "keys", "point")
    headers = sign_request(method="GET", path="/sync/v1/pull", query="after=0", body=b"",
                           point_id=str(point_id), key=keys.sign_key)
    pulled = httpx.get(hub.url + "/sync/v1/pull?after=0", headers=headers)
    assert pulled.status_code == 403 and pulled.json()["reason"] == "point_revoked"
    # ...and runs the point's own sync.
    done = subprocess.run([command("pointkit"), "sync", "--data", str(stolen)], capture_output=True, text=True,
                          timeout=120)
    assert "revoked" in (done.stdout + done.stderr).lower()

    after = hub_cases(hub)
    assert after == before, "nothing the stolen laptop sent after revocation was applied"
    assert sent in after and not set(queued) & set(after)
    log = (hub.data / "hub.log").read_text(errors="replace")
    assert "point_revoked" in log
