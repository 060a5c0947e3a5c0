"""The department's pre-check desk (网上预审): pre-checks of items the department answers itself, with their photos.

A reviewer sees the pre-checks of their own department (the lead one of a joint item); an admin or operator sees
them all. The answer is "complete" or a one-time notice per material (hub/approval/prechecks.py); the resident
reads it on the residents' site or at her point's kiosk.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, g, redirect, render_template, request, url_for

from sync.attachments import decrypt_attachment
from sync.keys import unb64
from sync.kit.residents.words import FIELD_PROBLEMS, STATUSES
from sync.kit.web import api_error

from hub.approval.prechecks import (
    PrecheckRefused,
    answer_precheck,
    department_prechecks,
    sealed_photo,
    precheck_photos,
)
from hub.approval.scanstore import ScanStoreError
from hub.catalog.versions import find_item
from hub.core.models import Point, Precheck, PrecheckPhoto
from hub.web.auth import login_required
from hub.web.context import get_session
from hub.web.sync import _authenticated_point as authenticated_point

bp = Blueprint("prechecks", __name__, url_prefix="/prechecks")
point_bp = Blueprint("precheckfiles", __name__, url_prefix="/sync/v1")

DESK_ROLES = ("admin", "operator", "reviewer")
MEDIA_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".tif": "image/tiff",
               ".tiff": "image/tiff", ".pdf": "application/pdf"}


def _own_department() -> str | None:
    return (g.staff.department_code or "") if g.staff.role == "reviewer" else None


def _precheck(precheck_id: str) -> Precheck:
    precheck = get_session().get(Precheck, precheck_id)
    own = _own_department()
    if precheck is None or precheck.reviewer != "department" or own not in (None, precheck.department_code):
        abort(404)
    return precheck


@bp.get("/")
@login_required(*DESK_ROLES)
def desk():
    """Pre-checks waiting for the department's answer, then those answered and not yet taken in."""
    return render_template("prechecks.html", prechecks=department_prechecks(get_session(), _own_department()),
                           statuses=STATUSES)


@bp.route("/<precheck_id>", methods=("GET", "POST"))
@login_required(*DESK_ROLES)
def answer(precheck_id: str):
    """One pre-check: the resident's photos per material, and the answer form."""
    session = get_session()
    precheck = _precheck(precheck_id)
    item = find_item(session, precheck.item_code)
    fields: dict[str, str] = {}
    if request.method == "POST":
        notes = {material.code: request.form.get(f"note_{material.code}", "") for material in item.materials} \
            if item else {}
        notes[""] = request.form.get("note", "")
        try:
            answer_precheck(session, precheck, outcome=request.form.get("outcome", ""), notes=notes,
                            actor=g.staff.username, item=item)
            session.commit()
            return redirect(url_for("prechecks.desk"))
        except PrecheckRefused as refused:
            session.rollback()
            fields = {name: FIELD_PROBLEMS.get(word, word) for name, word in refused.fields.items()}
    return render_template("precheck.html", precheck=precheck, item=item, photos=precheck_photos(session, precheck),
                           statuses=STATUSES, fields=fields), (422 if fields else 200)


@bp.get("/<precheck_id>/photos/<photo_id>")
@login_required(*DESK_ROLES)
def photo(precheck_id: str, photo_id: str):
    """A photo of the pre-check, opened from its sealed file."""
    precheck = _precheck(precheck_id)
    row = get_session().get(PrecheckPhoto, photo_id)
    if row is None or row.precheck_id != precheck.id:
        abort(404)
    try:
        data = decrypt_attachment(sealed_photo(current_app.config["DATA_DIR"], row), unb64(row.key_b64))
    except ScanStoreError:
        abort(404)  # removed with its case's scans after the retention period, or the store is unreachable
    suffix = "." + row.name.rsplit(".", 1)[-1].lower() if "." in row.name else ""
    return Response(data, mimetype=MEDIA_TYPES.get(suffix, "application/octet-stream"),
                    headers={"Cache-Control": "private, no-store"})


@point_bp.get("/prechecks/<precheck_id>/files/<file_id>")
def point_file(precheck_id: str, file_id: str):
    """The sealed bytes of one file of a pre-check, for the point it names only (a signed request): its clerk opens
    the photo there and decrypts it with the key the PRECHECK message carried."""
    point = authenticated_point()
    if not isinstance(point, Point):
        return point
    session = get_session()
    precheck = session.get(Precheck, precheck_id)
    row = session.get(PrecheckPhoto, file_id)
    if (precheck is None or precheck.point_id != point.id or precheck.status == "expired" or row is None
            or row.precheck_id != precheck.id):
        return api_error(404, "not_found", "no such file of a pre-check this point holds")
    try:
        sealed = sealed_photo(current_app.config["DATA_DIR"], row)
    except ScanStoreError:
        return api_error(503, "scan_store_unavailable", "the hub cannot read this file just now; try again later")
    return Response(sealed, mimetype="application/octet-stream", headers={"Cache-Control": "no-store"})
