"""The window's pages: intake, receipts, case list, results, pickup, sync status.

Thin: each view parses the form, calls the domain function and renders.
"""

from __future__ import annotations

import json
from datetime import datetime

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import format_datetime, lazy_gettext, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from sqlmodel import select

from sync.client import HubRefused, HubUnreachable
from sync.kit.idnumber import mask_id_number
from sync.kit.qrcodes import qr_svg
from sync.kit.resultcode import result_code
from sync.kit.throttle import MAX_DELAY_S

from . import db, intake
from .auth import login_required
from .calendar import point_calendar
from .catalog import department_names, get_item
from .catalogfetch import catalog_download
from .certificates import accepting_materials, held_for, look_up, spared_view
from .drafts import delete_draft, draft_values, get_draft, save_draft
from .i18n import sync_problem
from .inbox import refused_messages
from .intake import (
    Applicant,
    IntakeError,
    issue_notice,
    level_refusal,
    open_application,
    prefill_values,
    previous_application,
    promised_date,
    receive_case,
)
from .itemsearch import find_items
from .logins import recent_failures
from .models import Case, Complaint, Precheck
from .outbox import quarantined
from .outbox import requeue as requeue_envelope
from .pickup import (
    MAX_PICKUP_TRIES,
    PickupError,
    collect,
    collect_by_id_number,
    find_case,
    unlock_minute,
    verified_result,
)
from .prechecks import files_of, precheck_values
from .progress import COLLECTED_HERE, calendar_missing, case_dates
from .runtime import data_dir, identity, wake_sync
from .scans import (
    ScanInput,
    ScanRefused,
    check_scans,
    discard_scans,
    parse_hours,
    prepare_scans,
    save_scan_settings,
    scans_allowed,
    uploaded_scans,
)
from .state import as_utc, find_state, get_state, local_now
from .syncagent import STEP_NAMES, SYNC_NOW_WAIT_S, SyncBusy, plain_reason, step_status, sync_once
from .trust import sealing_key

bp = Blueprint("views", __name__)

# Form paths from intake errors -> the page's input names.
APPLICANT_INPUTS = {"applicant.name": "applicant_name", "applicant.id_number": "applicant_id_number",
                    "applicant.phone": "applicant_phone"}
FRESH_PICKUP = "fresh_pickup"


def mask_name(name: str) -> str:
    """王小明 -> 王*明, 王明 -> 王*: enough for the resident to recognise, not to read off."""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def input_name(path: str) -> str:
    if path in APPLICANT_INPUTS:
        return APPLICANT_INPUTS[path]
    if path.startswith("form."):
        return "field_" + path[len("form."):]
    if path.startswith("certificates."):
        return "cert_" + path[len("certificates."):]
    return path


@bp.route("/")
def index():
    """Start at intake, or at the login page."""
    return redirect(url_for("views.new_case") if current_user.is_authenticated else url_for("auth.login"))


@bp.route("/cases/new", methods=("GET", "POST"))
@login_required
def new_case():
    """Find an item, then fill its form: receive it (receipt), or print a one-time notice, prefill, save a draft."""
    precheck = _precheck()
    code = request.values.get("item_code") or request.args.get("item") or (precheck.item_code if precheck else "")
    with db.session_scope(data_dir()) as dbs:
        state = get_state(dbs)
        item = get_item(dbs, code) if code else None
        found = find_items(dbs, request.args.get("q", "")) if item is None else []
        draft = get_draft(dbs, _draft_id()) if _draft_id() else None
    departments = department_names(state)
    if item is None:
        if code:
            flash(_("No service item with this code."))
        elsewhere = {item.code: refused.levels for item in found if (refused := level_refusal(item, state.level))}
        return render_template("items.html", items=found, query=request.args.get("q", ""), elsewhere=elsewhere)
    values, ticked = draft_values(draft) if draft and request.method == "GET" else ({}, [])
    if precheck is not None and request.method == "GET":
        values, ticked = precheck_values(precheck)
    if request.method == "POST":
        values, ticked = dict(request.form), request.form.getlist("materials")
    action = request.form.get("action", "receive")
    refusal, errors, repeat_of = level_refusal(item, state.level), {}, None
    lookup = None
    if request.method == "POST" and refusal is None and action == "prefill":
        values = _prefilled(item, values)
    elif request.method == "POST" and refusal is None and action == "certificates":
        with db.session_scope(data_dir()) as dbs:
            lookup = look_up(dbs, find_state(dbs), identity(), item, values.get("applicant_id_number", ""),
                             actor=g.staff.username)
            lookup.found = {code: [_copy_view(c) for c in copies] for code, copies in lookup.found.items()}
    elif request.method == "POST" and refusal is None and action == "draft":
        with db.session_scope(data_dir()) as dbs:
            save_draft(dbs, g.staff.username, item, values, ticked, _draft_id())
        flash(_("Draft saved. Resume it from the drafts list when the resident is back."))
        return redirect(url_for("window.drafts"))
    elif request.method == "POST" and refusal is None:
        outcome = _receive(item, state, ticked, precheck)
        if not isinstance(outcome, IntakeError):
            return outcome
        refusal, errors = outcome, {input_name(path): message for path, message in outcome.fields.items()}
        repeat_of = outcome.repeat_of
    today = local_now().date()
    with db.session_scope(data_dir()) as dbs:
        calendar = point_calendar(dbs)
        held = {code: [_copy_view(c) for c in copies]
                for code, copies in held_for(dbs, item, values.get("applicant_id_number", "")).items()}
    promised = promised_date(calendar, item, today)
    return render_template("case_form.html", item=item, values=values, ticked=ticked, errors=errors,
                           cert_held=held, cert_lookup=lookup, cert_problems=CERTIFICATE_PROBLEMS,
                           refusal=refusal, repeat_of=repeat_of, level=state.level, departments=departments,
                           promised=promised,
                           draft_id=_draft_id(), calendar_missing=calendar.missing_years(today, promised),
                           precheck=precheck, precheck_files=files_of(precheck) if precheck else [],
                           ), (422 if refusal and request.method == "POST" else 200)


def _precheck() -> Precheck | None:
    """The pre-check this intake takes in (``?precheck=`` when opened from it, a hidden input after)."""
    precheck_id = request.values.get("precheck_id") or request.args.get("precheck") or ""
    if not precheck_id:
        return None
    with db.session_scope(data_dir()) as dbs:
        return dbs.get(Precheck, precheck_id[:36])


def _receive(item, state, ticked: list[str], precheck: Precheck | None = None):
    """Receive the posted application: the receipt (or a one-time notice) to go to, or the IntakeError to show.

    A resident with an open application for the same item here is not received again until the clerk writes why
    (``repeat_reason``); every error then carries that case as ``repeat_of``, so the form keeps asking. Files that are not scans are refused
    before anything is sealed."""
    applicant = Applicant(request.form.get("applicant_name", ""), request.form.get("applicant_id_number", ""),
                          request.form.get("applicant_phone", ""))
    form = {spec.name: request.form.get(f"field_{spec.name}", "") for spec in item.fields}
    repeat_reason = request.form.get("repeat_reason", "").strip()
    with db.session_scope(data_dir()) as dbs:
        repeat_of = open_application(dbs, applicant.id_number, item.code)
    if repeat_of is not None and not repeat_reason:
        return IntakeError("repeat_application", "the resident has an open application for this item here",
                           {"repeat_reason": intake.REQUIRED} if "repeat_reason" in request.form else {},
                           repeat_of=repeat_of)
    inputs = _intake_scans(item)
    try:
        check_scans(inputs)
    except ScanRefused as exc:
        return IntakeError("invalid_input", str(exc), exc.fields, repeat_of=repeat_of)
    prepared = prepare_scans(data_dir(), inputs, max_photo_kb=state.max_photo_kb)
    try:
        with db.session_scope(data_dir()) as dbs:
            case, pickup_code = receive_case(dbs, g.staff.username, item.code, applicant, form, ticked,
                                             identity=identity(), scans=prepared, staff_name=g.staff.display_name,
                                             staff_post=g.staff.post, repeat_reason=repeat_reason,
                                             referral_no=request.form.get("referral_no", ""),
                                             certificates=_spare_marks(item),
                                             precheck=dbs.get(Precheck, precheck.id) if precheck else None)
            if _draft_id():
                delete_draft(dbs, _draft_id(), g.staff.username)
    except IntakeError as exc:
        discard_scans(data_dir(), prepared)
        if exc.reason != "materials_missing":
            exc.repeat_of = repeat_of  # the form keeps the reason already written
            return exc
        with db.session_scope(data_dir()) as dbs:
            notice = issue_notice(dbs, g.staff.username, item.code, applicant, form, ticked,
                                  staff_name=g.staff.display_name, staff_post=g.staff.post)
        return redirect(url_for("window.notice", notice_id=notice.id))
    session[FRESH_PICKUP] = {"case_id": case.id, "code": pickup_code}
    wake_sync()
    return redirect(url_for("views.receipt", case_id=case.id))


def _spare_marks(item) -> dict[str, str]:
    """The clerk's 免提交 choices on the intake form: ``cert_<material code>`` = a certificate number."""
    return {code: request.form.get(f"cert_{code}", "")[:64] for code in accepting_materials(item)
            if request.form.get(f"cert_{code}")}


def _copy_view(copy) -> dict:
    """A held certificate as the intake form shows it (outside the database session)."""
    return {"number": copy.number, "name_zh": copy.name_zh, "valid_until": copy.valid_until}


# Why the clerk's lookup of a resident's e-certificates gave nothing to choose from.
CERTIFICATE_PROBLEMS = {
    "no_id": lazy_gettext("Enter the resident's ID number first: certificates are looked up for her only."),
    "unreachable": lazy_gettext("The county centre cannot be reached just now, so her e-certificates cannot be "
                                "looked up. Take the paper material instead."),
    "not_enrolled": lazy_gettext("This point is not connected to the county centre yet: take the paper material."),
}


def _draft_id() -> int | None:
    """The draft being resumed (``?draft=`` when opened, a hidden input after)."""
    raw = request.values.get("draft_id") or request.args.get("draft") or ""
    return int(raw) if raw.isdigit() else None


def _prefilled(item, values: dict[str, str]) -> dict[str, str]:
    """Fill the empty inputs from this resident's latest application here, found by the ID number typed."""
    with db.session_scope(data_dir()) as dbs:
        previous = previous_application(dbs, values.get("applicant_id_number", ""))
    if previous is None:
        flash(_("No earlier application with this ID number at this point; fill the form in."))
        return values
    flash(_("Filled in from application %(receipt_no)s of %(date)s. Check every value with the resident.",
            receipt_no=previous.receipt_no, date=format_datetime(as_utc(previous.received_at), "yyyy-MM-dd")))
    return {**prefill_values(previous, item), **{key: value for key, value in values.items() if value}}


def _intake_scans(item) -> list[ScanInput]:
    """Files attached on the intake form: ``scans`` (any material) and ``scans_<material code>``."""
    inputs = uploaded_scans(request.files, [])
    for material in item.materials:
        field = f"scans_{material.code}"
        inputs += uploaded_scans(request.files, [material.code] * len(request.files.getlist(field)), field=field)
    return inputs


@bp.get("/cases/<case_id>/receipt")
@login_required
def receipt(case_id: str):
    """The printable receipt (受理回执); the pickup code appears only right after intake. Printed again later it
    is marked as a reprint (补打) and carries the current promised date: the hub's, and why it moved."""
    case = _case_or_404(case_id)
    fresh = session.get(FRESH_PICKUP)
    pickup_code = None
    if fresh and fresh.get("case_id") == case.id:
        pickup_code = fresh["code"]
        session.pop(FRESH_PICKUP)
    with db.session_scope(data_dir()) as dbs:
        item = get_item(dbs, case.item_code)
        state = get_state(dbs)
        missing = calendar_missing(point_calendar(dbs), case)
        spared = spared_view(dbs, case.id)
    return render_template("receipt.html", spared=spared, case=case, item=item, point=state, pickup_code=pickup_code,
                           masked_name=mask_name(case.applicant_name), masked_id=mask_id_number(case.id_number),
                           received_at=as_utc(case.received_at),
                           qr=qr_svg(case.receipt_no), calendar_missing=missing,
                           dates=case_dates(case), reprinted_at=None if pickup_code else local_now(),
                           departments=department_names(state), materials=json.loads(case.materials_json))


@bp.get("/cases")
@login_required
def cases():
    """Every case received here, newest first."""
    with db.session_scope(data_dir()) as dbs:
        found = dbs.exec(select(Case).order_by(Case.received_at.desc()).limit(500)).all()
    return render_template("cases.html", cases=found)


@bp.get("/cases/<case_id>")
@login_required
def case_page(case_id: str):
    """One case: what was received and where it stands."""
    case = _case_or_404(case_id)
    with db.session_scope(data_dir()) as dbs:
        item = get_item(dbs, case.item_code)
        spared = spared_view(dbs, case.id)
    return render_template("case.html", spared=spared, case=case, item=item, form=json.loads(case.form_json),
                           materials=json.loads(case.materials_json), masked_id=mask_id_number(case.id_number),
                           received_at=as_utc(case.received_at),
                           document=json.loads(case.result_document) if case.result_document else None)


@bp.get("/results")
@login_required
def results():
    """Cases whose result has arrived and waits for the resident."""
    with db.session_scope(data_dir()) as dbs:
        ready = dbs.exec(select(Case).where(Case.status == "result_ready").order_by(Case.received_at)).all()
    return render_template("results.html", cases=ready)


@bp.route("/pickup", methods=("GET", "POST"))
@login_required
def pickup():
    """Hand a result over: receipt number, pickup code and the last four ID characters; for a case the county
    hub sent back to this restored point (no pickup code here), the whole ID number and a reason instead."""
    error = ""
    values = dict(request.form) if request.method == "POST" else {"receipt_no": request.args.get("receipt_no", "")}
    receipt_no = values.get("receipt_no", "")
    if request.method == "POST":
        try:
            with db.session_scope(data_dir()) as dbs:
                if "id_number" in request.form:
                    case, _signed = collect_by_id_number(
                        dbs, g.staff.username, receipt_no, request.form["id_number"],
                        request.form.get("reason", ""), request.form.get("note", ""), identity=identity())
                else:
                    case, _signed = collect(dbs, g.staff.username, receipt_no, request.form.get("pickup_code", ""),
                                            request.form.get("id_last4", ""), identity=identity())
        except PickupError as exc:
            error = pickup_refusal(exc, PICKUP_MESSAGES)
        else:
            wake_sync()
            return redirect(url_for("views.handover", case_id=case.id))
    with db.session_scope(data_dir()) as dbs:
        found = find_case(dbs, receipt_no)
    restored = found is not None and found.restored_at is not None
    reasons = {code: text for code, text in ID_CHECK_REASON_TEXT.items() if restored or code != "restored_no_code"}
    return render_template("pickup.html", error=error, values=values, restored=restored,
                           id_check_reasons=reasons), (422 if error else 200)


def pickup_refusal(exc: PickupError, messages: dict[str, str], *, tries_left: bool = True) -> str:
    """Why a pickup code was refused, in the page's language: when a lock ends (rounded up to the minute, so it
    is never still locked then), or how many tries are left before one (unless ``tries_left`` is False: the kiosk
    never says it, since only a real receipt has a count)."""
    time = format_datetime(unlock_minute(exc.unlocks_at), "HH:mm") if exc.unlocks_at else ""
    text = messages[exc.reason] % {"count": MAX_PICKUP_TRIES, "time": time}
    if tries_left and exc.tries_left is not None:
        text += " " + ngettext("One more wrong try locks it for 15 minutes.",
                               "%(num)s more wrong tries lock it for 15 minutes.", exc.tries_left)
    return text


RATING_LABELS = {5: lazy_gettext("Very satisfied"), 4: lazy_gettext("Satisfied"), 3: lazy_gettext("Fair"),
                 2: lazy_gettext("Dissatisfied"), 1: lazy_gettext("Very dissatisfied")}
PICKUP_MESSAGES = {
    "not_found": lazy_gettext("No case has this receipt number. Check the number on the receipt."),
    "not_ready": lazy_gettext("The result for this case is not ready (or was already collected)."),
    "collected_elsewhere": lazy_gettext("The resident already collected this result at another service point (the "
                                        "county merged her two applications)."),
    COLLECTED_HERE: lazy_gettext("The resident already collected this result at this window with her other "
                                 "receipt (the county merged her two applications)."),
    "wrong_pickup_code": lazy_gettext("The pickup code or the last four ID characters do not match. Check the receipt "
                                      "and the ID card."),
    "result_invalid": lazy_gettext("The stored result does not carry a valid county signature. Do not hand it over; "
                                   "ask the county hub to send it again."),
    "pickup_locked": lazy_gettext("Pickup of this case is locked after %(count)s wrong tries. Check the receipt and "
                                  "the ID card with the resident and try again after %(time)s."),
    "no_pickup_code_here": lazy_gettext("This case was sent back by the county after this computer was restored from "
                                        "an older backup: its pickup code cannot be checked here. Check the resident's "
                                        "whole ID number instead."),
    "wrong_id_number": lazy_gettext("The ID number is not the applicant's. Check it against the ID card."),
    "id_number_incomplete": lazy_gettext("Type the whole ID number from the resident's ID card."),
    "reason_required": lazy_gettext("Choose why the result is handed over without the pickup code; for another reason, "
                                    "write it."),
}
# ID_CHECK_REASONS (pickup.py) as staff read them.
ID_CHECK_REASON_TEXT = {
    "restored_no_code": lazy_gettext("The resident has the receipt, but its pickup code cannot be checked on this "
                                     "computer"),
    "receipt_lost": lazy_gettext("The resident lost the receipt"),
    "code_forgotten": lazy_gettext("The resident has no pickup code (receipt damaged or code forgotten)"),
    "other": lazy_gettext("Another reason (write it below)"),
}


@bp.get("/cases/<case_id>/handover")
@login_required
def handover(case_id: str):
    """The printable handover of a collected result, re-verified against the pinned hub key."""
    case = _case_or_404(case_id)
    if case.status != "collected":
        abort(404)
    try:
        with db.session_scope(data_dir()) as dbs:
            signed = verified_result(dbs, case)
            departments = department_names(get_state(dbs))
            item = get_item(dbs, case.item_code)
    except PickupError as exc:
        return render_template("message.html", title=_("Result not valid"), message=str(PICKUP_MESSAGES[exc.reason])), 409
    return render_template("handover.html", case=case, document=signed["document"], departments=departments,
                           masked_name=mask_name(case.applicant_name), masked_id=mask_id_number(case.id_number),
                           collected_at=as_utc(case.collected_at),
                           decided_at=as_utc(datetime.fromisoformat(signed["document"]["decided_at"])),
                           qr=qr_svg(result_code(signed)), item=item, rating_labels=RATING_LABELS)


@bp.get("/sync")
@login_required
def sync_status():
    """How sync stands: online, queued, quarantined envelopes with the hub's reasons, refused messages; for
    admins, the failed logins of the last day too."""
    with db.session_scope(data_dir()) as dbs:
        state = get_state(dbs)
        held = quarantined(dbs)
        refused = refused_messages(dbs)
        about = [row.case_id for row in held if row.case_id]
        receipts = {c.id: c.receipt_no for c in dbs.exec(select(Case).where(Case.id.in_(about))).all()}
        receipts |= {c.id: c.complaint_no for c in dbs.exec(select(Complaint).where(Complaint.id.in_(about))).all()}
        failed_logins = recent_failures(dbs) if g.staff.role == "admin" else []
    steps = [step for step in STEP_NAMES if step != "relay" or state.level == "township"]
    return render_template("sync.html", point=state, quarantined=held, refused=refused, receipts=receipts,
                           steps=steps, step_status=step_status(state.sync_steps),
                           catalog_download=catalog_download(data_dir()),
                           scans_allowed_now=scans_allowed(state, local_now()),
                           last_sync_at=as_utc(state.last_sync_at), suite=int(sealing_key(state).suite),
                           clock_offset_seconds=round(state.clock_offset_ms / 1000),
                           last_attempt_at=as_utc(state.last_attempt_at), failed_logins=failed_logins,
                           max_delay_s=MAX_DELAY_S)


@bp.post("/sync/now")
@login_required
def sync_now():
    """Run one sync round now and say what moved."""
    try:
        report = sync_once(data_dir(), send_scans=request.form.get("scans") == "1", wait=SYNC_NOW_WAIT_S)
    except SyncBusy:
        flash(_("A sync round is already running; it finishes by itself: look again in a moment."))
    except HubUnreachable as exc:
        flash(_("Sync failed: %(reason)s. Cases stay queued and are sent when the link is back.",
                reason=sync_problem(plain_reason(exc))))
    except HubRefused as exc:
        flash(_("The county hub refused this point's request (%(reason)s). Cases stay queued; tell county IT.",
                reason=exc.reason))
    else:
        counts = {key: value for key, value in report.to_dict().items() if key != "errors"}
        flash(_("Sync done: %(pushed)s sent (%(accepted)s accepted, %(rejected)s rejected), %(pulled)s received, %(applied)s applied.",
                **counts))
        if report.scans_sent or report.scans_held:
            flash(_("Scans: %(sent)s sent, %(held)s held for the unmetered hours.", sent=report.scans_sent,
                    held=report.scans_held))
    return redirect(url_for("views.sync_status"))


@bp.post("/sync/settings")
@login_required(role="admin")
def sync_settings():
    """Metered link, unmetered hours, photo size limit and scan retention (admins)."""
    hours = request.form.get("unmetered_hours", "").strip()[:16]
    try:
        parse_hours(hours)
        max_photo_kb = int(request.form.get("max_photo_kb", "0") or 0)
        retention_days = int(request.form.get("scan_retention_days", "0") or 0)
        if max_photo_kb < 0 or retention_days < 0:
            raise ValueError
    except ValueError:
        flash(_("Settings not saved: write the hours as START-END (e.g. 22-6) and sizes and days as whole numbers."))
        return redirect(url_for("views.sync_status"))
    with db.session_scope(data_dir()) as dbs:
        save_scan_settings(dbs, metered=request.form.get("metered") == "1", unmetered_hours=hours,
                           max_photo_kb=max_photo_kb, scan_retention_days=retention_days, actor=g.staff.username)
    flash(_("Settings saved."))
    wake_sync()
    return redirect(url_for("views.sync_status"))


@bp.post("/sync/requeue/<int:outbox_id>")
@login_required(role="admin")
def requeue(outbox_id: int):
    """Put a quarantined envelope back in the queue (admins, once the hub side is fixed)."""
    with db.session_scope(data_dir()) as dbs:
        row = requeue_envelope(dbs, outbox_id, actor=g.staff.username)
    if row is None:
        abort(404)
    wake_sync()
    flash(_("The envelope is queued again."))
    return redirect(url_for("views.sync_status"))


def _case_or_404(case_id: str) -> Case:
    with db.session_scope(data_dir()) as dbs:
        case = find_case(dbs, case_id)
    if case is None:
        abort(404)
    return case
