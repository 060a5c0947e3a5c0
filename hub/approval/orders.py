"""Supervision orders (督办单): the supervision office orders a department to act by a date and answer in writing.

An order is issued by the office by hand (about a case, or about a department's work in general), or raised by the
supervision round when a case earns a red card or passes its legal limit (once per case, department and source).
The department's reviewer answers it in writing; the office closes it with a result. Numbers run per county year,
督办〔2026〕0001, 0002, …: the next one is counted under the hub's write lock, so hub processes sharing one
PostgreSQL never give one twice. Every step is a line of the case's timeline (where there is a case) and an entry
of the audit chain.
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlmodel import Session, func, select

from sync.kit.workdays import county_date

from hub.approval.cards import LEGAL, RED, responsible_reviewer
from hub.catalog.calendar import county_calendar
from hub.core.audit import append_audit
from hub.core.clock import as_utc, iso, utc_now
from hub.core.db import write_lock
from hub.core.models import DEFAULT_ORDER_DAYS, Case, Department, ReviewTask, Staff, SupervisionCard, SupervisionOrder
from hub.core.timeline import HUB_ACTOR, record_event

# The longest deadline an order may set, in working days (a quarter of a year: longer is no supervision).
MAX_ORDER_DAYS = 60
# Who may issue and close orders: the supervision office, and admins.
OFFICE_ROLES = ("supervisor", "admin")
# The source of an order the round raises, by the colour of the card that raised it.
CARD_SOURCES = {RED: "red_card", LEGAL: "legal_limit"}


class OrderError(ValueError):
    """A refused order action; ``reason`` is a stable word, ``status`` the HTTP answer."""

    def __init__(self, reason: str, message: str, status: int = 422):
        super().__init__(message)
        self.reason = reason
        self.status = status


def order_prefix(year: int) -> str:
    return f"督办〔{year}〕"


def next_order_no(session: Session, year: int) -> str:
    """The next order number of the county year ``year``. Orders are never deleted, so the count of the year's
    orders is the last number; read under the write lock, no other process counts at the same time."""
    write_lock(session)
    prefix = order_prefix(year)
    issued = session.exec(select(func.count()).select_from(SupervisionOrder).where(
        SupervisionOrder.order_no.startswith(prefix))).one()  # type: ignore[attr-defined]
    return f"{prefix}{issued + 1:04d}"


def order_due(session: Session, days: int, today: date | None = None) -> date:
    """``days`` working days after ``today`` on the county calendar."""
    return county_calendar(session).add_working_days(today or county_date(utc_now()), days)


def issue_order(session: Session, *, actor: str, text: str, days: int = DEFAULT_ORDER_DAYS, case_key: str = "",
                department: str = "") -> SupervisionOrder:
    """The office issues an order about a case (its id or receipt number) or a department; raise OrderError."""
    text = text.strip()
    if not text:
        raise OrderError("text_required", "write what the department must do and answer")
    if not 1 <= days <= MAX_ORDER_DAYS:
        raise OrderError("bad_days", f"the deadline is 1 to {MAX_ORDER_DAYS} working days")
    case = _find_case(session, case_key.strip()) if case_key.strip() else None
    department = _order_department(session, case, department.strip())
    return _issue(session, source="office", actor=actor, text=text[:4000], days=days, case=case,
                  department=department)


def _find_case(session: Session, key: str) -> Case:
    case = session.get(Case, key[:36])
    if case is None:
        found = session.exec(select(Case).where(Case.receipt_no == key[:40])).all()
        if len(found) > 1:
            raise OrderError("ambiguous_case", f"receipt number {key} names {len(found)} cases: give the case id")
        case = found[0] if found else None
    if case is None:
        raise OrderError("unknown_case", f"no case with id or receipt number {key}", 404)
    return case


def _order_department(session: Session, case: Case | None, department: str) -> str:
    """The department the order goes to: the one named, or the case's only department; it must have a part in
    the case."""
    if case is None:
        if not department:
            raise OrderError("department_required", "name the case or the department the order goes to")
        if session.get(Department, department[:32]) is None:
            raise OrderError("unknown_department", f"no department {department}")
        return department
    involved = session.exec(select(ReviewTask.department_code).where(ReviewTask.case_id == case.id)
                            .order_by(ReviewTask.stage, ReviewTask.department_code)).all()
    if department:
        if department not in involved:
            raise OrderError("not_on_case", f"department {department} has no part in this case")
        return department
    if len(set(involved)) != 1:
        raise OrderError("department_required", "the case has several departments: name the one the order goes to")
    return involved[0]


def order_for_card(session: Session, card: SupervisionCard, case: Case) -> SupervisionOrder | None:
    """The order a red card or a legal-limit breach raises, unless this case and department have one of that
    source already."""
    source = CARD_SOURCES.get(card.colour)
    if source is None or session.exec(select(SupervisionOrder.id).where(
            SupervisionOrder.case_id == case.id, SupervisionOrder.department_code == card.department_code,
            SupervisionOrder.source == source)).first() is not None:
        return None
    limit = "法定时限" if card.colour == LEGAL else "承诺时限"
    text = (f"受理编号{case.receipt_no}（{case.item_name}）已超过{limit}（{card.due_date}）仍未办结。"
            f"请于督办期限内办结，并书面说明超期原因和整改措施。")
    return _issue(session, source=source, actor=HUB_ACTOR, text=text, days=DEFAULT_ORDER_DAYS, case=case,
                  department=card.department_code, card_id=card.id, reviewer=card.reviewer)


def _issue(session: Session, *, source: str, actor: str, text: str, days: int, case: Case | None, department: str,
           card_id: uuid.UUID | None = None, reviewer: str | None = None) -> SupervisionOrder:
    now = utc_now()
    due = order_due(session, days, county_date(now))
    order = SupervisionOrder(
        order_no=next_order_no(session, county_date(now).year), source=source, case_id=case.id if case else None,
        card_id=card_id, department_code=department, text=text, issued_by=actor, issued_at=now, due_date=due,
        reviewer=reviewer if reviewer is not None else responsible_reviewer(session, case.id if case else None,
                                                                            department))
    session.add(order)
    facts = {"order_no": order.order_no, "source": source, "department": department, "due": due.isoformat(),
             "days": days, "reviewer": order.reviewer}
    _record(session, order, actor=actor, action="order_issued",
            note=f"supervision order {order.order_no} ({source}) to {department}, answer due {due}", data=facts)
    session.flush()
    return order


def _record(session: Session, order: SupervisionOrder, *, actor: str, action: str, note: str, data: dict) -> None:
    """One step of an order: a line of its case's timeline (itself an audit entry), else an audit entry."""
    if order.case_id is not None:
        record_event(session, order.case_id, actor=actor, action=action, note=note, data=data)
    else:
        append_audit(session, actor=actor, action=action, subject=f"order:{order.id}", detail={"note": note, **data})


def _order(session: Session, order_id: str) -> SupervisionOrder:
    try:
        order = session.get(SupervisionOrder, uuid.UUID(order_id))
    except ValueError:
        order = None
    if order is None:
        raise OrderError("not_found", "no such supervision order", 404)
    return order


def can_answer(staff: Staff, order: SupervisionOrder) -> bool:
    """A department's reviewer answers its orders; an admin any."""
    return staff.role == "admin" or (staff.role == "reviewer" and staff.department_code == order.department_code)


def can_view_order(staff: Staff, order: SupervisionOrder) -> bool:
    return staff.role in (*OFFICE_ROLES, "operator") or can_answer(staff, order)


def answer_order(session: Session, order_id: str, *, staff: Staff, answer: str) -> SupervisionOrder:
    """The department's written answer: what it did and why it was late. Once; the office reads and closes."""
    order = _order(session, order_id)
    if not can_answer(staff, order):
        raise OrderError("not_found", "no such supervision order for your department", 404)
    if order.status != "open":
        raise OrderError("not_open", "this order is answered already", 409)
    answer = answer.strip()
    if not answer:
        raise OrderError("answer_required", "write the department's answer: what was done, and why")
    order.answer, order.answered_by, order.answered_at, order.status = answer[:4000], staff.username, utc_now(), \
        "answered"
    session.add(order)
    _record(session, order, actor=staff.username, action="order_answered",
            note=f"supervision order {order.order_no} answered by {order.department_code}",
            data={"order_no": order.order_no, "department": order.department_code,
                  "late": county_date(as_utc(order.answered_at)) > order.due_date})
    session.flush()
    return order


def close_order(session: Session, order_id: str, *, actor: str, result: str) -> SupervisionOrder:
    """The office closes an answered order with its result (accepted, rectified, to be held accountable, …)."""
    order = _order(session, order_id)
    if order.status == "closed":
        raise OrderError("already_closed", "this order is closed already", 409)
    if order.status != "answered":
        raise OrderError("not_answered", "the department has not answered this order yet", 409)
    result = result.strip()
    if not result:
        raise OrderError("result_required", "write the result the office came to")
    order.result, order.closed_by, order.closed_at, order.status = result[:4000], actor, utc_now(), "closed"
    session.add(order)
    _record(session, order, actor=actor, action="order_closed",
            note=f"supervision order {order.order_no} closed", data={"order_no": order.order_no,
                                                                     "department": order.department_code})
    session.flush()
    return order


def is_overdue(order: SupervisionOrder, today: date) -> bool:
    """Not answered and past its deadline."""
    return order.status == "open" and today > order.due_date


def list_orders(session: Session, *, status: str = "", department: str | None = None) -> list[SupervisionOrder]:
    """Orders, open ones soonest due first, then answered, then closed (newest first)."""
    query = select(SupervisionOrder)
    if status:
        query = query.where(SupervisionOrder.status == status)
    if department is not None:
        query = query.where(SupervisionOrder.department_code == department)
    rank = {"open": 0, "answered": 1, "closed": 2}
    rows = session.exec(query.order_by(SupervisionOrder.issued_at.desc())).all()  # type: ignore[attr-defined]
    return sorted(rows, key=lambda order: (rank.get(order.status, 3),
                                           order.due_date.toordinal() if order.status == "open" else 0))


def order_dict(session: Session, order: SupervisionOrder, today: date) -> dict:
    """An order as the API and the pages show it (ISO times in UTC, dates as county dates)."""
    case = session.get(Case, order.case_id) if order.case_id else None
    return {"order_id": str(order.id), "order_no": order.order_no, "source": order.source,
            "case_id": order.case_id, "receipt_no": case.receipt_no if case else None,
            "item_name": case.item_name if case else None, "department": order.department_code,
            "reviewer": order.reviewer, "text": order.text, "issued_by": order.issued_by,
            "issued_at": iso(order.issued_at), "due_date": order.due_date.isoformat(),
            "status": order.status, "overdue": is_overdue(order, today), "answer": order.answer,
            "answered_by": order.answered_by,
            "answered_at": iso(order.answered_at),
            "answered_late": bool(order.answered_at and county_date(as_utc(order.answered_at)) > order.due_date),
            "result": order.result, "closed_by": order.closed_by,
            "closed_at": iso(order.closed_at)}
