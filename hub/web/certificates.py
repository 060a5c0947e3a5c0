"""E-certificates at the hub: the register page where the county revokes (supervisor, admin), the department's
settling of a case parked on a reference, and the points' signed lookup of a resident's certificates.

The steps are hub/approval/certificates.py; this module reads forms and bodies and words answers.
"""

from __future__ import annotations

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask_babel import lazy_gettext

from sync.kit.web import api_error, json_object_body

from hub.approval.cases import can_view
from hub.approval.certificates import (
    GO_ON,
    MAX_LOOKUP_TYPES,
    CertificateError,
    holder_records,
    register_rows,
    revoke,
    settle,
    status_of,
)
from hub.approval.review import decidable_task
from hub.core.audit import append_audit
from hub.core.models import Case, Point
from hub.web.auth import login_required
from hub.web.context import get_session
from hub.web.sync import _authenticated_point

bp = Blueprint("certificates", __name__)
# The points' lookup sits beside the other signed point requests (/sync/v1).
point_bp = Blueprint("certificatelookup", __name__, url_prefix="/sync/v1")

REVOKE_ROLES = ("supervisor", "admin")
STATUS_WORDS = {"valid": lazy_gettext("Valid"), "expired": lazy_gettext("Expired"),
                "revoked": lazy_gettext("Revoked")}
MESSAGES = {
    "reason_required": lazy_gettext("Write the reason for revoking: it is recorded. Nothing was revoked."),
    "not_found": lazy_gettext("No certificate in the register has this number."),
    "already_revoked": lazy_gettext("This certificate is revoked already."),
}


@bp.get("/certificates")
@login_required(*REVOKE_ROLES)
def register_page():
    """The register: newest first, or the certificates of one number or holder; each with its revoke form."""
    query = request.args.get("q", "").strip()[:64]
    rows = register_rows(get_session(), query=query)
    return render_template("certificates.html", rows=rows, query=query, status_of=status_of,
                           status_words=STATUS_WORDS, error=None)


@bp.post("/certificates/<number>/revoke")
@login_required(*REVOKE_ROLES)
def revoke_page(number: str):
    db = get_session()
    try:
        revoke(db, number[:64], reason=request.form.get("reason", "")[:500], actor=g.staff.username,
               cert_type=request.form.get("cert_type", "")[:64])
    except CertificateError as exc:
        db.rollback()
        rows = register_rows(db, query=number[:64])
        return render_template("certificates.html", rows=rows, query=number[:64], status_of=status_of,
                               status_words=STATUS_WORDS, error=MESSAGES.get(exc.reason, str(exc))), exc.status
    db.commit()
    return redirect(url_for("certificates.register_page", q=number[:64]))


@bp.post("/cases/<case_id>/certificates/go-on")
@login_required("reviewer", "admin")
def go_on(case_id: str):
    """The department whose task is open goes on without the paper a parked reference stood for."""
    db = get_session()
    case = db.get(Case, case_id[:36])
    if case is None or not can_view(db, g.staff, case):
        abort(404)
    if decidable_task(db, case, g.staff) is None:
        abort(403)
    settle(db, case.id, how=GO_ON, actor=g.staff.username)
    db.commit()
    return redirect(url_for("views.case_page", case_id=case.id))


@point_bp.post("/certificates/lookup")
def post_lookup():
    """A point asks, for a resident at its window with her ID entered, for her valid certificates of some types:
    ``{"holder_id", "types": [...]}`` in a signed body; the answer holds that holder's only."""
    point = _authenticated_point()
    if not isinstance(point, Point):
        return point
    data = json_object_body()
    if not isinstance(data, dict):
        return data
    holder, types = data.get("holder_id"), data.get("types")
    if not isinstance(holder, str) or not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        return api_error(422, "invalid_input", "holder_id (text) and types (a list of texts) are required")
    db = get_session()
    types = [t[:64] for t in types[:MAX_LOOKUP_TYPES]]
    records = holder_records(db, holder[:18], types)
    # Who asked for whose certificates is worth keeping; the holder's ID number is not written into the chain.
    append_audit(db, actor=point.name, action="certificates_looked_up", subject=str(point.id),
                 detail={"types": types, "found": len(records)})
    db.commit()
    return {"certificates": records}
