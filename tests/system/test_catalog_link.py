"""The catalog never stops a point: it travels packed and resumable, a new point does not start without it, and a
catalog step the link cuts short never keeps cases, results or scans from moving."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from tests.support.cluster import command
from tests.support.linksim import LinkSimulator

from pointkit import create_app, db
from pointkit.auth import create_staff
from pointkit.catalogfetch import catalog_download
from pointkit.intake import Applicant, receive_case
from pointkit.models import PointState
from pointkit.scans import ScanInput, prepare_scans
from pointkit.state import get_state, load_identity
from pointkit.syncagent import sync_once
from pointkit.trust import verify_hub_document
from sync.client import HubClient, HubUnreachable
from sync.kit.idnumber import check_character
from sync.resumable import PartialDownload

VILLAGE = "八达镇周邦村便民服务站"
SAMPLE_CATALOG = Path(__file__).resolve().parents[2] / "hub" / "data" / "sample_catalog.json"
MEDICAL_INSURANCE = "451030-YB-001"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def add_point(cluster, name: str = VILLAGE) -> str:
    return cluster.setup(command("pointkit-hub"), "points", "add", name, "--level", "village", "--data",
                         str(cluster.hub.data)).strip().splitlines()[-1]


def init(data: Path, hub_url: str, token: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([command("pointkit"), "init", "--data", str(data), "--hub", hub_url, "--token", token,
                           "--name", VILLAGE, "--staff-password", "point-staff-pass", *extra],
                          capture_output=True, text=True, timeout=300)


def state(data: Path) -> PointState:
    with db.session_scope(data) as session:
        found = get_state(session)
        session.expunge(found)
        return found


def test_a_new_point_brings_the_catalog_home_over_a_village_link_that_cuts(cluster, tmp_path):
    hub = cluster.start_hub()
    token = add_point(cluster)
    # The village link: 64 kbit/s, 600 ms round trip, every connection cut every 8 s.
    with LinkSimulator(("127.0.0.1", urlparse(hub.url).port), rate_bps=64_000, latency_s=0.3,
                       cut_every_s=8.0) as link:
        done = init(tmp_path / "village", link.url, token, "--catalog-wait", "240")
        down = link.stats.bytes_down
    assert done.returncode == 0, done.stdout + done.stderr
    assert "catalog version:  1" in done.stdout
    assert state(tmp_path / "village").catalog_version == 1
    plain = len(SAMPLE_CATALOG.read_bytes())
    assert down < plain / 3, f"{down} bytes came down for a catalog of {plain} bytes of JSON: it is not packed"
    assert catalog_download(tmp_path / "village").offset == 0, "the finished download leaves nothing behind"


def test_a_download_cut_again_and_again_resumes_where_it_stopped(cluster, tmp_path):
    hub = cluster.start_hub()
    token = add_point(cluster)
    assert init(tmp_path / "village", hub.url, token).returncode == 0
    enrolled = state(tmp_path / "village")

    class Recorded(httpx.HTTPTransport):
        """Notes the range each request asks for and the status it got (a seam we own: the client's transport)."""

        asked: list[tuple[str, int]] = []

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = super().handle_request(request)
            self.asked.append((request.headers.get("Range", ""), response.status_code))
            return response

    with LinkSimulator(("127.0.0.1", urlparse(hub.url).port), rate_bps=64_000, latency_s=0.05) as link, \
            HubClient(link.url, point_id=enrolled.point_id, identity=load_identity(tmp_path / "village"),
                      transport=Recorded(), attempts=1) as client:
        partial = PartialDownload(tmp_path / "catalog.part")
        cut_at: list[int] = [0]

        def cut_every_4k(received: int, total: int) -> None:
            if received - cut_at[-1] >= 4_000 and received < total:
                cut_at.append(received)
                link.cut()

        offsets = []
        for _ in range(30):
            try:
                signed = client.catalog_download(None, partial, progress=cut_every_4k)
                break
            except HubUnreachable:
                offsets.append(partial.offset)
        else:
            pytest.fail(f"the catalog never arrived; offsets after each cut: {offsets}")
    with db.session_scope(tmp_path / "village") as session:
        assert verify_hub_document(session, get_state(session), signed)["version"] == 1
    assert len(offsets) >= 2 and offsets == sorted(offsets) and offsets[0] > 0, offsets
    # The first request asks for the whole; each after a cut for the rest from what arrived, and gets just that.
    assert Recorded.asked == [("", 200)] + [(f"bytes={offset}-", 206) for offset in offsets], (Recorded.asked, offsets)
    assert not partial.path.exists(), "a finished download is not kept"


def test_the_hub_resumes_only_the_body_it_named(cluster, tmp_path):
    hub = cluster.start_hub()
    token = add_point(cluster)
    assert init(tmp_path / "village", hub.url, token).returncode == 0
    enrolled = state(tmp_path / "village")
    with HubClient(hub.url, point_id=enrolled.point_id, identity=load_identity(tmp_path / "village")) as client:
        partial = PartialDownload(tmp_path / "catalog.part")
        first = client.catalog_download(None, partial)
        # A partial download of a body the hub no longer serves (another ETag) starts again from zero.
        partial.restart("0" * 64, 40)
        partial.append(b"x" * 20)
        again = client.catalog_download(None, partial)
    assert again == first


def test_a_catalog_step_cut_short_never_stops_cases_results_or_scans(cluster, tmp_path):
    hub = cluster.start_hub()
    token = add_point(cluster)
    data = tmp_path / "village"
    assert init(data, hub.url, token).returncode == 0
    catalog = json.loads(SAMPLE_CATALOG.read_text(encoding="utf-8"))
    next(item for item in catalog["items"] if item["code"] == MEDICAL_INSURANCE)["promised_days"] = 3
    (tmp_path / "v2.json").write_text(json.dumps(catalog, ensure_ascii=False), encoding="utf-8")
    cluster.run(command("pointkit-hub"), "catalog", "import", str(tmp_path / "v2.json"), "--data", str(hub.data))

    first17 = "45102719800101234"
    prepared = prepare_scans(data, [ScanInput("hukou.pdf", os.urandom(50_000), "hukou")])
    with db.session_scope(data) as session:
        receive_case(session, "staff", MEDICAL_INSURANCE, Applicant("韦秀兰", first17 + check_character(first17), ""),
                     {"insured_category": "普通居民"}, ["id_card", "hukou"], identity=load_identity(data),
                     scans=prepared)

    class CatalogCut(httpx.HTTPTransport):
        """The link drops every catalog download in the middle (a seam we own: the client's transport)."""

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/catalog"):
                raise httpx.ReadError("cut in the middle of the catalog", request=request)
            return super().handle_request(request)

    report = sync_once(data, transport=CatalogCut(), send_scans=True, attempts=1)
    assert (report.pushed, report.accepted, report.scans_sent) == (1, 1, 1), report
    assert set(report.stuck) == {"catalog"} and report.done == ["push", "pull", "relay", "scans"], report
    after = state(data)
    assert after.online and after.catalog_version == 1

    with db.session_scope(data) as session:
        create_staff(session, "clerk", "window-pass-1")
    client = create_app(data, test_config={"TESTING": True}).test_client()
    token_value = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"username": "clerk", "password": "window-pass-1", "csrf_token": token_value})
    page = client.get("/sync").get_data(as_text=True)
    catalog_row = page[page.index('id="step-catalog"'):].split("</tr>")[0]
    assert "下载新版事项目录和节假日安排" in catalog_row and "未完成：与县中心的连接中断" in catalog_row, catalog_row
    scans_row = page[page.index('id="step-scans"'):].split("</tr>")[0]
    assert "上传材料扫描件" in scans_row and "正常" in scans_row, scans_row

    # The next round with a working link brings the new version.
    report = sync_once(data)
    assert report.stuck == {} and state(data).catalog_version == 2
    page = client.get("/sync").get_data(as_text=True)
    assert "未完成" not in page


def test_init_does_not_report_success_without_a_catalog(cluster, tmp_path):
    hub_data = tmp_path / "bare-hub"
    cluster.run(command("pointkit-hub"), "init", "--data", str(hub_data), "--admin-user", "admin",
                "--admin-password", "hub-admin-pass")
    token = cluster.setup(command("pointkit-hub"), "points", "add", VILLAGE, "--level", "village", "--data",
                          str(hub_data)).strip().splitlines()[-1]
    process, url = cluster._spawn("bare hub", hub_data, [command("pointkit-hub"), "serve", "--data", str(hub_data)])
    done = init(tmp_path / "village", url, token)
    assert done.returncode == 1, done.stdout
    assert "no service catalog yet; ask the county admin to import one" in done.stderr
    assert f"pointkit sync --data {tmp_path / 'village'}" in done.stderr
    assert "staff account:    staff" in done.stdout, "the point is enrolled with its staff account all the same"
