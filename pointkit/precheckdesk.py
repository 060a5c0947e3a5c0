"""The clerk's pre-check desk (网上预审): the pre-checks residents sent for this point, their photos, the answer,
and the step that turns one into an intake when the resident arrives (pointkit/prechecks.py does the work)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from sync.client import HubRefused, HubUnreachable
from sync.kit.residents.words import FIELD_PROBLEMS, STATUSES

from . import db
from .auth import login_required
from .catalog import get_item
from .models import Precheck
from .prechecks import PrecheckError, answer_here, files_of, notes_of, open_file, open_prechecks
from .runtime import data_dir, identity, wake_sync
from .state import find_state, hub_client

bp = Blueprint("prechecks", __name__, url_prefix="/prechecks")

MEDIA_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "tif": "image/tiff",
               "tiff": "image/tiff", "pdf": "application/pdf"}

@bp.get("/")
@login_required
def desk():
    """Open pre-checks: those this point answers and has not answered first."""
    with db.session_scope(data_dir()) as session:
        rows = open_prechecks(session)
    return render_template("prechecks.html", rows=rows, statuses=STATUSES)


@bp.route("/<precheck_id>", methods=("GET", "POST"))
@login_required
def precheck_page(precheck_id: str):
    """One pre-check: the resident, her files per material (opened on demand), the answer form, and the intake."""
    fields: dict[str, str] = {}
    with db.session_scope(data_dir()) as session:
        precheck = session.get(Precheck, precheck_id[:36])
        if precheck is None:
            abort(404)
        item = get_item(session, precheck.item_code)
        if request.method == "POST":
            materials = {m.code for m in item.materials} if item else set()
            notes = {code: request.form.get(f"note_{code}", "") for code in materials}
            notes[""] = request.form.get("note", "")
            try:
                answer_here(session, identity(), precheck, outcome=request.form.get("outcome", ""), notes=notes,
                            staff=g.staff.username, materials=materials)
            except PrecheckError as refused:
                session.rollback()
                fields = {name: FIELD_PROBLEMS.get(word, word) for name, word in refused.fields.items()}
        files, notes = files_of(precheck), notes_of(precheck)
    if request.method == "POST" and not fields:
        wake_sync()
        return redirect(url_for("prechecks.desk"))
    return render_template("precheck.html", precheck=precheck, item=item, files=files, notes=notes,
                           statuses=STATUSES, fields=fields), (422 if fields else 200)


@bp.get("/<precheck_id>/files/<file_id>")
@login_required
def precheck_file(precheck_id: str, file_id: str):
    """A file of the pre-check: kept here once fetched; fetched from the county centre the first time."""
    with db.session_scope(data_dir()) as session:
        precheck = session.get(Precheck, precheck_id[:36])
        state = find_state(session)
    if precheck is None or state is None:
        abort(404)
    try:
        with hub_client(state, identity(), attempts=2) as client:
            opened = open_file(data_dir(), precheck, file_id, client)
    except (PrecheckError, HubRefused, HubUnreachable) as exc:
        reason = exc.reason if isinstance(exc, PrecheckError) else "offline"
        message = (_("This photo has not been fetched to this point yet and the county centre cannot be reached now. "
                     "Try again when the link is back.") if reason == "offline"
                   else _("This file cannot be shown."))
        return render_template("message.html", title=_("Photo not available"), message=message), 503
    suffix = opened.name.rsplit(".", 1)[-1].lower() if "." in opened.name else ""
    return Response(opened.data, mimetype=MEDIA_TYPES.get(suffix, "application/octet-stream"),
                    headers={"Cache-Control": "private, no-store"})
