"""The window's printouts and drafts: service guides (办事指南), one-time notices, unfinished intakes, and
referrals (转办) with their slips.

Intake itself is ``views.new_case``; these pages are what it sends staff to.
Everything here reads the local database only, so it all works offline.
"""

from __future__ import annotations

import json

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlmodel import select

from sync.kit.idnumber import mask_id_number

from . import db
from .auth import login_required
from .catalog import department_names, get_item
from .drafts import delete_draft, list_drafts
from .itemsearch import find_items
from .models import OneTimeNotice, Referral, Staff
from .referrals import REFERRAL_INPUTS, ReferralError, ReferralInput, list_referrals, refer
from .runtime import data_dir, identity, wake_sync
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


@bp.route("/referrals/new", methods=("GET", "POST"))
@login_required
def new_referral():
    """Refer a resident this window cannot serve to another point or a department (转办); then the slip to print.
    Anything wrong: the form again, each problem at its input, nothing stored."""
    values = {name: request.form.get(name, "") for name in REFERRAL_INPUTS} if request.method == "POST" \
        else {"item_code": request.args.get("item", ""), "to_kind": "department"}
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            with db.session_scope(data_dir()) as dbs:
                made = refer(dbs, g.staff.username, ReferralInput(**values), identity=identity(),
                             staff_name=g.staff.display_name, staff_post=g.staff.post)
        except ReferralError as exc:
            errors = exc.fields
        else:
            wake_sync()
            return redirect(url_for("window.referral_slip", referral_id=made.id))
    with db.session_scope(data_dir()) as dbs:
        items = find_items(dbs, "")
        departments = department_names(get_state(dbs))
    return render_template("referral_form.html", values=values, errors=errors, items=items,
                           departments=departments), (422 if errors else 200)


@bp.get("/referrals")
@login_required
def referrals():
    """Referrals made at this window, newest first, with whether the county hub has each."""
    with db.session_scope(data_dir()) as dbs:
        rows = list_referrals(dbs)
        departments = department_names(get_state(dbs))
    return render_template("referrals.html", rows=rows, departments=departments,
                           times={row.referral.id: as_utc(row.referral.referred_at) for row in rows})


@bp.get("/referrals/<referral_id>/slip")
@login_required
def referral_slip(referral_id: str):
    """The referral slip (转办单) the resident takes: where to go and why, and who here stays responsible."""
    with db.session_scope(data_dir()) as dbs:
        referral = dbs.get(Referral, referral_id)
        item = get_item(dbs, referral.item_code) if referral and referral.item_code else None
        state = get_state(dbs)
        departments = department_names(state)
    if referral is None:
        abort(404)
    return render_template("referral_slip.html", referral=referral, item=item, point=state,
                           departments=departments, referred_at=as_utc(referral.referred_at),
                           masked_id=mask_id_number(referral.resident_id_number)
                           if referral.resident_id_number else "")
