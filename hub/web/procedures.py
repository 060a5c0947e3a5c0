"""Special procedures (特别程序) on the pages and in the JSON API: a reviewer of the deciding department starts
one on the case page (or ``POST /api/cases/<id>/procedures``) with its kind and reason and ends it with a note;
meanwhile the clock stands still (hub/approval/procedures.py)."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext

from sync.catalog import SPECIAL_PROCEDURES
from sync.kit.openapi import documented
from sync.kit.web import api_error, parse_json_body

from hub.approval.cases import can_view
from hub.approval.procedures import ProcedureError, end_procedure, procedure_public, start_procedure
from hub.catalog.versions import find_item
from hub.core.models import Case
from hub.web import schemas
from hub.web.auth import api_auth, login_required
from hub.web.cases import _render_case
from hub.web.context import get_session
from hub.web.procedurewords import PROCEDURE_NAMES, procedure_name

bp = Blueprint("procedures", __name__)
api_bp = Blueprint("procedures_api", __name__, url_prefix="/api")

PROCEDURE_MESSAGES = {
    "unknown_kind": lazy_gettext("Choose a procedure from the list."),
    "site_check_counts": lazy_gettext("This item's rule counts the site check in its time limit: it cannot be "
                                      "excluded."),
    "reason_required": lazy_gettext("Write why the procedure is needed. Nothing was started."),
    "note_required": lazy_gettext("Write how the procedure ended. Nothing was saved."),
    "expected_end_past": lazy_gettext("The expected end must not be before today."),
    "already_open": lazy_gettext("This procedure is already running on the case."),
    "already_ended": lazy_gettext("This procedure has ended already."),
    "not_open": lazy_gettext("Your department has no open task on this case."),
    "forbidden": lazy_gettext("Only the department deciding the case starts or ends its procedures."),
    "not_found": lazy_gettext("No such procedure on this case."),
}
_ERRORS = {403: ("forbidden",), 404: ("not_found",), 409: ("not_open", "already_open", "already_ended"),
           422: ("unknown_kind", "site_check_counts", "reason_required", "note_required", "expected_end_past")}


bp.add_app_template_filter(procedure_name, "procedure_name")


@bp.app_template_global("procedure_choices")
def procedure_choices(item_code: str) -> list[tuple[str, str]]:
    """The kinds a department may start on a case of ``item_code``: 现场核查 only where its rule excludes it."""
    item = find_item(get_session(), item_code)
    allowed = item is not None and item.site_check_excluded
    return [(kind, str(PROCEDURE_NAMES[kind])) for kind in SPECIAL_PROCEDURES if kind != "site_check" or allowed]


def _visible(case_id: str) -> Case | None:
    case = get_session().get(Case, case_id[:36])
    return case if case is not None and can_view(get_session(), g.staff, case) else None


def _ended_answer(case: Case, ended) -> dict:
    item = find_item(get_session(), case.item_code)
    return {"procedure": procedure_public(ended.procedure),
            "due_date": case.due_date.isoformat() if case.due_date else None,
            "legal_due_date": case.legal_due_date.isoformat() if case.legal_due_date else None,
            "promised_unit": item.promised_unit if item else None, "legal_unit": item.legal_unit if item else None,
            "paused_days": case.paused_days, "paused_natural_days": case.paused_natural_days,
            "still_paused": case.paused_since is not None}


@api_bp.post("/cases/<case_id>/procedures")
@documented("Start a special procedure (特别程序): the time limit stands still until it ends",
            body=schemas.ProcedureStartBody, answer=schemas.ProcedureStarted, status=201, errors=_ERRORS)
@api_auth("reviewer", "admin")
def post_procedure(case_id: str):
    """Start a procedure for the caller's department (an admin's: the department with the open task)."""
    body = parse_json_body(schemas.ProcedureStartBody)
    if not isinstance(body, schemas.ProcedureStartBody):
        return body
    case = _visible(case_id)
    if case is None:
        return api_error(404, "not_found", "no such case in your department")
    db = get_session()
    try:
        procedure = start_procedure(db, case_id=case.id, staff=g.staff, kind=body.kind, reason=body.reason,
                                    expected_end=body.expected_end)
    except ProcedureError as exc:
        db.rollback()
        return api_error(exc.status, exc.reason, str(exc))
    db.commit()
    return {**procedure_public(procedure), "due_date": case.due_date.isoformat() if case.due_date else None,
            "legal_due_date": case.legal_due_date.isoformat() if case.legal_due_date else None}, 201


@api_bp.post("/cases/<case_id>/procedures/<procedure_id>/end")
@documented("End a special procedure: the time limit runs again and the due dates move",
            body=schemas.ProcedureEndBody, answer=schemas.ProcedureEndedResponse, errors=_ERRORS)
@api_auth("reviewer", "admin")
def post_procedure_end(case_id: str, procedure_id: str):
    """End a procedure the caller's department started; answer with the case's due dates as they stand now."""
    body = parse_json_body(schemas.ProcedureEndBody)
    if not isinstance(body, schemas.ProcedureEndBody):
        return body
    case = _visible(case_id)
    if case is None:
        return api_error(404, "not_found", "no such case in your department")
    db = get_session()
    try:
        ended = end_procedure(db, staff=g.staff, note=body.note, procedure_id=procedure_id[:36], case_id=case.id)
    except ProcedureError as exc:
        db.rollback()
        return api_error(exc.status, exc.reason, str(exc))
    db.commit()
    return _ended_answer(case, ended)


@bp.post("/cases/<case_id>/procedures")
@login_required("reviewer", "admin")
def start_form(case_id: str):
    """The case page's form: start a procedure (errors are shown on the case page, nothing saved)."""
    case = _visible(case_id)
    if case is None:
        abort(404)
    expected = request.form.get("expected_end", "").strip()
    try:
        expected_end = date.fromisoformat(expected) if expected else None
    except ValueError:
        return _render_case(case, error=_("Write the expected end as a date (YYYY-MM-DD). Nothing was started."),
                            status=400)
    return _act(case, lambda db: start_procedure(
        db, case_id=case.id, staff=g.staff, kind=request.form.get("kind", "")[:24],
        reason=request.form.get("reason", "")[:2000], expected_end=expected_end))


@bp.post("/cases/<case_id>/procedures/<procedure_id>/end")
@login_required("reviewer", "admin")
def end_form(case_id: str, procedure_id: str):
    """The case page's form: end a running procedure."""
    case = _visible(case_id)
    if case is None:
        abort(404)
    return _act(case, lambda db: end_procedure(db, staff=g.staff, note=request.form.get("note", "")[:2000],
                                               procedure_id=procedure_id[:36], case_id=case.id))


def _act(case: Case, act):
    """Run ``act(db)``; back to the case page, or the case page with what to do when it was refused."""
    db = get_session()
    try:
        act(db)
    except ProcedureError as exc:
        db.rollback()
        return _render_case(db.get(Case, case.id), error=str(PROCEDURE_MESSAGES.get(exc.reason, exc)),
                            status=exc.status)
    db.commit()
    return redirect(url_for("views.case_page", case_id=case.id))
