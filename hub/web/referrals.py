"""The referrals page (转办): which clerk at which point sent which resident where, month by month.

Points make referrals offline and send them sealed (REFERRAL); the hub keeps them (hub/intake/referrals.py).
The supervision office reads here whether residents were sent on with a named first-contact person and whether
they applied where they were sent (the case opened with the slip). Supervision office, operators and admins.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time

from flask import Blueprint, g, render_template, request
from flask_babel import lazy_gettext
from sqlmodel import select

from sync.kit.workdays import COUNTY_TIMEZONE, county_date

from hub.core.clock import as_utc, utc_now
from hub.core.models import Department, Point
from hub.intake.referrals import list_referrals
from hub.web.auth import login_required
from hub.web.context import get_session

bp = Blueprint("referrals", __name__)

TARGET_KINDS = {"point": lazy_gettext("Another point"), "department": lazy_gettext("A department")}


def _month(value: str) -> date | None:
    """The first day of the month ``value`` names (YYYY-MM), or None when it names none."""
    try:
        return date.fromisoformat(value.strip()[:7] + "-01")
    except ValueError:
        return None


def _county_start(day: date) -> datetime:
    """The UTC moment a county day starts (referrals are stored in UTC)."""
    return as_utc(datetime.combine(day, time(), tzinfo=COUNTY_TIMEZONE))


def _next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


@bp.get("/referrals")
@login_required("supervisor", "operator", "admin")
def referrals_page():
    """Referrals of one month (this one by default), per point and first-contact clerk when filtered."""
    db = get_session()
    asked = request.args.get("month", "").strip()
    first = _month(asked) if asked else None
    bad_month = bool(asked) and first is None
    first = first or county_date(utc_now()).replace(day=1)
    points = db.exec(select(Point).where(Point.status != "hub").order_by(Point.name)).all()
    point_id = _point_id(request.args.get("point", ""), points)
    clerk = request.args.get("clerk", "").strip()[:64]
    rows = list_referrals(db, start=_county_start(first), end=_county_start(_next_month(first)),
                          point_id=point_id, clerk=clerk)
    chinese = g.get("lang", "zh") == "zh"
    departments = {row.code: row.name_zh if chinese else row.name_en for row in db.exec(select(Department)).all()}
    return render_template("referrals.html", rows=rows, month=f"{first:%Y-%m}", bad_month=bad_month,
                           points=points, point_id=point_id, clerk=clerk, departments=departments,
                           target_kinds=TARGET_KINDS)


def _point_id(value: str, points: list[Point]) -> uuid.UUID | None:
    """The chosen point's id, when it is one of ``points``."""
    return next((point.id for point in points if str(point.id) == value.strip()), None)
