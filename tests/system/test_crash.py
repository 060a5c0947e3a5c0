"""Crash safety, short version: SIGKILL point and hub at random instants while they sync cases and scans.

The full campaign (30 point kills, 20 hub kills) is scripts/crash_campaign. Each run prints its random seed;
POINTKIT_CRASH_SEED=N replays a failed run's kill schedule and scan sizes (as ``scripts/crash_campaign --seed N``).
"""

from __future__ import annotations

import os
import random

from scripts.crash_campaign import run_campaign

SEED_ENV = "POINTKIT_CRASH_SEED"


def test_random_kills_lose_nothing_and_double_nothing(tmp_path):
    given = os.environ.get(SEED_ENV, "")
    seed = int(given) if given else random.SystemRandom().randrange(2**32)
    # Printed, so that pytest shows it with any failure, an exception inside the campaign included.
    print(f"crash seed {seed}; replay: {SEED_ENV}={seed} scripts/test tests/system/test_crash.py")
    report = run_campaign(tmp_path, point_kills=4, hub_kills=3, seed=seed, log=lambda line: None)
    assert report.cases > 0, f"seed {seed}: no case was taken"
    assert report.at_hub == report.cases, f"seed {seed}: {report.result_line()}"
    assert report.duplicates == 0 and report.mismatched == 0, f"seed {seed}: {report.result_line()}"
    assert report.unacknowledged == 0, f"seed {seed}: {report.result_line()}"
    assert report.scans > 0 and report.scans_identical == report.scans, f"seed {seed}: {report.result_line()}"
