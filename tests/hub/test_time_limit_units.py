"""Time limits as the law counts them: natural days vs working days, pauses of 补正 and special procedures
(行政许可法 第四十五条) on both units, the procedure API's refusals, and renewals deemed granted at expiry (第五十条).

Dates are checked against the county calendar of 2026 (国庆 1–7 October with make-up workdays on 20 September and
10 October, 春节 15–23 February); time moves through the clock seam (the ``clock`` fixture); nothing sleeps.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlmodel import select

from hub.approval.supervision import supervise
from hub.approval.timelimits import due_dates, limit_end, pause, renewed_validity, resume, time_state
from hub.catalog.versions import import_catalog, load_catalog_file
from hub.core.models import Case, OutMessage, SpecialProcedure
from hub.core.outbox import status_payload
from tests.hub.hubkit import CERTIFIED, HOMESTEAD, SAMPLE_CATALOG, csrf_from, push
from tests.hub.test_page_words import latin_words, timeline_notes, visible
from tests.support.pagecheck import report, text_problems
from sync.catalog import FormField, Renewal
from sync.clock import utcnow
from sync.envelope import Kind
from sync.messages import payload_for_protocol
from sync.kit.workdays import county_date, default_calendar

NATURAL_LIMITS = "451030-TEST-NATDAYS"
RENEWAL = "451030-TEST-RENEW"
SITE_CHECKED = "451030-TEST-SITE"
CALENDAR = default_calendar()


def _item(code: str):
    return next(item for item in load_catalog_file(SAMPLE_CATALOG).items if item.code == code)


def _case(received: date) -> Case:
    # Received at noon county time on ``received`` by a point whose clock agrees with the hub's.
    at = datetime(received.year, received.month, received.day, 4, tzinfo=timezone.utc)
    return Case(id=str(uuid.uuid4()), point_id=uuid.uuid4(), receipt_no="T-1", item_code="x", received_at=at,
                hub_received_at=at, clock_offset_ms=0, status="in_review")


@pytest.mark.sqlite_only  # counts dates in memory: no database involved
def test_natural_and_working_day_limits_across_national_day_and_spring_festival():
    id_card = _item("451030-GA-032")
    assert (id_card.legal_days, id_card.legal_unit, id_card.promised_days, id_card.promised_unit) == (
        60, "natural_days", 15, "working_days")
    # 60 natural days from 1 September end on Saturday 31 October: the next working day, Monday 2 November.
    # 15 working days count the make-up Sunday 20 September.
    assert due_dates(date(2026, 9, 1), id_card, calendar=CALENDAR) == (date(2026, 9, 21), date(2026, 11, 2))
    # A natural period ending inside 国庆 ends on 8 October; ten working days skip the week and count 10 October.
    assert limit_end(date(2026, 9, 3), 30, "natural_days", calendar=CALENDAR) == date(2026, 10, 8)
    assert limit_end(date(2026, 9, 28), 10, "natural_days", calendar=CALENDAR) == date(2026, 10, 8)
    assert limit_end(date(2026, 9, 28), 10, "working_days", calendar=CALENDAR) == date(2026, 10, 16)
    # 春节: seven natural days from 10 February end on the 17th, a rest day, so on Tuesday 24 February; three end
    # on Friday the 13th; five working days count the make-up Saturday the 14th.
    assert limit_end(date(2026, 2, 10), 7, "natural_days", calendar=CALENDAR) == date(2026, 2, 24)
    assert limit_end(date(2026, 2, 10), 3, "natural_days", calendar=CALENDAR) == date(2026, 2, 13)
    assert limit_end(date(2026, 2, 10), 5, "working_days", calendar=CALENDAR) == date(2026, 2, 24)


@pytest.mark.sqlite_only  # counts dates in memory: no database involved
def test_a_pause_moves_each_limit_in_its_own_unit_and_elapsed_days_count_in_it():
    id_card = _item("451030-GA-032")
    case = _case(date(2026, 9, 1))
    case.due_date, case.legal_due_date = due_dates(date(2026, 9, 1), id_card, calendar=CALENDAR)
    pause(case, datetime(2026, 9, 28, 2, tzinfo=timezone.utc))
    # 27 days ran from 1 to 28 September; the week since stands still.
    paused = time_state(case, 60, date(2026, 10, 5), calendar=CALENDAR, unit="natural_days")
    assert (paused.state, paused.elapsed_days) == ("paused", 27)
    # Stood still from 28 September to 9 October: 11 natural days, of which 4 working (29, 30 Sept, 8, 9 Oct).
    stood = resume(case, datetime(2026, 10, 9, 2, tzinfo=timezone.utc), calendar=CALENDAR, item=id_card)
    assert (stood, case.paused_days, case.paused_natural_days) == (4, 4, 11)
    # The legal limit (natural) moves 11 days: 1 September + 71 = 11 November; the promised one (working) 4
    # working days past 21 September, over 中秋 (25–27 September): 28 September.
    assert (case.due_date, case.legal_due_date) == (date(2026, 9, 28), date(2026, 11, 11))
    case.due_date = case.legal_due_date
    legal = time_state(case, 60, date(2026, 10, 20), calendar=CALENDAR, unit="natural_days")
    # 49 days from 1 September to 20 October, 11 of them paused.
    assert (legal.state, legal.elapsed_days, legal.unit) == ("normal", 38, "natural_days")


@pytest.mark.sqlite_only  # counts dates in memory: no database involved
def test_a_renewed_licence_runs_its_years_from_the_old_expiry():
    assert renewed_validity(date(2027, 3, 31), 3) == date(2030, 3, 31)
    assert renewed_validity(date(2028, 2, 29), 5) == date(2033, 2, 28)


@pytest.fixture
def unit_hub(loop_hub):
    """The loop hub plus a YB item whose limits count natural days, one whose rule excludes 现场核查 and a renewal
    deemed granted at expiry."""
    hub = loop_hub
    catalog = load_catalog_file(SAMPLE_CATALOG)
    base = next(item for item in catalog.items if item.code == "451030-YB-001").model_copy(
        update={"departments": ["YB"], "route": "single", "deemed_approval": False, "result_fields": []})
    expiry = FormField(name="current_expiry", label_zh="原证有效期至", label_en="Current expiry", type="date",
                       required=True)
    valid_until = FormField(name="valid_until", label_zh="有效期至", label_en="Valid until", type="date", required=True)
    catalog.items += [
        base.model_copy(update={"code": NATURAL_LIMITS, "promised_days": 20, "legal_days": 60,
                                "promised_unit": "natural_days", "legal_unit": "natural_days"}),
        base.model_copy(update={"code": SITE_CHECKED, "site_check_excluded": True}),
        base.model_copy(update={"code": RENEWAL, "deemed_approval": True, "promised_days": 5, "legal_days": 10,
                                "fields": [*base.fields, expiry], "result_fields": [valid_until],
                                "renewal": Renewal(expiry_field="current_expiry", validity_field="valid_until",
                                                   years=3)}),
    ]
    with hub.db() as session:
        import_catalog(session, catalog, identity=hub.identity)
    return hub


def _statuses(point, after: int = 0) -> tuple[list[dict], int]:
    messages, cursor = point.pull_all(after)
    return [payload for envelope, payload in messages if envelope.header.kind == Kind.STATUS], cursor


def test_an_expert_review_stops_the_clock_and_moves_natural_day_limits_by_natural_days(unit_hub, clock):
    hub = unit_hub
    point = hub.enroll_point()
    case_id = push(point, NATURAL_LIMITS)
    yb = hub.api("yb-li")
    before = yb.get(f"/api/cases/{case_id}").json()
    received_on = county_date(utcnow())
    assert (before["promised_unit"], before["legal_unit"], before["time"]["unit"]) == ("natural_days",) * 3
    assert before["due_date"] == limit_end(received_on, 20, "natural_days", calendar=CALENDAR).isoformat()
    assert before["legal_due_date"] == limit_end(received_on, 60, "natural_days", calendar=CALENDAR).isoformat()

    expected_end = received_on + timedelta(days=10)
    started = yb.post(f"/api/cases/{case_id}/procedures",
                      json={"kind": "expert_review", "reason": "组织专家对申请材料进行技术评审",
                            "expected_end": expected_end.isoformat()})
    assert started.status_code == 201, started.text
    procedure_id = started.json()["procedure_id"]
    assert started.json()["kind"] == "expert_review" and started.json()["department"] == "YB"
    detail = yb.get(f"/api/cases/{case_id}").json()
    assert detail["time"]["state"] == "paused" and detail["status"] == "routed"
    assert [p["procedure_id"] for p in detail["procedures"]] == [procedure_id]
    refused = yb.post(f"/api/cases/{case_id}/decision", json={"decision": "approved"})
    assert refused.status_code == 409 and refused.json()["reason"] == "procedure_open"
    # The point hears what the case waits for, since when and until when, with the dates standing still.
    statuses, cursor = _statuses(point)
    told = statuses[-1]
    assert (told["status"], told["procedure"], told["procedure_since"], told["procedure_until"]) == (
        "procedure_started", "expert_review", received_on.isoformat(), expected_end.isoformat())
    assert told["promised_date"] == before["due_date"]

    clock(9)
    yb = hub.api("yb-li")
    assert yb.get(f"/api/cases/{case_id}").json()["time"]["state"] == "paused"
    ended = yb.post(f"/api/cases/{case_id}/procedures/{procedure_id}/end", json={"note": "专家评审意见：同意"})
    assert ended.status_code == 200, ended.text
    answer = ended.json()
    ended_on = county_date(utcnow())
    natural = (ended_on - received_on).days
    assert answer["paused_natural_days"] == natural == 9 and not answer["still_paused"]
    assert answer["paused_days"] == CALENDAR.working_days_between(received_on, ended_on)
    assert answer["due_date"] == limit_end(received_on, 20 + 9, "natural_days", calendar=CALENDAR).isoformat()
    assert answer["legal_due_date"] == limit_end(received_on, 60 + 9, "natural_days", calendar=CALENDAR).isoformat()
    assert answer["procedure"]["paused_natural_days"] == 9 and answer["procedure"]["end_note"] == "专家评审意见：同意"
    twice = yb.post(f"/api/cases/{case_id}/procedures/{procedure_id}/end", json={"note": "again"})
    assert twice.status_code == 409 and twice.json()["reason"] == "already_ended"
    after = yb.get(f"/api/cases/{case_id}").json()
    assert after["time"]["state"] != "paused" and after["paused_natural_days"] == 9
    [moved] = _statuses(point, cursor)[0]
    assert (moved["status"], moved["promised_date"], moved["paused_natural_days"]) == (
        "procedure_ended", answer["due_date"], 9)
    assert "procedure" not in moved, "no procedure runs any more"
    actions = [event["action"] for event in after["events"]]
    assert actions.count("procedure_started") == 1 and actions.count("procedure_ended") == 1


def test_pauses_of_both_kinds_on_a_working_day_limit_and_the_clock_runs_when_the_last_ends(unit_hub, clock):
    hub = unit_hub
    point = hub.enroll_point()
    case_id = push(point, CERTIFIED)
    yb = hub.api("yb-li")
    received_on = county_date(utcnow())
    before = yb.get(f"/api/cases/{case_id}").json()
    assert before["promised_unit"] == before["legal_unit"] == "working_days"
    started = yb.post(f"/api/cases/{case_id}/procedures", json={"kind": "testing", "reason": "送样检测"})
    assert started.status_code == 201, started.text
    assert yb.post(f"/api/cases/{case_id}/supplement",
                   json={"materials": ["hukou"], "note": "户口簿复印件不清晰"}).status_code == 200
    clock(4)
    supplement = {"case_id": case_id, "materials": ["hukou"], "note": "已补交", "supplemented_at": utcnow().isoformat(),
                  "staff": "staff"}
    [result] = point.client.push([point.seal(Kind.SUPPLEMENT, supplement)])
    assert result.status == "accepted", result
    yb = hub.api("yb-li")
    still = yb.get(f"/api/cases/{case_id}").json()
    assert still["time"]["state"] == "paused" and still["due_date"] == before["due_date"], "the test still runs"
    clock(3)
    yb = hub.api("yb-li")
    ended = yb.post(f"/api/cases/{case_id}/procedures/{started.json()['procedure_id']}/end",
                    json={"note": "检测合格"}).json()
    stood = CALENDAR.working_days_between(received_on, county_date(utcnow()))
    assert (ended["paused_days"], ended["paused_natural_days"]) == (stood, 7)
    assert ended["due_date"] == CALENDAR.add_working_days(received_on, 5 + stood).isoformat()
    assert ended["legal_due_date"] == CALENDAR.add_working_days(received_on, 10 + stood).isoformat()


def test_a_supplement_moves_a_natural_day_limit_by_natural_days(unit_hub, clock):
    hub = unit_hub
    point = hub.enroll_point()
    case_id = push(point, NATURAL_LIMITS)
    received_on = county_date(utcnow())
    yb = hub.api("yb-li")
    assert yb.post(f"/api/cases/{case_id}/supplement",
                   json={"materials": ["hukou"], "note": "户口簿复印件不清晰"}).status_code == 200
    clock(6)
    supplement = {"case_id": case_id, "materials": ["hukou"], "note": "已补交", "supplemented_at": utcnow().isoformat(),
                  "staff": "staff"}
    [result] = point.client.push([point.seal(Kind.SUPPLEMENT, supplement)])
    assert result.status == "accepted", result
    after = hub.api("yb-li").get(f"/api/cases/{case_id}").json()
    assert after["paused_natural_days"] == 6
    assert after["due_date"] == limit_end(received_on, 26, "natural_days", calendar=CALENDAR).isoformat()
    assert after["legal_due_date"] == limit_end(received_on, 66, "natural_days", calendar=CALENDAR).isoformat()


@pytest.mark.sqlite_only  # refusals are decided before any write; the PostgreSQL path is the tests above
def test_the_procedure_api_refuses_what_the_law_and_the_route_do_not_allow(unit_hub):
    hub = unit_hub
    point = hub.enroll_point()
    case_id = push(point, CERTIFIED)
    yb = hub.api("yb-li")
    url = f"/api/cases/{case_id}/procedures"
    unknown = yb.post(url, json={"kind": "coffee_break", "reason": "x"})
    assert unknown.status_code == 422 and unknown.json()["reason"] == "unknown_kind"
    site = yb.post(url, json={"kind": "site_check", "reason": "现场核查"})
    assert site.status_code == 422 and site.json()["reason"] == "site_check_counts"
    no_reason = yb.post(url, json={"kind": "hearing", "reason": "  "})
    assert no_reason.status_code == 422 and no_reason.json()["reason"] == "reason_required"
    assert hub.api("ny-wang").post(url, json={"kind": "hearing", "reason": "听证"}).status_code == 404
    assert hub.api("op").post(url, json={"kind": "hearing", "reason": "听证"}).status_code == 403
    with hub.db() as session:
        assert session.get(Case, case_id).paused_since is None, "nothing was started"

    site_case = push(point, SITE_CHECKED)
    allowed = yb.post(f"/api/cases/{site_case}/procedures", json={"kind": "site_check", "reason": "现场核查生产场所"})
    assert allowed.status_code == 201, allowed.text

    # A joint case: NY starts an appraisal; ZR, deciding beside it, cannot end NY's procedure.
    township = hub.enroll_point(name="八达镇政务服务中心", level="township")
    joint = township.push_case(HOMESTEAD, received_at=utcnow().isoformat(), clock_offset_ms=0,
                            form={"site_area": "120", "site_location": "三组"})
    ny, zr = hub.api("ny-wang"), hub.api("zr-zhao")
    appraisal = ny.post(f"/api/cases/{joint}/procedures", json={"kind": "appraisal", "reason": "宅基地权属鉴定"})
    assert appraisal.status_code == 201, appraisal.text
    foreign = zr.post(f"/api/cases/{joint}/procedures/{appraisal.json()['procedure_id']}/end", json={"note": "完成"})
    assert foreign.status_code == 403 and foreign.json()["reason"] == "forbidden"
    no_note = ny.post(f"/api/cases/{joint}/procedures/{appraisal.json()['procedure_id']}/end", json={"note": ""})
    assert no_note.status_code == 422 and no_note.json()["reason"] == "note_required"
    missing = ny.post(f"/api/cases/{joint}/procedures/{uuid.uuid4()}/end", json={"note": "完成"})
    assert missing.status_code == 404


def test_a_renewal_is_deemed_granted_on_the_licence_expiry_with_the_new_validity_date(unit_hub):
    hub = unit_hub
    point = hub.enroll_point()
    today = county_date(utcnow())
    expiry = today + timedelta(days=3)
    case_id = point.push_case(RENEWAL, received_at=utcnow().isoformat(), clock_offset_ms=0,
                              form={"insured_category": "普通居民", "current_expiry": expiry.isoformat()})
    detail = hub.api("yb-li").get(f"/api/cases/{case_id}").json()
    assert detail["deemed_on"] == expiry.isoformat()
    # A licence already expired at intake has nothing to renew in time: that case runs on its legal limit.
    late = point.push_case(RENEWAL, received_at=utcnow().isoformat(), clock_offset_ms=0,
                           form={"insured_category": "普通居民", "current_expiry": (today - timedelta(days=1)).isoformat()})
    assert hub.api("yb-li").get(f"/api/cases/{late}").json()["deemed_on"] is None
    noon = datetime.now(timezone.utc)
    with hub.db() as session:
        assert supervise(session, hub.identity, now=noon + timedelta(days=2)) == [], "the licence is still valid"
        session.commit()
    with hub.db() as session:
        # The legal limit (10 working days) has not passed, but the licence expires: deemed renewed that day.
        assert supervise(session, hub.identity, now=noon + timedelta(days=3)) == [case_id]
        session.commit()
    with hub.db() as session:
        case = session.get(Case, case_id)
        assert case.status == "result_issued" and case.legal_due_date > expiry
        [signed] = [row.payload for row in session.exec(select(OutMessage).where(
            OutMessage.case_id == case_id, OutMessage.kind == int(Kind.RESULT))).all()]
    document = point.verify_result(signed)
    assert document["deemed_approval"] is True and document["decision"] == "approved"
    assert document["result_fields"]["valid_until"] == renewed_validity(expiry, 3).isoformat()
    assert expiry.isoformat() in document["reason"]


@pytest.mark.sqlite_only  # the form check is the catalog's, before any write
def test_the_sample_renewals_ask_for_the_current_expiry():
    catalog = load_catalog_file(SAMPLE_CATALOG)
    for code, years in (("451030-SJ-031", 3), ("451030-WJ-019", 5)):
        item = next(entry for entry in catalog.items if entry.code == code)
        assert item.renewal is not None and item.renewal.years == years
        [field] = [spec for spec in item.fields if spec.name == item.renewal.expiry_field]
        assert field.type == "date" and field.required


def test_the_case_page_starts_and_ends_an_expert_review_in_chinese_and_supervision_lists_it(unit_hub):
    hub = unit_hub
    point = hub.enroll_point()
    case_id = push(point, NATURAL_LIMITS)
    reviewer = hub.browser("yb-li")
    page = reviewer.get(f"/cases/{case_id}").text
    assert "承诺办结时限 20日 · 法定办结时限 60日" in visible(page)
    assert '<option value="expert_review">专家评审</option>' in page and 'value="site_check"' not in page
    token = csrf_from(page)
    refused = reviewer.post(f"/cases/{case_id}/procedures", data={"csrf_token": token, "kind": "expert_review",
                                                                   "reason": " "})
    assert refused.status_code == 422 and "请填写启动该程序的理由" in refused.text
    started = reviewer.post(f"/cases/{case_id}/procedures", data={
        "csrf_token": token, "kind": "expert_review", "reason": "组织专家评审", "expected_end": ""})
    assert started.status_code == 200 and started.url.path == f"/cases/{case_id}", started.text
    page = started.text
    assert "特别程序（不计入办理时限）" in page and "进行中：办理时限暂停计算" in page
    body = page.split("<main>")[1].split("</main>")[0]
    # Logins and the test item's code are the only Latin letters (as on every case page).
    problems = text_problems(f"/cases/{case_id}", visible(body), {case_id.split("-")[0], "yb-li", "TEST-NATDAYS"})
    assert not problems, report(problems)
    notes = " | ".join(timeline_notes(page))
    assert "县医疗保障局启动专家评审（不计入办理时限）：组织专家评审" in notes and not latin_words(notes), notes

    board = hub.browser("op").get("/supervision").text
    row = visible(board.split('id="procedure-pause-')[1].split("</tr>")[0])
    assert "专家评审" in row and "县医疗保障局" in row
    assert hub.api("op").get("/api/supervision").json()["procedure_pauses"][0]["kind"] == "expert_review"

    end_url = re.search(r'action="(/cases/[^"]+/end)"', page).group(1)
    ended = reviewer.post(end_url, data={"csrf_token": csrf_from(page), "note": "专家同意"})
    assert ended.status_code == 200 and 'id="decision-error"' not in ended.text, ended.text
    page = ended.text
    assert "县医疗保障局结束专家评审：专家同意" in " | ".join(timeline_notes(page))
    assert 'id="no-procedure-pauses"' in hub.browser("op").get("/supervision").text


@pytest.mark.sqlite_only  # shapes a message in memory: no database involved
def test_procedure_fields_are_left_out_for_points_speaking_protocol_3_or_older():
    case = _case(date(2026, 9, 1))
    procedure = SpecialProcedure(case_id=case.id, department_code="YB", kind="expert_review", reason="评审",
                                 started_by="yb-li", started_at=datetime(2026, 9, 2, 2, tzinfo=timezone.utc),
                                 expected_end=date(2026, 9, 30))
    payload = status_payload(case.id, "procedure_started", "", state="in_review", promised_date=date(2026, 9, 21),
                             legal_date=date(2026, 11, 2), paused_days=3, paused_natural_days=5, procedure=procedure)
    assert (payload["procedure"], payload["procedure_since"], payload["procedure_until"]) == (
        "expert_review", "2026-09-02", "2026-09-30")
    assert payload_for_protocol(Kind.STATUS, payload, 4) == payload
    older = payload_for_protocol(Kind.STATUS, payload, 3)
    assert older["promised_date"] == "2026-09-21" and not {"procedure", "procedure_since", "procedure_until",
                                                           "paused_natural_days"} & older.keys()
    assert "promised_date" not in payload_for_protocol(Kind.STATUS, payload, 2)
