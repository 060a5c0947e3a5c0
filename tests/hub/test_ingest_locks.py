"""Pushes of different points never wait on one lock; what two pushes could both take, they take in turn.

On PostgreSQL a push holds the hub's write lock only in shared mode, and the keyed locks of what it writes: its
points' audit chains (and message numbers) and the residents its SUBMITs name (hub/core/db.py ``ingest_lock``). A
test transaction here holds one such lock, as a long push would, and the other pushes are watched: a push of another
point goes through another hub process at once, one that needs the held key waits and then goes through, and a
push waits for a staff action (the exclusive write lock). On SQLite one writer holds the whole database by design.
"""

from __future__ import annotations

import threading

import pytest
from sqlmodel import Session, select

from tests.hub.hubkit import MEDICAL_INSURANCE, Hub, resident_id
from tests.support.cluster import Cluster, wait_until

from hub.core.db import ingest_lock, write_lock
from hub.core.models import AuditEntry, Case
from hub.intake.lookups import resident_key
from sync.auditheads import point_chain
from sync.client import HubClient
from sync.envelope import Kind


@pytest.fixture
def postgres_hub(hub, hub_database):
    if hub_database == "sqlite":
        pytest.skip("SQLite has one writer by design: pushes there take turns on the whole database")
    return hub


class Held:
    """A transaction of the test's own holding ``ingest_lock`` on some keys (or the whole write lock)."""

    def __init__(self, hub, keys=(), *, exclusive: bool = False):
        self.session = Session(hub.engine)
        if exclusive:
            write_lock(self.session)
        else:
            ingest_lock(self.session, keys)

    def release(self) -> None:
        self.session.rollback()
        self.session.close()


def _waiting_for_a_lock(hub) -> bool:
    """Whether some transaction waits for an advisory lock (a push queued behind the one held here)."""
    with hub.engine.connect() as connection:
        return connection.exec_driver_sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                          "AND NOT granted").scalar() > 0


def _cases(hub, *case_ids: str) -> int:
    with hub.db() as session:
        return len(session.exec(select(Case.id).where(Case.id.in_(case_ids))).all())


class Pusher:
    """Pushes one envelope through a hub process in a thread of its own (a point's sync, while the test waits)."""

    def __init__(self, url: str, point, payload: dict):
        self.answers: list = []
        self.client = HubClient(url, attempts=1, timeout=120)
        frame = point.seal(Kind.SUBMIT, payload)
        self.thread = threading.Thread(target=lambda: self.answers.extend(self.client.push([frame])), daemon=True)
        self.thread.start()

    def statuses(self) -> list[str]:
        self.thread.join(timeout=120)
        self.client.close()
        return [answer.status for answer in self.answers]


@pytest.mark.long
def test_pushes_of_other_points_go_through_while_one_key_is_held_and_staff_actions_hold_all_off(tmp_path,
                                                                                                 hub_database):
    if hub_database == "sqlite":
        pytest.skip("SQLite has one writer by design: pushes there take turns on the whole database")
    with Cluster(tmp_path / "cluster", setup_in_process=True) as cluster:
        first = cluster.start_hub(database_url=hub_database)
        second = cluster.start_hub_process()  # a push waiting in one process leaves the other free
        hub = Hub(first.data)
        hub.url = first.url
        try:
            busy, other = hub.enroll_point("甲村便民服务站"), hub.enroll_point("乙村便民服务站")

            # A long push of the busy point holds its chain: its next push waits, another point's goes through.
            held = Held(hub, [point_chain(busy.point_id)])
            try:
                waiting = Pusher(first.url, busy, busy.submit(MEDICAL_INSURANCE))
                wait_until(lambda: _waiting_for_a_lock(hub), timeout=30, what="the busy point's push waiting")
                passing = Pusher(second.url, other, other.submit(MEDICAL_INSURANCE))
                assert passing.statuses() == ["accepted"] and not waiting.answers
            finally:
                held.release()
            assert waiting.statuses() == ["accepted"]

            # The same resident at two points: the second push waits for the first, another resident does not.
            number = resident_id()
            held = Held(hub, [f"resident:{resident_key(number)}"])
            try:
                applicant = {"name": "韦秀兰", "id_number": number, "phone": "13807761234"}
                waiting = Pusher(first.url, busy, busy.submit(MEDICAL_INSURANCE, applicant=applicant))
                wait_until(lambda: _waiting_for_a_lock(hub), timeout=30, what="the push waiting for its resident")
                passing = Pusher(second.url, other, other.submit(MEDICAL_INSURANCE))
                assert passing.statuses() == ["accepted"] and not waiting.answers
            finally:
                held.release()
            assert waiting.statuses() == ["accepted"]

            # A staff action holds the whole write lock: every push waits for it.
            held = Held(hub, exclusive=True)
            try:
                payload = other.submit(MEDICAL_INSURANCE)
                waiting = Pusher(second.url, other, payload)
                wait_until(lambda: _waiting_for_a_lock(hub), timeout=30, what="the push waiting for the staff action")
                assert not waiting.answers and _cases(hub, payload["case_id"]) == 0
            finally:
                held.release()
            assert waiting.statuses() == ["accepted"] and _cases(hub, payload["case_id"]) == 1

            with hub.db() as session:
                chains = {entry.chain for entry in session.exec(select(AuditEntry).where(AuditEntry.chain != "hub"))}
            assert chains == {point_chain(busy.point_id), point_chain(other.point_id)}, "each point's own chain"
        finally:
            hub.close()
