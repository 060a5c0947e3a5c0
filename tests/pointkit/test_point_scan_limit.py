"""Issue 27, case 4: files beyond the per-case scan limit are refused with the limit named, never silently dropped.

A case taken with 70 scans used to answer 201 while its SUBMIT carried 64. Each way a clerk attaches files (the
intake API, the intake page, 补正 over the API and on the case page) now refuses more than MAX_SCANS_PER_CASE,
writes no case and leaves no sealed file behind. In-process test clients: no socket is needed.
"""

from __future__ import annotations

import io
import json
import re

import pytest
from tests.pointkit.hubside import GOOD_CASE, GOOD_ID, rows

from pointkit.models import Case, ScanFile
from pointkit.scans import MAX_SCANS_PER_CASE, scans_dir
from sync.clock import utcnow
from sync.envelope import Kind

TOO_MANY = MAX_SCANS_PER_CASE + 6  # the 70 of the report


def pdfs(count: int) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("scans", (f"page-{n}.pdf", b"%PDF-1.4 page " + str(n).encode(), "application/pdf")) for n in range(count)]


def sealed_files(point) -> set[str]:
    folder = scans_dir(point.data_dir)
    return {path.name for path in folder.glob("*")} if folder.exists() else set()


@pytest.fixture
def api(app):
    client = app.test_client()
    token = client.post("/api/login", json={"username": "staff", "password": "window-pass-1"}).get_json()["token"]
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


@pytest.fixture
def pages(app):
    client = app.test_client()
    client.post("/login", data={"username": "boss", "password": "window-pass-2", "csrf_token": csrf(client, "/login")})
    return client


def csrf(client, path: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def multipart(files: list) -> dict:
    """Werkzeug's test client takes repeated fields as lists of (stream, name)."""
    out: dict[str, list] = {}
    for field, (name, data, _type) in files:
        out.setdefault(field, []).append((io.BytesIO(data), name))
    return out


def test_the_api_refuses_a_case_with_more_scans_than_the_limit_and_names_it(point, api):
    answer = api.post("/api/cases", content_type="multipart/form-data",
                      data={"case": json.dumps(GOOD_CASE), **multipart(pdfs(TOO_MANY))})
    body = answer.get_json()
    assert (answer.status_code, body["reason"], body["limit"]) == (422, "too_many_scans", MAX_SCANS_PER_CASE)
    assert str(MAX_SCANS_PER_CASE) in body["error"] and "scans" in body["fields"]
    assert rows(point.data_dir, Case) == [] and point.outbox() == [] and sealed_files(point) == set()

    exactly = api.post("/api/cases", content_type="multipart/form-data",
                       data={"case": json.dumps(GOOD_CASE), **multipart(pdfs(MAX_SCANS_PER_CASE))})
    assert exactly.status_code == 201, exactly.get_data(as_text=True)
    (row,) = point.outbox()
    assert len(point.open_outbox(row)["scans"]) == MAX_SCANS_PER_CASE == len(rows(point.data_dir, ScanFile))


def test_the_intake_page_refuses_too_many_scans_in_chinese_with_the_limit(point, pages):
    path = "/cases/new?item=T-001"
    page = pages.post(path, content_type="multipart/form-data", data={
        "csrf_token": csrf(pages, path), "item_code": "T-001", "applicant_name": "王小明",
        "applicant_id_number": GOOD_ID, "field_category": "普通居民", "field_household_size": "4",
        "materials": ["id_card", "hukou"], **multipart(pdfs(TOO_MANY))})
    text = page.get_data(as_text=True)
    assert page.status_code in (200, 422), text[:300]
    error = re.search(r'id="error-scans"[^>]*>([^<]+)<', text)
    assert error is not None, "the files' field shows why"
    assert f"最多附{MAX_SCANS_PER_CASE}个" in error.group(1).replace(" ", ""), error.group(1)
    assert rows(point.data_dir, Case) == [] and sealed_files(point) == set()


@pytest.fixture
def waiting_case(point, api) -> str:
    """A received case for which the department asked for the household register again."""
    case_id = api.post("/api/cases", json=GOOD_CASE).get_json()["case_id"]
    point.apply(point.seal(Kind.SUPPLEMENT_REQUEST, {
        "case_id": case_id, "department": "MZ", "materials": ["hukou"], "note": "户口簿复印件不清晰",
        "requested_at": utcnow().isoformat()}))
    return case_id


def test_a_supplement_with_too_many_scans_is_refused_on_the_api_and_the_page(point, api, pages, waiting_case):
    refused = api.post(f"/api/cases/{waiting_case}/supplement", content_type="multipart/form-data",
                       data={"scan_materials": ["hukou"] * TOO_MANY, **multipart(pdfs(TOO_MANY))})
    body = refused.get_json()
    assert (refused.status_code, body["reason"], body["limit"]) == (422, "too_many_scans", MAX_SCANS_PER_CASE)

    files = [(io.BytesIO(b"%PDF-1.4 page " + str(n).encode()), f"p{n}.pdf") for n in range(TOO_MANY)]
    page = pages.post(f"/cases/{waiting_case}/supplement", content_type="multipart/form-data",
                      data={"csrf_token": csrf(pages, f"/cases/{waiting_case}"), "scans_hukou": files},
                      follow_redirects=True)
    text = page.get_data(as_text=True)
    assert f"最多附{MAX_SCANS_PER_CASE}个" in text.replace(" ", ""), "the clerk reads the limit"
    assert [row.kind for row in point.outbox()] == [Kind.SUBMIT], "no SUPPLEMENT left"
    assert rows(point.data_dir, ScanFile) == [] and sealed_files(point) == set()
