"""The holiday calendar at the hub: a year imported, checked, signed and versioned; the catalog page lists the
years; from 1 November the hub warns while next year's schedule is missing."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.hub.hubkit import CERTIFIED, push

from hub.catalog.calendar import county_calendar, held_years, import_year, missing_next_year, year_documents
from hub.trust.keys import load_identity
from hub.approval.recount import recount_open_cases
from sync.envelope import Kind
from sync.signing import sign_document, verify_document
from sync.kit.workdays import CalendarError

MADE_UP = {"year": 2032, "source": "pointkit test schedule (made up)", "holidays": [
    {"name_zh": "测试假期", "name_en": "Test holiday", "rest": ["2032-05-03", "2032-05-07"], "workdays": ["2032-05-08"]}]}


def test_a_year_is_checked_signed_versioned_and_counted(hub):
    identity = load_identity(hub.data_dir)
    with hub.db() as session:
        for broken, why in ((dict(MADE_UP, year=2033), 'must be 2032'),
                            ({**MADE_UP, "holidays": [{"name_zh": "错", "rest": ["2032-05-07", "2032-05-03"]}]},
                             "run forward"),
                            ({**MADE_UP, "holidays": [{"name_zh": "错", "rest": ["2023-05-03", "2023-05-04"]}]},
                             "is not in 2032"),
                            ({**MADE_UP, "holidays": [*MADE_UP["holidays"], MADE_UP["holidays"][0]]},
                             "already a day off"),
                            ({**MADE_UP, "note": "x"}, "unknown field")):
            with pytest.raises(CalendarError, match=why):
                import_year(session, broken, identity=identity, actor="admin", where="2032.json", year=2032)
        assert held_years(session) == []
        first = import_year(session, MADE_UP, identity=identity, actor="admin", year=2032)
        again = import_year(session, MADE_UP, identity=identity, actor="admin", year=2032)
        fixed = import_year(session, {**MADE_UP, "source": "corrected"}, identity=identity, actor="admin", year=2032)
        assert (first.version, first.changed, again.changed, fixed.version) == (1, True, False, 2)
        (row,) = held_years(session)
        assert row.version == 2 and row.imported_by == "admin"
        verify_document(row.signed, identity.sign_key.public_key())
        assert year_documents(session, {2032: 2}) == [] and len(year_documents(session, {2032: 1})) == 1
        calendar = county_calendar(session)
    # Friday 2032-04-30 + 1 working day: Monday 5/3 to Friday 5/7 are off, Saturday 5/8 is a make-up day.
    assert calendar.add_working_days(date(2032, 4, 30), 1) == date(2032, 5, 8)


def test_a_hub_counts_on_its_own_year_even_where_another_in_the_process_holds_the_same_version(hub):
    """The built calendars are shared by the process: one hub's 2032 version 1 must not stand in for another's."""
    identity = load_identity(hub.data_dir)
    with hub.db() as session:
        import_year(session, MADE_UP, identity=identity, actor="admin", year=2032)
        assert county_calendar(session).add_working_days(date(2032, 4, 30), 1) == date(2032, 5, 8)
    # Another hub's database: its version 1 of 2032 moves the holiday a week on (signed by its own key).
    other = {**MADE_UP, "holidays": [{"name_zh": "测试假期", "name_en": "Test holiday",
                                      "rest": ["2032-05-10", "2032-05-14"], "workdays": []}]}
    with hub.db() as session:
        (row,) = held_years(session)
        row.signed = sign_document({**row.signed["document"], "holidays": other["holidays"]},
                                   Ed25519PrivateKey.generate())
        session.add(row)
    with hub.db() as session:
        assert county_calendar(session).add_working_days(date(2032, 4, 30), 1) == date(2032, 5, 3)


def test_from_the_first_of_november_the_hub_warns_while_next_year_is_missing(hub):
    with hub.db() as session:
        assert missing_next_year(session, date(2031, 10, 31)) is None
        assert missing_next_year(session, date(2031, 11, 1)) == 2032
        import_year(session, MADE_UP, identity=load_identity(hub.data_dir), actor="admin", year=2032)
        assert missing_next_year(session, date(2031, 12, 20)) is None


def test_the_catalog_page_lists_the_years(hub):
    with hub.db() as session:
        import_year(session, MADE_UP, identity=load_identity(hub.data_dir), actor="admin", year=2032)
        session.commit()
    page = hub.browser("admin").get("/catalog").text
    table = page[page.index('id="calendar-years"'):]
    assert "2032" in table and "pointkit test schedule" in table and "随本版本发布" in table


def test_a_new_schedule_moves_running_cases_and_open_supplements_but_never_a_decided_case(loop_hub):
    hub = loop_hub
    point = hub.enroll_point()
    waiting, decided = push(point, CERTIFIED), push(point, CERTIFIED)
    yb = hub.api("yb-li")
    asked = yb.post(f"/api/cases/{waiting}/supplement", json={"materials": ["hukou"], "note": "户口簿复印件不清晰"})
    assert asked.status_code == 200, asked.text
    return_by = date.fromisoformat(asked.json()["supplements"][0]["return_by"])
    assert yb.post(f"/api/cases/{decided}/decision", json={
        "decision": "approved", "result_fields": {"valid_until": "2031-12-31"}}).status_code == 200
    before = {case_id: yb.get(f"/api/cases/{case_id}").json()["due_date"] for case_id in (waiting, decided)}

    # The schedule of the return date's year makes that day a holiday.
    schedule = {"year": return_by.year, "source": "pointkit test schedule (made up)", "holidays": [
        *default_calendar_entries(return_by.year, skip=return_by),
        {"name_zh": "测试假期", "rest": [return_by.isoformat()] * 2, "workdays": []}]}
    identity = load_identity(hub.data_dir)
    with hub.db() as session:
        import_year(session, schedule, identity=identity, actor="admin", year=return_by.year)
        recounted = recount_open_cases(session, [return_by.year])
        session.commit()
    assert recounted.moved >= 1
    after = yb.get(f"/api/cases/{waiting}").json()
    assert date.fromisoformat(after["supplements"][0]["return_by"]) > return_by
    assert yb.get(f"/api/cases/{decided}").json()["due_date"] == before[decided], "a decided case never changes"
    messages, _ = point.pull_all()
    [status] = [body for envelope, body in messages if envelope.header.kind == Kind.STATUS
                and body["case_id"] == waiting and body["status"] == "dates_recounted"]
    assert status["dates_reason"] == f"calendar:{return_by.year}"
    assert status["return_by"] == after["supplements"][0]["return_by"]


def default_calendar_entries(year: int, *, skip: date) -> list[dict]:
    """The shipped holidays of ``year`` (none when the release has no file for it), ``skip`` no longer worked."""
    shipped = Path(__file__).resolve().parents[2] / "sync" / "kit" / "holidays" / f"{year}.json"
    holidays = json.loads(shipped.read_text(encoding="utf-8"))["holidays"] if shipped.exists() else []
    for holiday in holidays:
        holiday["workdays"] = [day for day in holiday.get("workdays", []) if day != skip.isoformat()]
    return holidays
