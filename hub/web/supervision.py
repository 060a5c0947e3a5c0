"""The supervision pages (电子监察): figures per department and point, the CSV export, and the
follow-up of low ratings, the cards not cleared yet. Operators, the supervision office and admins; reviewers see
their own queue (with their department's cards and orders)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from urllib.parse import quote

from flask import Blueprint, Response, g, redirect, render_template, request, url_for
from flask_babel import format_datetime, lazy_gettext
from flask_babel import gettext as _

from sync.kit.cells import spreadsheet_cell
from sync.kit.workdays import county_date

from hub.approval.complaints import complaint_counts
from hub.approval.supervision import FollowUpError, follow_up, supervision_report
from hub.catalog.calendar import missing_next_year
from hub.core.clock import as_utc, utc_now
from hub.web.auth import login_required
from hub.web.context import configured_warn_share, get_session
from hub.web.orders import CARD_TEXT, staff_names
from hub.web.procedurewords import procedure_name

bp = Blueprint("supervision", __name__)

FOLLOW_UP_MESSAGES = {
    "note_required": lazy_gettext("Write what was done about the rating. Nothing was saved."),
    "not_found": lazy_gettext("This case has no low rating to follow up."),
}


def _report() -> dict:
    return supervision_report(get_session(), today=county_date(utc_now()), warn_share=configured_warn_share(),
                              chinese=g.get("lang", "zh") == "zh")


def _render(error: str = "", status: int = 200):
    report = _report()
    return render_template("supervision.html", report=report, warn_share=configured_warn_share(),
                           department_names={d["code"]: d["name"] for d in report["departments"]},
                           staff_names=staff_names(get_session()),
                           next_year_missing=missing_next_year(get_session(), county_date(utc_now())),
                           complaints=complaint_counts(get_session(), today=county_date(utc_now()),
                                                       warn_share=configured_warn_share()),
                           error=error), status


@bp.get("/supervision")
@login_required("operator", "supervisor", "admin")
def supervision_page():
    """On-time rates, open, warning and overdue work per department; backlog and last sync per point;
    ratings and the low ones to follow up."""
    return _render()


@bp.get("/supervision.csv")
@login_required("operator", "supervisor", "admin")
def supervision_csv():
    """The figures as a spreadsheet file in the page's language and on the county's clock (the API's CSV keeps
    English column names and UTC). UTF-8 with a byte order mark and CRLF lines, as Excel and WPS read it."""
    today = county_date(utc_now()).isoformat()
    name = _("supervision-%(date)s.csv", date=today)
    return Response(page_csv(_report()).encode("utf-8"), content_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f"attachment; filename=\"supervision-{today}.csv\"; filename*=UTF-8''{quote(name)}",
        "Cache-Control": "no-store"})


@bp.post("/supervision/ratings/<case_id>")
@login_required("operator", "supervisor", "admin")
def rating_follow_up(case_id: str):
    """Record a follow-up note on a rating of 1 or 2; "close" ends the follow-up."""
    db = get_session()
    try:
        follow_up(db, case_id[:36], note=request.form.get("note", "")[:2000],
                  close=request.form.get("close") == "1", actor=g.staff.username)
    except FollowUpError as exc:
        db.rollback()
        return _render(str(FOLLOW_UP_MESSAGES[exc.reason]), 422)
    db.commit()
    return redirect(url_for("supervision.supervision_page"))


LEVELS = {"township": lazy_gettext("Township"), "village": lazy_gettext("Village")}


def _local(value: str | None) -> str:
    return format_datetime(as_utc(datetime.fromisoformat(value)), "yyyy-MM-dd HH:mm") if value else ""


def _rate(value: float | None) -> str:
    return f"{value * 100:.0f}%" if value is not None else ""


def page_csv(report: dict) -> str:
    """The department and point figures, the cards not cleared and the overdue 补正 as the page shows them, one
    titled table each."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    departments = {d["code"]: d["name"] for d in report["departments"]}
    tables = [
        (_("Departments"), [_("Department code"), _("Department"), _("Decided"), _("On time"), _("On-time rate"),
                            _("Open"), _("Warning (yellow)"), _("Overdue (red)"), _("Supplement overdue"),
                            _("Average rating"), _("Yellow cards"), _("Red cards"), _("Past the legal limit"),
                            _("Orders awaiting the answer"), _("Of them overdue")],
         [[d["code"], d["name"], d["decided"], d["on_time"], _rate(d["on_time_rate"]), d["open"], d["warning"],
           d["overdue"], d["supplement_overdue"], d["rating_average"], d["yellow_cards"], d["red_cards"],
           d["legal_cards"], d["open_orders"], d["overdue_orders"]] for d in report["departments"]]),
        (_("Points"), [_("Point"), _("Level"), _("Backlog"), _("Results not yet fetched"), _("Last sync"),
                       _("Average rating"), _("Ratings")],
         [[p["point"], LEVELS.get(p["level"], p["level"]), p["backlog"], p["undelivered"], _local(p["last_sync"]),
           p["rating_average"], p["ratings"]] for p in report["points"]]),
        (_("Cards"), [_("Card"), _("Receipt number"), _("Service item"), _("Department"), _("Responsible reviewer"),
                      _("Limit"), _("Raised"), _("Point")],
         [[CARD_TEXT.get(c["colour"], c["colour"]), c["receipt_no"], c["item_name"],
           departments.get(c["department"], c["department"]), c["reviewer"], c["due_date"], _local(c["raised_at"]),
           c["point"]] for c in report["cards"]]),
        (_("Supplements not returned in time"), [_("Receipt number"), _("Service item"), _("Department"),
                                                 _("Point"), _("Requested"), _("Return by"), _("Days overdue")],
         [[r["receipt_no"], r["item_name"], departments.get(r["department"], r["department"]), r["point"], _local(r["requested_at"]), r["return_by"],
           r["days_overdue"]] for r in report["overdue_supplements"]]),
        (_("Paused by a special procedure"), [_("Receipt number"), _("Service item"), _("Procedure"), _("Department"),
                                             _("Point"), _("Started"), _("Expected end"), _("Days so far")],
         [[r["receipt_no"], r["item_name"], procedure_name(r["kind"]),
           departments.get(r["department"], r["department"]), r["point"], _local(r["started_at"]),
           r["expected_end"] or "", r["days"]] for r in report["procedure_pauses"]]),
    ]
    for index, (title, header, rows) in enumerate(tables):
        if index:
            writer.writerow([])
        writer.writerow([str(title)])
        writer.writerow([str(name) for name in header])
        writer.writerows([[spreadsheet_cell(value) for value in row] for row in rows])
    return "\ufeff" + out.getvalue()
