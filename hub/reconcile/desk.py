"""The conflict desk: the queue of parked conflicts and what operators decide on them.

Every resolution is audited and its outcome goes, as a RECONCILED message,
to every point involved, whose case page then shows what the hub decided and
why. The actions offered fit the conflict's type (``ACTIONS``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from sync.keys import Identity
from sync.messages import RECONCILED_OUTCOMES

from hub.approval.cases import case_detail, point_names
from hub.approval.review import ReviewError, issue_merged_results, request_supplement, withdraw
from hub.approval.routing import route_case
from hub.catalog.versions import find_item
from hub.core.audit import append_audit
from hub.core.clock import as_utc, iso, utc_now
from hub.core.models import Case, Conflict, Point, ReviewTask, Staff
from hub.core.outbox import send_status
from hub.core.timeline import record_event
from hub.reconcile.arrival import CONFLICT_KINDS, PARALLEL_UPDATE, apply_fields, case_summary, tell_points

ACTIONS: dict[str, tuple[str, ...]] = {
    "same_field": ("take_left", "take_right", "merge", "reject"),
    "duplicate": ("merge_cases", "keep_both", "reject"),
    "after_decision": ("take_left", "take_right", "reject"),
    "catalog_drift": ("accept_old", "supplement", "reject"),
    "fork": ("keep_both", "reject"),
    "identity": ("take_left", "take_right", "supplement", "reject"),
    "suspicious_time": ("accept_claimed", "accept_earliest", "reject"),
}
KINDS = (*CONFLICT_KINDS, PARALLEL_UPDATE)
# Where a resolution can leave a case for good; its point hears it (the RECONCILED message says why).
DESK_ENDS = ("merged", "refused", "withdrawn")
STATUSES = ("open", "resolved", "merged")


class DeskError(ValueError):
    """A refused resolution; ``reason`` is a stable word, ``status`` the HTTP answer."""

    def __init__(self, reason: str, message: str, status: int = 422):
        super().__init__(message)
        self.reason = reason
        self.status = status


def desk_queue(session: Session, *, kind: str | None = None, point: str | None = None,
               status: str = "open") -> list[dict[str, Any]]:
    """Conflicts oldest first, optionally of one kind, point (name) and status."""
    query = select(Conflict).where(Conflict.status == status).order_by(Conflict.created_at, Conflict.id)
    if kind:
        query = query.where(Conflict.kind == kind)
    names = point_names(session)
    rows = [conflict for conflict in session.exec(query.limit(500)).all()
            if not point or point in (names.get(conflict.point_id), names.get(conflict.other_point_id))]
    case_ids = {case_id for conflict in rows for case_id in (conflict.case_id, conflict.other_case_id) if case_id}
    cases: dict[str, Case] = {}
    if case_ids:
        found = session.exec(select(Case).where(Case.id.in_(case_ids))).all()  # type: ignore[attr-defined]
        cases = {case.id: case for case in found}
    now = utc_now()
    return [_summary(conflict, names, now, cases) for conflict in rows]


def _summary(conflict: Conflict, names: dict, now: datetime, cases: dict[str, Case]) -> dict[str, Any]:
    """One line of the queue: what tells conflicts apart at a glance is the receipt, the applicant and the point."""
    age = now - as_utc(conflict.created_at)
    case, other = cases.get(conflict.case_id or ""), cases.get(conflict.other_case_id or "")
    return {"conflict_id": str(conflict.id), "kind": conflict.kind, "status": conflict.status,
            "point_name": names.get(conflict.point_id, ""), "other_point_name": names.get(conflict.other_point_id, ""),
            "case_id": conflict.case_id, "other_case_id": conflict.other_case_id, "fields": conflict.fields,
            "receipt_no": case.receipt_no if case else "", "other_receipt_no": other.receipt_no if other else "",
            "applicant_name": (case.applicant or {}).get("name", "") if case else "",
            "item_code": case.item_code if case else "",
            "created_at": iso(conflict.created_at), "age_hours": round(age.total_seconds() / 3600, 1)}


def find_conflict(session: Session, conflict_id: str) -> Conflict | None:
    try:
        return session.get(Conflict, uuid.UUID(conflict_id))
    except ValueError:
        return None


def conflict_view(session: Session, conflict: Conflict) -> dict[str, Any]:
    """Both versions side by side (differing fields marked), the cases' histories, the actions.

    Left is always what the hub holds, right what arrived (``sides``); while the conflict is open the left column
    reads the hub's data as it stands now, not as it stood when the conflict was parked.
    """
    names = point_names(session)
    case = session.get(Case, conflict.case_id) if conflict.case_id else None
    other = session.get(Case, conflict.other_case_id) if conflict.other_case_id else None
    left, right = _hub_side(conflict, case, other), _arrived_side(conflict, case)
    rows = [{"field": key, "left": left.get(key, ""), "right": right.get(key, ""),
             "differs": left.get(key) != right.get(key)} for key in sorted(set(left) | set(right))]
    cases = [case_detail(session, touched) for touched in (other, case) if touched is not None]
    found = {touched.id: touched for touched in (case, other) if touched is not None}
    return {**_summary(conflict, names, utc_now(), found), "rows": rows, "detail": conflict.detail,
            "sides": _origins(conflict, case, other, names),
            "actions": list(ACTIONS.get(conflict.kind, ())) if conflict.status == "open" else [],
            "cases": cases, "resolution": conflict.resolution, "resolution_note": conflict.resolution_note,
            "resolved_by": conflict.resolved_by, "resolved_at": iso(conflict.resolved_at)}


def _hub_side(conflict: Conflict, case: Case | None, other: Case | None) -> dict[str, Any]:
    """What the hub holds: the catalog now (a drift stores the intake version's terms on the left), and while the
    conflict is open, the case's form and state as they are now (another change may have landed since parking)."""
    if conflict.kind == "catalog_drift":
        return dict(conflict.right or {})
    held = dict(conflict.left or {})
    if conflict.status != "open":
        return held
    if conflict.kind in ("same_field", "after_decision") and case is not None:
        current = {"status": case.status, "decision": case.decision or ""}
        return {key: current[key] if key in current else (case.form or {}).get(key, "") for key in held}
    if conflict.kind in ("duplicate", "fork", "identity") and other is not None and "receipt_no" in held:
        now = case_summary(other)
        return {key: now.get(key, "") for key in held}
    return held


def _arrived_side(conflict: Conflict, case: Case | None) -> dict[str, Any]:
    """What arrived: a point's change as it came, or (duplicates, forks, identities) the newer case as it is now."""
    arrived = dict((conflict.left if conflict.kind == "catalog_drift" else conflict.right) or {})
    if conflict.status == "open" and conflict.kind in ("duplicate", "fork", "identity") and case is not None \
            and "receipt_no" in arrived:
        now = case_summary(case)
        return {key: now.get(key, "") for key in arrived}
    return arrived


def _origins(conflict: Conflict, case: Case | None, other: Case | None, names: dict) -> dict[str, dict[str, Any]]:
    """Where each side comes from, for the page to name it: a case received at a point on a date, the hub's
    current version, a point's change that arrived on a date, or a catalog version."""
    def received(touched: Case) -> dict[str, Any]:
        return {"source": "case", "point_name": names.get(touched.point_id, ""), "receipt_no": touched.receipt_no,
                "at": iso(touched.received_at)}

    arrived_at = iso(conflict.created_at)
    if conflict.kind == "catalog_drift":
        detail = conflict.detail or {}
        return {"left": {"source": "catalog", "version": detail.get("current_version")},
                "right": {"source": "catalog", "version": detail.get("intake_version")}}
    if conflict.kind in ("same_field", "after_decision"):
        return {"left": {"source": "hub", "version": case.version if case else None},
                "right": {"source": "change", "point_name": names.get(conflict.point_id, ""), "at": arrived_at}}
    if other is not None and case is not None:
        return {"left": received(other), "right": received(case)}
    return {"left": {"source": "hub"},
            "right": {"source": "change", "point_name": names.get(conflict.point_id, ""), "at": arrived_at}}


def resolve(session: Session, conflict: Conflict, *, action: str, staff: Staff, note: str = "",
            choices: dict[str, str] | None = None, identity: Identity) -> Conflict:
    """Carry out ``action`` on an open conflict, audit it and tell the points involved."""
    if conflict.status != "open":
        raise DeskError("not_open", "this conflict was already resolved", 409)
    if action not in ACTIONS.get(conflict.kind, ()):
        raise DeskError("bad_action", f"choose one of: {', '.join(ACTIONS.get(conflict.kind, ()))}")
    note = note.strip()[:2000]
    if action == "reject" and not note:
        raise DeskError("reason_required", "write the reason for rejecting: the point and the resident read it")
    case = session.get(Case, conflict.case_id) if conflict.case_id else None
    other = session.get(Case, conflict.other_case_id) if conflict.other_case_id else None
    states_before = {touched.id: touched.status for touched in (case, other) if touched is not None}
    # The cases whose timeline already has a line for what this resolution did (amended, merged, …): that line
    # is the resolution there, and a second "conflict_resolved" line would tell the same act twice.
    noted: set[str] = set()
    if action in ("take_right", "merge") and conflict.kind == "same_field":
        chosen = _merged_values(conflict, case, choices or {}) if action == "merge" else dict(conflict.right)
        if apply_fields(session, case, chosen, point_id=None, seq=0, source=f"conflict:{conflict.id}",
                        actor=staff.username):
            noted.add(case.id)
    elif action == "take_right" and conflict.kind == "after_decision":
        if conflict.detail.get("intent") == "withdraw":
            withdraw(session, case, actor=staff.username, note="withdrawal accepted after the decision")
            noted.add(case.id)
        elif apply_fields(session, case, conflict.detail.get("form", {}), point_id=None, seq=0,
                          source=f"conflict:{conflict.id}", actor=staff.username):
            noted.add(case.id)
    elif action in ("take_left", "take_right") and conflict.kind == "identity":
        source, target = (other, case) if action == "take_left" else (case, other)
        target.applicant = {**target.applicant, "name": source.applicant.get("name", "")}
        session.add(target)
        record_event(session, target.id, actor=staff.username, action="applicant_corrected",
                     note=f"name taken from receipt {source.receipt_no} (conflict {conflict.id})",
                     data={"receipt_no": source.receipt_no})
        noted.add(target.id)
    elif action in ("accept_claimed", "accept_earliest"):
        _accept_intake_time(session, conflict, case, staff, action)
        noted.add(case.id)
    elif action == "merge_cases":
        _merge_cases(session, kept=other, merged=case, staff=staff, identity=identity)
        noted.add(other.id)
    elif action == "supplement":
        _supplement(session, conflict, case, staff, note)
        noted.add(case.id)
    elif action == "reject" and conflict.kind in ("duplicate", "catalog_drift", "fork", "identity", "suspicious_time"):
        _refuse(session, case, staff, note)
    conflict.status, conflict.resolution, conflict.resolution_note = "resolved", action, note
    conflict.resolved_by, conflict.resolved_at = staff.username, utc_now()
    session.add(conflict)
    for touched in (case, other):
        if touched is not None:
            if touched.id not in noted:
                record_event(session, touched.id, actor=staff.username, action="conflict_resolved",
                             note=f"{conflict.kind}: {action}" + (f" — {note}" if note else ""),
                             data={"kind": conflict.kind, "action": action, "note": note or ""})
            if touched.status in DESK_ENDS and touched.status != states_before[touched.id]:
                _tell_state(session, touched, note or RECONCILED_OUTCOMES.get(action, action))
    append_audit(session, actor=staff.username, action="conflict_resolved", subject=f"conflict:{conflict.id}",
                 detail={"kind": conflict.kind, "action": action, "case_id": conflict.case_id,
                         "other_case_id": conflict.other_case_id})
    tell_points(session, conflict, [conflict.point_id, *([conflict.other_point_id] if conflict.other_point_id else [])],
                outcome=action, note=note or RECONCILED_OUTCOMES.get(action, action))
    session.flush()
    return conflict


def _accept_intake_time(session: Session, conflict: Conflict, case: Case, staff: Staff, action: str) -> None:
    """An operator accepts the point's claimed intake time or the earliest the hub can vouch for: the case's clock
    (and any deemed approval) counts from it, the operator is named, and the case is routed now."""
    chosen = conflict.detail["claimed" if action == "accept_claimed" else "earliest"]
    case.vouched_intake, case.intake_vouched_by = datetime.fromisoformat(chosen), staff.username
    basis = "as the point claimed" if action == "accept_claimed" else "the earliest the hub can vouch for"
    record_event(session, case.id, actor=staff.username, action="intake_time_accepted",
                 note=f"intake counted from {chosen} ({basis})",
                 data={"intake": chosen, "basis": "claimed" if action == "accept_claimed" else "earliest"})
    item = find_item(session, case.item_code)
    if case.status != "needs_attention" or item is None:
        session.add(case)
        return
    route_case(session, case, item)
    point = session.get(Point, case.point_id)
    if point is not None:
        send_status(session, case, point, "routed", "sent to " + ", ".join(item.departments))


def _tell_state(session: Session, case: Case, note: str) -> None:
    """The point that received ``case`` hears where the desk left it (its state, in a STATUS message)."""
    point = session.get(Point, case.point_id)
    if point is not None and point.enc_public_key:
        send_status(session, case, point, case.status, note)


def _merged_values(conflict: Conflict, case: Case, choices: dict[str, str]) -> dict[str, str]:
    """The form as merged: "right" takes what arrived, "left" keeps what the case holds now (the page showed that,
    not the value it held when the conflict was parked)."""
    missing = [name for name in conflict.right if choices.get(name) not in ("left", "right")]
    if missing:
        raise DeskError("choices_required", f"choose left or right for: {', '.join(missing)}")
    return {name: conflict.right.get(name, "") if choices[name] == "right" else (case.form or {}).get(name, "")
            for name in conflict.right}


def _cancel_tasks(session: Session, case: Case) -> None:
    for task in session.exec(select(ReviewTask).where(ReviewTask.case_id == case.id)).all():
        if task.status in ("open", "waiting", "supplement"):
            task.status = "cancelled"
            session.add(task)


def _merge_cases(session: Session, *, kept: Case, merged: Case, staff: Staff, identity: Identity) -> None:
    """The newer application joins the older one; its receipt still collects the one result
    (hub/approval/review.py issues it a copy with the kept case's result, at once if that is already out)."""
    _cancel_tasks(session, merged)
    merged.status, merged.merged_into = "merged", kept.id
    session.add(merged)
    record_event(session, kept.id, actor=staff.username, action="merged",
                 note=f"receipt {merged.receipt_no} merged into this case; it collects the same result",
                 data={"receipt_no": merged.receipt_no})
    issue_merged_results(session, kept, [merged], identity)


def _refuse(session: Session, case: Case | None, staff: Staff, note: str) -> None:
    if case is None or case.decision:
        return
    _cancel_tasks(session, case)
    case.status, case.reason = "refused", note
    session.add(case)


def _supplement(session: Session, conflict: Conflict, case: Case, staff: Staff, note: str) -> None:
    """补正 through the department loop (hub/approval/review.py), sent for the department whose task is open;
    the operator's name goes on the round and the case's history."""
    if conflict.kind == "catalog_drift":
        before = set(filter(None, conflict.left.get("required_materials", "").split(", ")))
        materials = sorted(set(filter(None, conflict.right.get("required_materials", "").split(", "))) - before)
    else:
        materials = ["id_card"]
    conflict.status = "resolved"  # the supplement request is the resolution; the case must not stay blocked
    session.add(conflict)
    try:
        request_supplement(session, case_id=case.id, staff=staff, materials=materials or ["id_card"],
                           note=note or RECONCILED_OUTCOMES["supplement"], on_behalf=True)
    except ReviewError as exc:
        conflict.status = "open"
        raise DeskError(f"supplement_{exc.reason}", f"the supplement request was refused: {exc}",
                        exc.status) from None
