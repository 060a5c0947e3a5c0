"""Sealed scans in S3-compatible object storage (a real SeaweedFS): chunked uploads through the real sync endpoints
resume where they were cut, on another hub process too, with the same 409s and digest checks; pre-check photos and
USB-bundled scans land there as well; the retention purge removes a closed case's scans and the case page says so.

A real hub on loopback (SQLite and PostgreSQL), a second real ``pointkit-hub serve`` process on the same database
with a data directory of its own, points made of ``sync`` only (hubkit.FakePoint). Each test keeps its objects
under a prefix of its own in the session's SeaweedFS.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from PIL import Image
from sqlmodel import select

from hub.approval.prechecks import Applicant, Upload, expire_prechecks, sealed_photo, submit_precheck
from hub.approval.scanpurge import start_scan_purge
from hub.approval.scans import store_bundled_scan
from hub.approval.scanstore import (
    CREDENTIALS_ENV,
    SCANS_DIR,
    SCANS_ENV,
    BadScanStoreUrl,
    LocalScanStore,
    ScanStoreError,
    _credentials,
    parse_scans_url,
    scan_store,
)
from hub.catalog.versions import find_item
from hub.cli import main
from hub.core.clock import utc_now
from hub.core.db import DATABASE_URL_ENV, database_url
from hub.core.models import AuditEntry, Case, CaseScan, PrecheckPhoto
from sync.attachments import CHUNK_SEALED, encrypt_attachment, new_file_key, sha256_hex
from sync.keys import b64
from sync.client import HubClient, HubRefused, HubUnreachable
from sync.uploads import MIN_CHUNK, ChunkSizer, OffsetMismatch, ScanUploader

from tests.hub.hubkit import REVIEWER_PASSWORD, VILLAGE, resident_id
from tests.support.cluster import command, free_port, wait_until

# The object store is the same whichever database counts the bytes (one conditional UPDATE, the same SQL on both):
# these run on SQLite; PostgreSQL with the object store is tests/system/test_hub_machines.py, two machines behind a
# balancer.
pytestmark = pytest.mark.sqlite_only

MATERIAL = b"%PDF-1.4\n" + os.urandom(24_000)  # six chunks of MIN_CHUNK once sealed


@pytest.fixture
def s3_scans(seaweed, monkeypatch) -> str:
    """The hub's scans in the session's SeaweedFS, under a prefix of this test's own; the key prefix returned."""
    prefix = f"t-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv(SCANS_ENV, seaweed.scans_url(prefix))
    for name, value in seaweed.credentials_env.items():
        monkeypatch.setenv(name, value)
    return prefix


def sealed_scan(data: bytes = MATERIAL, material: str = "hukou") -> tuple[dict, bytes]:
    """A scan as a point lists it in its case, and its sealed bytes."""
    key = new_file_key()
    listing = {"scan_id": str(uuid.uuid4()), "name": "户口簿.pdf", "material": material, "size": len(data),
               "sha256": sha256_hex(data), "key_b64": b64(key)}
    return listing, encrypt_attachment(data, key)


def small_chunks(client: HubClient) -> ScanUploader:
    return ScanUploader(client, sizer=ChunkSizer(size=MIN_CHUNK, grow_within_s=0, maximum=MIN_CHUNK))


def second_hub(hub, tmp_path: Path) -> tuple[subprocess.Popen, str]:
    """Another ``pointkit-hub serve`` on the same database and scan store, with a data directory of its own (the
    hub's keys copied there, no scans): a second machine of a region."""
    data = tmp_path / "hub-b"
    shutil.copytree(hub.data_dir, data, ignore=shutil.ignore_patterns("hub.db*", SCANS_DIR, "*.log"))
    port = free_port()
    log = open(tmp_path / "hub-b.out", "ab")
    process = subprocess.Popen([command("pointkit-hub"), "serve", "--data", str(data), "--host", "127.0.0.1",
                                "--port", str(port), "--supervise-every", "0", "--anchor-every", "0"],
                               env={**os.environ, DATABASE_URL_ENV: database_url(hub.data_dir)},
                               stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert process.poll() is None, (tmp_path / "hub-b.out").read_text()
        return httpx.get(url + "/healthz", timeout=2).status_code == 200

    wait_until(up, timeout=60, what="the second hub process")
    return process, url


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.mark.long
def test_a_scan_started_on_one_hub_process_is_finished_through_another_and_reads_back_whole(hub, s3_scans, seaweed,
                                                                                          tmp_path):
    point = hub.enroll_point()
    listing, sealed = sealed_scan()
    case_id = point.push_case(scans=[listing])
    scan_id = listing["scan_id"]

    # Hub A takes three chunks, then the link is cut (the point stops sending).
    sent: list[int] = []
    cut = small_chunks(point.client).upload(scan_id, sealed, should_stop=lambda: len(sent) >= 3,
                                            on_progress=lambda offset, _total: sent.append(offset))
    assert cut.stopped and cut.offset == 3 * MIN_CHUNK

    process, other_url = second_hub(hub, tmp_path)
    try:
        with HubClient(other_url, attempts=1, point_id=point.point_id, identity=point.identity) as other:
            other_uploader = small_chunks(other)
            # The same request signatures reach the other machine: it knows where A stopped.
            assert other_uploader.state(scan_id).offset == 3 * MIN_CHUNK
            with pytest.raises(OffsetMismatch) as mismatch:
                other_uploader.send_chunk(scan_id, 5 * MIN_CHUNK, sealed[5 * MIN_CHUNK:6 * MIN_CHUNK], len(sealed))
            assert mismatch.value.offset == 3 * MIN_CHUNK
            # A chunk already held, sent again with the same bytes, is no error; with other bytes it is a 409.
            assert other_uploader.send_chunk(scan_id, 0, sealed[:MIN_CHUNK], len(sealed)).offset == 3 * MIN_CHUNK
            with pytest.raises(OffsetMismatch):
                other_uploader.send_chunk(scan_id, 0, b"x" * MIN_CHUNK, len(sealed))
            resumed: list[int] = []
            done = other_uploader.upload(scan_id, sealed, on_progress=lambda offset, _total: resumed.append(offset))
            assert done.offset == len(sealed) and done.status == "complete"
            assert resumed[0] == 4 * MIN_CHUNK, "the second machine went on from the first one's offset"
        reviewer = hub.api("yb-li")
        shown = reviewer.get(f"/api/cases/{case_id}/scans/{scan_id}")
        assert shown.status_code == 200 and shown.content == MATERIAL, "byte-identical after decryption"
        page = hub.browser("yb-li").get(f"/cases/{case_id}/scans/{scan_id}")
        assert page.status_code == 200 and page.content == MATERIAL, "the case page's link opens the same bytes"
        with httpx.Client(base_url=other_url, timeout=30) as browser:
            token = browser.post("/api/login", json={"username": "yb-li", "password": REVIEWER_PASSWORD})
            assert token.status_code == 200, token.text
            again = browser.get(f"/api/cases/{case_id}/scans/{scan_id}",
                                headers={"Authorization": f"Bearer {token.json()['token']}"})
            assert again.content == MATERIAL, "the other machine reads the same scan"
    finally:
        stop(process)

    keys = seaweed.keys(s3_scans + "/")
    chunk_count = -(-len(sealed) // MIN_CHUNK)
    assert sorted(keys) == [f"{s3_scans}/{scan_id}/{offset:012d}" for offset in range(0, len(sealed), MIN_CHUNK)]
    assert len(keys) == chunk_count
    assert all(re.fullmatch(rf"{s3_scans}/[0-9a-f-]{{36}}/\d{{12}}", key) for key in keys), "keys name no resident"
    stored = b"".join(seaweed.client().get_object(Bucket=seaweed.bucket, Key=key)["Body"].read() for key in keys)
    assert stored == sealed and MATERIAL[:4096] not in stored, "sealed at rest"
    assert not (hub.data_dir / SCANS_DIR).exists() and not (tmp_path / "hub-b" / SCANS_DIR).exists()


def test_chunk_checks_hold_on_object_storage(hub, s3_scans, seaweed):
    point = hub.enroll_point()
    listing, sealed = sealed_scan(os.urandom(5000))
    point.push_case(scans=[listing])
    scan_id = listing["scan_id"]
    uploader = small_chunks(point.client)
    with pytest.raises(HubRefused) as wrong:
        uploader._request("PATCH", scan_id, params={"offset": "0"}, body=sealed[:100],
                          headers={"X-Pointkit-Chunk-SHA256": hashlib.sha256(b"other").hexdigest(),
                                   "X-Pointkit-Total": str(len(sealed))})
    assert (wrong.value.status, wrong.value.reason) == (400, "bad_chunk_hash")
    assert seaweed.keys(s3_scans + "/") == [], "a refused chunk stores nothing"
    with pytest.raises(OffsetMismatch) as ahead:
        uploader.send_chunk(scan_id, 100, sealed[100:200], len(sealed))
    assert ahead.value.offset == 0
    assert uploader.upload(scan_id, sealed).status == "complete"
    with hub.db() as session:
        assert session.get(CaseScan, scan_id).received == len(sealed)


def test_an_unreachable_store_answers_503_and_the_upload_resumes_once_it_is_back(hub, seaweed, monkeypatch):
    point = hub.enroll_point()
    listing, sealed = sealed_scan(os.urandom(3000))
    point.push_case(scans=[listing])
    for name, value in seaweed.credentials_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(SCANS_ENV, f"s3://{seaweed.bucket}/down?endpoint=http://127.0.0.1:{free_port()}")
    uploader = small_chunks(point.client)
    with pytest.raises(HubUnreachable) as down:
        uploader.send_chunk(listing["scan_id"], 0, sealed[:1000], len(sealed))
    assert down.value.__cause__.response.status_code == 503
    assert down.value.__cause__.response.json()["reason"] == "scan_store_unavailable"
    with hub.db() as session:
        assert session.get(CaseScan, listing["scan_id"]).received == 0, "nothing counted that the store lacks"
    monkeypatch.setenv(SCANS_ENV, seaweed.scans_url(f"up-{uuid.uuid4().hex[:8]}"))
    assert uploader.upload(listing["scan_id"], sealed).status == "complete"


def photo() -> bytes:
    out = io.BytesIO()
    Image.effect_noise((300, 200), 50).convert("RGB").save(out, "JPEG")
    return out.getvalue()


def test_pre_check_photos_live_in_the_object_store_and_go_when_the_pre_check_expires(hub, s3_scans, seaweed):
    hub.enroll_point()
    with hub.db() as session:
        submitted = submit_precheck(session, hub.data_dir, item=find_item(session, "451030-YB-001"),
                                    point_name=VILLAGE, applicant=Applicant("韦秀兰", resident_id(), "13807761234"),
                                    uploads=[Upload("id_card", "id.jpg", photo())], client_address="10.0.0.1",
                                    now=utc_now() - timedelta(days=40))
        [row] = session.exec(select(PrecheckPhoto).where(PrecheckPhoto.precheck_id == submitted.precheck.id)).all()
        assert seaweed.keys(f"{s3_scans}/{row.id}/") == [f"{s3_scans}/{row.id}/{0:012d}"]
        assert len(sealed_photo(hub.data_dir, row)) == row.sealed_size
        assert expire_prechecks(session, hub.data_dir) == [submitted.precheck.precheck_no]
    assert seaweed.keys(s3_scans + "/") == []
    assert not (hub.data_dir / SCANS_DIR).exists()


def test_a_usb_bundle_completes_a_scan_an_online_upload_started_in_the_object_store(hub, s3_scans, seaweed):
    point = hub.enroll_point()
    listing, sealed = sealed_scan()
    case_id = point.push_case(scans=[listing])
    sent: list[int] = []
    small_chunks(point.client).upload(listing["scan_id"], sealed, should_stop=lambda: len(sent) >= 2,
                                      on_progress=lambda offset, _total: sent.append(offset))
    with hub.db() as session:
        assert store_bundled_scan(session, hub.data_dir, point.point_id, listing["scan_id"], sealed) == "accepted"
        assert store_bundled_scan(session, hub.data_dir, point.point_id, listing["scan_id"], sealed) == "duplicate"
    assert len(seaweed.keys(f"{s3_scans}/{listing['scan_id']}/")) == 3, "two online chunks and the bundle's rest"
    shown = hub.api("yb-li").get(f"/api/cases/{case_id}/scans/{listing['scan_id']}")
    assert shown.status_code == 200 and shown.content == MATERIAL


def test_the_purge_removes_a_closed_case_s_scans_after_the_retention_and_the_case_page_says_so(hub, s3_scans,
                                                                                             seaweed):
    point = hub.enroll_point()
    kept_listing, kept_sealed = sealed_scan(os.urandom(2000))
    old_listing, old_sealed = sealed_scan(os.urandom(2000))
    kept_case, old_case = point.push_case(scans=[kept_listing]), point.push_case(scans=[old_listing])
    uploader = small_chunks(point.client)
    uploader.upload(kept_listing["scan_id"], kept_sealed)
    uploader.upload(old_listing["scan_id"], old_sealed)
    with hub.db() as session:
        for case_id, days in ((kept_case, 10), (old_case, 31)):
            case = session.get(Case, case_id)
            case.status, case.closed_at = "closed", utc_now() - timedelta(days=days)
            session.add(case)

    purged = CliRunner().invoke(main, ["scans", "purge", "--data", str(hub.data_dir), "--retention-days", "30"])
    assert purged.exit_code == 0, purged.output
    assert f"{old_case}\t1 scan(s) removed" in purged.output and "Removed 1 scan(s)" in purged.output
    assert seaweed.keys(f"{s3_scans}/{old_listing['scan_id']}/") == []
    store = scan_store(hub.data_dir)
    assert store.size(old_listing["scan_id"]) is None
    assert store.size(kept_listing["scan_id"]) == len(kept_sealed)
    with hub.db() as session:
        assert session.get(CaseScan, old_listing["scan_id"]).purged_at is not None
        assert session.get(CaseScan, kept_listing["scan_id"]).purged_at is None
        [audit] = session.exec(select(AuditEntry).where(AuditEntry.action == "scans_purged")).all()
        assert audit.subject == f"case:{old_case}" and audit.detail["scans"] == 1
    again = CliRunner().invoke(main, ["scans", "purge", "--data", str(hub.data_dir), "--retention-days", "30"])
    assert "Removed 0 scan(s)" in again.output

    browser = hub.browser("yb-li")
    page = browser.get(f"/cases/{old_case}", params={"lang": "en"})
    assert page.status_code == 200 and "removed after the retention period" in page.text
    assert browser.get(f"/cases/{old_case}/scans/{old_listing['scan_id']}").status_code == 410
    assert hub.api("yb-li").get(f"/api/cases/{kept_case}/scans/{kept_listing['scan_id']}").content
    assert "已过保存期限" in browser.get(f"/cases/{old_case}", params={"lang": "zh"}).text


@pytest.mark.sqlite_only
@pytest.mark.parametrize("url", ["s3://AKIAXXX:secret@scans/p?endpoint=http://127.0.0.1:9000",
                                 "s3://scans/p?endpoint=http://127.0.0.1:9000&secret_key=abc",
                                 "s3://scans/p?endpoint=http://key:secret@127.0.0.1:9000",
                                 "s3://scans/p?X-Amz-Credential=abc"])
def test_a_scans_url_carrying_a_secret_is_refused(url, tmp_path):
    with pytest.raises(BadScanStoreUrl, match="must not carry credentials"):
        parse_scans_url(url)
    refused = CliRunner().invoke(main, ["scans", "purge", "--data", str(tmp_path), "--retention-days", "1",
                                        "--scans", url])
    assert refused.exit_code == 2 and "AWS_ACCESS_KEY_ID" in refused.output


@pytest.mark.sqlite_only
def test_scans_urls_name_bucket_prefix_and_endpoint_and_credentials_come_from_a_file(tmp_path, monkeypatch):
    location = parse_scans_url("s3://county-scans/hub/a?endpoint=https://oss.example.gov.cn&region=cn-south-1")
    assert (location.bucket, location.prefix, location.endpoint, location.region) == (
        "county-scans", "hub/a", "https://oss.example.gov.cn", "cn-south-1")
    assert parse_scans_url("") is None and parse_scans_url("local") is None
    with pytest.raises(BadScanStoreUrl, match="unknown option"):
        parse_scans_url("s3://b/p?endpoint=http://h&bucket_policy=x")
    with pytest.raises(BadScanStoreUrl, match="s3://BUCKET"):
        parse_scans_url("minio://b/p")
    credentials = tmp_path / "s3.ini"
    credentials.write_text("[default]\naws_access_key_id = AK\n", encoding="utf-8")
    monkeypatch.setenv(CREDENTIALS_ENV, str(credentials))
    with pytest.raises(BadScanStoreUrl, match="aws_secret_access_key"):
        _credentials()
    credentials.write_text("[default]\naws_access_key_id = AK\naws_secret_access_key = SK\n", encoding="utf-8")
    assert _credentials() == {"aws_access_key_id": "AK", "aws_secret_access_key": "SK"}


@pytest.mark.sqlite_only
def test_the_object_store_reads_a_scan_as_its_chain_of_chunks_past_leftovers(s3_scans, tmp_path):
    store = scan_store(tmp_path)
    scan_id, sealed = str(uuid.uuid4()), os.urandom(3 * CHUNK_SEALED + 100)
    # Left by an earlier attempt the scan started over from (its deletion failed): 1000..2000.
    store.write_at(scan_id, 1000, os.urandom(1000))
    store.write_at(scan_id, 0, sealed[:5000])
    store.write_at(scan_id, 5000, sealed[5000:])
    assert store.read_at(scan_id, 4000, 2000) == sealed[4000:6000]
    pieces = list(store.pieces(scan_id, len(sealed)))
    assert b"".join(pieces) == sealed and [len(piece) for piece in pieces[:-1]] == [CHUNK_SEALED] * 3
    assert store.size(scan_id) == len(sealed)
    with pytest.raises(ScanStoreError, match="holds"):
        list(store.pieces(scan_id, len(sealed) + 1))
    store.delete(scan_id)
    assert store.size(scan_id) is None and store.read_at(scan_id, 0, 10) == b""


def test_the_purge_timer_removes_local_scan_files_of_a_county_hub_too(hub):
    point = hub.enroll_point()
    listing, sealed = sealed_scan(os.urandom(2000))
    case_id = point.push_case(scans=[listing])
    small_chunks(point.client).upload(listing["scan_id"], sealed)
    stored = LocalScanStore(hub.data_dir / SCANS_DIR).path(listing["scan_id"])
    assert stored.read_bytes() == sealed, "a hub without --scans keeps DATA/scans/<id>.sealed as always"
    with hub.db() as session:
        case = session.get(Case, case_id)
        case.status, case.closed_at = "closed", utc_now() - timedelta(days=8)
        session.add(case)
    stop_timer = start_scan_purge(hub.engine, hub.data_dir, 0.1, retention_days=7, holder="hub-a (test)")
    try:
        wait_until(lambda: not stored.exists(), timeout=10, what="the purge timer to remove the scan file")
    finally:
        stop_timer.set()

    def marked() -> bool:
        with hub.db() as session:
            return session.get(CaseScan, listing["scan_id"]).purged_at is not None

    wait_until(marked, timeout=10, what="the scan marked as removed")
