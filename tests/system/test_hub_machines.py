"""Two hub machines behind one address: cut links, one machine killed mid-run, nothing lost, nothing doubled.

Machine hub-a is the hub ``init`` made; hub-b is a data directory of its own made by ``machine join`` from an
export of hub-a's keys (no local disk shared); both serve one PostgreSQL database behind nginx, round robin
(tests/support/balancer.py), and run their timers every second. Twenty points made of ``sync`` alone push
their cases one sync round at a time over links that are cut every few tenths of a second; hub-b is
SIGKILLed while they push. A department then decides every case through the balancer and the points pull
their results over the same links.

Every case arrives once, every result comes back once, and each supervision round ran on exactly one
machine, going on after the kill. Every other point sends a scan in small chunks through the balancer: both
machines keep them in one SeaweedFS (``scan_store_args``), so a scan begun at one machine goes on at the other,
and each reads back byte-identical, with nothing on either machine's own disk.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
from sqlmodel import func, select

from sync.attachments import encrypt_attachment, new_file_key, sha256_hex
from sync.client import HubClient, HubUnreachable
from sync.keys import b64
from sync.uploads import MIN_CHUNK, ChunkSizer, ScanUploader
from sync.envelope import Kind
from tests.hub.hubkit import MEDICAL_INSURANCE, REVIEWER_PASSWORD, FakePoint, Hub, make_hub, resident_id
from tests.support import pgdb
from tests.support.balancer import Balancer
from tests.support.cluster import Api, Cluster, wait_until
from tests.support.linksim import LinkSimulator

from hub.core.db import DATABASE_URL_ENV
from hub.core.models import Case, CaseScan, OutMessage, RawEnvelope, TimerLease
from hub.instance import LOG_FILE

POINTS = 20
CASES_PER_POINT = 4
LINKS = 4  # a township radio each, shared by five villages
CUT_EVERY_S = 0.4
TIMER_EVERY_S = 1
TIMER_LEASE_S = 3
# Each phase (pushing, pulling) ends within this many seconds, or the test fails.
PHASE_S = 90
ROUND_LINE = re.compile(r"\[(?P<machine>[^\]]+)\] hub\.core\.leases: timer supervision: round (?P<number>\d+) ran")


@pytest.fixture
def postgres_url():
    reason = pgdb.unreachable()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI runs the hub machines' test: {reason}")
        pytest.skip(reason)
    with pgdb.scratch_database() as url:
        yield url


@pytest.fixture
def scan_store_args(seaweed, monkeypatch) -> list[str]:
    """``serve`` options that put every machine's scans in one shared store: the session's SeaweedFS, under a
    prefix of this test's own (the credentials go to the machines through the environment)."""
    for name, value in seaweed.credentials_env.items():
        monkeypatch.setenv(name, value)
    return ["--scans", seaweed.scans_url(f"machines-{uuid.uuid4().hex[:8]}")]


def _sealed_scan() -> tuple[dict, bytes, bytes]:
    """A scan as a point lists it in its case, its sealed bytes (a dozen small chunks: they go round robin
    over both machines) and the material itself."""
    material = b"%PDF-1.4\n" + os.urandom(40_000)
    key = new_file_key()
    listing = {"scan_id": str(uuid.uuid4()), "name": "户口簿.pdf", "material": "hukou", "size": len(material),
               "sha256": sha256_hex(material), "key_b64": b64(key)}
    return listing, encrypt_attachment(material, key), material


@dataclass
class LinkedPoint:
    """A fake point syncing over a cut link: its backlog, what the hub acknowledged, what it pulled."""

    point: FakePoint
    client: HubClient
    backlog: list[tuple[str, bytes]] = field(default_factory=list)
    scans: dict[str, tuple[str, bytes, bytes]] = field(default_factory=dict)  # case id -> scan id, sealed, material
    statuses: list[tuple[str, str]] = field(default_factory=list)
    pulled: dict[int, tuple[int, str]] = field(default_factory=dict)
    cursor: int = 0

    def push_all(self, deadline: float) -> None:
        """One case per sync round, as a point receiving residents all day does, until each is acknowledged."""
        for case_id, sealed in self.backlog:
            while True:
                assert time.monotonic() < deadline, f"{self.point.name} could not push {case_id}"
                try:
                    [result] = self.client.push([sealed])
                except HubUnreachable:
                    continue
                self.statuses.append((case_id, result.status))
                if result.status in ("accepted", "duplicate"):
                    break
            if case_id in self.scans:
                self.upload(*self.scans[case_id][:2], deadline)

    def upload(self, scan_id: str, sealed: bytes, deadline: float) -> None:
        """Send a scan in small chunks through the balancer, resuming wherever the hub stands after each cut."""
        uploader = ScanUploader(self.client, sizer=ChunkSizer(size=MIN_CHUNK, grow_within_s=0, maximum=MIN_CHUNK),
                                max_failures=3, sleep=lambda _seconds: None)
        while True:
            assert time.monotonic() < deadline, f"{self.point.name} could not upload scan {scan_id}"
            try:
                if uploader.upload(scan_id, sealed).status == "complete":
                    return
            except HubUnreachable:
                continue

    def pull_results(self, deadline: float) -> None:
        """Pull until a result came for every case; a message pulled again after a cut is the same one."""
        wanted = {case_id for case_id, _ in self.backlog}
        while {case_id for kind, case_id in self.pulled.values() if kind == Kind.RESULT} != wanted:
            assert time.monotonic() < deadline, f"{self.point.name} did not get every result"
            try:
                answer = self.client.pull(self.cursor)
            except HubUnreachable:
                continue
            for raw in answer.envelopes:
                envelope, payload = self.point.open(raw)
                kind = int(envelope.header.kind)
                # A result is the hub's signed decision: verified with the key the point pinned at enrollment.
                case_id = (self.point.verify_result(payload) if kind == Kind.RESULT else payload).get("case_id", "")
                seen = (kind, case_id)
                assert self.pulled.setdefault(envelope.header.seq, seen) == seen, "one seq, one message"
            self.cursor = answer.cursor


def _supervision_rounds(hub: Hub) -> int:
    with hub.db() as session:
        row = session.get(TimerLease, "supervision")
        return row.rounds if row else 0


def test_two_hub_machines_behind_a_balancer_lose_and_double_nothing_when_one_is_killed(
        tmp_path, nginx, postgres_url, scan_store_args, monkeypatch):
    monkeypatch.setenv(DATABASE_URL_ENV, postgres_url)
    timers = ("--supervise-every", str(TIMER_EVERY_S), "--anchor-every", str(TIMER_EVERY_S),
              "--timer-lease", str(TIMER_LEASE_S), "--trusted-proxy", "127.0.0.1", *scan_store_args)
    with Cluster(tmp_path / "cluster") as cluster:
        # Made in this process (init, the sample catalog, reviewers): a command each would start Python four times.
        hub = make_hub(cluster.base / "hub")
        machine_a = cluster.start_hub(database_url=postgres_url, serve_args=("--machine", "hub-a", *timers))
        machine_b = cluster.start_hub_machine("hub-b", timers)
        links: list[LinkSimulator] = []
        try:
            with Balancer([machine_a.url, machine_b.url], tmp_path / "balancer") as balancer:
                hub.url = balancer.url
                links = [LinkSimulator(("127.0.0.1", balancer.port), cut_every_s=CUT_EVERY_S).start()
                         for _ in range(LINKS)]
                points = []
                for index in range(POINTS):
                    point = hub.enroll_point(f"村{index:02d}便民服务站")
                    client = HubClient(links[index % LINKS].url, point_id=point.point_id, identity=point.identity,
                                       attempts=2)
                    scan = _sealed_scan() if index % 2 == 0 else None  # every other point sends a scan
                    payloads = [point.submit(MEDICAL_INSURANCE, applicant={
                        "name": "韦秀兰", "id_number": resident_id(), "phone": "13807761234"},
                        **({"scans": [scan[0]]} if scan and number == 0 else {}))
                        for number in range(CASES_PER_POINT)]
                    linked = LinkedPoint(point, client, [(payload["case_id"], point.seal(Kind.SUBMIT, payload))
                                                         for payload in payloads])
                    if scan:
                        linked.scans[payloads[0]["case_id"]] = (scan[0]["scan_id"], scan[1], scan[2])
                    points.append(linked)
                case_ids = [case_id for linked in points for case_id, _ in linked.backlog]

                with ThreadPoolExecutor(max_workers=POINTS) as pool:
                    deadline = time.monotonic() + PHASE_S
                    pushing = [pool.submit(linked.push_all, deadline) for linked in points]
                    arrived = wait_until(lambda: _cases(hub) >= len(case_ids) // 4 and _cases(hub),
                                         timeout=PHASE_S, what="a quarter of the cases at the hub")
                    cluster.kill_server(machine_b)
                    rounds_at_kill = _supervision_rounds(hub)
                    for job in pushing:
                        job.result(timeout=PHASE_S)
                assert arrived < len(case_ids), "hub-b was killed while the points pushed"

                reviewer = Api(balancer.url, "yb-li", REVIEWER_PASSWORD)
                try:
                    # Every scan, its chunks taken by both machines in turn (and by hub-b until it was killed), is
                    # whole in the shared store and reads back byte-identical through either machine.
                    scans = {scan_id: material for linked in points for scan_id, _, material in linked.scans.values()}
                    cases_of = {scan_id: case_id for linked in points
                                for case_id, (scan_id, _, _) in linked.scans.items()}
                    for scan_id, material in scans.items():
                        for _ in range(2):  # round robin: one read from each machine still up (hub-a twice)
                            shown = reviewer.get(f"/api/cases/{cases_of[scan_id]}/scans/{scan_id}")
                            assert shown.status_code == 200 and shown.content == material, scan_id
                    with ThreadPoolExecutor(max_workers=4) as pool:
                        decided = Counter(pool.map(lambda case_id: reviewer.post(
                            f"/api/cases/{case_id}/decision", json={"decision": "approved"}).status_code, case_ids))
                finally:
                    reviewer.close()
                assert decided == {200: len(case_ids)}, "the balancer sends nothing to the killed machine"

                with ThreadPoolExecutor(max_workers=POINTS) as pool:
                    deadline = time.monotonic() + PHASE_S
                    for job in [pool.submit(linked.pull_results, deadline) for linked in points]:
                        job.result(timeout=PHASE_S)
                wait_until(lambda: _supervision_rounds(hub) >= rounds_at_kill + 2, timeout=TIMER_LEASE_S + 20,
                           what="supervision rounds going on after hub-b was killed")
        finally:
            for link in links:
                link.stop()
            hub.close()

        assert sum(link.stats.cuts for link in links) >= LINKS, "the links were cut"
        accepted = Counter(case_id for linked in points for case_id, status in linked.statuses
                           if status == "accepted")
        assert set(accepted.values()) <= {1}, "no envelope was accepted twice"
        for linked in points:
            results = Counter(case_id for kind, case_id in linked.pulled.values() if kind == Kind.RESULT)
            assert results == Counter({case_id: 1 for case_id, _ in linked.backlog}), linked.point.name
        with hub.db() as session:
            assert sorted(session.exec(select(Case.id)).all()) == sorted(case_ids)
            assert session.exec(select(RawEnvelope.outcome)).all() == ["accepted"] * len(case_ids)
            sent = Counter((row.case_id, row.kind) for row in session.exec(select(OutMessage)))
            assert sent == Counter({(case_id, kind): 1 for case_id in case_ids
                                    for kind in (int(Kind.STATUS), int(Kind.RESULT))})
            leases = {row.name: row for row in session.exec(select(TimerLease))}
            stored = {row.scan_id: row for row in session.exec(select(CaseScan))}
        assert {scan_id: row.status for scan_id, row in stored.items()} == {scan_id: "complete" for scan_id in scans}
        assert not any(path.name.endswith(".sealed") for machine in (machine_a, machine_b)
                       for path in machine.data.rglob("*")), "no scan is kept on a machine's own disk"
        _check_rounds(leases, [machine_a.data / LOG_FILE, machine_b.data / LOG_FILE])


def _cases(hub: Hub) -> int:
    with hub.db() as session:
        return session.exec(select(func.count()).select_from(Case)).one()


def _check_rounds(leases: dict[str, TimerLease], logs) -> None:
    """Each supervision round the lease counted is logged once, by one machine; both machines anchor their own."""
    assert {"supervision", "precheck-expiry", "audit-anchor:hub-a", "audit-anchor:hub-b"} <= set(leases)
    logged = [(match["machine"], int(match["number"])) for log in logs
              for match in ROUND_LINE.finditer(log.read_text(encoding="utf-8"))]
    numbers = Counter(number for _, number in logged)
    rounds = leases["supervision"].rounds
    assert set(numbers.values()) == {1}, "no supervision round ran twice"
    # A machine killed between a round's commit and its log line leaves one round unlogged.
    assert rounds - 1 <= len(numbers) and max(numbers) <= rounds
    assert leases["supervision"].last_run_by.startswith(("hub-a ", "hub-b "))
