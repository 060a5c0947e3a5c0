"""A compressed region day: 1,000 points, a morning peak, scans, late syncers; what the hubs held.

A working day, 08:00 to 18:00, is played in ``--minutes`` real minutes. Its
cases are spread over the day with the hour from 09:00 carrying three times
the mean rate (the morning rush at a service hall), over points of uneven
activity, and are taken from a mix of the sample catalog's items: single
route, staged and joint; some with scans of materials, sized like phone
photos. Each case is taken at its moment as a point takes it: its SUBMIT is
sealed then (its intake time is that moment, on this machine's clock) and its
scans are sealed under fresh keys.

Most points sync as soon as they hold something: a pool of ``--clients``
threads, far fewer than the points, pushes each point's backlog through the
real push endpoint in the batches a point sends, then streams its scans
through the real resumable scan endpoint (sync/streaming.py), one point at a
time per thread. ``--late-share`` of the points sync only once, at the end of
the day, their whole backlog in one go.

The hubs are real ``pointkit-hub serve`` machines (data directories of their
own, made by ``machine join``) on one scratch PostgreSQL database, keeping
scans in a real SeaweedFS, behind one nginx address (``start_region``). Afterwards the benchmark checks that every case
pushed is at the hub exactly once and every scan whole, then reports:

- cases per second held at peak: cases routed during the peak hour per
  second, beside the rate offered, and the backlog of cases taken but not yet
  accepted when the peak hour ended;
- the lag from intake to routed (the case's ``received_at`` to its "routed"
  timeline line), p50 and p99 for the points that sync at once; the late
  points' lag is reported apart (it is the day, by design);
- bytes stored per case: the database's growth over the day plus the sealed
  scans stored, per case; and the database's size after the day;
- where the time went: the hub processes' CPU per case (its scans included),
  and how much of the day the busiest lock was held (one point's, on
  PostgreSQL: pushes lock only their own points; scripts/bench_hub.py reads
  both).

Ends with ``RESULT points=N cases=N peak_cases_per_s=X lag_p50_s=X lag_p99_s=X
bytes_per_case=N db_bytes=N`` and further figures: peak_offered_per_s,
peak_backlog, late_lag_p50_s, scan_bytes, hub_cpu_ms_per_case, lock_share,
hubs, and lost (problems found; the script exits 1 if any).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from scripts.bench_hub import batches, cpu_seconds, lock_held_seconds
from scripts.bench_reconcile import BenchPoint, Residents
from sync.attachments import encrypt_attachment, new_file_key, sha256_hex
from sync.client import HubClient, HubUnreachable
from sync.clock import utcnow, uuid7
from sync.envelope import Kind
from sync.keys import b64
from sync.messages import Scan
from sync.streaming import Outgoing, StreamingUploader
from sync.uploads import make_scan_grant
from tests.support import pgdb
from tests.support.balancer import Balancer
from tests.support.cluster import Cluster
from tests.support.seaweed import Seaweed, start_seaweed

from hub.approval.scans import COMPLETE
from hub.approval.scanstore import SCANS_DIR
from hub.core.clock import as_utc
from hub.core.db import database_url, is_sqlite, make_engine
from hub.core.models import Case, CaseEvent, CaseScan, RawEnvelope
from hub.instance import LOG_FILE
from hub.trust.keys import load_keyring

DAY_START_HOUR, DAY_HOURS = 8, 10
PEAK_HOUR, PEAK_FACTOR = 9, 3.0  # 09:00-10:00 carries three times the mean rate
CATALOG_VERSION = 1  # the sample catalog, as the hub imports it
PHOTO_KB = (100, 400)
SCANS_PER_CASE = (1, 3)
DRAIN_REPORT_S = 30.0  # a progress line this often while the points finish syncing after the day
RETRY_AFTER_S = 2.0  # a point that found the hub too busy for its scans tries again after this


class MixItem(NamedTuple):
    """A catalog item in the day's mix: its share of the cases, a filled-in form, the materials handed over."""

    code: str
    share: float
    form: dict[str, str]
    materials: list[str]


# Items a village point takes, by how often; single route unless named.
ITEM_MIX = (
    MixItem("451030-YB-001", 0.30, {"insured_category": "普通居民"}, ["id_card", "hukou"]),
    MixItem("451030-RS-002", 0.15, {"contribution_grade": "300"}, ["id_card", "hukou"]),
    MixItem("451030-MZ-016", 0.12, {"guardian_phone": "13907760000"}, ["id_card", "hukou"]),
    MixItem("451030-RS-011", 0.10, {"apply_type": "首次申领", "bank": "农村信用合作社"}, ["id_card", "photo"]),
    MixItem("451030-MZ-003", 0.10, {"household_size": "4", "monthly_income": "900", "hardship": "因病"},  # staged
            ["application", "id_card", "hukou", "income"]),
    MixItem("451030-NY-026", 0.08, {"machine_type": "微耕机", "price": "3200", "purchase_date": "2026-11-02"},
            ["id_card", "invoice", "machine_photo"]),
    MixItem("451030-CL-020", 0.08, {"disability_type": "肢体"}, ["id_card", "hukou", "photo", "assessment_form"]),
    MixItem("451030-GA-034", 0.07, {"child_name": "黄小宇", "birth_date": "2026-11-20",  # joint: the per-envelope path
                                    "parent_phone": "13907761111"}, ["birth_certificate", "id_cards", "hukou"]),
)
ACCEPTED = ("accepted", "duplicate")  # a resend after a lost answer is a duplicate of a case the hub holds


# -- the hubs ------------------------------------------------------------------------------------------

@dataclass
class Region:
    """The hubs under test: the addresses points sync with, the database, where the scans are stored, and
    the hub processes (for their CPU time and the lock lines of their logs)."""

    urls: list[str]
    engine: Engine
    data: Path  # the first hub machine's data directory
    pids: list[int]
    logs: list[Path]
    store: Seaweed | None = None  # the scans' object store, when the hubs keep them there

    def database_bytes(self) -> int:
        """The database's size on disk (PostgreSQL: pg_database_size; SQLite: the file and its WAL)."""
        if is_sqlite(str(self.engine.url)):
            path = Path(self.engine.url.database)
            return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
        with self.engine.connect() as connection:
            return connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one()

    def scan_bytes(self) -> int:
        """Bytes of sealed scans stored: the objects in the bucket, or the files in the data directory."""
        if self.store is not None:
            pages = self.store.client().get_paginator("list_objects_v2").paginate(Bucket=self.store.bucket)
            return sum(item["Size"] for page in pages for item in page.get("Contents", []))
        return sum(path.stat().st_size for path in (self.data / SCANS_DIR).glob("*") if path.is_file())

    def log_sizes(self) -> list[int]:
        return [log.stat().st_size if log.exists() else 0 for log in self.logs]

    def lock_held(self, offsets: list[int]) -> float:
        """The seconds the busiest lock was held since ``offsets`` (one per log): one point's, summed over
        every machine's pushes for it."""
        held: dict[str, float] = {}
        for log, offset in zip(self.logs, offsets):
            for point, seconds in lock_held_seconds(log, offset).items():
                held[point] = held.get(point, 0.0) + seconds
        return max(held.values(), default=0.0)


def start_region(stack: ExitStack, base: Path, args: argparse.Namespace) -> Region:
    """The region as issue 23 sets it up: ``args.hubs`` hub machines, each with a data directory of its own
    (``machine join``), on one scratch PostgreSQL database, keeping scans in one SeaweedFS, behind one nginx
    address that every point syncs with. ``--sqlite``: hub processes sharing one data directory on SQLite, a
    county's setup, each its own address."""
    cluster = stack.enter_context(Cluster(base))
    if args.sqlite:
        first = cluster.start_hub()
        servers = [first] + [cluster.start_hub_process() for _ in range(args.hubs - 1)]
        engine = make_engine(database_url(first.data))
        stack.callback(engine.dispose)
        return Region([server.url for server in servers], engine, first.data,
                      [server.process.pid for server in servers], [first.data / LOG_FILE])
    url = stack.enter_context(pgdb.scratch_database())
    store = start_seaweed(base, volumes=64)  # 4 GB: a day of scans (the tests' 512 MB would fill up)
    stack.callback(store.stop)
    cluster.env.update(store.credentials_env)  # the hub machines' S3 credentials, from their environment
    scans = ("--scans", store.scans_url("region"), "--trusted-proxy", "127.0.0.1")
    first = cluster.start_hub(database_url=url, serve_args=("--machine", "hub-a", *scans))
    machines = [first] + [cluster.start_hub_machine(f"hub-{chr(ord('a') + number)}", scans)
                          for number in range(1, args.hubs)]
    balancer = stack.enter_context(Balancer([machine.url for machine in machines], base / "balancer"))
    engine = make_engine(url)
    stack.callback(engine.dispose)
    return Region([balancer.url], engine, first.data, [machine.process.pid for machine in machines],
                  [machine.data / LOG_FILE for machine in machines], store)


# -- the day's plan ------------------------------------------------------------------------------------

@dataclass(order=True)
class PlannedCase:
    """One case of the day: when it is taken (seconds into the compressed day), where, and what."""

    at: float
    point: int = field(compare=False)
    item: MixItem = field(compare=False)
    scan_sizes: list[int] = field(compare=False)


def hour_weights() -> list[float]:
    """Each hour's share of the day's cases: the peak hour PEAK_FACTOR times the mean, the others alike."""
    rest = (DAY_HOURS - PEAK_FACTOR) / (DAY_HOURS - 1)
    return [PEAK_FACTOR if DAY_START_HOUR + hour == PEAK_HOUR else rest for hour in range(DAY_HOURS)]


def plan_day(rng: random.Random, points: int, cases: int, scan_share: float, day_s: float) -> list[PlannedCase]:
    """The day's cases in the order they are taken: busy points take more (a lognormal activity each)."""
    activity = [rng.lognormvariate(0, 0.75) for _ in range(points)]
    hours = hour_weights()
    hour_s = day_s / DAY_HOURS
    plan = []
    for point in rng.choices(range(points), weights=activity, k=cases):
        hour = rng.choices(range(DAY_HOURS), weights=hours)[0]
        scans = rng.randint(*SCANS_PER_CASE) if rng.random() < scan_share else 0
        plan.append(PlannedCase((hour + rng.random()) * hour_s, point,
                                rng.choices(ITEM_MIX, weights=[item.share for item in ITEM_MIX])[0],
                                [rng.randint(*PHOTO_KB) * 1024 for _ in range(scans)]))
    return sorted(plan)


# -- the points ----------------------------------------------------------------------------------------

@dataclass
class Tally:
    """What the points did, counted across threads."""

    taken: int = 0
    upload_retries: int = 0  # scan uploads a point put off after the hub kept answering 503
    unanswered: int = 0  # taken by a point that syncs at once, not yet answered
    statuses: dict[str, int] = field(default_factory=dict)
    pushed: set[str] = field(default_factory=set)
    scans_sent: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class SimPoint:
    """One point's day: the cases it took and has not synced, and its client (made at its first sync)."""

    def __init__(self, bench: BenchPoint, url: str, late: bool):
        self.bench, self.url, self.late = bench, url, late
        self.lock = threading.Lock()
        self.frames: list[tuple[str, bytes]] = []  # (case id, sealed SUBMIT)
        self.scans: list[Outgoing] = []
        self.syncing = False
        self.client: HubClient | None = None

    def take(self, case: PlannedCase, residents: Residents, photos: bytes, rng: random.Random) -> None:
        """Take one application now, as pointkit/intake.py does: seal its scans, then its SUBMIT."""
        item = case.item
        scans, outgoing = [], []
        for index, size in enumerate(case.scan_sizes):
            start = rng.randrange(len(photos) - size)
            plain, key, scan_id = photos[start:start + size], new_file_key(), str(uuid7())
            sealed = encrypt_attachment(plain, key)
            material = item.materials[index % len(item.materials)]
            scans.append(Scan(scan_id=scan_id, name=f"{material}.jpg", material=material, size=size,
                              sha256=sha256_hex(plain), key_b64=b64(key)).model_dump())
            outgoing.append(Outgoing(scan_id, sealed, grant=make_scan_grant(
                scan_id, str(self.bench.point_id), sealed, self.bench.identity.sign_key)))
        case_id = str(uuid7())
        payload = {"case_id": case_id, "receipt_no": f"R-{case_id[-12:]}", "item_code": item.code,
                   "catalog_version": CATALOG_VERSION,
                   "applicant": {"name": "韦秀兰", "id_number": residents.new(), "phone": ""}, "form": item.form,
                   "materials": item.materials, "received_at": utcnow().isoformat(), "staff": "bench",
                   **({"scans": scans} if scans else {})}
        with self.lock:
            self.bench.queue(Kind.SUBMIT, payload)
            self.frames.append((case_id, self.bench.frames.pop()))
            self.scans.extend(outgoing)

    def sync(self, transports: dict[str, httpx.HTTPTransport], tally: Tally) -> None:
        """Push everything held, in a point's batches, then stream its scans; again while more was taken."""
        if self.client is None:
            # On the pool's shared transport per hub address (closed with the day): a client of its own costs a
            # point ~30 ms of CPU loading CA certificates, which a thousand of them would spend in this one process.
            self.client = HubClient(self.url, point_id=self.bench.point_id, identity=self.bench.identity,
                                    transport=transports[self.url], timeout=httpx.Timeout(120.0, connect=10.0))
        while True:
            with self.lock:
                frames, scans, self.frames, self.scans = self.frames, self.scans, [], []
                if not frames and not scans:
                    self.syncing = False
                    return
            for batch in batches(frames):
                answers = self.client.push([frame for _, frame in batch])
                with tally.lock:
                    for (case_id, _), answer in zip(batch, answers):
                        tally.statuses[answer.status] = tally.statuses.get(answer.status, 0) + 1
                        if answer.status in ACCEPTED:
                            tally.pushed.add(case_id)
                        else:
                            tally.errors.append(f"{self.bench.name}: {answer.status} {answer.reason}: {answer.message}")
                        tally.unanswered -= not self.late
            if scans:
                try:
                    StreamingUploader(self.client).upload(scans)
                except HubUnreachable:
                    # A busy hub (or its store) answered 503 again and again: as a point does, keep the scans and
                    # try again a little later (the offsets the hub holds make it resume, not resend).
                    with self.lock:
                        self.scans = scans + self.scans
                    with tally.lock:
                        tally.upload_retries += 1
                    time.sleep(RETRY_AFTER_S)
                    continue
                refused = [scan for scan in scans if scan.refusal is not None]
                with tally.lock:
                    tally.scans_sent += len(scans) - len(refused)
                    tally.errors.extend(f"scan {scan.scan_id}: {scan.refusal}" for scan in refused)


# -- the day -------------------------------------------------------------------------------------------

@dataclass
class DayClock:
    """The compressed day on this machine's clock."""

    started: float  # time.time() at 08:00
    day_s: float

    def wall(self, at: float) -> float:
        return self.started + at

    def label(self, at: float) -> str:
        minutes = int(DAY_START_HOUR * 60 + at / self.day_s * DAY_HOURS * 60)
        return f"{minutes // 60:02d}:{minutes % 60:02d}"

    def peak(self) -> tuple[float, float]:
        hour_s = self.day_s / DAY_HOURS
        start = self.started + (PEAK_HOUR - DAY_START_HOUR) * hour_s
        return start, start + hour_s


def play_day(region: Region, fleet: list[SimPoint], plan: list[PlannedCase], day_s: float, clients: int,
             rng: random.Random) -> tuple[DayClock, Tally, dict[str, Any]]:
    """Take the plan's cases at their moments and sync them; the late points at the day's end."""
    residents, photos, tally = Residents(rng), os.urandom(PHOTO_KB[1] * 1024 + 4096), Tally()
    transports = {url: httpx.HTTPTransport(limits=httpx.Limits(max_connections=clients)) for url in region.urls}
    futures: list[Future] = []
    seen: dict[str, Any] = {}
    clock = DayClock(time.time(), day_s)
    peak_end = clock.peak()[1]
    hour_marks = [hour * day_s / DAY_HOURS for hour in range(1, DAY_HOURS + 1)]
    pool = ThreadPoolExecutor(max_workers=clients, thread_name_prefix="point")
    try:

        def sync_soon(point: SimPoint) -> None:
            with point.lock:
                if point.syncing:
                    return
                point.syncing = True
            futures.append(pool.submit(point.sync, transports, tally))

        for case in plan:
            while hour_marks and case.at >= hour_marks[0]:
                _progress(clock, hour_marks.pop(0), tally, seen, peak_end)
            ahead = clock.wall(case.at) - time.time()
            if ahead > 0:
                time.sleep(ahead)  # pacing the schedule, not waiting for a result
            # How late the points take a case after its planned moment: the load offered is the plan's only if small.
            seen["slip_s"] = max(seen.get("slip_s", 0.0), -ahead)
            point = fleet[case.point]
            point.take(case, residents, photos, rng)
            with tally.lock:
                tally.taken += 1
                tally.unanswered += not point.late
            if not point.late:
                sync_soon(point)
        for mark in hour_marks:
            _progress(clock, mark, tally, seen, peak_end)
        print(f"18:00 day's end: {sum(p.late for p in fleet)} late points sync their whole day", flush=True)
        for point in fleet:
            if point.late:
                sync_soon(point)
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=DRAIN_REPORT_S)
            for future in done:
                future.result()
            if pending:
                with tally.lock:
                    print(f"  +{time.time() - clock.wall(day_s):.0f} s: {len(tally.pushed)} cases accepted, "
                          f"{tally.scans_sent} scans uploaded; points still syncing: {len(pending)}", flush=True)
    finally:
        # Interrupted or failed: the points' queued syncs are dropped, not played out against stopping hubs.
        pool.shutdown(cancel_futures=True)
        for transport in transports.values():
            transport.close()
    seen["drained_s"] = time.time() - clock.wall(day_s)
    return clock, tally, seen


def _progress(clock: DayClock, mark: float, tally: Tally, seen: dict[str, Any], peak_end: float) -> None:
    """A line per simulated hour; the backlog as the peak hour ends is kept."""
    ahead = clock.wall(mark) - time.time()
    if ahead > 0:
        time.sleep(ahead)
    with tally.lock:
        taken, unanswered, accepted = tally.taken, tally.unanswered, len(tally.pushed)
        scans = tally.scans_sent
    if "peak_backlog" not in seen and time.time() >= peak_end - 0.01:
        seen["peak_backlog"] = unanswered
    print(f"{clock.label(mark)} {taken} cases taken, {accepted} accepted, {unanswered} waiting at points that sync "
          f"at once, {scans} scans uploaded", flush=True)


# -- what the hub holds --------------------------------------------------------------------------------

def check_arrivals(region: Region, tally: Tally) -> list[str]:
    """What went missing or doubled: every case pushed at the hub once, routed once, its scans whole."""
    problems = list(tally.errors[:5])
    with Session(region.engine) as session:
        held = set(session.exec(select(Case.id)).all())
        submits = session.exec(select(func.count()).select_from(RawEnvelope).where(
            RawEnvelope.kind == int(Kind.SUBMIT))).one()
        routed = session.exec(select(func.count()).select_from(CaseEvent).where(CaseEvent.action == "routed")).one()
        scans = dict(session.exec(select(CaseScan.status, func.count()).group_by(CaseScan.status)).all())
    if held != tally.pushed:
        problems.append(f"{len(tally.pushed - held)} cases pushed are missing at the hub, "
                        f"{len(held - tally.pushed)} there were never pushed")
    if submits != len(tally.pushed) or routed != len(tally.pushed):
        problems.append(f"{len(tally.pushed)} cases pushed, but {submits} SUBMITs stored and {routed} routed lines")
    if scans.get(COMPLETE, 0) != tally.scans_sent or len(scans) > 1:
        problems.append(f"{tally.scans_sent} scans uploaded; the hub holds {scans}")
    return problems


def lags(region: Region, late_points: set) -> tuple[list[float], list[float], list[float]]:
    """Seconds from intake to routed for the cases of points that sync at once and of late points; and the
    moments (time.time()) the former were routed."""
    with Session(region.engine) as session:
        rows = session.exec(select(Case.point_id, Case.received_at, func.min(CaseEvent.at))
                            .join(CaseEvent, CaseEvent.case_id == Case.id)
                            .where(CaseEvent.action == "routed")
                            .group_by(Case.id, Case.point_id, Case.received_at)).all()
    prompt, late, routed_at = [], [], []
    for point_id, received, routed in rows:
        routed = as_utc(routed)
        lag = (routed - as_utc(received)).total_seconds()
        if point_id in late_points:
            late.append(lag)
        else:
            prompt.append(lag)
            routed_at.append(routed.timestamp())
    return prompt, late, routed_at


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


# -- the run -------------------------------------------------------------------------------------------

def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    rng = random.Random(args.seed)
    day_s = args.minutes * 60
    plan = plan_day(rng, args.points, round(args.points * args.cases_per_point), args.scan_share, day_s)
    with ExitStack() as stack:
        region = start_region(stack, work, args)
        print(f"{args.hubs} hub {'processes on SQLite' if args.sqlite else 'machines on PostgreSQL, scans in SeaweedFS'}"
              f": {', '.join(region.urls)}{'' if args.sqlite else ' (nginx, round robin)'}", flush=True)
        started = time.perf_counter()
        late = set(rng.sample(range(args.points), round(args.points * args.late_share)))
        with Session(region.engine, expire_on_commit=False) as session:
            keyring = load_keyring(session, region.data)
            benches = [BenchPoint(session, keyring, index) for index in range(args.points)]
            session.commit()
        fleet = [SimPoint(bench, region.urls[index % len(region.urls)], index in late)
                 for index, bench in enumerate(benches)]
        print(f"{args.points} points enrolled in {time.perf_counter() - started:.0f} s; {len(plan)} cases planned "
              f"({sum(bool(c.scan_sizes) for c in plan)} with scans) over a day of {args.minutes:g} min, "
              f"{len(late)} points sync only at its end", flush=True)
        db_before, logged = region.database_bytes(), region.log_sizes()
        hub_cpu = cpu_seconds(region.pids)
        clock, tally, seen = play_day(region, fleet, plan, day_s, args.clients, rng)
        hub_cpu = cpu_seconds(region.pids) - hub_cpu
        lock_held = region.lock_held(logged)
        problems = check_arrivals(region, tally)
        prompt, late_lags, routed_at = lags(region, {fleet[index].bench.point_id for index in late})
        peak_start, peak_end = clock.peak()
        offered = sum(1 for c in plan if c.point not in late and peak_start <= clock.wall(c.at) < peak_end)
        held = sum(1 for moment in routed_at if peak_start <= moment < peak_end)
        db_after, scan_bytes = region.database_bytes(), region.scan_bytes()
    cases = len(tally.pushed)
    return {"cases": cases, "problems": problems, "statuses": tally.statuses, "scans": tally.scans_sent,
            "upload_retries": tally.upload_retries,
            "peak_s": peak_end - peak_start, "peak_offered": offered, "peak_held": held,
            "peak_backlog": seen.get("peak_backlog", -1), "drained_s": seen["drained_s"], "slip_s": seen["slip_s"],
            "lag_p50": percentile(prompt, 0.5), "lag_p99": percentile(prompt, 0.99),
            "late_lag_p50": percentile(late_lags, 0.5), "db_before": db_before, "db_bytes": db_after,
            "scan_bytes": scan_bytes, "bytes_per_case": (db_after - db_before + scan_bytes) / max(cases, 1),
            "hub_cpu_per_case": hub_cpu / max(cases, 1), "lock_share": lock_held / (day_s + seen["drained_s"])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=1000, help="points in the region (default 1000)")
    parser.add_argument("--cases-per-point", type=float, default=3.0,
                        help="cases a point takes in the day, on average (default 3)")
    parser.add_argument("--minutes", type=float, default=5.0,
                        help="real minutes the working day 08:00-18:00 is played in (default 5)")
    parser.add_argument("--scan-share", type=float, default=0.5,
                        help=f"share of cases with scans, {SCANS_PER_CASE[0]}-{SCANS_PER_CASE[1]} each of "
                             f"{PHOTO_KB[0]}-{PHOTO_KB[1]} KB (default 0.5)")
    parser.add_argument("--late-share", type=float, default=0.1,
                        help="share of points that sync only once, at the day's end (default 0.1)")
    parser.add_argument("--hubs", type=int, default=2,
                        help="hub machines behind the balancer (default 2; with --sqlite, hub processes)")
    parser.add_argument("--clients", type=int, default=32,
                        help="threads syncing points, each one point at a time (default 32)")
    parser.add_argument("--sqlite", action="store_true", help="SQLite in the hub's data directory, not PostgreSQL")
    parser.add_argument("--postgres-url", default=None,
                        help=f"PostgreSQL server to make a scratch database on (default {pgdb.server_url()})")
    parser.add_argument("--seed", type=int, default=23, help="random seed of the day's plan (default 23)")
    args = parser.parse_args()
    if args.postgres_url:
        os.environ[pgdb.SERVER_URL_ENV] = args.postgres_url
    # The hub processes run this checkout's code, as the tests' do (tests/conftest.py), whichever tree the
    # virtualenv was installed from.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    unreachable = None if args.sqlite else pgdb.unreachable()
    if unreachable:
        print(f"PostgreSQL: {unreachable}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-region-") as work:
        figures = run(args, Path(work))
    peak_rate = figures["peak_held"] / figures["peak_s"]
    print(f"answers: {figures['statuses']}; {figures['scans']} scans whole at the hub; the late points' backlog "
          f"drained {figures['drained_s']:.1f} s after the day's end; every case taken within "
          f"{figures['slip_s']:.2f} s of its planned moment")
    print(f"peak hour ({figures['peak_s']:.1f} s): {figures['peak_offered'] / figures['peak_s']:.1f} cases/s "
          f"offered, {peak_rate:.1f} routed; {figures['peak_backlog']} cases waiting at its end")
    print(f"lag intake to routed: p50 {figures['lag_p50']:.2f} s, p99 {figures['lag_p99']:.2f} s; "
          f"late points p50 {figures['late_lag_p50']:.0f} s")
    print(f"scan uploads put off after the hub kept answering 503: {figures['upload_retries']}")
    print(f"stored: database {figures['db_before']} -> {figures['db_bytes']} bytes, sealed scans "
          f"{figures['scan_bytes']} bytes; {figures['bytes_per_case']:.0f} bytes per case")
    print(f"hub processes: {figures['hub_cpu_per_case'] * 1e3:.0f} ms of CPU per case (its scans included); "
          f"the busiest lock held {figures['lock_share']:.0%} of the day and its drain")
    for problem in figures["problems"]:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    print(f"RESULT points={args.points} cases={figures['cases']} peak_cases_per_s={peak_rate:.1f} "
          f"lag_p50_s={figures['lag_p50']:.2f} lag_p99_s={figures['lag_p99']:.2f} "
          f"bytes_per_case={figures['bytes_per_case']:.0f} db_bytes={figures['db_bytes']} "
          f"peak_offered_per_s={figures['peak_offered'] / figures['peak_s']:.1f} "
          f"peak_backlog={figures['peak_backlog']} late_lag_p50_s={figures['late_lag_p50']:.1f} "
          f"scan_bytes={figures['scan_bytes']} hub_cpu_ms_per_case={figures['hub_cpu_per_case'] * 1e3:.0f} "
          f"lock_share={figures['lock_share']:.2f} hubs={args.hubs} lost={len(figures['problems'])}")
    return 1 if figures["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
