"""Scans of materials: sealed at intake, uploaded in resumable chunks after their case, checked and shown at the hub.

A real hub on loopback and real point data directories; faults only through
tests/support/linksim.py (rate, latency, cuts).
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
import os
import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update
from click.testing import CliRunner
from tests.pointkit.hubside import GOOD_ID, jpeg_photo, rows, valid_form
from tests.support.linksim import LinkSimulator

from pointkit import db
from pointkit.cli import main
from pointkit.enrollment import enroll
from pointkit.intake import Applicant, receive_case
from pointkit.models import Case, Outbox, ScanFile
from pointkit.pickup import collect
from pointkit.scans import (ScanInput, apply_retention, original_path, prepare_scans, scans_allowed, sealed_path,
                            waiting_totals)
from pointkit.state import get_state, hub_client, load_identity
from pointkit.syncagent import sync_once
from sync.client import HubRefused, HubUnreachable
from sync.attachments import decrypt_attachment, sealed_size
from sync.pacing import MAX_PIECE, MIN_PIECE, PIECE_OVERHEAD, PIECE_SHARE, START_PIECE, WINDOW_EXTRA, PieceSizer
from sync.streaming import Outgoing, StreamingUploader
from sync.uploads import HEADER_CHUNK_SHA256, HEADER_TOTAL, ChunkSizer, OffsetMismatch, ScanUploader

hub_pkg = pytest.importorskip("hub.web")
from hub.trust.accounts import create_staff
from hub.catalog.versions import import_catalog, load_catalog_file
from hub.core.db import database_url, make_engine, session_scope
from hub.trust.enrollment import create_enrollment_token
from hub.instance import initialize
from hub.trust.keys import load_identity as load_hub_identity
from hub.core.models import CaseScan

SAMPLE_CATALOG = Path(__file__).resolve().parents[2] / "hub" / "data" / "sample_catalog.json"
MEDICAL_INSURANCE = "451030-YB-001"


class Hub:
    def __init__(self, url: str, port: int, data: Path, engine):
        self.url, self.port, self.data, self.engine = url, port, data, engine

    def token(self, name: str) -> str:
        with session_scope(self.engine) as session:
            return create_enrollment_token(session, name=name, level="village",
                                           identity=load_hub_identity(self.data)).token

    @contextmanager
    def reviewer(self) -> Iterator[httpx.Client]:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            login = client.post("/api/login", json={"username": "yb-li", "password": "reviewer-pass"}).json()
            client.headers["Authorization"] = f"Bearer {login['token']}"
            yield client

    @contextmanager
    def desk(self, username: str = "yb-li") -> Iterator[httpx.Client]:
        """A browser-like session on the hub's pages."""
        import re

        with httpx.Client(base_url=self.url, timeout=30, follow_redirects=True) as client:
            token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
            client.post("/login", data={"username": username, "password": "reviewer-pass", "csrf_token": token})
            yield client

    def case(self, case_id: str) -> dict:
        with self.reviewer() as desk:
            answer = desk.get(f"/api/cases/{case_id}")
            assert answer.status_code == 200, answer.text
            return answer.json()


@pytest.fixture
def hub(tmp_path, live_server):
    data = tmp_path / "hub"
    initialize(data, admin_user="admin", admin_password="hub-admin-pass")
    engine = make_engine(database_url(data))
    with session_scope(engine) as session:
        import_catalog(session, load_catalog_file(SAMPLE_CATALOG), identity=load_hub_identity(data))
        create_staff(session, username="yb-li", password="reviewer-pass", role="reviewer", department_code="YB")
        create_staff(session, username="ny-wang", password="reviewer-pass", role="reviewer", department_code="NY")
    app = hub_pkg.create_app(data, test_config={"TESTING": True})
    server = live_server(app)
    yield Hub(server.url, server.port, data, engine)
    app.extensions["hub_engine"].dispose()
    engine.dispose()


def enrolled_point(tmp_path: Path, hub: Hub, name: str = "周邦村便民服务站", **settings) -> Path:
    data = tmp_path / name
    enroll(data, hub_url=hub.url, token=hub.token(name), name="")
    set_state(data, **settings)
    return data


def set_state(data: Path, **values) -> None:
    with db.session_scope(data) as session:
        state = get_state(session)
        for key, value in values.items():
            setattr(state, key, value)
        session.add(state)


def receive_with_scans(data: Path, files: list[ScanInput], *, max_photo_kb: int = 0) -> Case:
    prepared = prepare_scans(data, files, max_photo_kb=max_photo_kb)
    with db.session_scope(data) as session:
        case, _code = receive_case(session, "staff", MEDICAL_INSURANCE, Applicant("韦秀兰", GOOD_ID, "13807761234"),
                                   {"insured_category": "普通居民"}, ["id_card", "hukou"],
                                   identity=load_identity(data), scans=prepared)
    return case


def uploader_for(data: Path, base_url: str | None = None, **options) -> ScanUploader:
    with db.session_scope(data) as session:
        state = get_state(session)
    if base_url:
        state.hub_url = base_url
    return ScanUploader(hub_client(state, load_identity(data)), **options)


def test_scans_are_sealed_at_intake_and_listed_inside_the_sealed_case(tmp_path, hub):
    data = enrolled_point(tmp_path, hub, metered=True)
    secret = os.urandom(5000)
    case = receive_with_scans(data, [ScanInput("../../etc/passwd", secret, "id_card"),
                                     ScanInput("C:\\Users\\staff\\户口簿.pdf", b"%PDF-1.4 hukou", "hukou")])
    scans = {row.name: row for row in rows(data, ScanFile)}
    assert set(scans) == {"passwd", "户口簿.pdf"}, "names are reduced to safe base names"
    for row in scans.values():
        assert row.case_id == case.id and row.state == "waiting"
        assert sealed_path(data, row.scan_id).stat().st_size == sealed_size(row.size)
    assert secret not in sealed_path(data, scans["passwd"].scan_id).read_bytes()
    assert not any(secret[:64] in path.read_bytes() for path in data.rglob("*") if path.is_file())

    report = sync_once(data)
    assert (report.accepted, report.scans_sent, report.scans_held) == (1, 0, 2), "metered: the case goes, scans wait"
    detail = hub.case(case.id)
    assert detail["materials_in_transit"] is True
    listed = {scan["name"]: scan for scan in detail["scans"]}
    assert listed["passwd"]["status"] == "in_transit" and listed["passwd"]["material"] == "id_card"
    assert "key_b64" not in listed["passwd"]
    with db.session_scope(data) as session:
        assert waiting_totals(session) == (2, sum(row.sealed_size for row in scans.values()))

    with hub.desk() as desk:
        page = desk.get(f"/cases/{case.id}").text
    assert "材料传输中" in page and "passwd" in page and f"/scans/{scans['passwd'].scan_id}" not in page

    report = sync_once(data, send_scans=True)
    assert report.scans_sent == 2 and report.errors == []
    with hub.desk() as desk:
        page = desk.get(f"/cases/{case.id}").text
        assert "材料传输中" not in page and f"/cases/{case.id}/scans/{scans['passwd'].scan_id}" in page
        viewed = desk.get(f"/cases/{case.id}/scans/{scans['户口簿.pdf'].scan_id}")
        assert viewed.status_code == 200 and viewed.content == b"%PDF-1.4 hukou"
        assert viewed.headers["content-type"] == "application/pdf" and viewed.headers["cache-control"] == "no-store"
        assert viewed.headers["content-disposition"].startswith("inline")
    with hub.desk("ny-wang") as other_department:
        assert other_department.get(f"/cases/{case.id}/scans/{scans['passwd'].scan_id}").status_code == 404
    detail = hub.case(case.id)
    assert detail["materials_in_transit"] is False
    assert {scan["status"] for scan in detail["scans"]} == {"complete"}
    with hub.reviewer() as desk:
        shown = desk.get(f"/api/cases/{case.id}/scans/{scans['passwd'].scan_id}")
        assert shown.status_code == 200 and shown.content == secret
        pdf = desk.get(f"/api/cases/{case.id}/scans/{scans['户口簿.pdf'].scan_id}")
        assert pdf.headers["content-type"] == "application/pdf" and pdf.content == b"%PDF-1.4 hukou"
    with httpx.Client(base_url=hub.url) as other:
        token = other.post("/api/login", json={"username": "ny-wang", "password": "reviewer-pass"}).json()["token"]
        refused = other.get(f"/api/cases/{case.id}/scans/{scans['passwd'].scan_id}",
                            headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 404, "another department never sees the scan"
    with db.session_scope(data) as session:
        assert waiting_totals(session) == (0, 0)


def test_pointkit_sync_scans_sends_what_a_metered_link_holds(tmp_path, hub):
    data = enrolled_point(tmp_path, hub, metered=True)
    scan = os.urandom(30_000)
    case = receive_with_scans(data, [ScanInput("hukou.jpg", scan, "hukou")])
    held = CliRunner().invoke(main, ["sync", "--data", str(data)])
    assert held.exit_code == 0, held.output
    assert "scans sent 0" in held.output and "1 held" in held.output and "--scans" in held.output
    assert hub.case(case.id)["materials_in_transit"] is True

    sent = CliRunner().invoke(main, ["sync", "--data", str(data), "--scans"])
    assert sent.exit_code == 0, sent.output
    assert "scans sent 1" in sent.output and "held" not in sent.output
    with hub.reviewer() as desk:
        scan_id = hub.case(case.id)["scans"][0]["scan_id"]
        assert desk.get(f"/api/cases/{case.id}/scans/{scan_id}").content == scan


def test_the_upload_protocol_offset_append_409_400_403(tmp_path, hub):
    data = enrolled_point(tmp_path, hub, metered=True)
    plain = os.urandom(70_000)
    case = receive_with_scans(data, [ScanInput("scan.bin", plain)])
    (scan,) = rows(data, ScanFile)
    sealed = sealed_path(data, scan.scan_id).read_bytes()
    uploader = uploader_for(data)

    with pytest.raises(HubRefused) as unknown:
        uploader.state(scan.scan_id)
    assert unknown.value.status == 404, "the hub knows a scan only from its case"
    sync_once(data)
    state = uploader.state(scan.scan_id)
    assert (state.offset, state.total, state.status) == (0, len(sealed), "in_transit")
    assert uploader._request("GET", scan.scan_id).json() == {"scan_id": scan.scan_id, "offset": 0,
                                                              "total": len(sealed), "status": "in_transit"}

    assert uploader.send_chunk(scan.scan_id, 0, sealed[:10_000], len(sealed)).offset == 10_000
    # Sent again (its answer lost to a cut): the hub skips what it holds and appends the rest.
    assert uploader.send_chunk(scan.scan_id, 0, sealed[:10_000], len(sealed)).offset == 10_000
    assert uploader.send_chunk(scan.scan_id, 5_000, sealed[5_000:12_000], len(sealed)).offset == 12_000
    with pytest.raises(OffsetMismatch) as wrong:
        uploader.send_chunk(scan.scan_id, 2_000, b"x" + sealed[2_001:14_000], len(sealed))
    assert (wrong.value.status, wrong.value.offset) == (409, 12_000), "other bytes where they overlap"
    with pytest.raises(OffsetMismatch) as ahead:
        uploader.send_chunk(scan.scan_id, 13_000, sealed[13_000:14_000], len(sealed))
    assert ahead.value.offset == 12_000, "a gap is refused"
    with pytest.raises(HubRefused) as bad_hash:
        uploader._request("PATCH", scan.scan_id, params={"offset": "10000"}, body=sealed[10_000:20_000],
                          headers={HEADER_CHUNK_SHA256: hashlib.sha256(b"other").hexdigest(),
                                   HEADER_TOTAL: str(len(sealed))})
    assert (bad_hash.value.status, bad_hash.value.reason) == (400, "bad_chunk_hash")
    with pytest.raises(HubRefused) as bad_total:
        uploader.send_chunk(scan.scan_id, 10_000, sealed[10_000:20_000], len(sealed) + 1)
    assert (bad_total.value.status, bad_total.value.reason) == (400, "bad_total")
    assert uploader.state(scan.scan_id).offset == 12_000, "refused chunks leave nothing behind"

    intruder = enrolled_point(tmp_path, hub, name="另一个村便民服务站")
    for attempt in (lambda u: u.state(scan.scan_id),
                    lambda u: u.send_chunk(scan.scan_id, 10_000, sealed[10_000:20_000], len(sealed))):
        with pytest.raises(HubRefused) as other:
            attempt(uploader_for(intruder))
        assert (other.value.status, other.value.reason) == (403, "not_your_scan")

    result = uploader.upload(scan.scan_id, sealed)
    assert result.complete and result.offset == len(sealed)
    stored = (hub.data / "scans" / f"{scan.scan_id}.sealed").read_bytes()
    assert stored == sealed
    assert hub.case(case.id)["scans"][0]["status"] == "complete"


def test_a_scan_the_hub_stopped_before_checking_is_checked_when_its_offset_is_asked(tmp_path, hub):
    data = enrolled_point(tmp_path, hub, metered=True)
    case = receive_with_scans(data, [ScanInput("scan.bin", os.urandom(30_000))])
    (scan,) = rows(data, ScanFile)
    sealed = sealed_path(data, scan.scan_id).read_bytes()
    sync_once(data)
    # As a hub killed after committing the last byte and before checking the whole scan leaves it.
    (hub.data / "scans").mkdir(exist_ok=True)
    (hub.data / "scans" / f"{scan.scan_id}.sealed").write_bytes(sealed)
    with session_scope(hub.engine) as session:
        session.exec(update(CaseScan).where(CaseScan.scan_id == scan.scan_id).values(received=len(sealed)))
    assert hub.case(case.id)["scans"][0]["status"] == "in_transit"

    state = uploader_for(data).state(scan.scan_id)
    assert (state.offset, state.status) == (len(sealed), "complete"), "checked before the answer"
    shown = hub.case(case.id)
    assert shown["scans"][0]["status"] == "complete" and not shown["materials_in_transit"]
    assert [event["action"] for event in shown["events"]].count("scan_received") == 1


def test_a_scan_that_does_not_match_its_case_is_recorded_never_accepted(tmp_path, hub):
    data = enrolled_point(tmp_path, hub)
    case = receive_with_scans(data, [ScanInput("photo.jpg", os.urandom(3000))])
    (scan,) = rows(data, ScanFile)
    sync_once(data)
    hub_case = hub.case(case.id)
    assert hub_case["scans"][0]["status"] == "complete"
    # Another case, whose sealed file is swapped on disk for bytes of the same size before it is sent.
    set_state(data, metered=True)
    other = receive_with_scans(data, [ScanInput("photo2.jpg", os.urandom(3000))])
    (swapped,) = [row for row in rows(data, ScanFile) if row.case_id == other.id]
    sealed_path(data, swapped.scan_id).write_bytes(sealed_path(data, scan.scan_id).read_bytes())
    sync_once(data, send_scans=True)
    detail = hub.case(other.id)
    assert detail["scans"][0]["status"] == "mismatch" and "decrypt" in detail["scans"][0]["problem"]
    assert detail["materials_in_transit"] is False
    assert any(event["action"] == "scan_mismatch" for event in detail["events"])
    with hub.reviewer() as desk:
        assert desk.get(f"/api/cases/{other.id}/scans/{swapped.scan_id}").status_code == 404


def test_an_upload_resumes_after_a_cut_at_a_random_byte(tmp_path, hub):
    data = enrolled_point(tmp_path, hub, metered=True)
    plain = os.urandom(200_000)
    case = receive_with_scans(data, [ScanInput("big.pdf", plain)])
    sync_once(data)
    (scan,) = rows(data, ScanFile)
    sealed = sealed_path(data, scan.scan_id).read_bytes()
    cut_at = random.Random(4).randrange(20_000, 60_000)
    with LinkSimulator(("127.0.0.1", hub.port), cut_after_bytes=cut_at) as link:
        uploader = uploader_for(data, link.url, sleep=lambda _s: None, max_failures=50)
        result = uploader.upload(scan.scan_id, sealed)
    assert result.complete and result.failures >= 1 and link.stats.cuts >= 1
    assert (hub.data / "scans" / f"{scan.scan_id}.sealed").read_bytes() == sealed
    with hub.reviewer() as desk:
        assert desk.get(f"/api/cases/{case.id}/scans/{scan.scan_id}").content == plain


def test_scans_stream_on_one_connection_per_cut_and_resume_where_the_hub_stands(tmp_path, hub):
    data = enrolled_point(tmp_path, hub, metered=True)
    plains = {f"page-{size}.pdf": os.urandom(size) for size in (30_000, 90_000, 150_000)}
    case = receive_with_scans(data, [ScanInput(name, plain) for name, plain in plains.items()])
    sync_once(data)  # the case goes; metered, its scans wait
    outgoing = [Outgoing(row.scan_id, sealed_path(data, row.scan_id).read_bytes())
                for row in sorted(rows(data, ScanFile), key=lambda row: row.size)]
    with db.session_scope(data) as session:
        state = get_state(session)
    with LinkSimulator(("127.0.0.1", hub.port), cut_after_bytes=random.Random(7).randrange(60_000, 80_000)) as link:
        state.hub_url = link.url
        report = StreamingUploader(hub_client(state, load_identity(data)), sleep=lambda _s: None,
                                   max_failures=50).upload(outgoing)
    assert all(scan.finished and scan.refusal is None for scan in outgoing)
    # Every cut is a failure (a loaded hub may add a 5xx of its own); each failure costs one new connection.
    assert link.stats.cuts >= 3 and report.failures >= link.stats.cuts
    assert link.stats.connections == report.failures + 1, "one connection between failures: chunks are pipelined"
    with hub.reviewer() as desk:
        shown = {scan["name"]: desk.get(f"/api/cases/{case.id}/scans/{scan['scan_id']}").content
                 for scan in hub.case(case.id)["scans"]}
    assert shown == plains


def link_of(rate: float, round_trip: float = 0.6) -> PieceSizer:
    """A sizer that has seen answers come at ``rate`` bytes a second and one chunk's round trip."""
    sizer = PieceSizer()
    sizer.answered(10_000, 10_000 / rate, queued=True)
    sizer.answered(10_000, round_trip + 10_000 / rate, queued=False)
    return sizer


def test_the_streamed_chunk_size_follows_the_link():
    sizer = PieceSizer()
    assert sizer.size == START_PIECE
    sizer.acked(64 * 1024)
    assert sizer.size == int(math.sqrt(2 * PIECE_OVERHEAD * 64 * 1024)), "nothing known but what the link carried"
    for rate, expected in ((32_000, 32_000), (10_000_000, MAX_PIECE)):
        sizer = link_of(rate)
        sizer.connected(100.0)
        sizer.acked(8_000, 104.0)
        assert sizer.size == 2 * START_PIECE, "grown twofold at most at a time"
        for _ in range(5):
            sizer.acked(8_000, 104.0)
        assert sizer.size == expected, "a quarter of how long a link that never dropped has been up"
    sizer = link_of(8_000)
    sizer.acked(48_000, 99.0)
    sizer.dropped(100.0)
    assert sizer.size == int(math.sqrt(2 * PIECE_OVERHEAD * 48_000)), "about sqrt(2 x head x bytes between drops)"
    before = sizer.size
    sizer.acked(4 * 48_000 + 1, 101.0)
    assert sizer.size == min(2 * before, int(math.sqrt(2 * PIECE_OVERHEAD * (4 * 48_000 + 1)))), \
        "a link up for four times its usual stretch has steadied: chunks grow with what it carries"
    sizer.dropped(108.0)
    assert sizer.regular and sizer.uptime == 8.0
    assert sizer.size == int(8_000 * 8.0 * PIECE_SHARE), "a share of the uptime of a link with a steady pace"
    sizer.dropped(111.0)
    assert not sizer.regular and sizer.uptime == 3.0
    assert sizer.size < 16_000, "a drop out of pace: chunks for random drops again"


def test_a_first_drop_is_a_first_guess_at_the_links_pace():
    sizer = link_of(8_000)
    sizer.connected(95.0)
    sizer.dropped(100.0)
    assert sizer.regular and sizer.uptime == 5.0 and sizer.uptime_guessed, "up at least since it connected"
    sizer.dropped(108.0)
    assert sizer.regular and sizer.uptime == 8.0 and not sizer.uptime_guessed, "a guess exceeded is replaced"
    sizer = link_of(8_000)
    sizer.connected(95.0)
    sizer.dropped(100.0)
    sizer.dropped(103.0)
    assert not sizer.regular, "a drop sooner than the guess: no steady pace"


def test_the_stream_keeps_a_round_trip_in_flight_unless_the_link_drops_sooner():
    sizer = PieceSizer(size=16 * 1024)
    assert sizer.window(WINDOW_EXTRA) == 2 * 16 * 1024, "a chunk more until the round trip is known"
    slow, fast = link_of(8_000), link_of(32_000)
    assert slow.window(WINDOW_EXTRA) == slow.size + int(2 * 8_000 * 0.6), "twice the round trip's worth more"
    assert fast.window(WINDOW_EXTRA) == fast.size + int(2 * 32_000 * 0.6)
    assert link_of(8_000, round_trip=0.05).window(WINDOW_EXTRA) == 2 * MIN_PIECE, "two chunks at least"
    assert link_of(32_000, round_trip=3.0).window(WINDOW_EXTRA) == START_PIECE + WINDOW_EXTRA, "at most WINDOW_EXTRA"
    for _ in range(8):
        fast.acked(WINDOW_EXTRA // 4)
        fast.dropped()
    assert fast.window(WINDOW_EXTRA) < fast.size + WINDOW_EXTRA // 4, "a drop loses what is in flight"
    assert fast.window(WINDOW_EXTRA) >= 2 * fast.size


def test_the_stream_sends_nothing_a_drop_due_at_its_usual_pace_would_take():
    sizer = link_of(8_000)  # 8 kB/s, 0.6 s round trip
    assert sizer.fit(100.0, None, 16_384) == 16_384, "no pace known: send"
    sizer.dropped(100.0)
    sizer.dropped(108.0)  # up 8 s between drops: the next is due at 116 s, answers are wanted by 115.2 s
    assert sizer.fit(108.0, None, 16_384) == 16_384
    assert sizer.answer_due(108.0, None, 16_384) == pytest.approx(108.6 + (16_384 + PIECE_OVERHEAD) / 8_000)
    # Late in the uptime: only what is answered by then, nothing when that is too little to be worth a head.
    assert sizer.fit(114.0, None, 16_384) == pytest.approx(16_384 - (116.767 - 115.2) * 8_000, abs=10)
    assert sizer.fit(112.0, 115.0, 16_384) == 0, "behind answers due at 115 s"
    assert sizer.fit(115.0, None, 16_384) == 0
    assert sizer.fit(118.5, None, 16_384) == 16_384, "the drop is overdue: the pace is not trusted"
    sizer.dropped(121.0)
    assert sizer.fit(127.0, None, 16_384) == 16_384, "a drop out of pace"


def test_the_chunk_size_grows_on_quick_successes_and_shrinks_on_failures():
    sizer = ChunkSizer()
    assert sizer.size == 16 * 1024
    for expected in (32, 64, 128, 256, 256):
        sizer.succeeded(0.5)
        assert sizer.size == expected * 1024
    sizer.succeeded(30.0)
    assert sizer.size == 256 * 1024, "a slow chunk does not grow the next"
    for expected in (128, 64, 32, 16, 8, 4, 4):
        sizer.failed()
        assert sizer.size == expected * 1024


def test_the_chunk_size_learns_the_links_rhythm():
    sizer = ChunkSizer(size=32 * 1024)
    sizer.observed_round_trip(0.6)
    sizer.succeeded(2.6, 16_000)  # 16 kB in 2 s of line time: 8 kB/s; quick, so 32 -> 64 KiB
    assert sizer.rate == pytest.approx(8000)
    sizer.failed(100.0)
    sizer.failed(105.0)
    assert sizer.size == 16 * 1024 and sizer.uptime_s == pytest.approx(5.0)
    sizer.failed(110.0, 4096)
    assert sizer.size == 16 * 1024, "a drop when one was due, cutting only a smallest chunk, does not halve"
    sizer.succeeded(0.5)
    # Right after a drop: what crosses in 0.9 x 5 s less a round trip; late in the uptime: the minimum.
    assert sizer.next_size(110.0) == int(8000 * (4.5 - 0.6))
    assert sizer.next_size(114.0) == 4 * 1024
    assert sizer.next_size(121.0) == 32 * 1024, "a link up for twice its usual uptime has steadied"
    sizer.failed(111.0)
    assert sizer.size == 16 * 1024, "an early drop halves"
    sizer.failed(116.0, 16 * 1024)
    assert sizer.size == 8 * 1024, "a drop when due still halves a chunk that was planned to fit"


def test_a_256_kb_scan_crosses_a_64_kbit_link_cut_every_5_s(tmp_path, hub):
    """The proof: 64 kbit/s, 600 ms round trips, a cut every 5 s; the scan arrives byte-identical."""
    data = enrolled_point(tmp_path, hub, metered=True)
    plain = os.urandom(256 * 1024)
    case = receive_with_scans(data, [ScanInput("户口簿-全本.pdf", plain, "hukou")])
    (scan,) = rows(data, ScanFile)
    started = time.monotonic()
    with LinkSimulator(("127.0.0.1", hub.port), rate_bps=64_000, latency_s=0.3, cut_every_s=5) as link:
        set_state(data, hub_url=link.url)
        # The case goes first; the hub shows it in transit before any scan byte arrived.
        while rows(data, Case)[0].status != "acked":
            try:
                sync_once(data)
            except HubUnreachable:
                pass
        assert hub.case(case.id)["materials_in_transit"] is True
        set_state(data, metered=False)
        rounds = 0
        while rows(data, ScanFile)[0].state != "uploaded":
            rounds += 1
            # About 60 s on an idle machine; the bound only stops a stuck upload (loaded CI machines are slower).
            assert time.monotonic() - started < 240, "the scan did not get through"
            try:
                sync_once(data)
            except HubUnreachable:
                pass
        elapsed = time.monotonic() - started
    print(f"\n256 KB scan over 64 kbit/s, 0.6 s RTT, cut every 5 s: {elapsed:.1f} s, {link.stats.cuts} cuts, "
          f"{rounds} round(s), {link.stats.bytes_up} bytes up")
    assert link.stats.cuts >= 3, "the link was really cut while the scan was on its way"
    detail = hub.case(case.id)
    assert detail["materials_in_transit"] is False and detail["scans"][0]["status"] == "complete"
    with hub.reviewer() as desk:
        shown = desk.get(f"/api/cases/{case.id}/scans/{scan.scan_id}")
    assert shown.status_code == 200 and shown.headers["content-type"] == "application/pdf"
    assert shown.content == plain
    assert hashlib.sha256(decrypt_attachment((hub.data / "scans" / f"{scan.scan_id}.sealed").read_bytes(),
                                             _key_at_hub(hub, scan.scan_id))).digest() == hashlib.sha256(plain).digest()


def _key_at_hub(hub: Hub, scan_id: str) -> bytes:
    from hub.core.models import CaseScan
    from sync.keys import unb64

    with session_scope(hub.engine) as session:
        return unb64(session.get(CaseScan, scan_id).key_b64)


def test_metered_hours_and_a_manual_send(tmp_path):
    from datetime import datetime

    from pointkit.models import PointState

    state = PointState(point_id=str(uuid.uuid4()), name="x", level="village", hub_url="", hub_sign_public_key="",
                       hub_enc_public_key="", hub_fingerprint="", enrolled_at=datetime(2026, 1, 1),
                       metered=True, unmetered_hours="22-6")
    at = lambda hour: datetime(2026, 3, 2, hour, 30)  # noqa: E731
    assert [scans_allowed(state, at(hour)) for hour in (21, 22, 23, 0, 5, 6, 12)] == [
        False, True, True, True, True, False, False]
    assert scans_allowed(state, at(12), force=True)
    state.unmetered_hours = ""
    assert not scans_allowed(state, at(23)), "metered without a window: only a manual send"
    state.metered = False
    assert scans_allowed(state, at(12))


def test_an_oversized_photo_is_reencoded_and_the_original_kept_until_collected(tmp_path, hub):
    from PIL import Image

    data = enrolled_point(tmp_path, hub, max_photo_kb=200)
    noise = Image.frombytes("RGB", (3000, 2000), os.urandom(3000 * 2000 * 3))
    buffer = io.BytesIO()
    noise.save(buffer, "JPEG", quality=95)
    photo = buffer.getvalue()
    assert len(photo) > 1024 * 1024
    small = b"\x89PNG small, sent as it is"
    case = receive_with_scans(data, [ScanInput("身份证.jpeg", photo, "id_card"), ScanInput("note.png", small)],
                              max_photo_kb=200)
    by_name = {row.name: row for row in rows(data, ScanFile)}
    assert set(by_name) == {"身份证.jpg", "note.png"}
    reencoded = by_name["身份证.jpg"]
    assert reencoded.size < len(photo) and reencoded.original_size == len(photo)
    assert original_path(data, reencoded.scan_id).exists()
    assert by_name["note.png"].original_size == 0 and not original_path(data, by_name["note.png"].scan_id).exists()

    sync_once(data)
    with hub.reviewer() as desk:
        shown = desk.get(f"/api/cases/{case.id}/scans/{reencoded.scan_id}")
    assert shown.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(shown.content)) as image:
        assert max(image.size) == 2000 and image.format == "JPEG"
    assert original_path(data, reencoded.scan_id).exists(), "the original stays until the case is collected"


def test_retention_deletes_sealed_scans_once_uploaded_and_collected(tmp_path, hub):
    from datetime import timedelta

    from sync.clock import utcnow

    data = enrolled_point(tmp_path, hub, scan_retention_days=2)
    prepared = prepare_scans(data, [ScanInput("a.pdf", os.urandom(2000))])
    with db.session_scope(data) as session:
        case, pickup_code = receive_case(session, "staff", MEDICAL_INSURANCE,
                                         Applicant("韦秀兰", GOOD_ID, "13807761234"), {"insured_category": "普通居民"},
                                         ["id_card", "hukou"], identity=load_identity(data), scans=prepared)
    (scan,) = rows(data, ScanFile)
    sync_once(data)
    assert rows(data, ScanFile)[0].state == "uploaded"
    assert apply_retention(data) == 0, "not collected yet"
    with hub.reviewer() as desk:
        assert desk.post(f"/api/cases/{case.id}/decision", json={"decision": "approved", "reason": "",
                                                                  "certificate_no": "YB-1"}).status_code == 200
    sync_once(data)
    with db.session_scope(data) as session:
        collect(session, "staff", case.receipt_no, pickup_code, GOOD_ID[-4:], identity=load_identity(data))
    assert apply_retention(data) == 0, "within the retention days"
    assert sealed_path(data, scan.scan_id).exists()
    assert apply_retention(data, now=utcnow() + timedelta(days=3)) == 1
    assert not sealed_path(data, scan.scan_id).exists()
    assert rows(data, ScanFile)[0].state == "removed"
    assert {row.state for row in rows(data, Outbox)} <= {"acked", "queued"}


@pytest.fixture
def point_api(point, live_server):  # noqa: F811
    from pointkit import create_app
    from pointkit.auth import create_staff

    with db.session_scope(point.data_dir) as session:
        create_staff(session, "staff", "window-pass-1")
        create_staff(session, "boss", "window-pass-2", role="admin")
    server = live_server(create_app(point.data_dir))
    client = httpx.Client(base_url=server.url, timeout=30)
    token = client.post("/api/login", json={"username": "staff", "password": "window-pass-1"}).json()["token"]
    client.headers["Authorization"] = f"Bearer {token}"
    yield client
    client.close()


def test_api_intake_with_scans_puts_their_keys_inside_the_sealed_case(point, point_api):  # noqa: F811
    import json

    case = {"item_code": "T-001", "applicant": {"name": "王小明", "id_number": GOOD_ID, "phone": "13800138000"},
            "form": valid_form(), "materials": ["id_card", "hukou"]}
    card, other = b"%PDF-1.4\n" + os.urandom(3000), b"%PDF-1.4 any other paper"
    created = point_api.post("/api/cases", data={"case": json.dumps(case), "scan_materials": ["id_card", ""]},
                             files=[("scans", ("../../etc/passwd", card, "image/jpeg")),
                                    ("scans", ("..\\..\\boot.ini", other, "application/octet-stream"))])
    assert created.status_code == 201, created.text
    (row,) = point.outbox()
    payload = point.open_outbox(row)
    scans = {scan["name"]: scan for scan in payload["scans"]}
    assert set(scans) == {"passwd", "boot.ini"}
    assert scans["passwd"]["material"] == "id_card" and scans["boot.ini"]["material"] == ""
    for scan, plain in ((scans["passwd"], card), (scans["boot.ini"], other)):
        assert scan["size"] == len(plain) and scan["sha256"] == hashlib.sha256(plain).hexdigest()
        key = base64.b64decode(scan["key_b64"])
        assert decrypt_attachment(sealed_path(point.data_dir, scan["scan_id"]).read_bytes(), key) == plain
    assert card not in row.envelope and not (point.data_dir / "etc").exists()
    status = point_api.get("/api/status").json()
    assert status["scans_waiting"] == 2
    assert status["scan_bytes_waiting"] == sealed_size(len(card)) + sealed_size(len(other))

    refused = point_api.post("/api/cases", data={"case": json.dumps(case), "scan_materials": ["no_such"]},
                             files=[("scans", ("x.pdf", b"%PDF-1.4", "application/pdf"))])
    assert (refused.status_code, refused.json()["reason"]) == (422, "invalid_input")
    assert "scans" in refused.json()["fields"]
    assert point_api.post("/api/cases", data={"case": "{not json"},
                          files=[("scans", ("x.pdf", b"pdf", "application/pdf"))]).status_code == 400
    assert len(list((point.data_dir / "scans").iterdir())) == 2, "refused intakes leave no files behind"
    spec = point_api.get("/api/openapi.json").json()
    assert "multipart/form-data" in spec["paths"]["/api/cases"]["post"]["requestBody"]["content"]
    assert "scans" in {p["name"] for p in spec["paths"]["/api/sync"]["post"]["parameters"]}


def test_the_intake_page_takes_files_per_material_and_the_sync_page_shows_them(point):  # noqa: F811
    import re

    from pointkit import create_app
    from pointkit.auth import create_staff

    with db.session_scope(point.data_dir) as session:
        create_staff(session, "boss", "window-pass-2", role="admin")
    app = create_app(point.data_dir, test_config={"TESTING": True})
    client = app.test_client()
    token = lambda path: re.search(r'name="csrf_token" value="([^"]+)"',  # noqa: E731
                                   client.get(path).get_data(as_text=True)).group(1)
    client.post("/login", data={"username": "boss", "password": "window-pass-2", "csrf_token": token("/login")})
    page = client.get("/cases/new?item=T-001").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page
    assert '<input type="file" id="scans" name="scans" multiple' in page and 'name="scans_id_card"' in page
    answer = client.post("/cases/new?item=T-001", content_type="multipart/form-data", data={
        "csrf_token": token("/cases/new?item=T-001"), "item_code": "T-001", "applicant_name": "王小明",
        "applicant_id_number": GOOD_ID, "field_category": "普通居民", "field_household_size": "4",
        "materials": ["id_card", "hukou"],
        "scans_id_card": [(io.BytesIO(jpeg_photo()), "身份证.jpg")],
        "scans": [(io.BytesIO(b"%PDF-1.4 extra"), "../other.pdf")]})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
    by_name = {row.name: row for row in rows(point.data_dir, ScanFile)}
    assert by_name["身份证.jpg"].material == "id_card" and by_name["other.pdf"].material == ""
    sync_page = client.get("/sync?lang=zh").get_data(as_text=True)
    assert "待传扫描件" in sync_page and 'id="send-scans-now"' in sync_page
    saved = client.post("/sync/settings", data={"csrf_token": token("/sync"), "metered": "1",
                                                 "unmetered_hours": "22-6", "max_photo_kb": "300",
                                                 "scan_retention_days": "7"})
    assert saved.status_code == 302
    with db.session_scope(point.data_dir) as session:
        state = get_state(session)
        assert (state.metered, state.unmetered_hours, state.max_photo_kb, state.scan_retention_days) == (
            True, "22-6", 300, 7)
    client.post("/sync/settings", data={"csrf_token": token("/sync"), "unmetered_hours": "late"})
    with db.session_scope(point.data_dir) as session:
        assert get_state(session).unmetered_hours == "22-6", "a bad window is not saved"


def test_serve_options_store_the_scan_settings(point):  # noqa: F811
    from click.testing import CliRunner

    from pointkit.cli import _store_scan_settings, main

    _store_scan_settings(point.data_dir, True, "22-6", 500, None)
    with db.session_scope(point.data_dir) as session:
        state = get_state(session)
        assert (state.metered, state.unmetered_hours, state.max_photo_kb, state.scan_retention_days) == (
            True, "22-6", 500, 0)
    refused = CliRunner().invoke(main, ["serve", "--data", str(point.data_dir), "--unmetered-hours", "evening"])
    assert refused.exit_code == 1 and "22-6" in refused.output
