"""Timer rounds run once across hub processes: the lease table decides who runs each one (hub/core/leases.py).

Eight engines take one due round at the same instant and one wins; three processes run a fast timer side by
side and their rounds are numbered once each, spaced a full interval apart; a holder killed mid-round lets
the round go when its lease runs out, not before; one that outlived its lease and was overtaken rolls back.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from sqlmodel import select

from tests.support.cluster import wait_until

from hub.core.clock import utc_now
from hub.core.db import database_url, make_engine, session_scope
from hub.core.leases import LeaseLost, Round, finish_round, run_round, take_round
from hub.core.models import TimerLease
from hub.migrate import init_db

EVERY = timedelta(seconds=60)
LEASE = timedelta(seconds=30)
RACERS = 8
PROCESSES = 3

# A hub process's timer loop, cut down to the lease: run rounds of ``every`` seconds for ``seconds``, printing
# "round N at T" for each round this process ran; with "block", take one round and hang in it.
TIMER_SCRIPT = """
import sys, time
from datetime import timedelta
from hub.core.db import make_engine
from hub.core.leases import run_round, take_round
url, holder, every, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
engine = make_engine(url)
if sys.argv[5:] == ["block"]:
    assert take_round(engine, "blocked", holder=holder, every=timedelta(seconds=every),
                      lease_for=timedelta(seconds=seconds))
    print("holding", flush=True)
    sys.stdin.read()
end = time.monotonic() + seconds
while time.monotonic() < end:
    done = run_round(engine, "fast", lambda session: None, holder=holder, every=timedelta(seconds=every),
                     lease_for=timedelta(seconds=30))
    if done:
        print("round", done.number, flush=True)
    time.sleep(0.01)
"""


@pytest.fixture
def engine(tmp_path, hub_database):
    """A hub database with its tables and nothing else (SQLite in tmp_path, or this test's PostgreSQL)."""
    made = make_engine(database_url(tmp_path))
    init_db(made)
    yield made
    made.dispose()


def _rounds(engine, name: str) -> int:
    with session_scope(engine) as session:
        return session.exec(select(TimerLease.rounds).where(TimerLease.name == name)).one()


def test_one_of_many_processes_taking_a_due_round_at_the_same_instant_gets_it(engine):
    engines = [make_engine(str(engine.url.render_as_string(hide_password=False))) for _ in range(RACERS)]
    now, start = utc_now(), threading.Barrier(RACERS)
    taken = []

    def race(index: int) -> None:
        start.wait(timeout=30)
        taken.append(take_round(engines[index], "supervision", holder=f"machine-{index}", every=EVERY,
                                lease_for=LEASE, now=now))

    threads = [threading.Thread(target=race, args=(index,)) for index in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for made in engines:
        made.dispose()
    [winner] = [lease for lease in taken if lease is not None]
    assert len(taken) == RACERS

    later = now + timedelta(seconds=1)
    assert take_round(engine, "supervision", holder="late", every=EVERY, lease_for=LEASE, now=later) is None, \
        "the round is held"
    with session_scope(engine) as session:
        assert finish_round(session, winner) == 1
    assert take_round(engine, "supervision", holder="late", every=EVERY, lease_for=LEASE, now=later) is None, \
        "the round ran: the next one is due a full interval after it was taken"
    assert take_round(engine, "supervision", holder="late", every=EVERY, lease_for=LEASE,
                      now=now + EVERY - timedelta(milliseconds=1)) is None
    assert take_round(engine, "supervision", holder="next", every=EVERY, lease_for=LEASE, now=now + EVERY)
    with session_scope(engine) as session:
        row = session.get(TimerLease, "supervision")
        assert (row.rounds, row.last_run_by, row.holder) == (1, winner.holder, "next")


def test_processes_running_one_fast_timer_side_by_side_run_each_round_once(engine, tmp_path):
    url = engine.url.render_as_string(hide_password=False)
    every, seconds = 0.2, 2.0
    runs = [subprocess.Popen([sys.executable, "-c", TIMER_SCRIPT, url, f"machine-{index}", str(every), str(seconds)],
                             stdout=subprocess.PIPE, text=True) for index in range(PROCESSES)]
    numbers = []
    for run in runs:
        out, _ = run.communicate(timeout=60)
        assert run.returncode == 0
        numbers += [int(line.split()[1]) for line in out.splitlines() if line.startswith("round ")]
    rounds = _rounds(engine, "fast")
    assert sorted(numbers) == list(range(1, rounds + 1)), "every round ran in exactly one process"
    # The processes start within a second or so of each other (imports); each runs its timer for 2 s.
    assert 2 <= rounds <= (seconds + 2) / every


def test_a_holder_killed_mid_round_lets_the_round_go_when_its_lease_runs_out(engine):
    url = engine.url.render_as_string(hide_password=False)
    lease_s = 2.0
    holder = subprocess.Popen([sys.executable, "-c", TIMER_SCRIPT, url, "machine-a", "60", str(lease_s), "block"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        with session_scope(engine) as session:
            held = session.get(TimerLease, "blocked")
            lease_until = held.lease_until
        assert held.holder == "machine-a" and held.rounds == 0
    finally:
        holder.kill()
        holder.wait(timeout=10)

    def take(now=None):
        return take_round(engine, "blocked", holder="machine-b", every=timedelta(seconds=60), lease_for=LEASE,
                          now=now)

    assert take(now=lease_until.replace(tzinfo=utc_now().tzinfo) - timedelta(milliseconds=10)) is None, \
        "a killed holder's lease stands until it runs out"
    lease = wait_until(take, timeout=lease_s + 10, what="machine-b taking the killed holder's round")
    with session_scope(engine) as session:
        assert finish_round(session, lease) == 1, "the killed holder's round never counted"
        assert session.get(TimerLease, "blocked").last_run_by == "machine-b"


def test_a_round_whose_work_fails_rolls_back_and_lets_the_next_wake_try_again_at_once(engine):
    def failing(session):
        session.add(TimerLease(name="written-by-the-failed-round"))
        session.flush()
        raise RuntimeError("the round's work failed")

    with pytest.raises(RuntimeError, match="work failed"):
        run_round(engine, "expiry", failing, holder="machine-a", every=EVERY, lease_for=LEASE)
    done = run_round(engine, "expiry", lambda session: "expired", holder="machine-b", every=EVERY, lease_for=LEASE)
    assert done == Round(1, "expired"), "not held until the failed round's lease ran out, and counted once"
    with session_scope(engine) as session:
        assert session.get(TimerLease, "written-by-the-failed-round") is None


def test_a_holder_overtaken_after_its_lease_ran_out_rolls_its_round_back(engine):
    now = utc_now()
    slow = take_round(engine, "anchor", holder="slow", every=EVERY, lease_for=LEASE, now=now)
    fast = take_round(engine, "anchor", holder="fast", every=EVERY, lease_for=LEASE, now=now + LEASE * 2)
    assert slow and fast
    with pytest.raises(LeaseLost, match="slow ran past its lease"), session_scope(engine) as session:
        session.add(TimerLease(name="written-by-the-slow-round"))
        finish_round(session, slow)
    with session_scope(engine) as session:
        assert session.get(TimerLease, "written-by-the-slow-round") is None, "the slow round's writes rolled back"
        assert finish_round(session, fast) == 1
