"""One sync round at a time per data directory, across processes: nothing is uploaded twice."""

from __future__ import annotations

import os
import subprocess
from urllib.parse import urlparse

from tests.support.cluster import command, wait_until
from tests.support.linksim import LinkSimulator
from sqlmodel import select

from pointkit import db
from pointkit.intake import Applicant, receive_case
from pointkit.models import ScanFile
from pointkit.scans import ScanInput, prepare_scans
from pointkit.state import get_state, load_identity
from pointkit.syncagent import SyncBusy, sync_lock, sync_once
from sync.kit.idnumber import check_character

VILLAGE = "八达镇周邦村便民服务站"


def enrolled_village(cluster, hub_url: str):
    token = cluster.setup(command("pointkit-hub"), "points", "add", VILLAGE, "--level", "village", "--data",
                          str(cluster.hub.data)).strip().splitlines()[-1]
    data = cluster.base / "village"
    cluster.run(command("pointkit"), "init", "--data", str(data), "--hub", hub_url, "--token", token,
                "--name", VILLAGE, "--staff-password", "point-staff-pass")
    return data


def receive_with_scans(data, count: int, size: int) -> int:
    """``count`` cases with one scan each; return the sealed bytes waiting."""
    for number in range(count):
        first17 = f"451027198001012{number:02d}"
        prepared = prepare_scans(data, [ScanInput(f"hukou-{number}.pdf", os.urandom(size), "hukou")])
        with db.session_scope(data) as session:
            receive_case(session, "staff", "451030-YB-001",
                         Applicant("韦秀兰", first17 + check_character(first17), ""), {"insured_category": "普通居民"},
                         ["id_card", "hukou"], identity=load_identity(data), scans=prepared)
    with db.session_scope(data) as session:
        return sum(row.sealed_size for row in session.exec(select(ScanFile)).all())


def test_a_second_sync_waits_for_the_first_or_says_so(cluster):
    hub = cluster.start_hub()
    data = enrolled_village(cluster, hub.url)
    with sync_lock(data, wait=0):
        refused = subprocess.run([command("pointkit"), "sync", "--data", str(data), "--no-wait"],
                                 capture_output=True, text=True, timeout=60)
        assert refused.returncode == 1 and "a sync round is already running" in refused.stderr, refused.stderr
        waiting = subprocess.Popen([command("pointkit"), "sync", "--data", str(data)], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        try:
            log = data / "point.log"
            wait_until(lambda: "waits for the sync round under way" in log.read_text(encoding="utf-8"), timeout=30,
                       what="the second sync to wait")
            # In this process, another thread is refused too while the lock is held.
            try:
                sync_once(data, wait=0)
            except SyncBusy:
                pass
            else:
                raise AssertionError("a second round in the same process ran beside the first")
            assert waiting.poll() is None, "the waiting sync must not run while the first holds the lock"
        except BaseException:
            waiting.kill()
            raise
    out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, err
    assert "already running on this data directory" in err and "waiting for it to end" in err
    assert "pushed 0" in out


def test_two_syncs_at_once_upload_each_scan_once(cluster):
    hub = cluster.start_hub()
    with LinkSimulator(("127.0.0.1", urlparse(hub.url).port), rate_bps=2_000_000) as link:
        data = enrolled_village(cluster, link.url)
        sealed = receive_with_scans(data, 4, 100_000)
        link.stats.bytes_up = 0
        syncs = [subprocess.Popen([command("pointkit"), "sync", "--data", str(data)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(3)]
        outputs = [process.communicate(timeout=120) for process in syncs]
        up = link.stats.bytes_up
    assert all(process.returncode == 0 for process in syncs), outputs
    assert sum("scans sent 4" in out for out, _ in outputs) == 1, outputs
    assert up < sealed * 1.15, f"{up} bytes went up for {sealed} bytes of sealed scans"
    with db.session_scope(data) as session:
        assert get_state(session).online
