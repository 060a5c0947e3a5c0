"""The benchmark scripts run, in short versions, and end with a parseable RESULT line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_script(script: str, *args: str) -> str:
    """Run ``scripts/<script>`` as its wrapper does: ``python -m scripts.<script>`` from the repository root."""
    done = subprocess.run([sys.executable, "-m", f"scripts.{script}", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout


def result_line(script: str, *args: str, output: str | None = None) -> dict[str, str]:
    output = run_script(script, *args) if output is None else output
    last = output.strip().splitlines()[-1]
    assert last.startswith("RESULT "), output
    return dict(pair.split("=", 1) for pair in last.split()[1:])


def test_bench_envelope_prints_the_post_quantum_cost():
    figures = result_line("bench_envelope", "--rounds", "5")
    assert int(figures["pq_bytes"]) - int(figures["classic_bytes"]) == int(figures["pq_extra_bytes"]) > 0
    assert float(figures["classic_open_per_s"]) > 0 and float(figures["pq_open_per_s"]) > 0


@pytest.mark.long
def test_bench_sync_runs_scaled_down_and_reports_every_figure():
    # (e) once, its first cut in the middle of the download: tests/system/test_catalog_link.py brings the catalog
    # over the link's own 8 s rhythm, and the full run tries all three.
    output = run_script("bench_sync", "--scale", "0.05", "--catalog-first-cut", "3.5")
    figures = result_line("bench_sync", output=output)
    assert set(figures) == {"a_time_ratio", "a_wire_ratio", "b_time_ratio", "c_a_finished", "c_b_finished",
                            "d_idle_kb_per_day", "idle_bytes_per_day", "catalog_seconds_cut", "relay_scan_ratio"}
    assert float(figures["relay_scan_ratio"]) >= 1.0, "the sealed scans cross the village link at least once"
    assert 1.0 <= float(figures["a_wire_ratio"]) < 3.0
    assert float(figures["a_time_ratio"]) >= 1.0, "nothing crosses the link faster than its line rate"
    assert float(figures["d_idle_kb_per_day"]) <= 100, "an idle point stays within 100 KB a day"
    assert 0 < int(figures["idle_bytes_per_day"]) <= 100 * 1024, "a simulated idle day, every timer included"
    assert figures["catalog_seconds_cut"] != "inf", \
        "a new point gets the catalog over a village link that cuts:\n" + "\n".join(
            line for line in output.splitlines() if line.startswith("(e)") or "init" in line)


def test_bench_reconcile_runs_scaled_down_and_finds_every_injected_conflict():
    figures = result_line("bench_reconcile", "--points", "6", "--cases", "10", "--conflict-rate", "0.1")
    assert int(figures["expected"]) >= 6, "every conflict type is injected"
    assert figures["detected"] == figures["expected"] and figures["false_positives"] == "0"


@pytest.mark.long
def test_bench_hub_runs_scaled_down_and_relates_ingest_to_the_crypto_limit():
    output = run_script("bench_hub", "--points", "2", "--envelopes", "24", "--processes", "1,2")
    figures = result_line("bench_hub", output=output)
    assert set(figures) == {"sqlite_2proc", "pg_1proc", "pg_4proc", "scaling_4proc", "lock_share_4proc",
                            "crypto_limit", "ratio"}
    assert float(figures["pg_1proc"]) > 0 and figures["pg_4proc"] == "0", "no 4-process run was asked for"
    assert float(figures["sqlite_2proc"]) > 0 and float(figures["crypto_limit"]) > 0
    assert abs(float(figures["ratio"]) - float(figures["sqlite_2proc"]) / float(figures["crypto_limit"])) < 0.01
    # Each run says where the time went: the hub's and the pushing points' CPU per envelope, beside the crypto's.
    crypto = re.findall(r"crypto only .*CPU per envelope: (\d+) µs", output)
    runs = re.findall(r"(SQLite|PostgreSQL) +2 hub processes: .*CPU per envelope: hub (\d+) µs, pushing points (\d+) µs",
                      output)
    # The crypto-only limit brackets the SQLite runs (the machine's speed drifts); the ratio uses their mean.
    assert len(crypto) == 2 and all(int(micros) > 0 for micros in crypto), output
    assert output.index("before the SQLite runs") < output.index("SQLite     2 hub") < output.index("after them")
    [mean] = re.findall(r"crypto-only limit \(the mean of the two\): +(\d+) envelopes/s", output)
    assert abs(int(mean) - float(figures["crypto_limit"])) <= 1, output
    assert [database for database, _, _ in runs] == ["SQLite", "PostgreSQL"], output
    assert all(int(hub) > min(map(int, crypto)) for _, hub, _ in runs), "the hub does the crypto and more"
    # ... and how busy the locks were, from the lines the hub logs per push: SQLite's one writer lock, PostgreSQL's
    # per point (two points: the busiest holds at least half of what all pushes held).
    [sqlite_held] = re.findall(r"SQLite +2 hub processes: .*; the one writer lock held (\d+)% of the run", output)
    [(all_held, busiest)] = re.findall(r"PostgreSQL +2 hub processes: .*; pushes held their locks (\d+)% of the run "
                                       r"summed over points, the busiest point's (\d+)%", output)
    assert 0 < int(sqlite_held) <= 100 and 0 < int(busiest) <= int(all_held) <= 200, output
    assert re.search(r"PostgreSQL +[12] hub process.*CPU per envelope: .*, PostgreSQL \d+ µs", output), output
    assert "one hub process on PostgreSQL:" in output, output


@pytest.mark.long
def test_bench_region_plays_a_scaled_down_day_and_loses_nothing():
    # 30 points, 3 cases each on average, a day of 9 s on two hub processes; the script itself checks that every
    # case pushed is at the hub exactly once, routed once, with its scans whole, and exits 1 (with lost=N) if not.
    output = run_script("bench_region", "--points", "30", "--cases-per-point", "3", "--minutes", "0.15",
                        "--scan-share", "0.2", "--hubs", "2", "--clients", "8")
    figures = result_line("bench_region", output=output)
    assert {"points", "cases", "peak_cases_per_s", "lag_p50_s", "lag_p99_s", "bytes_per_case", "db_bytes"} <= set(
        figures), output
    assert figures["points"] == "30" and figures["cases"] == "90" and figures["lost"] == "0", output
    assert "2 hub machines on PostgreSQL, scans in SeaweedFS" in output and "(nginx, round robin)" in output, output
    assert "'accepted': 90" in output, "every case answered accepted the first time"
    assert float(figures["peak_cases_per_s"]) > 0 and 0 < float(figures["lag_p50_s"]) <= float(figures["lag_p99_s"])
    # The late points sync once, after the day: their lag is about half of it, beyond the others' typical lag.
    assert float(figures["late_lag_p50_s"]) > float(figures["lag_p50_s"]), output
    assert int(figures["scan_bytes"]) > 100 * 1024 and int(figures["bytes_per_case"]) > 0 and int(
        figures["db_bytes"]) > 0
