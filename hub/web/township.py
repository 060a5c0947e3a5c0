"""The township's own page (role "township"): the cases of the township centre and its villages, read-only, and
how each village's sync stands. What such an account may see is decided in hub/trust/townships.py; that it
changes nothing, in hub/web/auth.py (every write is refused)."""

from __future__ import annotations

from flask import Blueprint, g, render_template
from sqlmodel import select

from hub.approval.cases import township_cases
from hub.approval.supervision import point_figures
from hub.core.models import Point
from hub.trust.townships import case_points
from hub.web.auth import login_required
from hub.web.context import configured_warn_share, get_session

bp = Blueprint("township", __name__)


@bp.get("/township")
@login_required("township")
def township_page():
    """The township's cases (open first, soonest due first, time-limit colours) and its points' sync health."""
    db = get_session()
    township = db.get(Point, g.staff.township_id) if g.staff.township_id else None
    scope = case_points(db, g.staff)
    names = {point.name for point in db.exec(select(Point)).all() if scope.allows(point.id)}
    return render_template("township.html", township=township,
                           cases=township_cases(db, g.staff, warn_share=configured_warn_share()),
                           points=[row for row in point_figures(db) if row["point"] in names])
