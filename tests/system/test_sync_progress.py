"""`pointkit sync` on a terminal shows a progress bar of the bytes still to send."""

from __future__ import annotations

import os
import pty
import subprocess

from tests.support.cluster import command

from pointkit import db
from pointkit.intake import Applicant, receive_case
from pointkit.scans import ScanInput, prepare_scans
from pointkit.state import load_identity
from sync.kit.idnumber import check_character


def test_sync_on_a_terminal_shows_progress(cluster):
    hub = cluster.start_hub()
    token = cluster.setup(command("pointkit-hub"), "points", "add", "八达镇周邦村便民服务站", "--level", "village",
                          "--data", str(hub.data)).strip().splitlines()[-1]
    data = cluster.base / "village"
    cluster.run(command("pointkit"), "init", "--data", str(data), "--hub", hub.url, "--token", token,
                "--name", "八达镇周邦村便民服务站", "--staff-password", "point-staff-pass")
    first17 = "45102719800101234"
    prepared = prepare_scans(data, [ScanInput("hukou.pdf", os.urandom(200_000), "hukou")])
    with db.session_scope(data) as session:
        receive_case(session, "staff", "451030-YB-001", Applicant("韦秀兰", first17 + check_character(first17), ""),
                     {"insured_category": "普通居民"}, ["id_card", "hukou"], identity=load_identity(data),
                     scans=prepared)

    leader, follower = pty.openpty()
    done = subprocess.run([command("pointkit"), "sync", "--data", str(data)], stdout=follower, stderr=follower,
                          stdin=subprocess.DEVNULL, timeout=120)
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    text = output.decode("utf-8", errors="replace")
    assert done.returncode == 0, text
    assert "sending" in text and "100%" in text, text
    assert "pushed 1" in text

    # Not a terminal: no bar, just the summary.
    plain = subprocess.run([command("pointkit"), "sync", "--data", str(data)], capture_output=True, text=True,
                           timeout=120)
    assert "sending" not in plain.stdout and "pushed 0" in plain.stdout
