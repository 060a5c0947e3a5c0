"""The monthly report (月度报告): a month of cases over a real hub and its sync API, the report written by the CLI
as XLSX and CSV and read back, every figure compared with what this test counts from the cases it made.

Time moves through the clock seam (sync.clock.shift_clock here, POINTKIT_CLOCK_SKEW_MS for the CLI). The test
first moves to the first day of next month, so that everything it does falls in one county month whatever day it
runs on. Complaints, cards and supervision orders are rows other parts of the hub make: the test writes them.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import openpyxl
import pytest
from sqlmodel import delete, select

from hub.approval.reports import month_of, monthly_report
from hub.approval.supervision import report_csv, supervise_once
from hub.core.models import Case, Complaint, SupervisionCard, SupervisionOrder
from tests.hub.hubkit import CERTIFIED, DAY_MS, SILENT, SLOW, VILLAGE, push
from sync.clock import shift_clock, utcnow
from sync.envelope import Kind
from sync.kit.workdays import COUNTY_TIMEZONE, county_date, default_calendar

HUB_CLI = str(Path(sys.executable).parent / "pointkit-hub")
OTHER_VILLAGE = "八达镇清水江村便民服务站"
FORMULA_CLERK = "=1+1"
RESULT = {"decision": "approved", "certificate_no": "YB-7", "result_fields": {"valid_until": "2027-12-31"}}
# The report's Chinese column headers, as the test names the figures it counts.
RECEIVED, DECIDED, ON_TIME, RATE, LEGAL_RATE, DAYS, SUPPLEMENT_RATE, DEEMED = (
    "受理件数", "办结件数", "承诺时限内办结", "按时办结率（承诺时限）", "按时办结率（法定时限）", "平均用时（工作日）",
    "补正率", "视为准予")
COMPLAINTS, ANSWERED, ANSWERED_ON_TIME = "收到投诉", "答复投诉", "按时答复投诉"
YELLOW, RED, LEGAL, ORDERS, ORDERS_ANSWERED, ORDERS_ON_TIME = ("黄牌", "红牌", "超法定时限", "下发督办单", "督办已答复",
                                                            "督办按时答复")
RATINGS, AVERAGE, LOW = "评价数", "平均评价", "差评"
HOUR_MS = 3600 * 1000
SHEETS = {"departments": "按部门", "items": "按事项", "points": "按受理窗口", "clerks": "按经办人"}


@dataclass
class Made:
    """A case as this test made it: where, by whom, and the days it was received and decided on."""

    case_id: str
    item: str
    department: str
    point: str
    clerk: str
    received: date
    promised: int
    legal: int
    decided: date | None = None
    paused: int = 0
    supplemented: bool = False
    deemed: bool = False


class Month:
    """The clock of this test: moved forward only, the total kept for the CLI's clock."""

    def __init__(self, clock):
        self.clock, self.shifted = clock, 0

    def move_to(self, day: date) -> None:
        days = (day - county_date(utcnow())).days
        assert days >= 0
        self.clock(days)
        self.shifted += days

    def today(self) -> date:
        return county_date(utcnow())

    def env(self) -> dict:
        return {**os.environ, "POINTKIT_CLOCK_SKEW_MS": str(self.shifted * DAY_MS)}


def first_of_next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def run_report(hub, month: Month, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([HUB_CLI, "report", "--data", str(hub.data_dir), *args], capture_output=True, text=True,
                          env=month.env(), timeout=120)


def expected_rows(made: list[Made], key) -> dict[str, dict[str, object]]:
    """The case figures per row as this test counts them: received, decided, on time, days used, 补正, deemed."""
    calendar = default_calendar()
    rows: dict[str, list[Made]] = {}
    for case in made:
        rows.setdefault(key(case), []).append(case)
    figures = {}
    for name, cases in rows.items():
        decided = [case for case in cases if case.decided]
        kept = [case for case in decided if case.decided <= calendar.add_working_days(case.received,
                                                                                       case.promised + case.paused)]
        legal = [case for case in decided if case.decided <= calendar.add_working_days(case.received,
                                                                                        case.legal + case.paused)]
        used = [calendar.working_days_between(case.received, case.decided) - case.paused for case in decided]
        figures[name] = {
            RECEIVED: len(cases), DECIDED: len(decided), ON_TIME: len(kept),
            RATE: round(len(kept) / len(decided), 4) if decided else None,
            LEGAL_RATE: round(len(legal) / len(decided), 4) if decided else None,
            DAYS: round(sum(used) / len(used), 1) if used else None,
            SUPPLEMENT_RATE: round(sum(case.supplemented for case in decided) / len(decided), 4) if decided else None,
            DEEMED: sum(case.deemed for case in decided),
        }
    return figures


def xlsx_tables(path: Path) -> dict[str, dict[str, dict[str, object]]]:
    """Sheet → row name (its first naming cell, or clerk@point) → header → value, from row 4 on."""
    workbook = openpyxl.load_workbook(path)
    tables = {}
    for sheet in workbook.worksheets:
        headers = [cell.value for cell in sheet[3]]
        rows = {}
        for values in sheet.iter_rows(min_row=4, values_only=True):
            rows[_row_name(sheet.title, headers, values)] = dict(zip(headers, values))
        tables[sheet.title] = rows
    return tables


def csv_tables(text: str) -> dict[str, dict[str, dict[str, object]]]:
    """The CSV's sections, read like xlsx_tables: a title line, a header line, rows, a blank line."""
    assert text.startswith("\ufeff") and "\r\n" in text
    lines = list(csv.reader(io.StringIO(text[1:], newline="")))
    tables, index = {}, 3
    while index < len(lines):
        title, headers = lines[index][0], lines[index + 1]
        rows, index = {}, index + 2
        while index < len(lines) and lines[index]:
            rows[_row_name(title, headers, lines[index])] = dict(zip(headers, lines[index]))
            index += 1
        tables[title] = rows
        index += 1
    return tables


def _row_name(title: str, headers: list, values) -> str:
    return f"{values[0]}@{values[1]}" if title == SHEETS["clerks"] else str(values[0])


def as_csv(value: object) -> str:
    """How the CSV writes a figure of the XLSX (rates as percentages with one decimal)."""
    return "" if value is None else str(value)


def test_the_monthly_report_counts_what_happened_in_the_month(loop_hub, clock):
    hub = loop_hub
    month = Month(clock)
    month.move_to(first_of_next_month(county_date(utcnow())))
    start = month.today()
    village, other = hub.enroll_point(), hub.enroll_point(OTHER_VILLAGE)
    calendar = default_calendar()

    def received(point, item: str, clerk: str, department: str, promised: int, legal: int) -> Made:
        case_id = point.push_case(item, received_at=utcnow().isoformat(), clock_offset_ms=0, staff=clerk)
        return Made(case_id, item, department, point.name, clerk, month.today(), promised, legal)

    on_time = received(village, CERTIFIED, "li-clerk", "YB", 5, 10)
    late = received(village, CERTIFIED, "li-clerk", "YB", 5, 10)
    supplemented = received(other, CERTIFIED, "wang-clerk", "YB", 5, 10)
    silent = received(other, SILENT, "wang-clerk", "YB", 2, 3)
    still_open = received(village, SLOW, FORMULA_CLERK, "RS", 20, 30)
    made = [on_time, late, supplemented, silent, still_open]
    # 首问责任制: the clerk's real name where the point sent it; the others fall back to the staff account.
    with hub.db() as session:
        session.get(Case, on_time.case_id).first_contact_name = "李秀梅"
    on_time.clerk = "李秀梅"

    def decide(case: Made) -> None:
        answer = hub.api("yb-li").post(f"/api/cases/{case.case_id}/decision", json=RESULT)
        assert answer.status_code == 200, answer.text
        case.decided = month.today()

    decide(on_time)
    asked = hub.api("yb-li").post(f"/api/cases/{supplemented.case_id}/supplement",
                                  json={"materials": ["hukou"], "note": "户口簿复印件不清晰"})
    assert asked.status_code == 200, asked.text
    month.move_to(start + timedelta(days=3))
    back = {"case_id": supplemented.case_id, "materials": ["hukou"], "note": "已补交", "staff": "wang-clerk",
            "supplemented_at": utcnow().isoformat()}
    assert other.client.push([other.seal(Kind.SUPPLEMENT, back)])[0].status == "accepted"
    supplemented.paused, supplemented.supplemented = calendar.working_days_between(start, month.today()), True
    decide(supplemented)

    # Silence is consent: the day after its legal limit, supervision approves it.
    month.move_to(calendar.add_working_days(start, silent.legal) + timedelta(days=1))
    assert supervise_once(hub.engine, hub.data_dir).deemed == [silent.case_id]
    silent.decided, silent.deemed = month.today(), True
    # Past the promised limit, within the legal one.
    month.move_to(calendar.add_working_days(start, late.promised) + timedelta(days=1))
    decide(late)
    assert month.today().month == start.month, "the test's month must hold all it does"

    for case, score in ((on_time, 5), (late, 1)):
        collected = {"case_id": case.case_id, "collected_at": utcnow().isoformat(), "staff": case.clerk}
        rate = {"case_id": case.case_id, "score": score, "comment": "", "rated_at": utcnow().isoformat()}
        results = village.client.push([village.seal(Kind.COLLECTED, collected), village.seal(Kind.RATE, rate)])
        assert [result.status for result in results] == ["accepted", "accepted"]
    today = month.today()
    with hub.db() as session:
        add_accountability_rows(session, late=late, still_open=still_open, village=village, other=other, today=today)

    out = hub.data_dir.parent
    written = run_report(hub, month, "--month", f"{start:%Y-%m}", "--out", str(out / "report.xlsx"))
    assert written.returncode == 0, written.stderr
    assert f"Monthly report {start:%Y-%m} written to" in written.stdout
    written = run_report(hub, month, "--month", f"{start:%Y-%m}", "--format", "csv", "--out", str(out / "report.csv"))
    assert written.returncode == 0, written.stderr
    raw_csv = (out / "report.csv").read_bytes().decode("utf-8")
    workbook, sheets = openpyxl.load_workbook(out / "report.xlsx"), xlsx_tables(out / "report.xlsx")
    sections = csv_tables(raw_csv)

    expected = {
        "departments": expected_rows(made, lambda case: case.department),
        "items": expected_rows(made, lambda case: case.item),
        "points": expected_rows(made, lambda case: case.point),
        "clerks": expected_rows(made, lambda case: f"{case.clerk}@{case.point}"),
    }
    # Complaints, cards, orders and ratings as this test wrote them (add_accountability_rows, the ratings above).
    extra = {
        "departments": {"YB": {COMPLAINTS: 2, ANSWERED: 2, ANSWERED_ON_TIME: 1, YELLOW: 1, RED: 1, LEGAL: 0,
                               ORDERS: 1, ORDERS_ANSWERED: 1, ORDERS_ON_TIME: 1, RATINGS: 2, AVERAGE: 3.0, LOW: 1},
                        "RS": {COMPLAINTS: 1, ANSWERED: 0, ANSWERED_ON_TIME: 0, YELLOW: 0, RED: 0, LEGAL: 1,
                               ORDERS: 1, ORDERS_ANSWERED: 0, ORDERS_ON_TIME: 0, RATINGS: 0, AVERAGE: None, LOW: 0}},
        "items": {CERTIFIED: {COMPLAINTS: 1, ANSWERED: 1, ANSWERED_ON_TIME: 0, YELLOW: 1, RED: 1, ORDERS: 1,
                              ORDERS_ON_TIME: 1, RATINGS: 2, AVERAGE: 3.0, LOW: 1},
                  SLOW: {LEGAL: 1, COMPLAINTS: 0, ORDERS: 0}},
        "points": {VILLAGE: {COMPLAINTS: 2, ANSWERED: 1, ANSWERED_ON_TIME: 0, YELLOW: 1, RED: 1, LEGAL: 1,
                             ORDERS: 1, RATINGS: 2, AVERAGE: 3.0, LOW: 1},
                   OTHER_VILLAGE: {COMPLAINTS: 0, YELLOW: 0, RATINGS: 0, AVERAGE: None}},
        "clerks": {f"李秀梅@{VILLAGE}": {RATINGS: 1, AVERAGE: 5.0, LOW: 0, YELLOW: 0},
                   f"li-clerk@{VILLAGE}": {RATINGS: 1, AVERAGE: 1.0, LOW: 1, YELLOW: 1, RED: 1, ORDERS: 1},
                   f"wang-clerk@{OTHER_VILLAGE}": {COMPLAINTS: 1, ANSWERED: 1, ANSWERED_ON_TIME: 1, RATINGS: 0},
                   f"'{FORMULA_CLERK}@{VILLAGE}": {LEGAL: 1}},
    }
    for dimension, rows in expected.items():
        sheet, section = sheets[SHEETS[dimension]], sections[SHEETS[dimension]]
        for name, figures in rows.items():
            shown = f"'{name}" if name.startswith(FORMULA_CLERK) else name
            wanted = {**figures, **extra[dimension].get(shown, {})}
            assert {header: sheet[shown][header] for header in wanted} == wanted, (dimension, name)
            assert {header: section[shown][header] for header in wanted} == {
                header: (f"{value * 100:.1f}%" if header in (RATE, LEGAL_RATE, SUPPLEMENT_RATE) and value is not None
                         else as_csv(value)) for header, value in wanted.items()}, (dimension, name)
    yb = sheets["按部门"]["YB"]
    assert (yb[DECIDED], yb[RATE], yb[LEGAL_RATE], yb[SUPPLEMENT_RATE], yb[DEEMED]) == (4, 0.5, 0.75, 0.25, 1)

    departments = workbook["按部门"]
    assert departments.freeze_panes == "C4" and f"{start:%Y-%m}月度报告" in departments["A1"].value
    assert departments["A2"].value.startswith("生成时间：") and "北京时间" in departments["A2"].value
    assert [cell.value for cell in departments[3]][:4] == ["部门编码", "部门", RECEIVED, DECIDED]
    yb_row = next(row for row in departments.iter_rows(min_row=4) if row[0].value == "YB")
    rate_cell = yb_row[[cell.value for cell in departments[3]].index(RATE)]
    assert rate_cell.number_format == "0.0%" and rate_cell.value == 0.5
    assert departments.column_dimensions["B"].width >= 10
    # A clerk's name that a spreadsheet would run as a formula is text with a leading quote, in both files.
    clerk_cells = [row[0] for row in workbook["按经办人"].iter_rows(min_row=4)]
    formula = next(cell for cell in clerk_cells if FORMULA_CLERK in str(cell.value))
    assert formula.value == f"'{FORMULA_CLERK}" and formula.data_type == "s"
    assert f"\r\n'{FORMULA_CLERK}," in raw_csv and f"\r\n{FORMULA_CLERK}," not in raw_csv

    trend = sheets["逐月按时办结率（承诺时限）"]
    assert list(trend) == ["YB"] and trend["YB"][f"{start:%Y-%m}"] == 0.5
    assert sections["逐月按时办结率（承诺时限）"]["YB"][f"{start:%Y-%m}"] == "50.0%"
    backlog = {name: row["未办结件数"] for name, row in sheets["月末未办结"].items()}
    assert backlog == {OTHER_VILLAGE: 2, VILLAGE: 1}, "collected cases leave the backlog"

    # The page shows the same month, and offers both files; reviewers do not see it.
    page = hub.browser("op").get(f"/reports?month={start:%Y-%m}")
    assert page.status_code == 200 and f"{start:%Y-%m}月度报告" in page.text
    download = hub.browser("op").get(f"/reports/{start:%Y-%m}.xlsx")
    assert download.status_code == 200 and download.content[:2] == b"PK"
    assert openpyxl.load_workbook(io.BytesIO(download.content))["按部门"].freeze_panes == "C4"
    # The same tables as the command wrote; only the time it was made differs.
    page_csv = hub.browser("op").get(f"/reports/{start:%Y-%m}.csv")
    assert page_csv.headers["Content-Type"].startswith("text/csv") and "attachment" in page_csv.headers[
        "Content-Disposition"]
    assert page_csv.content.decode("utf-8").splitlines()[2:] == raw_csv.splitlines()[2:]
    assert hub.browser("yb-li").get(f"/reports?month={start:%Y-%m}").status_code == 403


def add_accountability_rows(session, *, late: Made, still_open: Made, village, other, today: date) -> None:
    """Three complaints (one answered late, one on time, one open), three cards and two orders, all this month.

    The supervision rounds above raised cards (and maybe orders) of their own (hub/approval/cards.py, tested in
    tests/hub/test_supervision_orders.py): they give way to these, whose figures the test knows."""
    session.exec(delete(SupervisionOrder))
    session.exec(delete(SupervisionCard))
    now = utcnow()
    session.add_all([
        Complaint(id=str(uuid.uuid4()), complaint_no="TS-1", point_id=village.point_id, channel="in_person",
                  category="overdue", subject="case", case_id=late.case_id, text="超时", received_at=now,
                  status="replied", assigned_department="YB", reply_due=today - timedelta(days=1), reply="已办",
                  replied_at=now),
        Complaint(id=str(uuid.uuid4()), complaint_no="TS-2", point_id=other.point_id, channel="phone",
                  category="attitude", subject="staff", about_staff="wang-clerk", text="态度差", received_at=now,
                  status="replied", assigned_department="YB", reply_due=today + timedelta(days=3), reply="已批评教育",
                  replied_at=now),
        Complaint(id=str(uuid.uuid4()), complaint_no="TS-3", point_id=None, channel="hub", category="repeated_trips",
                  subject="point", about_point_id=village.point_id, text="多次跑", received_at=now, status="assigned",
                  assigned_department="RS", reply_due=today + timedelta(days=5)),
        SupervisionCard(colour="yellow", case_id=late.case_id, department_code="YB", reviewer="yb-li"),
        SupervisionCard(colour="red", case_id=late.case_id, department_code="YB", reviewer="yb-li"),
        SupervisionCard(colour="legal", case_id=still_open.case_id, department_code="RS"),
        SupervisionOrder(order_no="DB-1", source="red_card", case_id=late.case_id, department_code="YB",
                         text="限期办结", issued_by="hub", due_date=today + timedelta(days=1), status="answered",
                         answer="已办结", answered_by="yb-li", answered_at=now),
        SupervisionOrder(order_no="DB-2", source="office", department_code="RS", text="说明积压原因",
                         issued_by="supervisor", due_date=today - timedelta(days=1)),
    ])


@pytest.mark.sqlite_only  # the command's and the page's refusals read no table
def test_the_report_command_says_what_is_wrong(loop_hub, clock, tmp_path):
    hub = loop_hub
    month = Month(clock)
    for wrong in ("2026-13", "November", "26-11", "9999-12", "2026-00"):
        done = run_report(hub, month, "--month", wrong)
        assert done.returncode == 1 and "write it as YYYY-MM, e.g. 2026-11" in done.stderr, done.stderr
    following = first_of_next_month(month.today())
    done = run_report(hub, month, "--month", f"{following:%Y-%m}")
    assert done.returncode == 1 and "has not begun yet" in done.stderr
    done = subprocess.run([HUB_CLI, "report", "--month", "2026-11", "--data", str(tmp_path / "nothing")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "is not a hub data directory" in done.stderr
    done = run_report(hub, month, "--month", f"{month.today():%Y-%m}", "--out", str(tmp_path / "no" / "such" / "r.csv"),
                      "--format", "csv")
    assert done.returncode == 1 and "cannot write" in done.stderr and "--out" in done.stderr
    admin = hub.browser("admin")
    for path in ("/reports?month=2026-13", "/reports/2026-13.xlsx", "/reports/November.csv"):
        page = admin.get(path)
        assert page.status_code == 400 and "请按“年-月”填写月份，例如2026-11。" in page.text, path
    page = admin.get(f"/reports/{following:%Y-%m}.csv")
    assert page.status_code == 400 and "该月份尚未开始，请选择本月或更早的月份。" in page.text


@pytest.mark.sqlite_only  # no database at all
@pytest.mark.parametrize("name", ["=HYPERLINK(\"x\")", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_supervision_csv_cells_cannot_run(name):
    text = report_csv({"departments": [{"code": "YB", "name": name, "decided": -1}], "points": [],
                       "overdue_supplements": [], "cards": []})
    row = list(csv.reader(io.StringIO(text[1:], newline="")))[1]
    assert row == ["YB", "'" + name, "-1"], "text quoted, a number left a number"


def test_a_month_runs_midnight_to_midnight_on_the_countys_clock(loop_hub):
    """受理 at 23:30 Beijing time on the month's last day counts in that month, at 00:30 on the 1st in the next,
    though both are the same UTC day."""
    hub = loop_hub
    point = hub.enroll_point()
    last_day = first_of_next_month(county_date(utcnow())) - timedelta(days=1)
    late_evening = datetime.combine(last_day, time(23, 30), COUNTY_TIMEZONE)
    moved = 0
    try:
        moved = round((late_evening - utcnow()).total_seconds() * 1000)
        shift_clock(moved)
        evening = push(point, SLOW)
        shift_clock(HOUR_MS)
        moved += HOUR_MS
        after_midnight = push(point, SLOW)
        with hub.db() as session:
            this, following = (monthly_report(session, month_of(day))
                                for day in (last_day, last_day + timedelta(days=1)))
            received = [{row.key: row.received for row in report.items} for report in (this, following)]
    finally:
        shift_clock(-moved)
    assert received == [{SLOW: 1}, {SLOW: 1}]
    assert late_evening.astimezone(timezone.utc).date() == (late_evening + timedelta(hours=1)).astimezone(
        timezone.utc).date(), "the same UTC day"
    with hub.db() as session:
        days = sorted(county_date(case.received_at) for case in session.exec(select(Case)).all()
                      if case.id in (evening, after_midnight))
    assert days == [last_day, last_day + timedelta(days=1)]
