"""Several hub processes on one database ingest and decide concurrently: nothing lost, nothing doubled.

Four ``pointkit-hub serve`` processes share one data directory's keys and one
database (a region's PostgreSQL; the same on SQLite). Twenty points push the
same backlog twice, through two different processes at once (the first
envelope of each left stored but unapplied, as by a crash), and every case is
then decided twice at once through two processes.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

from tests.support.cluster import Api, Cluster, command, loopback_transport
from tests.hub.hubkit import MEDICAL_INSURANCE, REVIEWER_PASSWORD, Hub, valid_id
from sqlmodel import func, select

from hub.intake.ingest import store_raw
from hub.core.models import AuditEntry, Case, OutMessage, Point, RawEnvelope
from sync.envelope import Envelope, Kind
from sync.client import HubClient

PROCESSES = 4
POINTS = 20
CASES_PER_POINT = 2


def _applicant(number: int) -> dict[str, str]:
    """A different resident per case, so no case looks like a duplicate application of another."""
    born = (date(1970, 1, 1) + timedelta(days=number)).strftime("%Y%m%d")
    return {"name": "韦秀兰", "id_number": valid_id(f"451027{born}123"), "phone": "13807761234"}


def test_four_hub_processes_ingest_and_decide_the_same_work_twice_at_once(tmp_path, hub_database):
    with Cluster(tmp_path / "cluster", setup_in_process=True) as cluster:
        first = cluster.start_hub(database_url=None if hub_database == "sqlite" else hub_database)
        urls = [first.url] + [cluster.start_hub_process().url for _ in range(PROCESSES - 1)]
        cluster.add_reviewer("yb-li", "YB", REVIEWER_PASSWORD)
        hub = Hub(first.data)
        hub.url = first.url
        try:
            points = [hub.enroll_point(f"村{number:02d}便民服务站") for number in range(POINTS)]
            backlogs, case_ids = [], []
            for index, point in enumerate(points):
                payloads = [point.submit(MEDICAL_INSURANCE, applicant=_applicant(index * CASES_PER_POINT + n))
                            for n in range(CASES_PER_POINT)]
                case_ids += [payload["case_id"] for payload in payloads]
                backlogs.append([point.seal(Kind.SUBMIT, payload) for payload in payloads])
            # A hub killed between its two commits left each point's first envelope stored, not applied:
            # both processes then find it waiting and race to apply it.
            with hub.db() as session:
                for point, backlog in zip(points, backlogs):
                    store_raw(session, Envelope.parse(backlog[0]), session.get(Point, point.point_id), "received")

            def push(job: tuple[int, int]) -> list[tuple[str, str]]:
                index, process = job
                # On the shared SSL context: eight threads each loading the CA file into a context of its own once
                # hung this test with every thread inside OpenSSL.
                with HubClient(urls[process], attempts=1, transport=loopback_transport()) as client:
                    return [(result.envelope_id, result.status) for result in client.push(backlogs[index])]

            jobs = [(index, (index + copy) % PROCESSES) for index in range(POINTS) for copy in (0, 1)]
            with ThreadPoolExecutor(max_workers=2 * PROCESSES) as pool:
                answers = [answer for answered in pool.map(push, jobs) for answer in answered]

            assert {status for _, status in answers} <= {"accepted", "duplicate"}, answers
            accepted = Counter(envelope_id for envelope_id, status in answers if status == "accepted")
            assert len(answers) == 2 * len(case_ids) and len(accepted) == len(case_ids)
            assert set(accepted.values()) == {1}, "each envelope is applied by exactly one process"

            reviewers = [Api(url, "yb-li", REVIEWER_PASSWORD) for url in urls]

            def decide(job: tuple[int, int]) -> int:
                index, process = job
                return reviewers[process].post(f"/api/cases/{case_ids[index]}/decision",
                                               json={"decision": "approved"}).status_code

            jobs = [(index, (index + copy) % PROCESSES) for index in range(len(case_ids)) for copy in (0, 1)]
            with ThreadPoolExecutor(max_workers=2 * PROCESSES) as pool:
                decided = list(pool.map(decide, jobs))
            for reviewer in reviewers:
                reviewer.close()
            assert sorted(Counter(decided).items()) == [(200, len(case_ids)), (409, len(case_ids))]

            with hub.db() as session:
                assert sorted(session.exec(select(Case.id)).all()) == sorted(case_ids)
                outcomes = session.exec(select(RawEnvelope.outcome)).all()
                assert outcomes == ["accepted"] * len(case_ids), "stored once, applied once, never re-marked"
                sent = Counter((row.case_id, row.kind) for row in session.exec(select(OutMessage)))
                assert sent == Counter({(case_id, kind): 1 for case_id in case_ids
                                        for kind in (int(Kind.STATUS), int(Kind.RESULT))})
                numbers = session.exec(select(OutMessage.point_id, OutMessage.seq)).all()
                assert len(set(numbers)) == len(numbers)
                received = session.exec(select(func.count()).select_from(AuditEntry)
                                        .where(AuditEntry.action == "received")).one()
                assert received == len(case_ids)
        finally:
            hub.close()
        verified = subprocess.run([command("pointkit-hub"), "audit", "verify", "--data", str(first.data)],
                                  capture_output=True, text=True, timeout=120, check=False)
        assert verified.returncode == 0 and "Audit chain holds" in verified.stdout, verified.stderr
