"""The audit page (admins): the hub's audit chain searched by case, actor and date, and whether it holds.

The check is ``pointkit-hub audit verify``'s own (hub/trust/auditcheck.py), run when the page opens: the chain's
links, the heads anchored outside the database and the case rows against what the chain recorded.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

from flask import Blueprint, current_app, render_template, request
from flask_babel import lazy_gettext
from sqlalchemy import func
from sqlmodel import select

from sync.catalog import ServiceItem
from sync.kit.workdays import COUNTY_TIMEZONE

from hub.approval.cases import find_cases
from hub.catalog.versions import find_item
from hub.core.clock import as_utc
from hub.core.models import AuditEntry, Case, Point
from hub.trust.auditcheck import check_audit
from hub.web.auth import login_required
from hub.web.context import current_keyring, get_session
from hub.web.timeline import ACTIONS, Words, line_text

bp = Blueprint("audit", __name__)

PAGE_SIZE = 50

# Audit actions that are no timeline action (those are worded by hub/web/timeline.py and the status words).
AUDIT_ACTIONS = {
    "case_state": lazy_gettext("Case recorded"),
    "case_baseline": lazy_gettext("Case recorded at upgrade"),
    "bundle_exported": lazy_gettext("USB bundle exported"),
    "bundle_imported": lazy_gettext("USB bundle imported"),
    "calendar_imported": lazy_gettext("Holiday calendar imported"),
    "card_cleared": lazy_gettext("Card cleared"),
    "catalog_imported": lazy_gettext("Catalog imported"),
    "complaint_assigned": lazy_gettext("Complaint assigned"),
    "complaint_closed": lazy_gettext("Complaint closed"),
    "complaint_received": lazy_gettext("Complaint received"),
    "complaint_replied": lazy_gettext("Complaint answered"),
    "keys_created": lazy_gettext("Hub keys created"),
    "keys_purged": lazy_gettext("Old hub keys purged"),
    "keys_rotated": lazy_gettext("Hub keys rotated"),
    "login_locked": lazy_gettext("Login locked after failed attempts"),
    "login_throttled": lazy_gettext("Logins delayed after failed attempts"),
    "point_added": lazy_gettext("Point added"),
    "point_enrolled": lazy_gettext("Point enrolled"),
    "point_keys_rotated": lazy_gettext("Point keys rotated"),
    "point_relay_set": lazy_gettext("Point's relay set"),
    "point_revoked": lazy_gettext("Point revoked"),
    "referral_received": lazy_gettext("Referral received"),
    "user_added": lazy_gettext("Account added"),
    "user_disabled": lazy_gettext("Account disabled or enabled"),
}


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value.strip()[:10]) if value.strip() else None
    except ValueError:
        return None


def _county_midnight(day: date) -> datetime:
    """The UTC moment a county day starts (the chain stores UTC)."""
    return as_utc(datetime.combine(day, time(), tzinfo=COUNTY_TIMEZONE))


@bp.get("/audit")
@login_required("admin")
def audit_page():
    """Audit entries newest first, filtered by receipt number, actor and county dates, with the chain's check."""
    db = get_session()
    filters = {key: request.args.get(key, "").strip()[:64] for key in ("receipt", "actor", "from", "to")}
    page = max(1, request.args.get("page", 1, type=int) or 1)
    query = select(AuditEntry)
    cases: dict[str, Case] = {}
    if filters["receipt"]:
        cases = {case.id: case for case in find_cases(db, filters["receipt"])} or {
            case.id: case for case in db.exec(select(Case).where(
                func.lower(Case.receipt_no) == filters["receipt"].lower())).all()}
        query = query.where(AuditEntry.subject.in_([f"case:{case_id}" for case_id in cases] or ["-"]))
    if filters["actor"]:
        query = query.where(AuditEntry.actor == filters["actor"])
    start, end = _day(filters["from"]), _day(filters["to"])
    if start:
        query = query.where(AuditEntry.at >= _county_midnight(start))
    if end:
        query = query.where(AuditEntry.at < _county_midnight(end + timedelta(days=1)))
    total = db.exec(select(func.count()).select_from(query.subquery())).one()
    entries = db.exec(query.order_by(AuditEntry.id.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    findings = check_audit(db, Path(current_app.config["DATA_DIR"]), current_keyring())
    flagged = {problem.entry_id for problem in findings.problems if problem.entry_id is not None}
    if findings.chain.broken is not None:
        flagged.add(findings.chain.broken.entry_id)
    return render_template("audit.html", rows=_rows(db, entries, cases), filters=filters, page=page,
                           pages=max(1, -(-total // PAGE_SIZE)), total=total, findings=findings, flagged=flagged,
                           bad_dates=bool(filters["from"] and not start or filters["to"] and not end))


def _rows(db, entries: list[AuditEntry], cases: dict[str, Case]) -> list[dict]:
    """Each entry with what it concerns by name (receipt number, point) and its line worded for the page."""
    case_ids = {entry.subject.removeprefix("case:") for entry in entries if entry.subject.startswith("case:")}
    missing = case_ids - set(cases)
    if missing:
        cases = {**cases, **{case.id: case for case in db.exec(select(Case).where(Case.id.in_(missing))).all()}}
    points = {str(point.id): point.name for point in db.exec(select(Point)).all()}
    words = Words(db, material_names={}, field_labels={})
    items: dict[str, ServiceItem | None] = {}
    rows = []
    for entry in entries:
        kind, _, key = entry.subject.partition(":")
        case = cases.get(key) if kind == "case" else None
        if case is not None:
            if case.item_code not in items:
                items[case.item_code] = find_item(db, case.item_code)
            item = items[case.item_code]
            words.materials = ({m.code: m.name_zh if words.chinese else (m.name_en or m.name_zh) for m in item.materials}
                               if item else {})
            words.fields = ({f.name: f.label_zh if words.chinese else f.label_en for f in item.fields}
                            if item else {})
        detail = entry.detail if isinstance(entry.detail, dict) else {}
        text = ""
        if isinstance(detail.get("line"), str):
            line = _Line(entry.action, detail.get("data") or {}, detail.get("note") or "")
            text = line_text(line, words)
        elif not words.chinese:
            text = detail.get("note", "") if isinstance(detail.get("note"), str) else ""
        rows.append({"id": entry.id, "at": entry.at, "actor": words.actor(entry.actor),
                     "action": str(AUDIT_ACTIONS.get(entry.action) or ACTIONS.get(entry.action) or ""),
                     "action_key": entry.action, "case": case,
                     "point": points.get(key, key) if kind == "point" else "",
                     "text": text})
    return rows


class _Line:
    """A timeline line as its audit entry recorded it (what ``line_text`` reads)."""

    def __init__(self, action: str, data: dict, note: str):
        self.action, self.data, self.note = action, data, note

