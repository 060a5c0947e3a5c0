"""The window after intake: corrections and withdrawals before the decision, 补正 (notice and the
resident's return), finding a case for pickup, rating (好差评), and the residents' status kiosk.

The kiosk is the one page without a staff login: receipt number plus pickup
code show where the case stands and the promised date, the name masked,
nothing else; wrong codes count towards the same lock as pickup's.
"""

from __future__ import annotations

import json

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext

from . import db
from .amend import ChangeError, amend_case, changeable, hub_word, withdraw_case
from .auth import login_required
from .catalog import department_names, get_item
from .complaintdesk import STATE_LABELS
from .complaints import ComplaintError, is_complaint_no, look_up_complaint
from .kiosk import RECEIPT_NO_MAX, look_up, normalize_receipt_no
from .models import Case
from .pickup import MAX_PICKUP_TRIES, PickupError, find_case, held_at_hub, rate, search_cases
from .runtime import data_dir, identity, wake_sync
from .scans import MAX_SCANS_PER_CASE, ScanRefused, check_scans, discard_scans, prepare_scans, uploaded_scans
from .state import as_utc, get_state
from .supplement import SupplementError, open_request, send_supplement
from .views import input_name, mask_name, pickup_refusal

bp = Blueprint("desk", __name__)

# A receipt this point gave whose case it no longer holds (restored from an older backup; pickup.held_at_hub).
HELD_AT_HUB = lazy_gettext("This receipt was given at this point, but its case is not on this computer (it was "
                           "restored from an older backup). The case is safe at the county: ask the county to hand "
                           "over its result.")
# The kiosk answers a receipt number no case has as it answers a wrong pickup code (pointkit/kiosk.py).
KIOSK_MESSAGES = {
    "held_at_hub": HELD_AT_HUB,
    "no_pickup_code_here": lazy_gettext("This application came back to this computer from the county; this "
                                        "computer cannot check its pickup code. Please ask at the window and bring "
                                        "your ID card."),
    "wrong_pickup_code": lazy_gettext("The receipt number or the pickup code is wrong. Check both on the receipt "
                                      "and type them again. After %(count)s wrong tries the receipt is locked for "
                                      "15 minutes."),
    "pickup_locked": lazy_gettext("Locked after %(count)s wrong tries. Ask at the window, or try again after "
                                  "%(time)s."),
}
# Each answer of the kiosk has a title of its own, for a screen reader and the browser's tab.
KIOSK_TITLES = {
    "": lazy_gettext("Check your application"),
    "answer": lazy_gettext("Where your application stands"),
    "wrong_pickup_code": lazy_gettext("Receipt number or pickup code wrong"),
    "pickup_locked": lazy_gettext("Checking this receipt is locked for now"),
    "held_at_hub": lazy_gettext("Please ask at the window"),
    "no_pickup_code_here": lazy_gettext("Please ask at the window"),
    "complaint": lazy_gettext("Where your complaint stands"),
    "complaint_wrong_code": lazy_gettext("Complaint number or code wrong"),
    "complaint_locked": lazy_gettext("Checking this complaint is locked for now"),
}
COMPLAINT_KIOSK_MESSAGES = {
    "wrong_code": lazy_gettext("The complaint number or the code is wrong. Check both on the complaint receipt and "
                               "type them again. After %(count)s wrong tries the complaint is locked for 15 minutes."),
    "locked": lazy_gettext("Locked after %(count)s wrong tries. Ask at the window, or try again in 15 minutes."),
}
RATING_MESSAGES = {
    "not_collected": lazy_gettext("A case is rated after the result was handed over."),
    "already_rated": lazy_gettext("This case was already rated."),
    "bad_score": lazy_gettext("Choose a rating from 1 to 5."),
}
CHANGE_MESSAGES = {
    "decided": lazy_gettext("This case is decided or withdrawn: the window cannot change it any more. "
                            "Ask the county hub."),
    "nothing_changed": lazy_gettext("No field differs from the case as received. Nothing was sent."),
    "reason_required": lazy_gettext("Write why the resident withdraws the application. Nothing was sent."),
}
SUPPLEMENT_MESSAGES = {
    "not_waiting": lazy_gettext("This case is not waiting for materials."),
    "unknown_material": lazy_gettext("Attach scans only of the materials the department asked for."),
    "scans_required": lazy_gettext("Attach a scan or photo of each material the resident brought."),
    "not_a_scan": lazy_gettext("Nothing was sent: attach scans or photos (JPEG, PNG, TIFF) or PDF files of up to "
                               "10 MB each."),
    "too_many_scans": lazy_gettext("Nothing was sent: attach at most %(limit)s files at a time (put the pages of one "
                                   "material into one PDF).", limit=MAX_SCANS_PER_CASE),
}


bp.add_app_template_filter(changeable, "changeable")
bp.add_app_template_filter(hub_word, "hub_word")


@bp.app_template_filter("supplement_request")
def supplement_request(case: Case):
    """The open supplement request of ``case`` (for its page), or None."""
    return open_request(case)


def _case(case_id: str) -> tuple[Case, object]:
    with db.session_scope(data_dir()) as dbs:
        case = find_case(dbs, case_id[:64])
        item = get_item(dbs, case.item_code) if case else None
    if case is None:
        abort(404)
    return case, item


@bp.route("/cases/<case_id>/amend", methods=("GET", "POST"))
@login_required
def amend(case_id: str):
    """Correct the application's form fields before the decision; the county hub reconciles the change."""
    case, item = _case(case_id)
    values = {f"field_{name}": value for name, value in json.loads(case.form_json).items()}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = dict(request.form)
        form = {spec.name: request.form.get(f"field_{spec.name}", "") for spec in (item.fields if item else [])}
        try:
            with db.session_scope(data_dir()) as dbs:
                amend_case(dbs, g.staff.username, case.id, form, identity=identity())
        except ChangeError as exc:
            errors = {input_name(path): message for path, message in exc.fields.items()}
            if not errors:
                flash(str(CHANGE_MESSAGES[exc.reason]))
        else:
            flash(_("The correction was queued for the county hub."))
            wake_sync()
            return redirect(url_for("views.case_page", case_id=case.id))
    return render_template("case_amend.html", case=case, item=item, values=values, errors=errors), (
        422 if request.method == "POST" else 200)


@bp.post("/cases/<case_id>/withdraw")
@login_required
def withdraw(case_id: str):
    """The resident withdraws the application before the decision; the county hub confirms it."""
    case, _item = _case(case_id)
    try:
        with db.session_scope(data_dir()) as dbs:
            withdraw_case(dbs, g.staff.username, case.id, request.form.get("reason", ""), identity=identity())
    except ChangeError as exc:
        flash(str(CHANGE_MESSAGES[exc.reason]))
    else:
        flash(_("The withdrawal was queued for the county hub."))
        wake_sync()
    return redirect(url_for("views.case_page", case_id=case.id))


@bp.get("/cases/<case_id>/supplement-notice")
@login_required
def supplement_notice(case_id: str):
    """The printable supplement notice (补正通知书): what to bring again, and why."""
    case, item = _case(case_id)
    request_ = open_request(case)
    if request_ is None:
        abort(404)
    with db.session_scope(data_dir()) as dbs:
        state = get_state(dbs)
    return render_template("supplement_notice.html", case=case, item=item, supplement=request_, point=state,
                           departments=department_names(state),
                           masked_name=mask_name(case.applicant_name),
                           requested_at=as_utc(request_.requested_at))


@bp.post("/cases/<case_id>/supplement")
@login_required
def supplement(case_id: str):
    """The resident came back: attach the scans of what she brought and send them to the county."""
    case, item = _case(case_id)
    request_ = open_request(case)
    materials = request_.materials if request_ else []
    inputs = []
    for code in materials:
        field = f"scans_{code}"
        inputs += uploaded_scans(request.files, [code] * len(request.files.getlist(field)), field=field)
    with db.session_scope(data_dir()) as dbs:
        max_photo_kb = get_state(dbs).max_photo_kb
    try:
        check_scans(inputs)
    except ScanRefused as exc:
        flash(str(SUPPLEMENT_MESSAGES[exc.reason]))
        return redirect(url_for("views.case_page", case_id=case.id))
    prepared = prepare_scans(data_dir(), inputs, max_photo_kb=max_photo_kb)
    try:
        with db.session_scope(data_dir()) as dbs:
            send_supplement(dbs, g.staff.username, dbs.get(Case, case.id), note=request.form.get("note", ""),
                            identity=identity(), scans=prepared)
    except SupplementError as exc:
        discard_scans(data_dir(), prepared)
        flash(str(SUPPLEMENT_MESSAGES[exc.reason]))
    else:
        flash(_("The materials were sent to the county; the case is back with the department."))
        wake_sync()
    return redirect(url_for("views.case_page", case_id=case.id))


@bp.get("/pickup/find")
@login_required
def find():
    """Find cases for pickup by receipt number, the receipt's QR code or the resident's ID number."""
    query = request.args.get("q", "").strip()[:64]
    with db.session_scope(data_dir()) as dbs:
        found = search_cases(dbs, query) if query else []
        # Looked up as search_cases looks it up (upper case: the receipt's QR code and typed numbers alike).
        held = bool(query) and not found and held_at_hub(dbs, query.upper())
    if len(found) == 1 and found[0].status == "result_ready":
        return redirect(url_for("views.pickup", receipt_no=found[0].receipt_no))
    return render_template("find.html", query=query, cases=found, held=held, held_message=HELD_AT_HUB)


@bp.post("/cases/<case_id>/rating")
@login_required
def rating(case_id: str):
    """好差评: the resident's 1-5 rating and comment after pickup, sent to the county."""
    case, _item = _case(case_id)
    try:
        score = int(request.form.get("score", "0"))
    except ValueError:
        score = 0
    try:
        with db.session_scope(data_dir()) as dbs:
            rate(dbs, g.staff.username, dbs.get(Case, case.id), score, request.form.get("comment", ""),
                 identity=identity())
    except PickupError as exc:
        flash(str(RATING_MESSAGES.get(exc.reason, exc.message)))
    else:
        flash(_("Thank you: the rating was sent to the county."))
        wake_sync()
    return redirect(url_for("views.handover", case_id=case.id))


@bp.route("/status", methods=("GET", "POST"))
def kiosk():
    """The residents' status kiosk: receipt number and pickup code, or a complaint number and its code; no staff
    login, no personal data."""
    shown, error, reason = None, "", ""
    receipt_no = request.form.get("receipt_no", "").strip()[:RECEIPT_NO_MAX]
    if request.method == "POST" and is_complaint_no(normalize_receipt_no(receipt_no)):
        return _complaint_kiosk(receipt_no)
    if request.method == "POST":
        try:
            with db.session_scope(data_dir()) as dbs:
                shown = look_up(dbs, receipt_no, request.form.get("pickup_code", ""), masked_name=mask_name)
        except PickupError as exc:
            error, reason = pickup_refusal(exc, KIOSK_MESSAGES, tries_left=False), exc.reason
    return render_template("kiosk.html", shown=shown, error=error, reason=reason, receipt_no=receipt_no,
                           titles=KIOSK_TITLES), (422 if error else 200)


def _complaint_kiosk(typed: str):
    """The kiosk's answer for a complaint number and its code: where the complaint stands and the county's answer;
    a wrong code and an unknown (or anonymous) complaint are refused in the same words."""
    complaint, error, reason = None, "", ""
    try:
        with db.session_scope(data_dir()) as dbs:
            complaint = look_up_complaint(dbs, normalize_receipt_no(typed), request.form.get("pickup_code", ""))
    except ComplaintError as exc:
        reason = "complaint_" + exc.reason
        error = str(COMPLAINT_KIOSK_MESSAGES[exc.reason]) % {"count": MAX_PICKUP_TRIES}
    return render_template("kiosk.html", complaint=complaint, complaint_states=STATE_LABELS, error=error,
                           reason=reason or ("complaint" if complaint else ""), receipt_no=typed,
                           titles=KIOSK_TITLES), (422 if error else 200)
