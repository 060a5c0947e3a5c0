"""The monthly report page (月度报告) and its XLSX and CSV downloads, for the supervision office, operators and
admins: the tables per department, item, point and clerk, the on-time trend and the month-end backlog as charts."""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, g, render_template, request
from flask_babel import gettext as _

from sync.kit.workdays import county_date

from hub.approval.reports import Month, MonthlyReport, ReportError, month_of, monthly_report, parse_month
from hub.core.clock import utc_now
from hub.web.auth import login_required
from hub.web.charts import SmallChart, horizontal_bars, rate_small_multiple
from hub.web.context import get_session
from hub.web.reportfiles import COLUMNS, DIMENSIONS, column_headers, report_csv, report_xlsx, row_labels

bp = Blueprint("reports", __name__)

ROLES = ("supervisor", "operator", "admin")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _month(text: str | None) -> Month:
    """The month asked for; this county month when none is."""
    today = county_date(utc_now())
    return month_of(today) if not text else parse_month(text, today=today)


def _report(month: Month) -> MonthlyReport:
    return monthly_report(get_session(), month, chinese=g.get("lang", "zh") == "zh")


def _month_error(exc: ReportError) -> str:
    if exc.reason == "future_month":
        return _("That month has not begun yet. Pick this month or an earlier one.")
    return _("Write the month as year-month, for example 2026-11.")


@bp.get("/reports")
@login_required(*ROLES)
def reports_page():
    """One month's report with its charts; ?month=YYYY-MM, this month by default."""
    asked = request.args.get("month", "")[:20]
    try:
        month = _month(asked)
    except ReportError as exc:
        return render_template("reports.html", report=None, asked=asked, error=_month_error(exc)), 400
    report = _report(month)
    return render_template("reports.html", report=report, asked=month.label, error="", dimensions=DIMENSIONS,
                           columns=COLUMNS, column_headers=column_headers, row_labels=row_labels,
                           charts=_charts(report), this_month=month_of(county_date(utc_now())))


def _charts(report: MonthlyReport) -> dict:
    """The trend as one small chart per department, and the backlog as bars, each labelled in the page's words."""
    small = [rate_small_multiple(SmallChart(f"{line.code} {line.name}", report.trend_months, line.rates),
                                 label=_("%(department)s: on-time rate by month, %(first)s to %(last)s",
                                         department=line.name, first=report.trend_months[0],
                                         last=report.trend_months[-1]))
             for line in report.trend]
    bars = horizontal_bars(report.backlog, label=_("Cases not yet collected at each point at the end of %(month)s",
                                                   month=report.month.label))
    return {"trend": small, "backlog": bars}


@bp.get("/reports/<month>.xlsx")
@login_required(*ROLES)
def report_xlsx_file(month: str):
    """The month's report as an XLSX workbook in the page's language."""
    try:
        report = _report(_month(month[:20]))
    except ReportError as exc:
        return render_template("reports.html", report=None, asked=month[:20], error=_month_error(exc)), 400
    return _download(report_xlsx(report), XLSX_TYPE, report, "xlsx")


@bp.get("/reports/<month>.csv")
@login_required(*ROLES)
def report_csv_file(month: str):
    """The month's report as CSV (UTF-8 with a byte order mark, CRLF lines) in the page's language."""
    try:
        report = _report(_month(month[:20]))
    except ReportError as exc:
        return render_template("reports.html", report=None, asked=month[:20], error=_month_error(exc)), 400
    return _download(report_csv(report).encode("utf-8"), "text/csv; charset=utf-8", report, "csv")


def _download(body: bytes, content_type: str, report: MonthlyReport, extension: str) -> Response:
    plain = f"report-{report.month.label}.{extension}"
    name = _("monthly-report-%(month)s.%(extension)s", month=report.month.label, extension=extension)
    return Response(body, content_type=content_type, headers={
        "Content-Disposition": f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name)}",
        "Cache-Control": "no-store"})
