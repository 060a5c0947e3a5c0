"""What the hub's pages say: timelines, catalog, supervision CSV, audit log and result printout in Chinese,
county time on pages, UTC and English in the API."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import unquote

import pytest
from sqlmodel import select

from sync.clock import utcnow
from sync.envelope import Kind
from sync.kit.workdays import COUNTY_TIMEZONE
from tests.hub.hubkit import CERTIFIED, SAMPLE_CATALOG, push

from hub.catalog.versions import import_catalog, load_catalog_file
from hub.core.clock import as_utc
from hub.core.models import Case, CaseEvent, CatalogVersion, Point

# Words a Chinese page may show in Latin letters: units and codes.
ALLOWED_LATIN = {"KB"}


def visible(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]*>", " ", html)).strip()


def timeline_notes(html: str) -> list[str]:
    """The 说明 column of a case page's timeline."""
    body = html.split('<tbody id="timeline">')[1].split("</tbody>")[0]
    return [visible(re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)[3]) for row in re.findall(r"<tr>(.*?)</tr>", body, re.DOTALL)]


def latin_words(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z]{2,}", text)) - ALLOWED_LATIN


def walk_a_case(hub) -> tuple[str, str]:
    """A case received, asked for a 补正, supplemented, approved with a certificate, collected and rated."""
    point = hub.enroll_point()
    case_id = push(point, CERTIFIED)
    yb = hub.api("yb-li")
    asked = yb.post(f"/api/cases/{case_id}/supplement", json={"materials": ["hukou"], "note": "户口簿复印件不清晰"})
    assert asked.status_code == 200, asked.text
    supplement = {"case_id": case_id, "materials": ["hukou"], "note": "已补交", "supplemented_at": utcnow().isoformat(),
                  "staff": "staff"}
    [answer] = point.client.push([point.seal(Kind.SUPPLEMENT, supplement)])
    assert answer.status == "accepted", answer
    decided = yb.post(f"/api/cases/{case_id}/decision", json={
        "decision": "approved", "certificate_no": "4510270001", "result_fields": {"valid_until": "2027-06-30"}})
    assert decided.status_code == 200, decided.text
    collected = {"case_id": case_id, "collected_at": utcnow().isoformat(), "staff": "staff"}
    rate = {"case_id": case_id, "score": 2, "comment": "等了很久", "rated_at": utcnow().isoformat()}
    results = point.client.push([point.seal(Kind.COLLECTED, collected), point.seal(Kind.RATE, rate)])
    assert [result.status for result in results] == ["accepted", "accepted"], results
    return case_id, point.name


def test_the_timeline_reads_in_chinese_and_the_api_keeps_its_english_notes(loop_hub):
    hub = loop_hub
    case_id, _point = walk_a_case(hub)
    page = hub.browser("yb-li").get(f"/cases/{case_id}").text
    notes = timeline_notes(page)
    joined = " | ".join(notes)
    assert not latin_words(joined), joined
    for expected in ("单部门办理：县医疗保障局；承诺", "县医疗保障局要求补正：户口簿", "办理时限暂停计算",
                     "补齐材料", "已出具结果（准予），证照编号4510270001", "评价2分（满分5分），已启动回访",
                     "申请人已在服务点领取结果"):
        assert expected in joined, (expected, joined)
    # Departments by name in the supplement and task tables too.
    assert "<td>县医疗保障局</td>" in page and "<td>YB</td>" not in page
    # The actor of the hub's own lines is named in Chinese, not by its login.
    body = visible(page.split('<tbody id="timeline">')[1].split("</tbody>")[0])
    assert "县级政务服务中心" in body and " hub " not in f" {body} "

    english = timeline_notes(hub.browser("yb-li").get(f"/cases/{case_id}?lang=en").text)
    assert any(note.startswith("Single department: ") for note in english), english

    events = hub.api("yb-li").get(f"/api/cases/{case_id}").json()["events"]
    notes_api = " | ".join(event["note"] for event in events)
    assert "single route; open for YB; due " in notes_api and "materials supplemented; " in notes_api
    assert "approved; certificate 4510270001" in notes_api, "the API and the CLI keep the English lines"


def test_a_same_day_item_says_jiban_on_the_catalog_guide_and_case(hub):
    catalog = load_catalog_file(SAMPLE_CATALOG)
    base = next(item for item in catalog.items if item.code == "451030-YB-001")
    same_day = base.model_copy(update={"code": "451030-TEST-SAMEDAY", "departments": ["YB"], "route": "single",
                                       "promised_days": 0, "legal_days": 0, "result_fields": []})
    catalog.items.append(same_day)
    with hub.db() as session:
        version = import_catalog(session, catalog, identity=hub.identity).version
    point = hub.enroll_point()
    case_id = point.push_case("451030-TEST-SAMEDAY", catalog_version=version, received_at=utcnow().isoformat(),
                              clock_offset_ms=0)
    staff = hub.browser("yb-li")
    row = staff.get(f"/catalog/{version}").text.split("451030-TEST-SAMEDAY</a>")[1].split("</tr>")[0]
    assert "即办 / 即办" in visible(row)
    guide = staff.get(f"/catalog/{version}/items/451030-TEST-SAMEDAY").text
    assert "即办" in visible(guide.split('id="promised-limit"')[1][:80]) and "0个工作日" not in guide
    page = staff.get(f"/cases/{case_id}").text
    assert "单部门办理：县医疗保障局；即办" in " | ".join(timeline_notes(page))
    assert "即办" in visible(page.split('id="time-state"')[1].split("</dd>")[0])


@pytest.mark.sqlite_only  # a count from a signed document: no query a database could answer differently
def test_the_catalog_pages_count_items_and_show_the_count_in_chinese(hub):
    staff = hub.browser("yb-li")
    versions = staff.get("/catalog").text
    assert "built-in method" not in versions and "&lt;built-in" not in versions
    with hub.db() as session:
        items = len(session.get(CatalogVersion, 1).signed["document"]["items"])
    row = versions.split('href="/catalog/1"')[1].split("</tr>")[0]
    assert f"<td>{items}</td>" in row
    assert f"共{items}项" in staff.get("/catalog/1").text


def test_the_supervision_csv_opens_in_excel_and_wps_in_chinese_on_county_time(loop_hub):
    hub = loop_hub
    _case_id, point_name = walk_a_case(hub)
    response = hub.browser("op").get("/supervision.csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment; ") and 'filename="supervision-' in disposition
    assert unquote(disposition.split("filename*=UTF-8''")[1]).startswith("电子监察-")
    raw = response.content
    assert raw.startswith(b"\xef\xbb\xbf"), "a byte order mark, so Excel reads UTF-8"
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b""), "CRLF line ends only"
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["部门"] and rows[1][:3] == ["部门编码", "部门", "已决定"]
    assert "预警（黄牌）" in rows[1] and "超期（红牌）" in rows[1]
    yb = next(row for row in rows if row[:1] == ["YB"])
    assert yb[1] == "县医疗保障局" and yb[4] == "100%"
    points_at = rows.index(["基层窗口"])
    assert rows[points_at + 1][:2] == ["受理窗口", "层级"] and "最近同步" in rows[points_at + 1]
    [row] = [row for row in rows[points_at + 2:] if row[:1] == [point_name]]
    assert row[1] == "村便民服务站"
    last_sync = row[rows[points_at + 1].index("最近同步")]
    with hub.db() as session:
        contact = as_utc(session.exec(select(Point).where(Point.name == point_name)).one().last_contact)
    assert last_sync == contact.astimezone(COUNTY_TIMEZONE).strftime("%Y-%m-%d %H:%M"), "county time, not UTC"
    assert not latin_words(" ".join(rows[1] + rows[points_at + 1]))

    api_csv = hub.api("op").get("/api/supervision.csv").text
    assert api_csv.startswith("\ufeffcode,name,decided"), "the API's CSV keeps its English columns"


def test_the_audit_page_searches_by_case_actor_and_date_and_shows_the_check(loop_hub):
    hub = loop_hub
    case_id, _point_name = walk_a_case(hub)
    other = push(hub.enroll_point("八达镇维新村便民服务站"), CERTIFIED)
    assert hub.browser("yb-li").get("/audit").status_code == 403, "admins only"
    assert 'id="nav-audit"' not in hub.browser("yb-li").get("/queue").text
    admin = hub.browser("admin")
    assert 'id="nav-audit"' in admin.get("/queue").text

    with hub.db() as session:
        receipt_no, other_receipt = session.get(Case, case_id).receipt_no, session.get(Case, other).receipt_no
    page = admin.get("/audit", params={"receipt": receipt_no.lower()}).text
    assert "审计链完整" in visible(page.split('id="audit-status"')[1].split("</p>")[0])
    entries = page.split('id="audit-entries"')[1].split("</table>")[0]
    assert receipt_no in entries and other_receipt not in entries
    assert "单部门办理：县医疗保障局" in visible(entries) and "已出具结果（准予）" in visible(entries)
    notes = [visible(re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)[5])
             for row in re.findall(r"<tr[^>]*>(.*?)</tr>", entries.split("<tbody>")[1], re.DOTALL)]
    assert not latin_words(" | ".join(notes)), notes

    by_actor = admin.get("/audit", params={"actor": "yb-li"}).text.split('id="audit-entries"')[1]
    assert receipt_no in by_actor and other_receipt not in by_actor, "yb-li touched only the first case"

    today = utcnow().astimezone(COUNTY_TIMEZONE).date()
    none = admin.get("/audit", params={"to": "2020-01-01"}).text
    assert "没有符合条件的记录" in none
    assert receipt_no in admin.get("/audit", params={"from": today.isoformat(), "to": today.isoformat()}).text

    # More entries than a page holds (50): the next page holds the older ones.
    busy = hub.enroll_point("八达镇木呈村便民服务站")
    for _ in range(15):
        push(busy, CERTIFIED)
    first = admin.get("/audit").text
    assert 'id="audit-pages"' in first and 'rel="next"' in first
    second = admin.get("/audit", params={"page": 2}).text
    assert "第2页" in second and 'rel="prev"' in second

    # A timeline line edited in the database: the page says the chain does not hold and marks the entry.
    with hub.db() as session:
        line = session.exec(select(CaseEvent).where(CaseEvent.case_id == case_id,
                                                    CaseEvent.action == "approved")).one()
        line.note = "edited"
        session.add(line)
        session.commit()
    broken = admin.get("/audit", params={"receipt": receipt_no}).text
    status = visible(broken.split('id="audit-status"')[1].split("</div>")[0])
    assert "审计链核验未通过" in status and "edited" not in status


def test_the_signed_result_printout_names_the_applicant(loop_hub):
    hub = loop_hub
    case_id, _point = walk_a_case(hub)
    printed = hub.browser("yb-li").get(f"/cases/{case_id}/result").text
    with hub.db() as session:
        id_number = session.get(Case, case_id).applicant["id_number"]
    applicant = visible(printed.split('id="result-applicant">')[1].split("</td>")[0])
    assert applicant.startswith("韦秀兰") and id_number[-4:] in applicant and id_number not in printed
    assert "<title>办理结果" in printed
