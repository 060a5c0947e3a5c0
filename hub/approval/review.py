"""Department decisions and the signed results they produce.

A reviewer decides only an open task of her own department (admins any open
task). When the case's outcome is known, the hub signs a ResultDocument and
queues it, sealed, for the point that received the case. On a joint route a
department's decision is its opinion (hub/approval/opinions.py): the lead
department issues the combined result (hub/approval/joint.py).
"""

from __future__ import annotations

import logging
import secrets
from datetime import date, datetime

from sqlmodel import Session, select

from sync.catalog import ServiceItem
from sync.clock import utcnow
from sync.envelope import Kind
from sync.keys import Identity
from sync.kit.workdays import county_date
from sync.messages import ResultDocument, SupplementRequest
from sync.signing import sign_document

from hub.approval.cards import clear_settled_cards
from hub.approval.certificates import register_result, settle, unsettled
from hub.approval.projects import note_result
from hub.approval.procedures import end_for_decision, open_procedures, resume_unless_paused
from hub.approval.timelimits import (
    intake_moment,
    pause,
    renewed_validity,
    supplement_overdue,
    supplement_period,
    supplement_return_by,
)
from hub.approval.opinions import lead_decides, opinion_of, record_opinion
from hub.catalog.calendar import county_calendar
from hub.catalog.versions import find_item
from hub.core.clock import utc_now
from hub.core.models import Case, Conflict, Point, ReviewTask, Staff, SupplementRound
from hub.core.outbox import enqueue, send_status
from hub.core.timeline import HUB_ACTOR, record_event
from hub.trust.townships import in_scope

DECISIONS = ("approved", "rejected")
# Tasks still to decide; a task waiting for the resident's materials is "supplement".
UNDECIDED = ("open", "waiting", "supplement")
log = logging.getLogger(__name__)


class ReviewError(ValueError):
    """A refused decision; ``reason`` is a stable word, ``status`` the HTTP answer."""

    def __init__(self, reason: str, message: str, status: int):
        super().__init__(message)
        self.reason = reason
        self.status = status


def decidable_task(session: Session, case: Case, staff: Staff, *, on_behalf: bool = False) -> ReviewTask | None:
    """The open task ``staff`` may decide on ``case``, if any; ``on_behalf``: the first open task of any
    department (the conflict desk acts for the department, hub/reconcile/desk.py)."""
    query = select(ReviewTask).where(ReviewTask.case_id == case.id, ReviewTask.status == "open")
    if staff.role == "reviewer" and not on_behalf and not in_scope(session, staff, case):
        return None
    if staff.role == "reviewer" and not on_behalf:
        query = query.where(ReviewTask.department_code == staff.department_code)
    elif staff.role != "admin" and not on_behalf:
        return None
    return session.exec(query.order_by(ReviewTask.stage, ReviewTask.department_code)).first()


def _open_task(session: Session, case_id: str, staff: Staff, *, on_behalf: bool = False) -> tuple[Case, ReviewTask]:
    case = session.get(Case, case_id)
    if case is None or (not on_behalf and not in_scope(session, staff, case)):
        raise ReviewError("not_found", "no such case", 404)
    task = decidable_task(session, case, staff, on_behalf=on_behalf)
    if task is None:
        whose = "no department" if on_behalf else "your department"
        raise ReviewError("not_open", f"there is no open task on this case for {whose}", 409)
    return case, task


def check_result_fields(item: ServiceItem | None, values: dict[str, str] | None) -> dict[str, str]:
    """The item's result fields as filled in: required ones present, no others; raise ReviewError."""
    specs = {spec.name: spec for spec in (item.result_fields if item else [])}
    values = {name: str(value).strip()[:200] for name, value in (values or {}).items()}
    unknown = sorted(set(values) - set(specs))
    if unknown:
        raise ReviewError("unknown_result_field", f"this item has no result field {', '.join(unknown)}", 422)
    missing = [name for name, spec in specs.items() if spec.required and not values.get(name)]
    if missing:
        raise ReviewError("result_fields_required", f"fill in the result fields {', '.join(missing)}", 422)
    return {name: value for name, value in values.items() if value}


def check_decision(session: Session, *, case_id: str, staff: Staff, decision: str, reason: str = "",
                   result_fields: dict[str, str] | None = None) -> None:
    """Raise the ReviewError ``decide`` would raise now, deciding nothing: the page checks an approval before it
    asks the reviewer to confirm it."""
    _decidable(session, case_id=case_id, staff=staff, decision=decision, reason=reason, result_fields=result_fields)


def _decidable(session: Session, *, case_id: str, staff: Staff, decision: str, reason: str,
               result_fields: dict[str, str] | None) -> tuple[Case, ReviewTask, dict[str, str]]:
    """The case, the task ``staff`` decides and the result fields as filled in; or a ReviewError."""
    if decision not in DECISIONS:
        raise ReviewError("bad_decision", "decision must be 'approved' or 'rejected'", 422)
    case, task = _open_task(session, case_id, staff)
    if open_conflicts(session, case.id):
        raise ReviewError("in_conflict", "this case is in conflict at the hub; an operator resolves it on the "
                          "conflict desk before it can be decided", 409)
    if decision == "rejected" and not reason.strip():
        raise ReviewError("reason_required", "a rejection needs a reason the resident can read", 422)
    if any(procedure.department_code == task.department_code for procedure in open_procedures(session, case.id)):
        raise ReviewError("procedure_open", "a special procedure of your department is still running on this "
                          "case; end it before deciding", 409)
    if decision == "approved" and unsettled(session, case.id):
        raise ReviewError("certificate_unsettled", "the case is parked on an e-certificate the hub could not "
                          "accept: ask for the paper (补正) or go on without it before approving", 409)
    # A joint department's approval is its opinion: the lead fills in the result fields with the combined result.
    opinion_only = lead_decides(session, case.id)
    filled = (check_result_fields(find_item(session, case.item_code), result_fields)
              if decision == "approved" and not opinion_only else {})
    return case, task, filled


def decide(
    session: Session, *, case_id: str, staff: Staff, decision: str, reason: str = "", certificate_no: str = "",
    result_fields: dict[str, str] | None = None, identity: Identity,
) -> Case:
    """Record one department's decision and, when the outcome is known, issue the result."""
    case, task, filled = _decidable(session, case_id=case_id, staff=staff, decision=decision, reason=reason,
                                    result_fields=result_fields)
    reason, certificate_no = reason.strip(), certificate_no.strip()
    if lead_decides(session, case.id):
        # 并联审批 under a lead: the decision is this department's opinion; it closes its task, cancels nothing
        # and issues nothing (the lead issues the combined result with every opinion in front of it).
        record_opinion(session, case, task, opinion=opinion_of(decision, reason), text=reason,
                       actor=staff.username)
        log.info("case %s: %s gave its joint opinion (%s) by %s", case.id, task.department_code, decision,
                 staff.username)
        session.flush()
        clear_settled_cards(session, case.id)
        return case
    now = utc_now()
    task.status, task.decided_by, task.decided_at = decision, staff.username, now
    task.reason, task.certificate_no, task.result_fields = reason, certificate_no, filled or None
    session.add(task)
    log.info("case %s: %s %s by %s", case.id, task.department_code, decision, staff.username)
    record_event(session, case.id, actor=staff.username, action=decision,
                 note=f"{task.department_code}: {reason}" if reason else task.department_code,
                 data={"department": task.department_code, "reason": reason})
    tasks = session.exec(select(ReviewTask).where(ReviewTask.case_id == case.id)).all()
    if decision == "rejected":
        for other in tasks:
            if other.status in UNDECIDED:
                other.status = "cancelled"
                session.add(other)
        issue_result(session, case, tasks, staff.username, "rejected", identity)
    elif any(other.status in ("open", "supplement") for other in tasks):
        case.status = "supplement_requested" if any(other.status == "supplement" for other in tasks) else "in_review"
    elif waiting := [other for other in tasks if other.status == "waiting"]:
        next_stage = min(other.stage for other in waiting)
        opened = [other.department_code for other in waiting if other.stage == next_stage]
        for other in waiting:
            if other.stage == next_stage:
                other.status = "open"
                session.add(other)
        case.status = "in_review"
        record_event(session, case.id, actor=HUB_ACTOR, action="stage_opened",
                     note=f"stage {next_stage}: " + ", ".join(opened),
                     data={"stage": next_stage, "departments": opened})
    else:
        issue_result(session, case, tasks, staff.username, "approved", identity)
    session.add(case)
    session.flush()
    # The department decided: its cards on the case are settled (and every card, when the case left review).
    clear_settled_cards(session, case.id)
    return case


def request_supplement(
    session: Session, *, case_id: str, staff: Staff, materials: list[str], note: str, 
    on_behalf: bool = False,
) -> Case:
    """补正: ask the resident, through her point, for missing or corrected materials; the clock pauses.

    The task waits ("supplement") and returns to the same department when the materials arrive.
    ``on_behalf``: an operator on the conflict desk asks for the department whose task is open; the
    round and the case's history name the operator.
    """
    case, task = _open_task(session, case_id, staff, on_behalf=on_behalf)
    item = find_item(session, case.item_code)
    known = [material.code for material in item.materials] if item else []
    materials = [code for code in dict.fromkeys(materials) if code]
    note = note.strip()
    if not materials:
        raise ReviewError("materials_required", "choose the materials that are missing or must be corrected", 422)
    strays = [code for code in materials if code not in known]
    if strays:
        raise ReviewError("unknown_material", f"not a material of this item: {', '.join(strays)}", 422)
    if not note:
        raise ReviewError("note_required", "write what is missing or wrong, for the resident to read", 422)
    now = utc_now()
    days, unit = supplement_period(item)
    return_by = supplement_return_by(county_date(now), days, unit, calendar=county_calendar(session))
    task.status = "supplement"
    session.add(task)
    settle(session, case.id, how="supplement", actor=staff.username, materials=materials)
    session.add(SupplementRound(case_id=case.id, department_code=task.department_code, materials=materials,
                                note=note[:2000], requested_by=staff.username, requested_at=now, return_by=return_by))
    pause(case, now)
    case.status = "supplement_requested"
    session.add(case)
    record_event(session, case.id, actor=staff.username, action="supplement_requested",
                 note=f"{task.department_code}{' (from the conflict desk)' if on_behalf else ''}: "
                      f"{', '.join(materials)}; the time limit pauses; materials due by {return_by}",
                 data={"department": task.department_code, "materials": list(materials), "on_behalf": bool(on_behalf),
                       "return_by": return_by.isoformat() if return_by else None})
    point = session.get(Point, case.point_id)
    if point is not None and point.enc_public_key:
        request = SupplementRequest(
            case_id=case.id, department=task.department_code, materials=materials, note=note[:2000],
            requested_at=utcnow(), return_by=return_by, return_within=days, return_unit=unit)
        enqueue(session, point=point, kind=Kind.SUPPLEMENT_REQUEST, payload=request.model_dump(mode="json"),
                case_id=case.id)
        send_status(session, case, point, "supplement_requested", f"materials due by {return_by}")
    session.flush()
    return case


def withdraw_unanswered(session: Session, *, case_id: str, staff: Staff) -> Case:
    """The resident let a 补正's return date pass without bringing the materials: the department records the
    application as withdrawn (视为撤回申请), as the supplement notice told her, and the point hears it. Only for a
    request of the reviewer's own department (an admin's: any) that is overdue; the time limits stay as they
    stood."""
    case = session.get(Case, case_id)
    if case is None or not in_scope(session, staff, case):
        raise ReviewError("not_found", "no such case", 404)
    today = county_date(utc_now())
    overdue = [supplement for supplement in session.exec(select(SupplementRound).where(
                   SupplementRound.case_id == case.id, SupplementRound.supplemented_at.is_(None))).all()
               if supplement_overdue(supplement, case, today)
               and (staff.role == "admin" or supplement.department_code == staff.department_code)]
    if not overdue:
        raise ReviewError("not_overdue", "no supplement request of your department on this case is past its "
                          "return date", 409)
    note = (f"{overdue[0].department_code}: materials not brought by {overdue[0].return_by}; the application "
            "counts as withdrawn (视为撤回申请)")
    withdraw(session, case, actor=staff.username, note=note,
             data={"unanswered": True, "department": overdue[0].department_code,
                   "return_by": overdue[0].return_by.isoformat() if overdue[0].return_by else None})
    point = session.get(Point, case.point_id)
    if point is not None and point.enc_public_key:
        send_status(session, case, point, "withdrawn", note)
    session.flush()
    return case


def receive_supplement(session: Session, case: Case, *, at: datetime, note: str, actor: str) -> int:
    """The materials came back from the point: the waiting tasks reopen, the clock runs again.

    Return the working days the clock stood still.
    """
    rounds = session.exec(select(SupplementRound).where(SupplementRound.case_id == case.id,
                                                        SupplementRound.supplemented_at.is_(None))).all()
    stood = resume_unless_paused(session, case, at, supplement_open=False)
    for open_round in rounds:
        open_round.supplemented_at, open_round.supplement_note, open_round.paused_days = at, note[:2000], stood
        session.add(open_round)
    for task in session.exec(select(ReviewTask).where(ReviewTask.case_id == case.id,
                                                      ReviewTask.status == "supplement")).all():
        task.status = "open"
        session.add(task)
    case.status = "in_review"
    session.add(case)
    record_event(session, case.id, actor=actor, action="supplemented",
                 note=f"materials supplemented; {stood} working day(s) paused, due {case.due_date}",
                 data={"paused_days": stood, "due": case.due_date.isoformat() if case.due_date else None})
    return stood


def deem_approved(session: Session, case: Case, identity: Identity) -> None:
    """Silence is consent (视为准予): the legal limit passed with no decision, so the hub approves; a renewal
    (第五十条) whose licence expired undecided is deemed renewed, its result carrying the new validity date."""
    item = find_item(session, case.item_code)
    if item is not None and item.renewal is not None and case.deemed_on is not None:
        _deem_renewed(session, case, item, identity)
        return
    tasks = list(session.exec(select(ReviewTask).where(ReviewTask.case_id == case.id)).all())
    now = utc_now()
    for task in tasks:
        if task.status in UNDECIDED:
            task.status, task.decided_by, task.decided_at = "approved", HUB_ACTOR, now
            task.reason = "视为准予"
            session.add(task)
    point = session.get(Point, case.point_id)
    counted_from = county_date(intake_moment(case, point.clock_offset_ms if point else 0))
    vouched = f"，受理时间由{case.intake_vouched_by}认定" if case.intake_vouched_by else ""
    # The dates it used, in the signed document the resident is handed (older points read it as the reason).
    dates = f"视为准予：自{counted_from.isoformat()}受理{vouched}，法定期限至{case.legal_due_date}届满，期间未作决定"
    record_event(session, case.id, actor=HUB_ACTOR, action="deemed_approved",
                 note=f"no decision by the legal limit {case.legal_due_date} counted from intake on "
                      f"{counted_from.isoformat()}; deemed approved (视为准予)",
                 data={"counted_from": counted_from.isoformat(),
                       "legal_due": case.legal_due_date.isoformat() if case.legal_due_date else None})
    issue_result(session, case, tasks, HUB_ACTOR, "approved", identity, deemed=True, deemed_reason=dates)
    session.add(case)
    session.flush()
    clear_settled_cards(session, case.id)


def _deem_renewed(session: Session, case: Case, item: ServiceItem, identity: Identity) -> None:
    """第五十条: no decision on the renewal before the licence expired (``case.deemed_on``), so it counts as
    renewed for the item's ``renewal.years`` from the expiry; the result's validity field says until when."""
    renewal = item.renewal
    assert renewal is not None and case.deemed_on is not None
    tasks = list(session.exec(select(ReviewTask).where(ReviewTask.case_id == case.id)).all())
    now = utc_now()
    for task in tasks:
        if task.status in UNDECIDED:
            task.status, task.decided_by, task.decided_at = "approved", HUB_ACTOR, now
            task.reason = "视为准予延续"
            session.add(task)
    valid_until = renewed_validity(case.deemed_on, renewal.years)
    dates = (f"视为准予延续：原许可于{case.deemed_on.isoformat()}有效期届满前未作决定，"
             f"延续{renewal.years}年，有效期至{valid_until.isoformat()}")
    record_event(session, case.id, actor=HUB_ACTOR, action="deemed_approved",
                 note=f"no decision before the licence expired on {case.deemed_on}; deemed renewed (视为准予延续) "
                      f"until {valid_until}",
                 data={"renewal": True, "expiry": case.deemed_on.isoformat(), "valid_until": valid_until.isoformat(),
                       "years": renewal.years})
    issue_result(session, case, tasks, HUB_ACTOR, "approved", identity, deemed=True, deemed_reason=dates,
                 extra_fields=renewed_fields(case, item, valid_until))
    session.add(case)
    session.flush()
    clear_settled_cards(session, case.id)


def renewed_fields(case: Case, item: ServiceItem, valid_until: date) -> dict[str, str]:
    """The result fields of a deemed renewal: the new validity date, and every result field the form holds
    under the same name (the renewed licence keeps its number)."""
    assert item.renewal is not None
    carried = {spec.name: str(case.form[spec.name]) for spec in item.result_fields
               if spec.name in (case.form or {}) and case.form[spec.name]}
    return {**carried, item.renewal.validity_field: valid_until.isoformat()}


def issue_result(
    session: Session, case: Case, tasks: list[ReviewTask], decided_by: str, decision: str, identity: Identity,
    *, deemed: bool = False, deemed_reason: str = "", reason: str | None = None,
    result_fields: dict[str, str] | None = None, extra_fields: dict[str, str] | None = None,
) -> None:
    """Sign the case's result and send it to its point. ``reason`` and ``result_fields``: the combined result's,
    as the lead department of a joint review gave them (by default the departments' own)."""
    now = utc_now()
    if case.paused_since is not None:
        # Decided while waiting for materials or during a special procedure (another department rejected): the
        # pauses end here.
        end_for_decision(session, case, now)
    if reason is None and decision == "rejected":
        rejected = [task for task in tasks if task.status == "rejected"]
        reason = rejected[0].reason if len(rejected) == 1 else "；".join(
            f"{task.department_code}：{task.reason}" for task in rejected)
    elif reason is None:
        reason = deemed_reason
    certificate_no = ""
    if decision == "approved":
        given = [task.certificate_no for task in sorted(tasks, key=lambda t: t.decided_at or now) if task.certificate_no]
        certificate_no = given[-1] if given else f"{case.item_code}-{now:%Y%m%d}-{secrets.token_hex(3).upper()}"
    if result_fields is None:
        result_fields = {name: value for task in tasks for name, value in (task.result_fields or {}).items()}
    result_fields = {**result_fields, **(extra_fields or {})}
    document = ResultDocument(
        case_id=case.id, receipt_no=case.receipt_no, point_id=str(case.point_id), item_code=case.item_code,
        item_name=case.item_name, department=",".join(task.department_code for task in tasks),
        decision=decision, reason=reason, certificate_no=certificate_no, decided_at=utcnow(),
        decided_by=decided_by, issued_at=utcnow(), result_fields=result_fields if decision == "approved" else {},
        deemed_approval=deemed,
    )
    _sign_and_send(session, case, document, identity)
    register_result(session, case, find_item(session, case.item_code), case.result["document"], identity)
    case.status = "result_issued"
    log.info("case %s: result issued (%s)", case.id, decision)
    record_event(session, case.id, actor=HUB_ACTOR, action="result_issued",
                 note=f"{decision}; certificate {certificate_no}" if certificate_no else decision,
                 data={"decision": decision, "certificate_no": certificate_no or ""})
    issue_merged_results(session, case, merged_cases(session, case), identity)
    note_result(session, case)


def _sign_and_send(session: Session, case: Case, document: ResultDocument, identity: Identity) -> None:
    """Sign ``document`` as ``case``'s result and queue it, sealed, for the point that received the case."""
    signed = sign_document(document.signable(), identity.sign_key)
    case.decision, case.reason, case.certificate_no = document.decision, document.reason, document.certificate_no
    case.decided_at, case.result = utc_now(), signed
    session.add(case)
    point = session.get(Point, case.point_id)
    if point is not None and point.enc_public_key:
        enqueue(session, point=point, kind=Kind.RESULT, payload=signed, case_id=case.id)


def merged_cases(session: Session, kept: Case) -> list[Case]:
    """The duplicates an operator merged into ``kept``, found through their conflicts (an indexed lookup)."""
    case_ids = session.exec(select(Conflict.case_id).where(Conflict.other_case_id == kept.id,
                                                           Conflict.resolution == "merge_cases")).all()
    return [case for case_id in case_ids
            if case_id and (case := session.get(Case, case_id)) is not None and case.merged_into == kept.id]


def issue_merged_results(session: Session, kept: Case, merged: list[Case], identity: Identity) -> None:
    """Give each duplicate in ``merged`` (merged into ``kept``) the same result under its own case id,
    receipt and point.

    A resident who applied at two windows holds two receipts; either one collects the result at the
    point that issued it. Cases that already hold their copy are skipped, so a merge made after the
    decision (hub/reconcile/desk.py) and the decision itself may both call this.
    """
    if kept.result is None:
        return
    document = ResultDocument.model_validate(kept.result["document"])
    for case in merged:
        if case.result is not None:
            continue
        _sign_and_send(session, case, document.model_copy(update={
            "case_id": case.id, "receipt_no": case.receipt_no, "point_id": str(case.point_id)}), identity)
        record_event(session, case.id, actor=HUB_ACTOR, action="result_issued",
                     note=f"{document.decision}: the result of receipt {kept.receipt_no}, which this case "
                          f"was merged into; this receipt collects it too",
                     data={"decision": document.decision, "merged_into": kept.receipt_no})


def open_conflicts(session: Session, case_id: str) -> list[Conflict]:
    """Open conflicts touching ``case_id``: while there is one, no department decides the case."""
    return list(session.exec(select(Conflict).where(
        Conflict.status == "open", (Conflict.case_id == case_id) | (Conflict.other_case_id == case_id))
        .order_by(Conflict.created_at, Conflict.id)).all())


def withdraw(session: Session, case: Case, *, actor: str, note: str, data: dict | None = None) -> None:
    """End a case without a decision: its undecided tasks are cancelled (``data``: the timeline line's facts)."""
    for task in session.exec(select(ReviewTask).where(ReviewTask.case_id == case.id)).all():
        if task.status in ("open", "waiting", "supplement"):
            task.status = "cancelled"
            session.add(task)
    case.status = "withdrawn"
    session.add(case)
    record_event(session, case.id, actor=actor, action="withdrawn", note=note[:200], data=data)
    session.flush()
    clear_settled_cards(session, case.id)
