"""The supervision pages (电子监察): figures per department and point, the CSV export, and the
follow-up of low ratings. Operators and admins only; reviewers see their own queue."""

from __future__ import annotations

from flask import Blueprint, Response, g, redirect, render_template, request, url_for
from flask_babel import lazy_gettext

from sync.kit.workdays import county_date

from hub.approval.supervision import FollowUpError, follow_up, report_csv, supervision_report
from hub.catalog.calendar import missing_next_year
from hub.core.clock import utc_now
from hub.web.auth import login_required
from hub.web.context import configured_warn_share, get_session

bp = Blueprint("supervision", __name__)

FOLLOW_UP_MESSAGES = {
    "note_required": lazy_gettext("Write what was done about the rating. Nothing was saved."),
    "not_found": lazy_gettext("This case has no low rating to follow up."),
}


def _report() -> dict:
    return supervision_report(get_session(), today=county_date(utc_now()), warn_share=configured_warn_share(),
                              chinese=g.get("lang", "zh") == "zh")


def _render(error: str = "", status: int = 200):
    return render_template("supervision.html", report=_report(), warn_share=configured_warn_share(),
                           next_year_missing=missing_next_year(get_session(), county_date(utc_now())),
                           error=error), status


@bp.get("/supervision")
@login_required("operator", "admin")
def supervision_page():
    """On-time rates, open, warning and overdue work per department; backlog and last sync per point;
    ratings and the low ones to follow up."""
    return _render()


@bp.get("/supervision.csv")
@login_required("operator", "admin")
def supervision_csv():
    """The figures as a spreadsheet file."""
    return Response(report_csv(_report()), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=supervision.csv"})


@bp.post("/supervision/ratings/<case_id>")
@login_required("operator", "admin")
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
