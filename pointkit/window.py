"""The window's printouts and drafts: service guides (办事指南), one-time notices, unfinished intakes.

Intake itself is ``views.new_case``; these pages are what it sends staff to.
Everything here reads the local database only, so it all works offline.
"""

from __future__ import annotations

import json

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlmodel import select

from sync.kit.idnumber import mask_id_number

from . import db
from .auth import login_required
from .catalog import department_names, get_item
from .drafts import delete_draft, list_drafts
from .models import OneTimeNotice, Staff
from .runtime import data_dir
from .state import as_utc, get_state

bp = Blueprint("window", __name__)


@bp.get("/items/<code>/guide")
@login_required
def guide(code: str):
    """An item's standardized service guide (办事指南, the 十公开 fields), to print for a resident."""
    with db.session_scope(data_dir()) as dbs:
        item = get_item(dbs, code)
        state = get_state(dbs)
    if item is None:
        abort(404)
    return render_template("guide.html", item=item, departments=department_names(state),
                           catalog_version=state.catalog_version)


@bp.get("/notices/<notice_id>")
@login_required
def notice(notice_id: str):
    """A one-time notice (一次性告知书) as issued: every missing material, then the item's guide."""
    with db.session_scope(data_dir()) as dbs:
        issued = dbs.get(OneTimeNotice, notice_id)
        item = get_item(dbs, issued.item_code) if issued else None
        departments = department_names(get_state(dbs))
    if issued is None:
        abort(404)
    return render_template("notice.html", notice=issued, item=item, missing=json.loads(issued.missing_json),
                           departments=departments, masked_id=mask_id_number(issued.id_number),
                           issued_at=as_utc(issued.issued_at))


@bp.get("/drafts")
@login_required
def drafts():
    """Unfinished intakes saved at this window, newest first."""
    with db.session_scope(data_dir()) as dbs:
        saved = list_drafts(dbs)
        items = {draft.item_code: get_item(dbs, draft.item_code) for draft in saved}
        names = dict(dbs.exec(select(Staff.username, Staff.display_name)).all())
    rows = [(draft, items[draft.item_code], as_utc(draft.updated_at)) for draft in saved]
    return render_template("drafts.html", rows=rows, staff_names=names)


@bp.post("/drafts/<int:draft_id>/delete")
@login_required
def delete(draft_id: int):
    """Throw a draft away (the resident will not come back for it)."""
    with db.session_scope(data_dir()) as dbs:
        if not delete_draft(dbs, draft_id, g.staff.username):
            abort(404)
    flash(_("Draft deleted."))
    return redirect(url_for("window.drafts"))
