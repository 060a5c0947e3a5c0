"""The monthly report as files for spreadsheet programs: XLSX (openpyxl) and CSV, in the pages' words.

Both hold the same tables as the report page, one per dimension (department, item, point, clerk), then the
twelve months' on-time trend and the month-end backlog. XLSX: one sheet per table, the month and the time it was
made (county time) above a frozen header row, rates as numbers in % format. CSV: the tables one after another,
each under its title, UTF-8 with a byte order mark and CRLF lines as Excel and WPS read them. Every text cell is
neutralised against formulas (sync/kit/cells.py). The words are the page catalogs' (gettext): the page's
language on the page, Chinese from the CLI (``worded``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from flask import Flask
from flask_babel import format_datetime, lazy_gettext
from flask_babel import gettext as _

from sync.kit.cells import spreadsheet_cell
from sync.kit.i18n import DEFAULT_LANGUAGE, install_i18n

from hub.approval.reports import Figures, MonthlyReport
from hub.web.i18n import TRANSLATIONS

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

COUNT, RATE, DAYS, SCORE = "count", "rate", "days", "score"
NUMBER_FORMATS = {COUNT: "0", RATE: "0.0%", DAYS: "0.0", SCORE: "0.00"}
# Each figure of a row: its attribute on Figures, its header, how it is shown.
COLUMNS = (
    ("received", lazy_gettext("Cases received"), COUNT),
    ("decided", lazy_gettext("Cases decided"), COUNT),
    ("on_time", lazy_gettext("Decided within the promised limit"), COUNT),
    ("on_time_rate", lazy_gettext("On-time rate (promised limit)"), RATE),
    ("legal_on_time_rate", lazy_gettext("On-time rate (legal limit)"), RATE),
    ("average_working_days", lazy_gettext("Average working days used"), DAYS),
    ("supplement_rate", lazy_gettext("Supplement rate"), RATE),
    ("deemed", lazy_gettext("Deemed approvals"), COUNT),
    ("complaints", lazy_gettext("Complaints received"), COUNT),
    ("complaints_answered", lazy_gettext("Complaints answered"), COUNT),
    ("complaints_on_time", lazy_gettext("Complaints answered on time"), COUNT),
    ("yellow_cards", lazy_gettext("Yellow cards"), COUNT),
    ("red_cards", lazy_gettext("Red cards"), COUNT),
    ("legal_cards", lazy_gettext("Legal limit passed"), COUNT),
    ("orders", lazy_gettext("Supervision orders issued"), COUNT),
    ("orders_answered", lazy_gettext("Orders answered"), COUNT),
    ("orders_on_time", lazy_gettext("Orders answered on time"), COUNT),
    ("ratings", lazy_gettext("Ratings"), COUNT),
    ("rating_average", lazy_gettext("Average rating"), SCORE),
    ("low_ratings", lazy_gettext("Low ratings"), COUNT),
)
# Each dimension: its table's title and the headers of the columns that name a row.
DIMENSIONS = {
    "departments": (lazy_gettext("By department"), (lazy_gettext("Department code"), lazy_gettext("Department"))),
    "items": (lazy_gettext("By service item"), (lazy_gettext("Item code"), lazy_gettext("Service item"))),
    "points": (lazy_gettext("By point"), (lazy_gettext("Point"),)),
    "clerks": (lazy_gettext("By clerk"), (lazy_gettext("Clerk"), lazy_gettext("Point"))),
}
# The header row's fill colour (an openpyxl solid PatternFill, made where the sheet is written).
HEADER_FILL_COLOR = "F1ECE4"
HEADER_HEIGHT = 34


@contextmanager
def worded(lang: str = DEFAULT_LANGUAGE) -> Iterator[None]:
    """Outside a request (the CLI): the hub's page catalogs and county clock, in ``lang``, as a page has them."""
    app = Flask(__name__)
    install_i18n(app, TRANSLATIONS)
    with app.test_request_context(f"/?lang={lang}"):
        app.preprocess_request()
        yield


def row_labels(dimension: str, row: Figures) -> list[str]:
    """The cells that name a row: code and name, a point's name, a clerk's name and point."""
    if dimension == "points":
        return [row.name]
    if dimension == "clerks":
        return [row.name, row.place]
    return [row.key, row.name]


def column_headers(dimension: str) -> list[str]:
    return [str(header) for header in DIMENSIONS[dimension][1]] + [str(header) for _attr, header, _kind in COLUMNS]


def row_values(row: Figures) -> list:
    return [getattr(row, attr) for attr, _header, _kind in COLUMNS]


def tables(report: MonthlyReport) -> list[tuple[str, list[str], list[list], list[str]]]:
    """Every table of the report: (title, headers, rows, each column's kind; "" for a label)."""
    found = []
    for dimension, (title, labels) in DIMENSIONS.items():
        kinds = [""] * len(labels) + [kind for _attr, _header, kind in COLUMNS]
        rows = [row_labels(dimension, row) + row_values(row) for row in report.dimension(dimension)]
        found.append((str(title), column_headers(dimension), rows, kinds))
    found.append((_("On-time rate by month (promised limit)"),
                  [_("Department code"), _("Department"), *report.trend_months],
                  [[line.code, line.name, *line.rates] for line in report.trend],
                  ["", ""] + [RATE] * len(report.trend_months)))
    found.append((_("Backlog at the end of the month"), [_("Point"), _("Cases not yet collected")],
                  [[name, count] for name, count in report.backlog], ["", COUNT]))
    return found


def report_title(report: MonthlyReport) -> str:
    return _("Monthly report %(month)s", month=report.month.label)


def made_at(report: MonthlyReport) -> str:
    return _("Made %(time)s (county time)", time=format_datetime(report.generated_at, "yyyy-MM-dd HH:mm"))


def report_csv(report: MonthlyReport) -> str:
    """The report as CSV: a title line, then each table under its own title, a blank line between."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([spreadsheet_cell(report_title(report))])
    writer.writerow([spreadsheet_cell(made_at(report))])
    for title, headers, rows, kinds in tables(report):
        writer.writerow([])
        writer.writerow([spreadsheet_cell(title)])
        writer.writerow([spreadsheet_cell(header) for header in headers])
        writer.writerows([[_csv_value(value, kind) for value, kind in zip(row, kinds)] for row in rows])
    return "\ufeff" + out.getvalue()


def _csv_value(value, kind: str):
    if kind == RATE and value is not None:
        return f"{value * 100:.1f}%"
    return spreadsheet_cell(value)


def report_xlsx(report: MonthlyReport) -> bytes:
    """The report as an XLSX workbook, one sheet per table.

    openpyxl is imported here, not at the top: it costs every hub process (each ``pointkit-hub`` command and
    server) about 0.12 s of CPU to import, and only this export uses it."""
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, headers, rows, kinds in tables(report):
        _write_sheet(workbook.create_sheet(_sheet_name(title)), report, title, headers, rows, kinds)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _sheet_name(title: str) -> str:
    # Excel allows 31 characters and none of []:*?/\ in a sheet's name.
    return "".join(ch for ch in title if ch not in "[]:*?/\\")[:31]


def _write_sheet(sheet: Worksheet, report: MonthlyReport, title: str, headers: list[str], rows: list[list],
                 kinds: list[str]) -> None:
    """Title and time made above the header row; the header row and the naming columns stay in view."""
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    sheet.append([spreadsheet_cell(f"{report_title(report)} · {title}")])
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.append([spreadsheet_cell(made_at(report))])
    sheet.append([spreadsheet_cell(header) for header in headers])
    for cell in sheet[3]:
        cell.font, cell.fill = Font(bold=True), PatternFill("solid", fgColor=HEADER_FILL_COLOR)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    # Two lines: the long headers wrap inside their narrow number columns (spreadsheets do not grow a row themselves).
    sheet.row_dimensions[3].height = HEADER_HEIGHT
    for row in rows:
        sheet.append([spreadsheet_cell(value) if value is not None else None for value in row])
    labels = kinds.count("")
    for index, kind in enumerate(kinds, start=1):
        letter = get_column_letter(index)
        if kind:
            for (cell,) in sheet.iter_rows(min_row=4, min_col=index, max_col=index):
                cell.number_format = NUMBER_FORMATS[kind]
        longest = max([_display_width(headers[index - 1]) // (1 if not kind else 2)]
                      + [_display_width(str(row[index - 1] or "")) for row in rows])
        sheet.column_dimensions[letter].width = min(40, max(8 if kind else 10, longest + 2))
    sheet.freeze_panes = sheet.cell(row=4, column=labels + 1)


def _display_width(text: str) -> int:
    """Columns a text takes in a spreadsheet: a Chinese character is two."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
