"""Crash campaign: SIGKILL the point and the hub at random instants while they sync.

A village point takes cases (every other one with a scan of random size)
and syncs continuously; this kills the point process (and, in turn, the
hub process) at random moments, restarts each from its data directory, and
keeps taking cases. At the end every case the point received must be at
the hub exactly once with the content the point sealed, every envelope the
point holds must be acknowledged, and every scan must decrypt at the hub to
the very bytes taken at the window.

    scripts/crash_campaign --point-kills 30 --hub-kills 20
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import random
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.cluster import Cluster, wait_until

from sync.attachments import AttachmentError, decrypt_attachment
from sync.kit.idnumber import check_character

VILLAGE = "八达镇周邦村便民服务站"
SETTLE_TIMEOUT = 120


@dataclass
class CampaignReport:
    point_kills: int
    hub_kills: int
    cases: int
    at_hub: int
    duplicates: int
    mismatched: int
    unacknowledged: int
    seconds: float
    scans: int = 0
    scans_identical: int = 0

    @property
    def ok(self) -> bool:
        return (self.cases > 0 and self.at_hub == self.cases and self.duplicates == 0 and self.mismatched == 0
                and self.unacknowledged == 0 and self.scans > 0 and self.scans_identical == self.scans)

    def result_line(self) -> str:
        return (f"RESULT point_kills={self.point_kills} hub_kills={self.hub_kills} cases={self.cases} "
                f"at_hub={self.at_hub} duplicates={self.duplicates} mismatched={self.mismatched} "
                f"unacknowledged={self.unacknowledged} scans={self.scans} scans_identical={self.scans_identical} "
                f"seconds={self.seconds:.1f}")


def receive(point, number: int, scan: bytes = b"") -> bool:
    """Take one case at the window (with a scan named ``scan-NUMBER.pdf`` if given); False when the point died
    under the request."""
    first17 = f"45102719800101{number % 1000:03d}"
    case = {"item_code": "451030-YB-001",
            "applicant": {"name": f"居民{number}", "id_number": first17 + check_character(first17), "phone": ""},
            "form": {"insured_category": "普通居民"}, "materials": ["id_card", "hukou"]}
    try:
        if scan:
            answer = point.api("staff").post("/api/cases", data={"case": json.dumps(case)},
                                             files=[("scans", (f"scan-{number}.pdf", scan))])
        else:
            answer = point.api("staff").post("/api/cases", json=case)
    except Exception:
        return False
    return answer.status_code == 201


def point_cases(point) -> dict[str, str]:
    with sqlite3.connect(point.data / "point.db") as db:
        return dict(db.execute("select id, receipt_no from \"case\"").fetchall())


def unacknowledged(point) -> int:
    with sqlite3.connect(point.data / "point.db") as db:
        return db.execute("select count(*) from outbox where state != 'acked'").fetchone()[0]


def scans_waiting(point) -> int:
    with sqlite3.connect(point.data / "point.db") as db:
        return db.execute("select count(*) from scanfile where state = 'waiting'").fetchone()[0]


def identical_scans(point, hub, taken: dict[str, str]) -> tuple[int, int]:
    """(scans the point holds, how many of them decrypt at the hub, with the key in the case, to the SHA-256 of
    what was taken at the window)."""
    with sqlite3.connect(point.data / "point.db") as db:
        at_point = dict(db.execute("select scan_id, name from scanfile").fetchall())
    with sqlite3.connect(hub.data / "hub.db") as db:
        keys = dict(db.execute("select scan_id, key_b64 from casescan where status = 'complete'").fetchall())
    identical = 0
    for scan_id, name in at_point.items():
        try:
            sealed = (hub.data / "scans" / f"{scan_id}.sealed").read_bytes()
            plain = decrypt_attachment(sealed, base64.b64decode(keys[scan_id]))
        except (OSError, KeyError, AttachmentError):
            continue
        identical += hashlib.sha256(plain).hexdigest() == taken.get(name)
    return len(at_point), identical


def hub_cases(hub) -> list[tuple[str, str]]:
    with sqlite3.connect(hub.data / "hub.db") as db:
        return db.execute("select id, receipt_no from \"case\"").fetchall()


def run_campaign(base: Path, *, point_kills: int, hub_kills: int, seed: int, log=print) -> CampaignReport:
    rng = random.Random(seed)
    started = time.monotonic()
    number = 0
    scans_taken: dict[str, str] = {}  # scan file name -> SHA-256 of the bytes taken at the window
    # The hub's init and the point's enrollment run in this process (Cluster.setup); what it kills are processes.
    with Cluster(base, setup_in_process=True) as cluster:
        hub = cluster.start_hub()
        point = cluster.start_point(VILLAGE, "village", sync_interval=0.2, dirname="village")
        kills = ["point"] * point_kills + ["hub"] * hub_kills
        rng.shuffle(kills)
        for index, victim in enumerate(kills, 1):
            for _ in range(rng.randint(1, 3)):
                number += 1
                # A scan is a PDF (points refuse anything else by content): the header, then random bytes.
                scan = b"%PDF-1.4\n" + rng.randbytes(rng.randint(2_000, 150_000)) if number % 2 else b""
                if scan:
                    scans_taken[f"scan-{number}.pdf"] = hashlib.sha256(scan).hexdigest()
                receive(point, number, scan)
            # A random instant inside the next sync rounds, not a wait for anything.
            time.sleep(rng.uniform(0.0, 0.6))
            if victim == "point":
                cluster.kill_server(point)
                point = cluster.start_point(VILLAGE, "village", sync_interval=0.2, dirname="village")
            else:
                cluster.kill_server(hub)
                hub = cluster.start_hub()
            log(f"  kill {index}/{len(kills)}: {victim} (cases taken so far: {number})")

        wait_until(lambda: unacknowledged(point) == 0 and scans_waiting(point) == 0, timeout=SETTLE_TIMEOUT,
                   interval=0.2, what="every envelope acknowledged and every scan uploaded after the last kill")
        taken = point_cases(point)
        at_hub = hub_cases(hub)
        ids = [case_id for case_id, _ in at_hub]
        mismatched = sum(1 for case_id, receipt in at_hub if taken.get(case_id) != receipt)
        scans, identical = identical_scans(point, hub, scans_taken)
        return CampaignReport(point_kills, hub_kills, len(taken), len(set(ids) & set(taken)),
                              len(ids) - len(set(ids)), mismatched, unacknowledged(point),
                              time.monotonic() - started, scans, identical)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--point-kills", type=int, default=30, help="times the point is SIGKILLed")
    parser.add_argument("--hub-kills", type=int, default=20, help="times the hub is SIGKILLed")
    parser.add_argument("--seed", type=int, default=None, help="random seed (printed; reuse it to replay a run)")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    print(f"crash campaign: seed {seed}")
    with tempfile.TemporaryDirectory(prefix="pointkit-crash-") as base:
        report = run_campaign(Path(base), point_kills=args.point_kills, hub_kills=args.hub_kills, seed=seed)
    print(f"cases taken {report.cases}, at the hub {report.at_hub}, duplicated {report.duplicates}, "
          f"content mismatches {report.mismatched}, unacknowledged {report.unacknowledged}; "
          f"scans {report.scans}, byte-identical at the hub {report.scans_identical}")
    print(report.result_line())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
