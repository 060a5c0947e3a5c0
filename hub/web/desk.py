"""The conflict desk's pages (/desk) and JSON API (/api/conflicts), for operators and admins."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from pydantic import BaseModel, Field
from sqlmodel import select

from sync.kit.openapi import documented
from sync.kit.web import api_error, parse_json_body
from sync.kit.workdays import COUNTY_TIMEZONE

from hub.catalog.versions import find_item
from hub.core.clock import as_utc
from hub.core.models import Point
from hub.reconcile.desk import KINDS, STATUSES, DeskError, conflict_view, desk_queue, find_conflict, resolve
from hub.web.auth import api_auth, login_required
from hub.web.cases import department_names, minutes_text, status_text
from hub.web.catalog import catalog_word
from hub.web.context import current_identity, get_session
from hub.web.deskwords import LABELS
from hub.web.schemas import ConflictsResponse, ConflictView
from hub.web.timeline import Words, timeline

bp = Blueprint("desk", __name__)
DESK_ROLES = ("operator", "admin")


# The evidence of an intake time the hub could not believe (hub/intaketime.py), as the desk says it.
BOUND_TEXT = {
    "enrollment": lazy_gettext("The point was enrolled then."),
    "sequence": lazy_gettext("The case it sent just before this one (envelope %(earlier_seq)s, receipt %(receipt_no)s) "
                             "was received then."),
    "sync": lazy_gettext("The point said then that it had sealed %(sealed_seq)s envelopes; this case is envelope "
                         "%(seq)s."),
    "catalog": lazy_gettext("The catalog version %(catalog_version)s the case names was published then."),
}


# The fields the hub compares side by side (hub/reconcile/arrival.py); a form field is named by its item's label.
FIELD_TEXT = {
    "receipt_no": lazy_gettext("Receipt number"),
    "item_code": lazy_gettext("Item code"),
    "status": lazy_gettext("Status"),
    "name": lazy_gettext("Applicant's name"),
    "id_number": lazy_gettext("ID number"),
    "phone": lazy_gettext("Phone"),
    "catalog_version": lazy_gettext("Catalog version"),
    "required_materials": lazy_gettext("Required materials"),
    "route": lazy_gettext("How it is decided"),
    "state": lazy_gettext("In the catalog"),
    "decision": lazy_gettext("Decision"),
    "reason": lazy_gettext("Reason"),
    "envelope_id": lazy_gettext("Envelope"),
    "kind": lazy_gettext("Message"),
    "case_id": lazy_gettext("Case"),
    "received_at": lazy_gettext("Arrived at the hub"),
}
# Values of those fields that are words of ours, not the resident's; case states fall back to the status filter.
VALUE_TEXT = {
    "listed": lazy_gettext("Listed"),
    "amended": lazy_gettext("Amended at the point"),
    "SUBMIT": lazy_gettext("New application"),
    "AMEND": lazy_gettext("Amendment"),
    "SUPPLEMENT": lazy_gettext("Supplement"),
    "WITHDRAW": lazy_gettext("Withdrawal"),
    "COLLECTED": lazy_gettext("Result collected"),
    "RATE": lazy_gettext("Rating"),
}
WORD_FIELDS = ("status", "decision", "state", "kind")


@bp.app_context_processor
def _bound_texts() -> dict:
    return {"BOUND_TEXT": BOUND_TEXT}


def _short_date(value: str | None) -> str:
    """A county-local month and day ("3月2日"), how people name a day within the year."""
    if not value:
        return ""
    moment = as_utc(datetime.fromisoformat(value)).astimezone(COUNTY_TIMEZONE)
    return _("%(month)s/%(day)s", month=moment.month, day=moment.day)


@bp.app_template_global("conflict_words")
def conflict_words(item_code: str) -> ConflictWords:
    """For pages beyond the desk (a case page's conflict box) to name a conflict's fields as the desk does."""
    return ConflictWords(get_session(), item_code)


class ConflictWords:
    """Says one conflict's fields, values and sides in the page's language, from its item's catalog entry."""

    def __init__(self, db, item_code: str):
        self.db = db
        self.item = find_item(db, item_code) if item_code else None
        self.chinese = g.get("lang", "zh") == "zh"

    def fields(self, keys: list[str]) -> str:
        """Several fields' names as a list in the page's language."""
        return self.join(self.field(key) for key in keys)

    def join(self, words) -> str:
        return ("、" if self.chinese else ", ").join(words)

    def field(self, key: str) -> str:
        """A compared field's name: the hub's own (``name`` is the applicant's) or the item's form field label
        (``form.<name>`` in a case summary, the bare name in an amendment)."""
        if key in FIELD_TEXT:
            return str(FIELD_TEXT[key])
        name = key.removeprefix("form.")
        for spec in self.item.fields if self.item else []:
            if spec.name == name:
                return spec.label_zh if self.chinese else spec.label_en
        return key

    def value(self, key: str, value) -> str:
        if value in (None, ""):
            return ""
        value = str(value)
        if key in WORD_FIELDS:
            return str(VALUE_TEXT.get(value) or status_text(value))
        if key == "required_materials":
            names = {m.code: m.name_zh if self.chinese else (m.name_en or m.name_zh)
                     for m in (self.item.materials if self.item else [])}
            return self.join(names.get(code, code) for code in value.split(", ") if code)
        if key == "route":
            route, _sep, codes = value.partition(": ")
            departments = department_names(self.db, ",".join(code.strip() for code in codes.split(",") if code))
            return _("%(route)s: %(departments)s", route=catalog_word(route), departments=departments)
        if key == "received_at":
            return minutes_text(value)
        return value

    def origin(self, side: dict) -> str:
        """Where one side comes from, as a clerk would say it."""
        source = side.get("source")
        if source == "case":
            return _("%(point)s, received %(date)s", point=side["point_name"], date=_short_date(side["at"]))
        if source == "change":
            return _("%(point)s, sent %(date)s", point=side["point_name"], date=_short_date(side["at"]))
        if source == "catalog" and side.get("version"):
            return _("catalog version %(version)s", version=side["version"])
        return _("what the hub holds now")

    def button(self, action: str, view: dict) -> str:
        """An action's button says what it keeps: the values of the side it takes and where they come from."""
        if action in ("take_left", "take_right"):
            side = "left" if action == "take_left" else "right"
            rows = {row["field"]: row for row in view["rows"]}
            keys = [key for key in view["fields"] if key in rows] or [key for key, row in rows.items()
                                                                      if row["differs"]]
            values = self.join(self.value(key, rows[key][side]) or _("(blank)") for key in keys)
            if len(values) > 24:
                values = values[:23] + "…"
            return _("Keep: %(values)s (%(origin)s)", values=values, origin=self.origin(view["sides"][side]))
        if action == "merge_cases" and view["other_receipt_no"]:
            return _("Merge into one case: keep %(kept)s, %(merged)s joins it", kept=view["other_receipt_no"],
                     merged=view["receipt_no"])
        return str(LABELS.get(action, action))


@bp.app_template_filter("conflict_kind")
@bp.app_template_filter("conflict_status")
@bp.app_template_filter("conflict_action")
def conflict_label(value: str | None) -> str:
    """A conflict type, status or action in the page's language."""
    return LABELS.get(value or "", value or "")


class ResolveRequest(BaseModel):
    """An operator's decision on one conflict."""

    action: str = Field(max_length=24)
    note: str = Field(default="", max_length=2000)
    # merge: field -> "left" or "right"
    choices: dict[str, str] = Field(default_factory=dict)


def _filters() -> dict:
    kind = request.args.get("kind", "")[:24]
    status = request.args.get("status", "open")[:16]
    return {"kind": kind if kind in KINDS else None, "point": request.args.get("point", "")[:128] or None,
            "status": status if status in STATUSES else "open"}


def _resolve(conflict_id: str, action: str, note: str, choices: dict[str, str]) -> tuple[object, DeskError | None]:
    db = get_session()
    conflict = find_conflict(db, conflict_id[:36])
    if conflict is None:
        return None, DeskError("not_found", "no such conflict", 404)
    try:
        resolve(db, conflict, action=action, staff=g.staff, note=note, choices=choices, identity=current_identity())
    except DeskError as exc:
        db.rollback()
        return conflict, exc
    db.commit()
    return conflict, None


@bp.get("/desk")
@login_required(*DESK_ROLES)
def desk_page():
    """The conflict queue, oldest first, filtered by type, point and status."""
    db = get_session()
    filters = _filters()
    points = [point.name for point in db.exec(select(Point).where(Point.status != "hub").order_by(Point.name)).all()]
    conflicts = desk_queue(db, **filters)
    words = {code: ConflictWords(db, code) for code in {c["item_code"] for c in conflicts}}
    return render_template("desk.html", conflicts=conflicts, filters=filters, kinds=KINDS, words=words,
                           statuses=STATUSES, points=points)


@bp.route("/desk/<conflict_id>", methods=("GET", "POST"))
@login_required(*DESK_ROLES)
def conflict_page(conflict_id: str):
    """One conflict: both versions side by side, the cases' history, and the actions for its type."""
    db = get_session()
    error = None
    if request.method == "POST":
        choices = {key[len("choice-"):]: value for key, value in request.form.items() if key.startswith("choice-")}
        _found, problem = _resolve(conflict_id, request.form.get("action", ""), request.form.get("note", ""), choices)
        if problem is None:
            return redirect(url_for("desk.conflict_page", conflict_id=conflict_id))
        messages = {
            "reason_required": _("Write the reason for rejecting: the point and the resident read it. Nothing was saved."),
            "choices_required": _("Choose left or right for every field before merging. Nothing was saved."),
            "bad_action": _("Choose one of the actions offered. Nothing was saved."),
            "not_open": _("This conflict was already resolved."),
            "supplement_not_open": _("No department task of this case is open (decided, withdrawn or already "
                                     "waiting for materials), so no supplement can be requested. Nothing was saved."),
        }
        error = messages.get(problem.reason, str(problem))
    conflict = find_conflict(db, conflict_id[:36])
    if conflict is None:
        abort(404)
    view = conflict_view(db, conflict)
    return render_template("conflict.html", conflict=view, words=ConflictWords(db, view["item_code"]), error=error,
                           histories=_histories(db, view), note=request.form.get("note", "")), 422 if error else 200


def _histories(db, view: dict) -> dict[str, list]:
    """Each case's timeline as the case page words it, keyed by case id."""
    words = Words.for_item(db, find_item(db, view["item_code"]) if view.get("item_code") else None)
    return {case["case_id"]: timeline(db, case["case_id"], words=words) for case in view["cases"]}


@bp.get("/api/conflicts")
@documented("The conflict queue, oldest first", answer=ConflictsResponse, errors={403: ("forbidden",)}, query=(
    {"name": "kind", "in": "query", "required": False, "schema": {"type": "string"}},
    {"name": "point", "in": "query", "required": False, "schema": {"type": "string"}, "description": "Point name"},
    {"name": "status", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "open (default) or resolved"}))
@api_auth(*DESK_ROLES)
def api_conflicts():
    """The conflict queue: ?kind=&point=&status= (open by default), oldest first."""
    return {"conflicts": desk_queue(get_session(), **_filters())}


@bp.get("/api/conflicts/<conflict_id>")
@documented("One conflict with both versions", answer=ConflictView, errors={403: ("forbidden",), 404: ("not_found",)})
@api_auth(*DESK_ROLES)
def api_conflict(conflict_id: str):
    """One conflict with both versions, the differing fields, the cases and the actions offered."""
    conflict = find_conflict(get_session(), conflict_id[:36])
    if conflict is None:
        return api_error(404, "not_found", "no such conflict")
    return conflict_view(get_session(), conflict)


@bp.post("/api/conflicts/<conflict_id>/resolve")
@documented("Resolve a conflict; the points involved hear the outcome", body=ResolveRequest, answer=ConflictView,
            errors={403: ("forbidden",), 404: ("not_found", "supplement_not_found"),
                    409: ("not_open", "supplement_not_open"),
                    422: ("bad_action", "reason_required", "choices_required", "supplement_materials_required",
                          "supplement_unknown_material", "supplement_note_required")})
@api_auth(*DESK_ROLES)
def api_resolve(conflict_id: str):
    """Resolve a conflict: {action, note, choices}; the points involved hear the outcome."""
    body = parse_json_body(ResolveRequest)
    if not isinstance(body, ResolveRequest):
        return body
    conflict, problem = _resolve(conflict_id, body.action, body.note, body.choices)
    if problem is not None:
        return api_error(problem.status, problem.reason, str(problem))
    return conflict_view(get_session(), conflict)
