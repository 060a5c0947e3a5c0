"""A village syncs through its township: real hub, township and village processes.

The village enrolls with the hub once and then talks only to the township,
which holds the village's sealed envelopes (it cannot read them), forwards
them in its own sync and brings the hub's sealed answers back.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import uuid

import pytest
from scripts.bench_sync import relay_scan_figures
from tests.support.cluster import command, wait_until

from pointkit import db
from pointkit.relayscans import held_path, receive_chunk
from sync.client import HubClient, HubRefused
from sync.keys import Identity
from sync.kit.idnumber import check_character
from sync.uploads import ScanError, ScanUploader, make_scan_grant
from sync.kit.web import ChunkRequest

TOWNSHIP = "八达镇政务服务中心"
VILLAGE = "八达镇周邦村便民服务站"
MEDICAL_INSURANCE = "451030-YB-001"
APPLICANT = "韦秀兰"


def valid_id(first17: str) -> str:
    return first17 + check_character(first17)


def hub_case_ids(hub) -> list[str]:
    with sqlite3.connect(hub.data / "hub.db") as db:
        return [case_id for (case_id,) in db.execute('select id from "case"')]


def point_rows(point, query: str, *args) -> list[tuple]:
    with sqlite3.connect(point.data / "point.db") as db:
        return db.execute(query, args).fetchall()


def enroll_via(cluster, name: str, township) -> None:
    """Register NAME --via the township and enroll it: the hub once, the township's address from then on."""
    hub = cluster.hub
    output = cluster.setup(command("pointkit-hub"), "points", "add", name, "--level", "village", "--via",
                           township.name, "--data", str(hub.data))
    assert f"It syncs through township {township.name}." in output
    token = output.strip().splitlines()[-1]
    enrolled = cluster.run(command("pointkit"), "init", "--data", str(cluster.base / "village"), "--hub", hub.url,
                           "--relay", township.url, "--token", token, "--name", name, "--staff-user", "staff",
                           "--staff-password", "point-staff-pass")
    assert f"syncs with:       {township.url} (township {township.name})" in enrolled
    assert "catalog version:  1" in enrolled, "the township serves the hub-signed catalog"


def test_village_case_travels_through_the_township(cluster):
    hub = cluster.start_hub()
    cluster.add_reviewer("yb-li", "YB", "reviewer-pass-1")
    township = cluster.start_point(TOWNSHIP, "township", dirname="township")
    enroll_via(cluster, VILLAGE, township)
    village = cluster.start_point(VILLAGE, "village", dirname="village")
    assert point_rows(village, "select hub_url from pointstate") == [(township.url,)], \
        "after enrollment the village knows only the township's address"

    staff = village.api("staff")
    response = staff.post("/api/cases", json={
        "item_code": MEDICAL_INSURANCE,
        "applicant": {"name": APPLICANT, "id_number": valid_id("45102719800101234"), "phone": "13807761234"},
        "form": {"insured_category": "普通居民"}, "materials": ["id_card", "hukou"]})
    assert response.status_code == 201, response.text
    case_id = response.json()["case_id"]

    wait_until(lambda: hub_case_ids(hub) == [case_id], timeout=60, what="the village's case at the hub")
    held = point_rows(township, "select envelope_id, village_id, envelope from relayenvelope")
    assert len(held) == 1 and held[0][1] == point_rows(village, "select point_id from pointstate")[0][0]

    # The township carried it without being able to read it: no name or ID number anywhere in its files.
    for path in township.data.glob("point.db*"):
        blob = path.read_bytes()
        assert APPLICANT.encode("utf-8") not in blob and b"13807761234" not in blob, path.name

    # The reviewer decides; the result comes back to the village through the township.
    decided = hub.api("yb-li").post(f"/api/cases/{case_id}/decision",
                                    json={"decision": "approved", "reason": "", "certificate_no": "YB-2026-9"})
    assert decided.status_code == 200, decided.text
    wait_until(lambda: staff.get(f"/api/cases/{case_id}").json()["status"] == "result_ready", timeout=60,
               what="the result at the village, through the township")
    # The village marks its envelope done only on the hub's answer, relayed back by the township.
    wait_until(lambda: point_rows(village, "select state from outbox where case_id = ?", case_id) == [("acked",)],
               timeout=60, what="the hub's ack at the village")
    wait_until(lambda: not point_rows(township, "select seq from relaymessage"), timeout=60,
               what="the township dropping messages the village confirmed")
    # With the hub's answer the village was told the head of the hub's audit chain the hub signed, as its
    # township got it: county IT checks the hub against it (docs/security.md).
    heads = cluster.base / "heads"
    heads.mkdir()
    cluster.run(command("pointkit"), "audit", "head", "--data", str(village.data), "--out", str(heads / "village.json"))
    checked = cluster.run(command("pointkit-hub"), "audit", "verify", "--data", str(hub.data),
                          "--with-point-heads", str(heads))
    assert "and 1 held by points" in checked
    # Where the village's numbering stands at the hub comes back the same way (what a village restored from an
    # old backup numbers on from).
    receipt_no = response.json()["receipt_no"]
    village_seq = point_rows(village, "select seq from outbox where case_id = ?", case_id)[0][0]
    wait_until(lambda: point_rows(village, "select receipt_floor from pointstate") == [(receipt_no,)], timeout=60,
               what="the hub's word on the village's numbers, through the township")
    assert point_rows(township, "select last_seq, last_receipt from relayvillage") == [(village_seq, receipt_no)]

    # Forwarded twice (the township crashed before recording the hub's answer): the hub answers duplicate.
    envelope_id, _village_id, envelope = held[0]
    with sqlite3.connect(township.data / "point.db") as db:
        db.execute("update relayenvelope set hub_status = '' where envelope_id = ?", (envelope_id,))
    resent = subprocess.run([command("pointkit"), "sync", "--data", str(township.data)], capture_output=True,
                            text=True, timeout=120)
    assert resent.returncode == 0, resent.stderr
    assert point_rows(township, "select hub_status from relayenvelope") == [("duplicate",)]
    with HubClient(hub.url) as client:
        assert [result.status for result in client.push([envelope])] == ["duplicate"]
    assert hub_case_ids(hub) == [case_id]


def test_a_village_scan_reaches_the_hub_through_the_township(cluster):
    hub = cluster.start_hub()
    cluster.add_reviewer("yb-li", "YB", "reviewer-pass-1")
    township = cluster.start_point(TOWNSHIP, "township", dirname="township")
    enroll_via(cluster, VILLAGE, township)
    village = cluster.start_point(VILLAGE, "village", dirname="village")
    scan = b"%PDF-1.4\n" + os.urandom(90_000)  # intake checks a scan's content: a PDF header
    case = {"item_code": MEDICAL_INSURANCE, "form": {"insured_category": "普通居民"},
            "materials": ["id_card", "hukou"], "applicant": {"name": APPLICANT, "id_number": valid_id("45102719800101234"), "phone": ""}}
    response = village.api("staff").post("/api/cases", data={"case": json.dumps(case)},
                                         files=[("scans", ("hukou.jpg", scan))])
    assert response.status_code == 201, response.text
    case_id = response.json()["case_id"]
    (scan_id,) = [row[0] for row in point_rows(village, "select scan_id from scanfile")]

    reviewer = hub.api("yb-li")
    wait_until(lambda: reviewer.get(f"/api/cases/{case_id}").json().get("materials_in_transit") is False,
               timeout=90, what="the village's scan at the hub, through the township")
    shown = reviewer.get(f"/api/cases/{case_id}/scans/{scan_id}")
    assert shown.status_code == 200 and shown.content == scan, "byte-identical after decryption at the hub"
    sealed = (village.data / "scans" / f"{scan_id}.sealed").read_bytes()
    assert (hub.data / "scans" / f"{scan_id}.sealed").read_bytes() == sealed
    # The village marks the scan uploaded only once the township says the hub holds it whole.
    wait_until(lambda: point_rows(village, "select state from scanfile") == [("uploaded",)], timeout=60,
               what="the village learning the hub has its scan")
    assert point_rows(township, "select hub_status from relayscan") == [("complete",)]
    assert not list((township.data / "relay-scans").glob("*.sealed")), "the township drops its copy"

    # Only the village's own relay may carry it, and only with the village's grant.
    village_keys = Identity.load(village.data / "keys", "point")
    village_id = point_rows(village, "select point_id from pointstate")[0][0]
    grant = make_scan_grant(scan_id, village_id, sealed, village_keys.sign_key)
    other = cluster.start_point("那劳镇政务服务中心", "township", dirname="other")
    township_id = point_rows(township, "select point_id from pointstate")[0][0]
    for sender, keys, header in ((other, Identity.load(other.data / "keys", "point"), grant),
                                 (township, Identity.load(township.data / "keys", "point"),
                                  make_scan_grant(scan_id, village_id, sealed, Identity.generate().sign_key))):
        sender_id = township_id if sender is township else point_rows(other, "select point_id from pointstate")[0][0]
        with HubClient(hub.url, point_id=uuid.UUID(sender_id), identity=keys) as client:
            with pytest.raises(HubRefused) as refused:
                ScanUploader(client, headers={"X-Pointkit-Scan-Grant": header}).state(scan_id)
            assert refused.value.status == 403


def test_only_the_registered_relay_gets_a_villages_messages(cluster):
    hub = cluster.start_hub()
    township = cluster.start_point(TOWNSHIP, "township", dirname="township")
    enroll_via(cluster, VILLAGE, township)
    village_id = point_rows(cluster.start_point(VILLAGE, "village", dirname="village"),
                            "select point_id from pointstate")[0][0]
    other = cluster.start_point("那劳镇政务服务中心", "township", dirname="other")
    other_id = point_rows(other, "select point_id from pointstate")[0][0]
    with HubClient(hub.url, point_id=uuid.UUID(other_id), identity=Identity.load(other.data / "keys", "point")) as client:
        with pytest.raises(HubRefused) as refused:
            client.relay_pull(village_id, 0)
        assert refused.value.status == 403 and refused.value.reason == "not_your_village"
        assert client.relay_villages()["document"]["villages"] == []


def test_via_needs_an_existing_township(cluster):
    hub = cluster.start_hub()
    done = subprocess.run([command("pointkit-hub"), "points", "add", VILLAGE, "--level", "village", "--via",
                           "没有这个乡镇", "--data", str(hub.data)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "add it first" in done.stderr
    help_text = subprocess.run([command("pointkit-hub"), "points", "add", "--help"], capture_output=True, text=True)
    assert "--via TOWNSHIP" in help_text.stdout
    assert "--relay" in subprocess.run([command("pointkit"), "init", "--help"], capture_output=True, text=True).stdout


def test_the_township_skips_the_held_part_of_a_chunk_sent_again_as_the_hub_does(tmp_path):
    # A chunk whose answer a cut took, or one from a connection the village gave up on that arrives after the
    # village asked the offset again: where it repeats what the township holds it is no error (a 409 there made
    # the village open connection after connection); where it differs, the township names what it holds.
    db.init_db(tmp_path)
    village_id, scan_id, sealed = str(uuid.uuid4()), str(uuid.uuid4()), os.urandom(40_000)
    keys = Identity.generate().sign_key
    grant = make_scan_grant(scan_id, village_id, sealed, keys)

    def send(offset: int, chunk: bytes):
        asked = ChunkRequest(offset, len(sealed), chunk, hashlib.sha256(chunk).hexdigest(), grant)
        return receive_chunk(tmp_path, village_id, [keys.public_key()], scan_id, asked).received

    assert send(0, sealed[:16_000]) == 16_000
    assert send(0, sealed[:16_000]) == 16_000, "sent again whole"
    assert send(8_000, sealed[8_000:24_000]) == 24_000, "sent again in part: the rest is appended"
    with pytest.raises(ScanError) as refused:
        send(20_000, os.urandom(8_000))
    assert (refused.value.status, refused.value.offset) == (409, 24_000), "other bytes than those held"
    with pytest.raises(ScanError) as refused:
        send(30_000, sealed[30_000:])
    assert (refused.value.status, refused.value.offset) == (409, 24_000), "past what is held"
    assert send(24_000, sealed[24_000:]) == len(sealed)
    assert held_path(tmp_path, scan_id).read_bytes() == sealed


def test_village_scans_through_the_township_cost_little_more_than_their_size_on_a_cut_link(cluster):
    # Issue 16's village link twice as fast (128 kbit/s, 300 ms round trip, a cut every 4 s: as many bytes between
    # cuts as 64 kbit/s, 600 ms and 8 s; faster still, a loaded machine's own delays would count for more than the
    # link's). A cut used to leave the old connection's chunks arriving after the village asked where its scan
    # stood, each one making the township refuse the next: connection after connection, twice the bytes.
    cluster.start_hub()
    relayed = relay_scan_figures(cluster, [128 * 1024, 128 * 1024], rate_bps=128_000, latency_s=0.15,
                                 cut_every_s=4.0, limit_s=120)
    assert relayed.cuts >= 3, "the link was really cut while the scans were on their way"
    # Each cut loses the chunk in flight, and chunks grow on a good stretch of link, so where the cuts land (a
    # loaded machine moves them) decides a few tens of KB: 1.27 was seen once in four full runs. The fault this
    # guards against sent every byte twice (2.0).
    assert relayed.ratio <= 1.4, relayed
    assert relayed.connections <= relayed.cuts + 3, "about one connection per cut"
