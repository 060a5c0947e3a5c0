"""The benchmark scripts run, in short versions, and end with a parseable RESULT line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def result_line(script: str, *args: str) -> dict[str, str]:
    done = subprocess.run([sys.executable, str(SCRIPTS / script), *args], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("RESULT "), done.stdout
    return dict(pair.split("=", 1) for pair in last.split()[1:])


def test_bench_envelope_prints_the_post_quantum_cost():
    figures = result_line("bench_envelope.py", "--rounds", "5")
    assert int(figures["pq_bytes"]) - int(figures["classic_bytes"]) == int(figures["pq_extra_bytes"]) > 0
    assert float(figures["classic_open_per_s"]) > 0 and float(figures["pq_open_per_s"]) > 0
