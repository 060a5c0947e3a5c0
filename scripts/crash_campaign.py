"""Crash campaign: SIGKILL the point and the hub at random instants while they sync.

A village point takes cases and syncs continuously; this kills the point
process (and, in turn, the hub process) at random moments, restarts each
from its data directory, and keeps taking cases. At the end every case the
point received must be at the hub exactly once with the content the point
sealed, and every envelope the point holds must be acknowledged.

    python scripts/crash_campaign.py --point-kills 30 --hub-kills 20
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cluster import Cluster, wait_until

from sync.idnumber import check_character

VILLAGE = "泗城镇平兰村便民服务站"
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

    @property
    def ok(self) -> bool:
        return (self.cases > 0 and self.at_hub == self.cases and self.duplicates == 0 and self.mismatched == 0
                and self.unacknowledged == 0)

    def result_line(self) -> str:
        return (f"RESULT point_kills={self.point_kills} hub_kills={self.hub_kills} cases={self.cases} "
                f"at_hub={self.at_hub} duplicates={self.duplicates} mismatched={self.mismatched} "
                f"unacknowledged={self.unacknowledged} seconds={self.seconds:.1f}")


def receive(point, number: int) -> bool:
    """Take one case at the window; False when the point died under the request."""
    first17 = f"45102719800101{number % 1000:03d}"
    try:
        answer = point.api("staff").post("/api/cases", json={
            "item_code": "451000-YB-001",
            "applicant": {"name": f"居民{number}", "id_number": first17 + check_character(first17), "phone": ""},
            "form": {"insured_category": "普通居民"}, "materials": ["id_card", "hukou"]})
    except Exception:
        return False
    return answer.status_code == 201


def point_cases(point) -> dict[str, str]:
    with sqlite3.connect(point.data / "point.db") as db:
        return dict(db.execute("select id, receipt_no from \"case\"").fetchall())


def unacknowledged(point) -> int:
    with sqlite3.connect(point.data / "point.db") as db:
        return db.execute("select count(*) from outbox where state != 'acked'").fetchone()[0]


def hub_cases(hub) -> list[tuple[str, str]]:
    with sqlite3.connect(hub.data / "hub.db") as db:
        return db.execute("select id, receipt_no from \"case\"").fetchall()


def run_campaign(base: Path, *, point_kills: int, hub_kills: int, seed: int, log=print) -> CampaignReport:
    rng = random.Random(seed)
    started = time.monotonic()
    number = 0
    with Cluster(base) as cluster:
        hub = cluster.start_hub()
        point = cluster.start_point(VILLAGE, "village", sync_interval=0.2, dirname="village")
        kills = ["point"] * point_kills + ["hub"] * hub_kills
        rng.shuffle(kills)
        for index, victim in enumerate(kills, 1):
            for _ in range(rng.randint(1, 3)):
                number += 1
                receive(point, number)
            # A random instant inside the next sync rounds, not a wait for anything.
            time.sleep(rng.uniform(0.0, 0.6))
            if victim == "point":
                cluster.kill_server(point)
                point = cluster.start_point(VILLAGE, "village", sync_interval=0.2, dirname="village")
            else:
                cluster.kill_server(hub)
                hub = cluster.start_hub()
            log(f"  kill {index}/{len(kills)}: {victim} (cases taken so far: {number})")

        wait_until(lambda: unacknowledged(point) == 0, timeout=SETTLE_TIMEOUT, interval=0.2,
                   what="every envelope acknowledged after the last kill")
        taken = point_cases(point)
        at_hub = hub_cases(hub)
        ids = [case_id for case_id, _ in at_hub]
        mismatched = sum(1 for case_id, receipt in at_hub if taken.get(case_id) != receipt)
        return CampaignReport(point_kills, hub_kills, len(taken), len(set(ids) & set(taken)),
                              len(ids) - len(set(ids)), mismatched, unacknowledged(point),
                              time.monotonic() - started)


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
          f"content mismatches {report.mismatched}, unacknowledged {report.unacknowledged}")
    print(report.result_line())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
