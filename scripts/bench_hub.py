"""Hub ingest speed: envelopes per second through the real push endpoint, next to the crypto-only limit.

For each database (SQLite in the data directory, then a scratch PostgreSQL
database) one hub is initialized and four ``pointkit-hub serve`` processes
(waitress) are started on it. Runs with 1, 2 and 4 of those processes follow:
fresh points (enrolled straight into the database) each push a backlog of
SUBMIT envelopes through ``POST /sync/v1/push`` in the batches a point sends
(``pointkit.syncagent.BATCH_SIZES``, growing to 64), one client thread per
point, points spread over the processes in use. Sealing and making each
point's HTTP client happen before the clock starts; the figure is what the
hub does: verify, open, store, apply (route, audit, queue the status message
back), and answer. The status message is sealed when the point pulls it
(hub/core/outbox.py), which this benchmark does not time.

The crypto-only limit is measured in the same run, just before and just after
the SQLite runs (their mean is the limit): one process per core verifies and
opens the same kind of envelopes in a tight loop. A hub that only did that
would reach it; ``ratio`` says how close the hub comes.

Each line also says where the time went: the CPU time per envelope of the hub
processes and of the pushing points (this process), read from /proc on Linux,
next to the crypto's own, and on PostgreSQL the CPU time of its server
processes (the database's own work for the same rows); and how busy the locks
were, summed from the push lines the hub logs. On SQLite that is the one
writer lock (near 100%, more hub processes cannot add anything); on PostgreSQL
pushes hold the write lock only in shared mode and lock their own points'
chains (hub/core/db.py), so the figure is the busiest point's lock.

Ends with ``RESULT sqlite_2proc=N pg_1proc=N pg_4proc=N scaling_4proc=R
lock_share_4proc=S crypto_limit=N ratio=R`` where ratio = sqlite_2proc /
crypto_limit, scaling_4proc = pg_4proc / pg_1proc and lock_share_4proc is the
share of the 4-process PostgreSQL run the busiest lock was held (0 for a run
not made: NaN).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import pgdb  # noqa: E402
from scripts.bench_reconcile import ITEM, BenchPoint, Residents, submit  # noqa: E402
from tests.support.cluster import Cluster  # noqa: E402
from sqlmodel import Session, func, select  # noqa: E402

from hub.core.db import database_url, make_engine
from hub.intake.turns import PUSH_LINE_LOCK_TIMES
from hub.instance import LOG_FILE
from hub.trust.keys import load_keyring
from hub.core.models import Case
from pointkit.syncagent import BATCH_SIZES  # noqa: E402
from sync.envelope import Envelope, Kind, seal_envelope
from sync.client import HubClient
from sync.keys import Identity

PROCESS_COUNTS = (1, 2, 4)


def backlog(point: BenchPoint, residents: Residents, count: int) -> list[bytes]:
    """``count`` sealed SUBMITs of distinct residents (no duplicate applications to reconcile)."""
    for _ in range(count):
        point.queue(Kind.SUBMIT, submit(ITEM, residents.new(), "韦秀兰", 1))
    frames, point.frames = point.frames, []
    return frames


def batches(frames: list[bytes]) -> list[list[bytes]]:
    """Split a backlog the way a point's sync agent does: batches of 4, 16, then 64."""
    out, start, round_number = [], 0, 0
    while start < len(frames):
        size = BATCH_SIZES[min(round_number, len(BATCH_SIZES) - 1)]
        out.append(frames[start:start + size])
        start, round_number = start + size, round_number + 1
    return out


# -- the crypto-only limit ---------------------------------------------------------------------------

_CRYPTO_WORK: dict = {}


def _verify_and_open(share: int) -> int:
    frames, verifier, opening = _CRYPTO_WORK["frames"], _CRYPTO_WORK["verifier"], _CRYPTO_WORK["opening"]
    for index in range(share):
        envelope = Envelope.parse(frames[index % len(frames)])
        envelope.verify(verifier)
        envelope.open(opening)
    return share


def crypto_limit(envelopes: int) -> float:
    """Envelopes per second verified and opened by one process per core, nothing else."""
    hub, point = Identity.generate(), Identity.generate()
    residents = Residents(random.Random(1))
    recipient = hub.recipient_keys()[0]
    _CRYPTO_WORK.update(
        frames=[seal_envelope(kind=Kind.SUBMIT, payload=submit(ITEM, residents.new(), "韦秀兰", 1),
                              sender_id=uuid.uuid4(), seq=n + 1,
                              sender_key=point.sign_key, recipient_key=recipient).to_bytes() for n in range(200)],
        verifier=point.sign_key.public_key(), opening=hub.opening_keys())
    cores = os.cpu_count() or 1
    share = max(1, envelopes // cores)
    with multiprocessing.get_context("fork").Pool(cores) as pool:
        pool.map(_verify_and_open, [10] * cores)  # warm up every worker
        started = time.perf_counter()
        done = sum(pool.map(_verify_and_open, [share] * cores))
        return done / (time.perf_counter() - started)


# -- one database, several hub processes -------------------------------------------------------------

class HubUnderLoad:
    """One initialized hub with ``max(PROCESS_COUNTS)`` serve processes on one database."""

    def __init__(self, stack: ExitStack, base: Path, url: str | None, processes: int):
        self.cluster = stack.enter_context(Cluster(base))
        first = self.cluster.start_hub(database_url=url)
        servers = [first] + [self.cluster.start_hub_process() for _ in range(processes - 1)]
        self.urls = [server.url for server in servers]
        self.pids = [server.process.pid for server in servers]
        self.engine = make_engine(database_url(first.data, url))
        stack.callback(self.engine.dispose)
        self.data = first.data
        self.log = first.data / LOG_FILE  # every process on the data directory logs there
        self.residents = Residents(random.Random(str(base)))
        self.enrolled = 0

    def enroll(self, count: int) -> list[BenchPoint]:
        with Session(self.engine, expire_on_commit=False) as session:
            keyring = load_keyring(session, self.data)
            points = [BenchPoint(session, keyring, self.enrolled + index) for index in range(count)]
            session.commit()
        self.enrolled += count
        return points

    def cases(self) -> int:
        with Session(self.engine) as session:
            return session.exec(select(func.count()).select_from(Case)).one()

    def run(self, processes: int, points: int, per_point: int) -> tuple[float, dict[str, float]]:
        """Envelopes per second with ``processes`` hub processes taking ``points`` points' backlogs at once;
        the CPU time per envelope of the hub processes, of the pushing points (this process) and of
        PostgreSQL's server, and the share of the run the locks were held (all pushes, the busiest point)."""
        fleet = self.enroll(points)
        work = [(index % processes, batches(backlog(point, self.residents, per_point)))
                for index, point in enumerate(fleet)]
        before = self.cases()

        def push(job: tuple[HubClient, list[list[bytes]]]) -> Counter:
            client, point_batches = job
            answered: Counter = Counter()
            for batch in point_batches:
                answered.update(result.status for result in client.push(batch))
            return answered

        database_cpu = postgres_cpu_seconds()
        with ExitStack() as clients:
            # Each point's client is made before the clock starts, as a point keeps one for a sync session
            # (making one costs the client ~30 ms of CPU, mostly httpx loading CA certificates).
            jobs = [(clients.enter_context(HubClient(self.urls[process], attempts=1, timeout=120)), point_batches)
                    for process, point_batches in work]
            logged = self.log.stat().st_size
            hub_cpu, own_cpu = cpu_seconds(self.pids[:processes]), time.process_time()
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
                answers = sum(pool.map(push, jobs), Counter())
            seconds = time.perf_counter() - started
            hub_cpu, own_cpu = cpu_seconds(self.pids[:processes]) - hub_cpu, time.process_time() - own_cpu
        database_cpu = postgres_cpu_seconds() - database_cpu
        total = points * per_point
        if answers != Counter({"accepted": total}) or self.cases() - before != total:
            raise SystemExit(f"lost or refused envelopes: {dict(answers)}, {self.cases() - before} new cases "
                             f"for {total} envelopes")
        held = lock_held_seconds(self.log, logged)
        return total / seconds, {"hub": hub_cpu / total, "points": own_cpu / total, "database": database_cpu / total,
                                 "lock_held": sum(held.values()) / seconds,
                                 "busiest_point": max(held.values(), default=0.0) / seconds}


def lock_held_seconds(log: Path, offset: int) -> dict[str, float]:
    """How long pushes held their locks, per point, summed from the push lines the hub logged after ``offset``
    (a push for several points counts for each)."""
    with log.open("rb") as lines:
        lines.seek(offset)
        text = lines.read().decode("utf-8", errors="replace")
    held: Counter = Counter()
    for points, _, milliseconds in PUSH_LINE_LOCK_TIMES.findall(text):
        for point in points.split(","):
            held[point] += float(milliseconds) / 1000
    return dict(held)


def postgres_cpu_seconds() -> float:
    """CPU time (user and system) every process named ``postgres`` on this machine has used so far (the server's
    own work: backends, WAL writer, checkpointer), from /proc (Linux; NaN elsewhere, 0 without PostgreSQL here)."""
    total, found = 0, False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, rest = stat.read_text().split(" (", 1)[1].rsplit(")", 1)
        except (OSError, IndexError, ValueError):
            continue
        found = True
        if name == "postgres":
            fields = rest.split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK") if found else float("nan")


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user and system) the processes ``pids`` have used so far, from /proc (Linux; NaN elsewhere)."""
    try:
        stats = [Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split() for pid in pids]
    except OSError:
        return float("nan")
    return sum(int(fields[11]) + int(fields[12]) for fields in stats) / os.sysconf("SC_CLK_TCK")


def measure_database(base: Path, name: str, url: str | None, points: int, per_point: int,
                     counts: tuple[int, ...]) -> tuple[dict[int, float], dict[int, dict[str, float]]]:
    rates, spending = {}, {}
    with ExitStack() as stack:
        hub = HubUnderLoad(stack, base / name, url, max(counts))
        for processes in counts:
            rates[processes], spent = hub.run(processes, points, per_point)
            spending[processes] = spent
            database = f", PostgreSQL {spent['database'] * 1e6:.0f} µs" if url else ""
            locks = (f"the one writer lock held {spent['lock_held']:.0%} of the run" if url is None else
                     f"pushes held their locks {spent['lock_held']:.0%} of the run summed over points, the "
                     f"busiest point's {spent['busiest_point']:.0%}")
            print(f"{name:<10} {processes} hub process{'es' if processes > 1 else '  '}: "
                  f"{rates[processes]:7.0f} envelopes/s ({points * per_point} envelopes, {points} points); "
                  f"CPU per envelope: hub {spent['hub'] * 1e6:.0f} µs, pushing points {spent['points'] * 1e6:.0f} µs"
                  f"{database}; {locks}", flush=True)
    return rates, spending


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=20, help="points pushing at once in each run (default 20)")
    parser.add_argument("--envelopes", type=int, default=2000,
                        help="envelopes pushed in each run, spread over the points (default 2000)")
    parser.add_argument("--processes", default=",".join(map(str, PROCESS_COUNTS)),
                        help="hub process counts to run, comma-separated (default 1,2,4)")
    parser.add_argument("--postgres-url", default=None,
                        help=f"PostgreSQL server to make a scratch database on (default {pgdb.server_url()})")
    args = parser.parse_args()
    if args.postgres_url:
        os.environ[pgdb.SERVER_URL_ENV] = args.postgres_url
    counts = tuple(sorted({int(part) for part in args.processes.split(",")}))
    per_point = max(1, args.envelopes // args.points)
    unreachable = pgdb.unreachable()
    if unreachable:
        print(f"PostgreSQL: {unreachable}", file=sys.stderr)
        return 2

    cores = os.cpu_count() or 1

    def crypto_only(when: str) -> float:
        limit = crypto_limit(max(400, args.envelopes))
        print(f"crypto only (verify + open, {cores} processes), {when}: {limit:7.0f} envelopes/s; "
              f"CPU per envelope: {cores / limit * 1e6:.0f} µs", flush=True)
        return limit

    # Measured just before and just after the SQLite runs the ratio compares with: the machine's speed drifts
    # (by a third within an hour on the development machine), and the crypto moves with it.
    before = crypto_only("before the SQLite runs")
    with tempfile.TemporaryDirectory(prefix="bench-hub-") as work:
        sqlite, _ = measure_database(Path(work), "SQLite", None, args.points, per_point, counts)
        limit = (before + crypto_only("after them")) / 2
        print(f"crypto-only limit (the mean of the two): {limit:7.0f} envelopes/s", flush=True)
        with pgdb.scratch_database() as url:
            postgres, spending = measure_database(Path(work), "PostgreSQL", url, args.points, per_point, counts)
    sqlite_2, pg_1, pg_4 = sqlite.get(2, 0.0), postgres.get(1, 0.0), postgres.get(4, 0.0)
    if 1 in spending:  # where one process's time goes, next to the crypto alone and the database's own work
        one = spending[1]
        print(f"one hub process on PostgreSQL: {one['hub'] * 1e6:.0f} µs of hub CPU per envelope, against "
              f"{cores / limit * 1e6:.0f} µs of crypto alone; PostgreSQL's own work {one['database'] * 1e6:.0f} µs "
              f"per envelope on top", flush=True)
    lock_share = spending.get(4, {}).get("busiest_point", float("nan"))
    print(f"RESULT sqlite_2proc={sqlite_2:.0f} pg_1proc={pg_1:.0f} pg_4proc={pg_4:.0f} "
          f"scaling_4proc={pg_4 / pg_1 if pg_1 else float('nan'):.2f} lock_share_4proc={lock_share:.2f} "
          f"crypto_limit={limit:.0f} ratio={sqlite_2 / limit:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
