"""An idle point polls ever more slowly; any activity brings it back to the fast interval."""

from __future__ import annotations

from pointkit.syncagent import CUT_RETRY_S, MAX_IDLE_INTERVAL, SyncWorker, idle_delay


def test_idle_delay_doubles_per_idle_round_up_to_the_cap():
    assert [idle_delay(30, n, 900) for n in range(7)] == [30, 60, 120, 240, 480, 900, 900]
    assert idle_delay(30, 1000, 900) == 900
    assert idle_delay(5, 3, 1) == 5, "the cap never makes rounds faster than the interval"


def test_a_worker_starts_fast_and_slows_only_while_idle(tmp_path):
    worker = SyncWorker(tmp_path, interval=30)
    assert worker.next_delay() == 30
    worker.idle_rounds = 10
    assert worker.next_delay() == MAX_IDLE_INTERVAL
    worker.failures = 1
    assert worker.next_delay() == CUT_RETRY_S, "a first failure (most likely a cut): again almost at once"
    worker.failures = 2
    assert 0.75 * 120 <= worker.next_delay() <= 120
