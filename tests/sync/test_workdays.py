"""The working-day calendar: the 2026 schedule as published, make-up days, year ends, missing years, bad files."""

from __future__ import annotations

import json
from datetime import date

import pytest

from sync.kit.workdays import Calendar, CalendarError

CALENDAR = Calendar.load()


def test_the_2026_file_holds_the_published_schedule():
    # 33 rest days from the notice: 3 + 9 + 3 + 5 + 3 + 3 + 7 (国务院办公厅, 2025-11-04).
    assert len([day for day in CALENDAR.holidays if day.year == 2026]) == 33
    assert CALENDAR.makeup_days == {date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9),
                                    date(2026, 9, 20), date(2026, 10, 10)}
    assert 2026 in CALENDAR.years and "2026" in CALENDAR.sources[2026]


def test_a_makeup_saturday_counts_and_a_holiday_does_not():
    assert date(2026, 2, 14).weekday() == 5 and CALENDAR.is_working_day(date(2026, 2, 14))
    assert date(2026, 10, 5).weekday() == 0 and not CALENDAR.is_working_day(date(2026, 10, 5))
    # Friday 2026-02-13, 1 working day: Saturday 2/14 is a make-up workday.
    assert CALENDAR.add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 14)
    # Saturday 2/14, 1 working day: 2/15-2/23 are off, so Tuesday 2/24.
    assert CALENDAR.add_working_days(date(2026, 2, 14), 1) == date(2026, 2, 24)
    # Wednesday 9/30, 3 working days: 10/1-10/7 off, then Thu 10/8, Fri 10/9, make-up Sat 10/10.
    assert CALENDAR.add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)


def test_the_intake_day_itself_does_not_count():
    assert CALENDAR.add_working_days(date(2026, 3, 2), 0) == date(2026, 3, 2)
    assert CALENDAR.add_working_days(date(2026, 3, 2), 1) == date(2026, 3, 3)
    assert CALENDAR.working_days_between(date(2026, 3, 2), date(2026, 3, 2)) == 0
    assert CALENDAR.working_days_between(date(2026, 3, 2), date(2026, 3, 3)) == 1


@pytest.mark.parametrize("start, days", [(date(2026, 9, 18), 20), (date(2026, 2, 10), 7), (date(2026, 12, 28), 5)])
def test_working_days_between_inverts_add_working_days(start, days):
    assert CALENDAR.working_days_between(start, CALENDAR.add_working_days(start, days)) == days


def test_a_limit_crossing_the_year_end_counts_the_next_years_schedule(tmp_path):
    # Thursday 2026-12-31 + 1 working day: Friday 2027-01-01 is a working day while 2027 has no file.
    assert CALENDAR.add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 1)
    assert CALENDAR.missing_years(date(2026, 12, 31), date(2027, 1, 1)) == [2027]
    assert CALENDAR.missing_years(date(2026, 1, 1), date(2026, 12, 31)) == []
    (tmp_path / "2027.json").write_text(json.dumps({"year": 2027, "source": "test", "holidays": [
        {"name_zh": "元旦", "rest": ["2027-01-01", "2027-01-03"], "workdays": []}]}), encoding="utf-8")
    with_2027 = Calendar.load(tmp_path)
    # 1/1 is a holiday, 1/2-1/3 the weekend: Monday 1/4.
    assert with_2027.add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 4)
    assert with_2027.missing_years(date(2026, 12, 31), date(2027, 1, 4)) == []


def test_the_environment_directory_adds_years(tmp_path, monkeypatch):
    (tmp_path / "2030.json").write_text('{"year": 2030, "holidays": []}', encoding="utf-8")
    monkeypatch.setenv("POINTKIT_CALENDAR_DIR", str(tmp_path))
    assert 2030 in Calendar.load().years


@pytest.mark.parametrize("name, content, complaint", [
    ("2027.json", '{"year": 2028, "holidays": []}', '"year" must be 2027'),
    ("2027.json", "{not json", "not readable JSON"),
    ("2027.json", '{"year": 2027, "holidays": [{"name_zh": "春节", "rest": ["2027-02-10"]}]}', "holiday 1 (春节)"),
    ("2027.json", '{"year": 2027, "holidays": [{"rest": ["2027-02-10", "2027-02-01"]}]}', "run forward"),
    ("2027.json", '{"year": 2027, "holidays": [{"rest": ["2027-02-10", "2027-02-12"], "workdays": ["2027-02-17"]}]}',
     "Saturday or Sunday, not 2027-02-17"),
])
def test_a_bad_file_names_itself_and_what_to_fix(tmp_path, name, content, complaint):
    (tmp_path / name).write_text(content, encoding="utf-8")
    with pytest.raises(CalendarError) as refused:
        Calendar.load(tmp_path)
    assert name in str(refused.value) and complaint in str(refused.value)
