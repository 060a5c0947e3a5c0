"""The heads of the hub's audit chain that points hold catch a hub chain cut short after they saw it: real hub and
point processes, a village online and one on USB bundles, and plain SQL on the hub's database.

Someone with the hub's database and its data directory removes the two cases whole (their rows, their points' audit
chains and the county heads that bound them) and the heads file: the hub's own checks then hold. The heads the two villages keep (from a push
answer, from a hub bundle), exported with ``pointkit audit head`` and carried to the hub, name the entries gone.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess

from tests.support.cluster import command

ONLINE = "八达镇周邦村便民服务站"
ON_USB = "八达镇维新村便民服务站"
# The points' own sync workers stay out of the way: the test syncs when it means to.
IDLE = 3600.0


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def remove_cases(hub_db) -> int:
    """Remove every case whole from the hub's database: its rows, the points' audit chains that recorded them
    and the county heads that bound those chains; return how many county heads are left."""
    with sqlite3.connect(hub_db) as db:
        for table in ("outmessage", "caseevent", "reviewtask", "rawenvelope", '"case"', "countyhead"):
            db.execute(f"delete from {table}")
        db.execute("delete from auditentry where chain like 'point:%'")
        db.execute("delete from auditchain where chain like 'point:%'")
        db.execute("update auditchain set anchored_seq = 0")
        return db.execute("select count(*) from countyhead").fetchone()[0]


def test_heads_points_hold_catch_a_hub_chain_cut_short_after_they_saw_it(cluster, tmp_path):
    hub = cluster.start_hub()
    online = cluster.start_point(ONLINE, "village", sync_interval=IDLE)
    on_usb = cluster.start_point(ON_USB, "village", sync_interval=IDLE, dirname="usb-village")
    point_cmd, hub_cmd = command("pointkit"), command("pointkit-hub")
    online.take_case("韦秀兰", "45102719800101234")
    assert run(point_cmd, "sync", "--data", str(online.data)).returncode == 0

    # The USB village's case goes to the hub on a stick, and the hub's bundle back (with the head).
    on_usb.take_case("黄德明", "45102719750305122")
    there, back = tmp_path / "to-hub.pkb", tmp_path / "from-hub.pkb"
    assert run(point_cmd, "export-bundle", "--data", str(on_usb.data), str(there)).returncode == 0
    assert run(hub_cmd, "import-bundle", "--data", str(hub.data), str(there)).returncode == 0
    assert run(hub_cmd, "export-bundle", "--data", str(hub.data), "--point", ON_USB, str(back)).returncode == 0
    assert run(point_cmd, "import-bundle", "--data", str(on_usb.data), str(back)).returncode == 0

    # County IT collects what each village holds (no residents' data in it).
    stick = tmp_path / "heads"
    stick.mkdir()
    for village, file in ((online, "online.json"), (on_usb, "usb.json")):
        exported = run(point_cmd, "audit", "head", "--data", str(village.data), "--out", str(stick / file))
        assert exported.returncode == 0, exported.stderr
    held = {file.name: json.loads(file.read_text(encoding="utf-8")) for file in stick.iterdir()}
    assert held["online.json"]["held_by"]["name"] == ONLINE
    assert "韦秀兰" not in json.dumps(held, ensure_ascii=False)
    holds = run(hub_cmd, "audit", "verify", "--data", str(hub.data), "--with-point-heads", str(stick))
    assert holds.returncode == 0 and "and 2 held by points" in holds.stdout, holds.stdout + holds.stderr

    (hub.data / "audit-heads.log").unlink()
    assert remove_cases(hub.data / "hub.db") == 0
    alone = run(hub_cmd, "audit", "verify", "--data", str(hub.data))
    assert alone.returncode == 0, "the hub's own database and files no longer show the case was there"

    caught = run(hub_cmd, "audit", "verify", "--data", str(hub.data), "--with-point-heads", str(stick))
    assert caught.returncode == 1
    with sqlite3.connect(hub.data / "hub.db") as db:  # the county heads written since (verify writes one)
        now = db.execute("select count(*) from countyhead").fetchone()[0]
    for file in ("online.json", "usb.json"):
        entries = held[file]["document"]["entries"]
        [line] = [line for line in caught.stderr.splitlines() if f"holds ({file})" in line]
        assert line.startswith(f"Audit check failed at entry {entries}: "), line
        if entries > now:
            assert (f"it is missing: the head {held[file]['held_by']['name']} holds ({file}) is a head this hub "
                    f"signed at") in line and f"now ends at entry {now} (entries removed from the end)" in line
        else:  # a county head of that number was written again since, over other chains
            assert f"it is not the entry named by the head {held[file]['held_by']['name']} holds ({file})" in line
