"""Supervision orders (督办单) on the pages and in the JSON API: the office's order desk (list, issue, close), one
order's page with the department's answer form, and a reviewer's open cards and orders on her queue page.

The office is role ``supervisor`` (电子监察室); admins do what it does. Reviewers answer their own department's
orders only; operators may read orders but not act on them.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask_babel import lazy_gettext
from sqlmodel import Session, select

from sync.kit.openapi import documented
from sync.kit.web import api_error, parse_json_body
from sync.kit.workdays import county_date

from hub.approval.cards import open_cards
from hub.approval.orders import (
    MAX_ORDER_DAYS,
    OFFICE_ROLES,
    OrderError,
    answer_order,
    can_answer,
    can_view_order,
    close_order,
    issue_order,
    list_orders,
    order_dict,
)
from hub.core.clock import utc_now
from hub.core.models import DEFAULT_ORDER_DAYS, ORDER_STATUSES, Case, Department, Staff, SupervisionOrder
from hub.trust.townships import in_scope
from hub.web import schemas
from hub.web.auth import api_auth, login_required
from hub.web.context import get_session

bp = Blueprint("orders", __name__)
api_bp = Blueprint("orders_api", __name__, url_prefix="/api")

ORDER_MESSAGES = {
    "text_required": lazy_gettext("Write what the department must do and answer. Nothing was issued."),
    "bad_days": lazy_gettext("The deadline is 1 to %(max)s working days. Nothing was issued."),
    "unknown_case": lazy_gettext("No case has this receipt number. Check it, or leave it empty and choose a "
                                 "department."),
    "ambiguous_case": lazy_gettext("This receipt number names more than one case. Open the case and issue the "
                                   "order from its page with its case id."),
    "department_required": lazy_gettext("Choose the department the order goes to."),
    "unknown_department": lazy_gettext("Choose a department from the list."),
    "not_on_case": lazy_gettext("This department has no part in the case. Choose one of the case's departments, "
                                "or leave the department empty."),
    "answer_required": lazy_gettext("Write the department's answer: what was done, and why. Nothing was saved."),
    "not_open": lazy_gettext("This order is answered already."),
    "result_required": lazy_gettext("Write the result the office came to. Nothing was saved."),
    "not_answered": lazy_gettext("The department has not answered this order yet: it can be closed once answered."),
    "already_closed": lazy_gettext("This order is closed already."),
    "not_found": lazy_gettext("No such supervision order."),
}
ORDER_STATUS_TEXT = {"open": lazy_gettext("Awaiting the answer"), "answered": lazy_gettext("Answered"),
                     "closed": lazy_gettext("Closed")}
ORDER_SOURCE_TEXT = {"office": lazy_gettext("Issued by the office"),
                     "red_card": lazy_gettext("Red card (raised by the hub)"),
                     "legal_limit": lazy_gettext("Past the legal limit (raised by the hub)"),
                     "complaint": lazy_gettext("Complaint"), "rating": lazy_gettext("Low rating")}
CARD_TEXT = {"yellow": lazy_gettext("Yellow card"), "red": lazy_gettext("Red card"),
             "legal": lazy_gettext("Past the legal limit")}


@bp.app_template_filter("order_status")
def order_status_text(value: str) -> str:
    return str(ORDER_STATUS_TEXT.get(value, value))


@bp.app_template_filter("order_source")
def order_source_text(value: str) -> str:
    return str(ORDER_SOURCE_TEXT.get(value, value))


@bp.app_template_filter("card_colour")
def card_colour_text(value: str) -> str:
    return str(CARD_TEXT.get(value, value))


def department_names(db: Session) -> dict[str, str]:
    chinese = g.get("lang", "zh") == "zh"
    return {d.code: d.name_zh if chinese else d.name_en
            for d in db.exec(select(Department).order_by(Department.code)).all()}


def staff_names(db: Session) -> dict[str, str]:
    """username -> the name pages show (the real name where the account has one)."""
    return {row.username: row.display_name or row.username for row in db.exec(select(Staff)).all()}


def _message(exc: OrderError) -> str:
    return str(ORDER_MESSAGES.get(exc.reason, exc)) % {"max": MAX_ORDER_DAYS}


def reviewer_board(db: Session, staff: Staff) -> dict | None:
    """A reviewer's open cards and her department's orders not yet closed, for her queue page (None for others)."""
    if staff.role != "reviewer" or not staff.department_code:
        return None
    today = county_date(utc_now())
    # A township-scoped department's reviewer: her township's cases only (orders about the department stay).
    orders = [order_dict(db, order, today)
              for order in list_orders(db, department=staff.department_code) if order.status != "closed"
              and (order.case_id is None or _order_case_in_scope(db, staff, order.case_id))]
    return {"cards": [{"colour": card.colour, "case_id": case.id, "receipt_no": case.receipt_no,
                       "item_name": case.item_name, "reviewer": card.reviewer, "raised_at": card.raised_at,
                       "due_date": card.due_date} for card, case in open_cards(db, department=staff.department_code)
                      if in_scope(db, staff, case)],
            "orders": orders, "staff_names": staff_names(db)}


def _order_case_in_scope(db: Session, staff: Staff, case_id: str) -> bool:
    case = db.get(Case, case_id)
    return case is None or in_scope(db, staff, case)


def _render_desk(*, error: str = "", values: dict | None = None, status: int = 200):
    db = get_session()
    shown = request.args.get("status", "")
    shown = shown if shown in ORDER_STATUSES else ""
    today = county_date(utc_now())
    orders = [order_dict(db, order, today) for order in list_orders(db, status=shown)]
    return render_template("orders.html", orders=orders, shown=shown, statuses=ORDER_STATUSES,
                           departments=department_names(db), staff_names=staff_names(db), error=error,
                           values=values or {"days": DEFAULT_ORDER_DAYS}, max_days=MAX_ORDER_DAYS), status


@bp.get("/orders")
@login_required(*OFFICE_ROLES)
def desk_page():
    """The office's order desk: orders awaiting an answer (overdue marked), answered, closed; the issue form (its
    case filled in when the office came from a case's page)."""
    return _render_desk(values={"case": request.args.get("case", "")[:40], "days": DEFAULT_ORDER_DAYS})


@bp.post("/orders")
@login_required(*OFFICE_ROLES)
def issue_page():
    """Issue an order about a case (its receipt number) or a department's work."""
    db = get_session()
    values = {key: request.form.get(key, "")[:4000] for key in ("case", "department", "text", "days")}
    try:
        days = int(values["days"] or DEFAULT_ORDER_DAYS)
    except ValueError:
        days = 0
    try:
        order = issue_order(db, actor=g.staff.username, text=values["text"], days=days, case_key=values["case"][:40],
                            department=values["department"][:32])
    except OrderError as exc:
        db.rollback()
        return _render_desk(error=_message(exc), values=values, status=exc.status if exc.status != 404 else 422)
    db.commit()
    return redirect(url_for("orders.order_page", order_id=order.id))


def _visible_order(order_id: str) -> SupervisionOrder:
    try:
        order = get_session().get(SupervisionOrder, uuid.UUID(order_id[:36]))
    except ValueError:
        order = None
    if order is None or not can_view_order(g.staff, order) or (
            order.case_id is not None and not _order_case_in_scope(get_session(), g.staff, order.case_id)):
        abort(404)
    return order


def _render_order(order: SupervisionOrder, *, error: str = "", status: int = 200):
    db = get_session()
    return render_template("order.html", order=order_dict(db, order, county_date(utc_now())),
                           departments=department_names(db), staff_names=staff_names(db), error=error,
                           can_answer=can_answer(g.staff, order) and order.status == "open",
                           can_close=g.staff.role in OFFICE_ROLES and order.status == "answered"), status


@bp.get("/orders/<order_id>")
@login_required()
def order_page(order_id: str):
    """One order: what it asks, by when, the department's answer and the office's result; the form due next."""
    return _render_order(_visible_order(order_id))


@bp.post("/orders/<order_id>/answer")
@login_required("reviewer", "admin")
def answer_page(order_id: str):
    """The department's written answer."""
    order = _visible_order(order_id)
    db = get_session()
    try:
        answer_order(db, str(order.id), staff=g.staff, answer=request.form.get("answer", "")[:4000])
    except OrderError as exc:
        db.rollback()
        return _render_order(order, error=_message(exc), status=exc.status)
    db.commit()
    return redirect(url_for("orders.order_page", order_id=order.id))


@bp.post("/orders/<order_id>/close")
@login_required(*OFFICE_ROLES)
def close_page(order_id: str):
    """The office closes an answered order with its result."""
    order = _visible_order(order_id)
    db = get_session()
    try:
        close_order(db, str(order.id), actor=g.staff.username, result=request.form.get("result", "")[:4000])
    except OrderError as exc:
        db.rollback()
        return _render_order(order, error=_message(exc), status=exc.status)
    db.commit()
    return redirect(url_for("orders.order_page", order_id=order.id))


_ORDER_ERRORS = {404: ("not_found",), 409: ("not_open", "not_answered", "already_closed")}
_STATUS_QUERY = ({"name": "status", "in": "query", "required": False,
                  "schema": {"type": "string", "enum": list(ORDER_STATUSES)}},
                 {"name": "department", "in": "query", "required": False, "schema": {"type": "string"},
                  "description": "Only this department's orders (the office); a reviewer sees her own only"})


@api_bp.get("/orders")
@documented("Supervision orders, open ones soonest due first", answer=schemas.OrdersResponse,
            query=_STATUS_QUERY, errors={403: ("forbidden",)})
@api_auth(*OFFICE_ROLES, "operator", "reviewer")
def get_orders():
    """Supervision orders: every one for the office, a reviewer's own department's for her."""
    db = get_session()
    status = request.args.get("status", "")
    department = request.args.get("department", "")[:32] or None
    if g.staff.role == "reviewer":
        department = g.staff.department_code or ""
    today = county_date(utc_now())
    return {"orders": [order_dict(db, order, today) for order in list_orders(
        db, status=status if status in ORDER_STATUSES else "", department=department)
        if order.case_id is None or _order_case_in_scope(db, g.staff, order.case_id)]}


def _answer(order: SupervisionOrder, status: int = 200):
    return order_dict(get_session(), order, county_date(utc_now())), status


@api_bp.post("/orders")
@documented("Issue a supervision order (督办单) about a case or a department", body=schemas.OrderCreate,
            answer=schemas.OrderPublic, status=201,
            errors={403: ("forbidden",), 404: ("unknown_case",),
                    422: ("text_required", "bad_days", "ambiguous_case", "department_required", "unknown_department",
                          "not_on_case")})
@api_auth(*OFFICE_ROLES)
def post_order():
    """The office orders a department to act by a deadline in working days and answer in writing."""
    body = parse_json_body(schemas.OrderCreate)
    if not isinstance(body, schemas.OrderCreate):
        return body
    db = get_session()
    try:
        order = issue_order(db, actor=g.staff.username, text=body.text, days=body.days, case_key=body.case,
                            department=body.department)
    except OrderError as exc:
        db.rollback()
        return api_error(exc.status, exc.reason, str(exc))
    db.commit()
    return _answer(order, 201)


@api_bp.post("/orders/<order_id>/answer")
@documented("The department answers a supervision order in writing", body=schemas.OrderAnswer,
            answer=schemas.OrderPublic, errors={403: ("forbidden",), **_ORDER_ERRORS, 422: ("answer_required",)})
@api_auth("reviewer", "admin")
def post_order_answer(order_id: str):
    """The department's written answer (its own department's orders only)."""
    body = parse_json_body(schemas.OrderAnswer)
    if not isinstance(body, schemas.OrderAnswer):
        return body
    db = get_session()
    try:
        asked = db.get(SupervisionOrder, uuid.UUID(order_id[:36]))
    except ValueError:
        asked = None
    if asked is not None and asked.case_id is not None and not _order_case_in_scope(db, g.staff, asked.case_id):
        return api_error(404, "not_found", "no such supervision order for your department")
    try:
        order = answer_order(db, order_id[:36], staff=g.staff, answer=body.answer)
    except OrderError as exc:
        db.rollback()
        return api_error(exc.status, exc.reason, str(exc))
    db.commit()
    return _answer(order)


@api_bp.post("/orders/<order_id>/close")
@documented("The office closes an answered supervision order with its result", body=schemas.OrderClose,
            answer=schemas.OrderPublic, errors={403: ("forbidden",), **_ORDER_ERRORS, 422: ("result_required",)})
@api_auth(*OFFICE_ROLES)
def post_order_close(order_id: str):
    """Close an answered order with the office's result."""
    body = parse_json_body(schemas.OrderClose)
    if not isinstance(body, schemas.OrderClose):
        return body
    db = get_session()
    try:
        order = close_order(db, order_id[:36], actor=g.staff.username, result=body.result)
    except OrderError as exc:
        db.rollback()
        return api_error(exc.status, exc.reason, str(exc))
    db.commit()
    return _answer(order)
