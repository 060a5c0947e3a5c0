"""Every spreadsheet the hub writes, with points, departments, items and clerks named as formulas (issue 27, case
7): the monthly report's CSV and XLSX and the supervision page's CSV, read back with csv and openpyxl. Each cell
that would run comes out quoted and as text; numbers, a negative one too, stay numbers. (The catalog's CSV export
is in test_file_bombs.py, the supervision API's CSV in test_monthly_report.py.)

The files are made from figures built here, in the hub's page words (no database, no server)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timezone

import pytest
from openpyxl import load_workbook

from hub.approval.reports import Figures, Month, MonthlyReport, TrendLine
from hub.web.reportfiles import report_csv, report_xlsx, worded
from hub.web.supervision import page_csv

FORMULAS = ['=HYPERLINK("http://x","y")', "+1", "@SUM(A1)", "-2+3", "\t=1"]
NEGATIVE = -3

pytestmark = pytest.mark.sqlite_only


def named_report() -> MonthlyReport:
    """A month whose every name is a formula, and whose backlog holds a negative count."""
    department, point, item, clerk, place = FORMULAS
    return MonthlyReport(
        month=Month(date(2026, 11, 1), date(2026, 11, 30)), generated_at=datetime(2026, 12, 1, tzinfo=timezone.utc),
        departments=[Figures(key="YB", name=department, received=2)], items=[Figures(key="I-1", name=item)],
        points=[Figures(key="p1", name=point)], clerks=[Figures(key="c1", name=clerk, place=place)],
        trend_months=["2026-11"], trend=[TrendLine("YB", department, [0.5])], backlog=[(point, NEGATIVE)])


def assert_neutralised(cells: list) -> None:
    """No formula as it was typed; each one quoted; the negative count a number (in CSV: its digits, unquoted)."""
    assert not set(FORMULAS) & {cell for cell in cells if isinstance(cell, str)}
    assert {"'" + formula for formula in FORMULAS} <= set(cells)


def test_the_monthly_report_neutralises_names_in_csv_and_xlsx():
    with worded():
        text, workbook = report_csv(named_report()), report_xlsx(named_report())
    rows = list(csv.reader(io.StringIO(text[1:], newline="")))
    assert_neutralised([cell for row in rows for cell in row])
    assert [str(NEGATIVE)] == [row[1] for row in rows if row and row[0] == "'" + FORMULAS[1]][-1:]
    sheets = load_workbook(io.BytesIO(workbook))
    cells = [cell for sheet in sheets for row in sheet.iter_rows() for cell in row if cell.value is not None]
    assert_neutralised([cell.value for cell in cells])
    assert not [cell.coordinate for cell in cells if cell.data_type == "f"], "no cell is a formula"
    assert [cell.value for cell in cells if cell.data_type == "n" and cell.value == NEGATIVE] == [NEGATIVE]


def test_the_supervision_page_csv_neutralises_names():
    department, point, item, reviewer, receipt = FORMULAS
    figures = {"decided": NEGATIVE, "on_time": 0, "on_time_rate": None, "open": 0, "warning": 0, "overdue": 0,
               "supplement_overdue": 0, "rating_average": None, "yellow_cards": 0, "red_cards": 0, "legal_cards": 0,
               "open_orders": 0, "overdue_orders": 0}
    report = {"departments": [{"code": "YB", "name": department, **figures}],
              "points": [{"point": point, "level": "village", "backlog": 0, "undelivered": 0, "last_sync": None,
                          "rating_average": None, "ratings": 0}],
              "cards": [{"colour": "red", "receipt_no": receipt, "item_name": item, "department": "YB",
                         "reviewer": reviewer, "due_date": "2026-11-30", "raised_at": None, "point": point}],
              "overdue_supplements": [], "procedure_pauses": []}
    with worded():
        text = page_csv(report)
    rows = list(csv.reader(io.StringIO(text[1:], newline="")))
    assert_neutralised([cell for row in rows for cell in row])
    assert next(row for row in rows if row[:2] == ["YB", "'" + department])[2] == str(NEGATIVE)
