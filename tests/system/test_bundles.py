"""USB bundles: a village with no link syncs by carrying files, and bundles mix freely with online sync.

Real hub and point processes, the real CLI commands and real files.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from tests.support.cluster import command

from pointkit import db
from pointkit.scans import sealed_path
from pointkit.state import get_state, hub_client, load_identity
from sync.keys import Identity
from sync.bundle import BundleError, read_bundle, write_bundle
from sync.uploads import MIN_CHUNK, ChunkSizer, ScanUploader
from sync.kit.idnumber import check_character

VILLAGE = "八达镇周邦村便民服务站"
MEDICAL_INSURANCE = "451030-YB-001"
# A long interval: the village's own sync worker stays out of the way; the test decides when it syncs.
IDLE = 3600.0


def valid_id(first17: str) -> str:
    return first17 + check_character(first17)


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def new_case(point, name: str, id17: str, scans: dict[str, bytes] | None = None) -> str:
    case = {"item_code": MEDICAL_INSURANCE, "applicant": {"name": name, "id_number": valid_id(id17), "phone": ""},
            "form": {"insured_category": "普通居民"}, "materials": ["id_card", "hukou"]}
    if scans:
        response = point.api("staff").post("/api/cases", data={"case": json.dumps(case)},
                                           files=[("scans", (name, data)) for name, data in scans.items()])
    else:
        response = point.api("staff").post("/api/cases", json=case)
    assert response.status_code == 201, response.text
    return response.json()["case_id"]


def hub_cases(hub) -> list[str]:
    with sqlite3.connect(hub.data / "hub.db") as db:
        return [case_id for (case_id,) in db.execute('select id from "case"')]


def point_case(point, case_id: str) -> tuple[str, str]:
    with sqlite3.connect(point.data / "point.db") as db:
        return db.execute('select status, decision from "case" where id = ?', (case_id,)).fetchone()


def outbox_states(point) -> dict[str, str]:
    with sqlite3.connect(point.data / "point.db") as db:
        return dict(db.execute("select case_id, state from outbox where case_id != ''"))


def flip_byte(source: Path, target: Path, at: int) -> None:
    data = bytearray(source.read_bytes())
    data[at] ^= 0x40
    target.write_bytes(bytes(data))


def test_village_without_a_link_syncs_by_usb(cluster, tmp_path):
    hub = cluster.start_hub()
    cluster.add_reviewer("yb-li", "YB", "reviewer-pass-1")
    village = cluster.start_point(VILLAGE, "village", sync_interval=IDLE)
    cluster.stop_server(hub)
    point_cmd, hub_cmd = command("pointkit"), command("pointkit-hub")

    case_id = new_case(village, "韦秀兰", "45102719800101234")
    bundle = tmp_path / "village-to-county.pkb"
    exported = run(point_cmd, "export-bundle", "--data", str(village.data), str(bundle))
    assert exported.returncode == 0, exported.stderr
    assert "wrote 1 envelope(s)" in exported.stdout
    assert "韦秀兰".encode() not in bundle.read_bytes(), "a bundle carries sealed envelopes only"
    # No link from here on: the village's own worker never gets to sync.
    cluster.stop_server(village)

    # One flipped byte anywhere (manifest, signature, an envelope) and nothing at all is applied.
    size = bundle.stat().st_size
    for at in (0, 6, 40, size // 2, size - 70, size - 1):
        damaged = tmp_path / f"damaged-{at}.pkb"
        flip_byte(bundle, damaged, at)
        refused = run(hub_cmd, "import-bundle", "--data", str(hub.data), str(damaged))
        assert refused.returncode == 1 and "nothing was applied" in refused.stderr, (at, refused.stderr)
    assert hub_cases(hub) == []

    # The hub is down; the county imports the file directly into its data directory.
    imported = run(hub_cmd, "import-bundle", "--data", str(hub.data), str(bundle))
    assert imported.returncode == 0, imported.stderr
    assert "accepted 1" in imported.stdout
    assert hub_cases(hub) == [case_id]
    again = run(hub_cmd, "import-bundle", "--data", str(hub.data), str(bundle))
    assert "duplicate 1" in again.stdout and hub_cases(hub) == [case_id]

    hub = cluster.start_hub()
    decided = hub.api("yb-li").post(f"/api/cases/{case_id}/decision",
                                    json={"decision": "approved", "reason": "", "certificate_no": "YB-2026-7"})
    assert decided.status_code == 200, decided.text

    back = tmp_path / "county-to-village.pkb"
    exported = run(hub_cmd, "export-bundle", "--data", str(hub.data), "--point", VILLAGE, str(back))
    assert exported.returncode == 0, exported.stderr
    damaged = tmp_path / "back-damaged.pkb"
    flip_byte(back, damaged, back.stat().st_size // 2)
    refused = run(point_cmd, "import-bundle", "--data", str(village.data), str(damaged))
    assert refused.returncode == 1 and "nothing was applied" in refused.stderr
    assert point_case(village, case_id)[0] != "result_ready"

    applied = run(point_cmd, "import-bundle", "--data", str(village.data), str(back))
    assert applied.returncode == 0, applied.stderr
    assert "accepted 1" in applied.stdout
    assert point_case(village, case_id) == ("result_ready", "approved")
    assert outbox_states(village) == {case_id: "acked"}, "the hub bundle's acks settle the outbox"
    # The hub's bundle also says where the village's numbering stands at the hub, as a pull answer does (what a
    # village restored from an old backup numbers on from).
    with sqlite3.connect(village.data / "point.db") as db:
        [(receipt_no,)] = db.execute('select receipt_no from "case" where id = ?', (case_id,)).fetchall()
        assert db.execute("select receipt_floor from pointstate").fetchall() == [(receipt_no,)]

    # Importing the same hub bundle again changes nothing; the cursor only moves forward.
    with sqlite3.connect(village.data / "point.db") as db:
        (cursor,) = db.execute("select pull_cursor from pointstate").fetchone()
    again = run(point_cmd, "import-bundle", "--data", str(village.data), str(back))
    assert again.returncode == 0 and "applied 0" in again.stdout
    with sqlite3.connect(village.data / "point.db") as db:
        assert db.execute("select pull_cursor from pointstate").fetchone() == (cursor,)

    # The next village bundle tells the hub which messages arrived (its cursor): they count as delivered.
    run(point_cmd, "export-bundle", "--data", str(village.data), str(bundle))
    delivered = run(hub_cmd, "import-bundle", "--data", str(hub.data), str(bundle))
    assert delivered.returncode == 0 and f"{cursor} hub message(s) confirmed delivered" in delivered.stdout


def test_bundles_and_online_sync_mix(cluster, tmp_path):
    hub = cluster.start_hub()
    cluster.add_reviewer("yb-li", "YB", "reviewer-pass-1")
    village = cluster.start_point(VILLAGE, "village", sync_interval=IDLE)
    point_cmd, hub_cmd = command("pointkit"), command("pointkit-hub")

    # Two cases received while the hub is down; bundle A holds the first, the later bundle B both.
    cluster.stop_server(hub)
    first = new_case(village, "覃美玲", "45102719900315432")
    bundle_a, bundle_b = tmp_path / "a.pkb", tmp_path / "b.pkb"
    assert run(point_cmd, "export-bundle", "--data", str(village.data), str(bundle_a)).returncode == 0
    second = new_case(village, "黄建国", "45102719751231001")
    assert run(point_cmd, "export-bundle", "--data", str(village.data), str(bundle_b)).returncode == 0
    # From here the test alone decides when the village syncs (`pointkit sync`).
    cluster.stop_server(village)
    hub = cluster.start_hub()

    # Bundle first, then online: the online copy of the first case is the duplicate, the second is new.
    assert "accepted 1" in run(hub_cmd, "import-bundle", "--data", str(hub.data), str(bundle_a)).stdout
    online = run(point_cmd, "sync", "--data", str(village.data))
    assert online.returncode == 0, online.stderr
    assert "accepted 1, duplicate 1" in online.stdout
    assert outbox_states(village) == {first: "acked", second: "acked"}

    # Online first, then the stale bundle: both of its copies are duplicates.
    late = run(hub_cmd, "import-bundle", "--data", str(hub.data), str(bundle_b))
    assert "accepted 0, duplicate 2" in late.stdout
    assert sorted(hub_cases(hub)) == sorted([first, second])

    # A result carried by USB and pulled online is applied once, whichever comes first.
    assert hub.api("yb-li").post(f"/api/cases/{second}/decision", json={
        "decision": "approved", "reason": "", "certificate_no": ""}).status_code == 200
    back = tmp_path / "back.pkb"
    assert run(hub_cmd, "export-bundle", "--data", str(hub.data), "--point", VILLAGE, str(back)).returncode == 0
    assert "applied" in run(point_cmd, "sync", "--data", str(village.data)).stdout
    with sqlite3.connect(village.data / "point.db") as db:
        assert db.execute('select status from "case" where id = ?', (second,)).fetchone() == ("result_ready",)
        applied = db.execute("select count(*) from inboxmessage").fetchone()
    replay = run(point_cmd, "import-bundle", "--data", str(village.data), str(back))
    assert replay.returncode == 0 and "applied 0" in replay.stdout
    with sqlite3.connect(village.data / "point.db") as db:
        assert db.execute("select count(*) from inboxmessage").fetchone() == applied
    assert sorted(hub_cases(hub)) == sorted([first, second])


def scan_ids(point) -> dict[str, str]:
    with sqlite3.connect(point.data / "point.db") as db:
        return dict(db.execute("select name, scan_id from scanfile"))


def hub_scans(hub, case_id: str) -> dict[str, bytes]:
    """What the hub shows a reviewer of each complete scan: decrypted with the key from the case."""
    reviewer = hub.api("yb-li")
    listed = reviewer.get(f"/api/cases/{case_id}").json()["scans"]
    return {scan["name"]: reviewer.get(f"/api/cases/{case_id}/scans/{scan['scan_id']}").content
            for scan in listed if scan["status"] == "complete"}


def upload_partly(point, scan_id: str, chunks: int) -> None:
    """An online upload cut off after a few small chunks (the point never hears the answers)."""
    with db.session_scope(point.data) as session:
        state = get_state(session)
    sent: list[int] = []
    with hub_client(state, load_identity(point.data)) as client:
        ScanUploader(client, sizer=ChunkSizer(size=MIN_CHUNK, grow_within_s=0)).upload(
            scan_id, sealed_path(point.data, scan_id).read_bytes(), should_stop=lambda: len(sent) >= chunks,
            on_progress=lambda offset, _total: sent.append(offset))


def test_bundles_carry_scans_and_mix_with_online_uploads(cluster, tmp_path):
    hub = cluster.start_hub()
    cluster.add_reviewer("yb-li", "YB", "reviewer-pass-1")
    village = cluster.start_point(VILLAGE, "village", sync_interval=IDLE)
    point_cmd, hub_cmd = command("pointkit"), command("pointkit-hub")
    cluster.stop_server(hub)
    # Scans are checked by content at intake: random bytes behind a PDF header pass as a PDF.
    scans = {"hukou.jpg": b"%PDF-1.4\n" + os.urandom(150_000), "id_card.png": b"%PDF-1.4\n" + os.urandom(20_000)}
    case_id = new_case(village, "韦秀兰", "45102719800101234", scans)
    cluster.stop_server(village)
    with sqlite3.connect(village.data / "point.db") as point_db:
        point_db.execute("update pointstate set metered = 1")
    hub = cluster.start_hub()

    # Online, the case goes and the scans wait (metered); then one scan starts uploading and is cut off.
    assert "2 held" in run(point_cmd, "sync", "--data", str(village.data)).stdout
    ids = scan_ids(village)
    upload_partly(village, ids["hukou.jpg"], chunks=2)
    (partial,) = [scan for scan in hub.api("yb-li").get(f"/api/cases/{case_id}").json()["scans"]
                  if scan["name"] == "hukou.jpg"]
    assert 0 < partial["received"] < partial["total"]

    bundle = tmp_path / "with-scans.pkb"
    exported = run(point_cmd, "export-bundle", "--data", str(village.data), str(bundle))
    assert exported.returncode == 0 and "0 envelope(s) and 2 scan(s)" in exported.stdout, exported.stdout
    assert scans["hukou.jpg"][:4096] not in bundle.read_bytes(), "scans travel sealed"
    damaged = tmp_path / "damaged.pkb"
    flip_byte(bundle, damaged, bundle.stat().st_size - 5000)  # inside the last scan's sealed bytes
    refused = run(hub_cmd, "import-bundle", "--data", str(hub.data), str(damaged))
    assert refused.returncode == 1 and "nothing was applied" in refused.stderr
    assert hub_scans(hub, case_id) == {}

    # The partial online upload, then the bundle: the hub keeps its bytes and takes the rest from the bundle.
    imported = run(hub_cmd, "import-bundle", "--data", str(hub.data), str(bundle))
    assert imported.returncode == 0, imported.stderr
    assert f"scan {ids['hukou.jpg']}\taccepted" in imported.stdout
    assert "scans: 2 in the bundle, 2 held whole" in imported.stdout
    assert hub_scans(hub, case_id) == scans
    again = run(hub_cmd, "import-bundle", "--data", str(hub.data), str(bundle))
    assert f"scan {ids['id_card.png']}\tduplicate" in again.stdout

    # The bundle, then online: the point's upload learns the hub holds each scan whole and sends nothing.
    online = run(point_cmd, "sync", "--data", str(village.data), "--scans")
    assert online.returncode == 0 and "scans sent 2 (0 bytes)" in online.stdout, online.stdout
    assert hub_scans(hub, case_id) == scans

    # A hub bundle tells a point that only syncs by USB which scans the hub holds whole.
    back = tmp_path / "back.pkb"
    assert run(hub_cmd, "export-bundle", "--data", str(hub.data), "--point", VILLAGE, str(back)).returncode == 0
    with sqlite3.connect(village.data / "point.db") as point_db:
        point_db.execute("update scanfile set state = 'waiting', hub_offset = 0")
    applied = run(point_cmd, "import-bundle", "--data", str(village.data), str(back))
    assert "scans the hub holds whole: 2" in applied.stdout
    with sqlite3.connect(village.data / "point.db") as point_db:
        assert set(point_db.execute("select state from scanfile")) == {("uploaded",)}


def test_a_bundle_changed_in_any_byte_is_refused_whole(tmp_path):
    signer, stranger = Identity.generate(), Identity.generate()
    path = tmp_path / "small.pkb"
    write_bundle(path, [b"\x01" * 90, b"\x02" * 30], signer=signer.sign_key,
                 sender_id="00000000-0000-0000-0000-000000000000", recipient="r",
                 acks=[{"envelope_id": "e", "status": "accepted"}], cursor=2)
    assert read_bundle(path, signer.sign_key.public_key()).envelopes == [b"\x01" * 90, b"\x02" * 30]
    with pytest.raises(BundleError, match="not signed"):
        read_bundle(path, [stranger.sign_key.public_key()])
    original = path.read_bytes()
    for at in range(len(original)):
        data = bytearray(original)
        data[at] ^= 0x01
        (tmp_path / "flipped.pkb").write_bytes(bytes(data))
        with pytest.raises(BundleError):
            read_bundle(tmp_path / "flipped.pkb", signer.sign_key.public_key())
    (tmp_path / "cut.pkb").write_bytes(original[:-1])
    with pytest.raises(BundleError):
        read_bundle(tmp_path / "cut.pkb", signer.sign_key.public_key())


@pytest.mark.parametrize("argv", [
    ("pointkit", "export-bundle", "--help"),
    ("pointkit", "import-bundle", "--help"),
    ("pointkit-hub", "export-bundle", "--help"),
    ("pointkit-hub", "import-bundle", "--help"),
])
def test_bundle_commands_explain_themselves(argv):
    done = run(command(argv[0]), *argv[1:])
    assert done.returncode == 0 and "--data" in done.stdout and "FILE" in done.stdout
