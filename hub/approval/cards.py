"""Yellow, red and legal-limit cards (黄牌、红牌、超法定时限) as records, and who answers for them.

A colour on the queue says where a case stands today; a card says that it passed a line, in which department,
who was responsible and when the hub saw it. The supervision round (hub/approval/supervision.py) raises one
card per line a department's open task passes: the warning line (yellow), the promised limit (red) and the
legal limit (legal, a separate and stronger state). The table's unique constraint and the round's write lock make
each card once per case, department and colour. A card is cleared when its department decides or the case
leaves review; a case paused for 补正 raises none while paused (its clock stands still). A joint case whose
departments have all given their opinions waits for its lead department (待牵头部门出具结论): the lead's card then.

The responsible reviewer: the department's reviewer who last acted on the case (a line of its timeline names
her); else the department's only active reviewer; else nobody is named, and pages say so. Review tasks have no
assignee, so nothing more can be known without inventing it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from sqlmodel import Session, select

from sync.catalog import ServiceItem
from sync.kit.workdays import Calendar

from hub.approval.timelimits import DEFAULT_WARN_SHARE, OPEN_STATUSES, OVERDUE, WARNING, promised_time_state
from hub.catalog.calendar import county_calendar
from hub.core.audit import append_audit
from hub.core.clock import utc_now
from hub.core.models import CARD_COLOURS, Case, CaseEvent, JointReview, ReviewTask, Staff, SupervisionCard
from hub.core.timeline import HUB_ACTOR, record_event
from hub.trust.townships import in_scope

YELLOW, RED, LEGAL = CARD_COLOURS
# Case statuses in which a department's open task runs on the clock (补正 is "supplement_requested": paused).
RUNNING_STATUSES = ("routed", "in_review")
# Task statuses that still belong to the department: its card stays until it decides.
UNDECIDED_TASKS = ("open", "supplement")


def passed_lines(case: Case, item: ServiceItem | None, today: date, warn_share: float, *,
                 calendar: Calendar) -> list[str]:
    """The card colours ``case`` has earned by ``today``: passing a later line passes the earlier ones too."""
    state = promised_time_state(case, item, today, warn_share, calendar=calendar).state
    lines = []
    if state in (WARNING, OVERDUE):
        lines.append(YELLOW)
    if state == OVERDUE:
        lines.append(RED)
    if case.legal_due_date is not None and today > case.legal_due_date:
        lines.append(LEGAL)
    return lines


def responsible_reviewer(session: Session, case_id: str | None, department: str) -> str:
    """Who answers for ``department``'s part of the case: the username of its reviewer who last acted on the case,
    else of its only active reviewer (of a township-scoped department: of the case's township), else "" (nobody
    can be named honestly)."""
    case = session.get(Case, case_id) if case_id is not None else None
    # A township-scoped department answers per township: only the reviewers who see the case are candidates.
    reviewers = {staff.username: staff for staff in session.exec(select(Staff).where(
        Staff.role == "reviewer", Staff.department_code == department)).all()
        if case is None or in_scope(session, staff, case)}
    if case_id is not None and reviewers:
        acted = session.exec(select(CaseEvent.actor).where(
            CaseEvent.case_id == case_id, CaseEvent.actor.in_(list(reviewers)))  # type: ignore[attr-defined]
            .order_by(CaseEvent.at.desc(), CaseEvent.id.desc())).first()  # type: ignore[attr-defined]
        if acted is not None and reviewers[acted].disabled_at is None:
            return acted
    active = [name for name, staff in reviewers.items() if staff.disabled_at is None]
    return active[0] if len(active) == 1 else ""


def raise_cards(session: Session, *, items: Callable[[str], ServiceItem | None], today: date,
                warn_share: float = DEFAULT_WARN_SHARE, now: datetime | None = None) -> list[SupervisionCard]:
    """Raise the cards open review tasks have earned by ``today`` and return them (caller holds the write lock and
    commits). Each new card is a line of its case's timeline and of the audit chain."""
    now = now or utc_now()
    calendar = county_calendar(session)
    running = [(task.department_code, case) for task, case in session.exec(
        select(ReviewTask, Case).join(Case, Case.id == ReviewTask.case_id).where(
            ReviewTask.status == "open", Case.status.in_(RUNNING_STATUSES),  # type: ignore[attr-defined]
            Case.paused_since.is_(None))).all()]  # type: ignore[union-attr]
    running += waiting_for_leads(session)
    held = {(card.case_id, card.department_code, card.colour) for card in session.exec(select(SupervisionCard).where(
        SupervisionCard.case_id.in_({case.id for _code, case in running}))).all()}  # type: ignore[attr-defined]
    raised = []
    for department, case in running:
        for colour in passed_lines(case, items(case.item_code), today, warn_share, calendar=calendar):
            if (case.id, department, colour) in held:
                continue
            held.add((case.id, department, colour))
            raised.append(_raise(session, case, department, colour, now))
    session.flush()
    return raised


def waiting_for_leads(session: Session) -> list[tuple[str, Case]]:
    """(lead department, case) for each running joint case no department's task holds any more: only its lead's
    combined result is missing."""
    rows = session.exec(select(JointReview, Case).join(Case, Case.id == JointReview.case_id).where(
        JointReview.decided_at.is_(None), Case.status.in_(RUNNING_STATUSES),  # type: ignore[attr-defined]
        Case.paused_since.is_(None))).all()  # type: ignore[union-attr]
    if not rows:
        return []
    busy = set(session.exec(select(ReviewTask.case_id).where(
        ReviewTask.case_id.in_([case.id for _review, case in rows]),  # type: ignore[attr-defined]
        ReviewTask.status.in_(UNDECIDED_TASKS))).all())  # type: ignore[attr-defined]
    return [(review.lead_department, case) for review, case in rows if case.id not in busy]


def _raise(session: Session, case: Case, department: str, colour: str, now: datetime) -> SupervisionCard:
    due = case.legal_due_date if colour == LEGAL else case.due_date
    card = SupervisionCard(colour=colour, case_id=case.id, department_code=department,
                           reviewer=responsible_reviewer(session, case.id, department), raised_at=now, due_date=due)
    session.add(card)
    record_event(session, case.id, actor=HUB_ACTOR, action="card_raised",
                 note=f"{colour} card for {department}, due {due}; responsible reviewer: "
                      f"{card.reviewer or 'none named'}",
                 data={"colour": colour, "department": department, "reviewer": card.reviewer,
                       "due": due.isoformat() if due else None, "card": str(card.id)})
    return card


def clear_settled_cards(session: Session, case_id: str | None = None, *, now: datetime | None = None) -> int:
    """Clear the cards whose department decided or whose case left review (of one case, or of all); return how
    many. Each clearing is an entry of the audit chain."""
    query = select(SupervisionCard).where(SupervisionCard.cleared_at.is_(None))  # type: ignore[union-attr]
    if case_id is not None:
        query = query.where(SupervisionCard.case_id == case_id)
    cards = session.exec(query).all()
    if not cards:
        return 0
    now = now or utc_now()
    cleared = 0
    for card in cards:
        if _still_due(session, card):
            continue
        card.cleared_at = now
        session.add(card)
        append_audit(session, actor=HUB_ACTOR, action="card_cleared", subject=f"case:{card.case_id}",
                     detail={"card": str(card.id), "colour": card.colour, "department": card.department_code})
        cleared += 1
    return cleared


def _still_due(session: Session, card: SupervisionCard) -> bool:
    """Whether the card's department still owes the case a decision."""
    case = session.get(Case, card.case_id)
    if case is None or case.status not in OPEN_STATUSES:
        return False
    review = session.get(JointReview, card.case_id)
    if review is not None and review.decided_at is None and review.lead_department == card.department_code:
        return True  # the lead owes the combined result
    return session.exec(select(ReviewTask.id).where(
        ReviewTask.case_id == card.case_id, ReviewTask.department_code == card.department_code,
        ReviewTask.status.in_(UNDECIDED_TASKS))).first() is not None  # type: ignore[attr-defined]


def open_cards(session: Session, *, department: str | None = None) -> list[tuple[SupervisionCard, Case]]:
    """Cards not cleared, legal first, then red, then yellow, oldest first within a colour."""
    query = select(SupervisionCard, Case).join(Case, Case.id == SupervisionCard.case_id).where(
        SupervisionCard.cleared_at.is_(None))  # type: ignore[union-attr]
    if department is not None:
        query = query.where(SupervisionCard.department_code == department)
    rows = session.exec(query.order_by(SupervisionCard.raised_at, SupervisionCard.id)).all()
    return sorted(rows, key=lambda row: -CARD_COLOURS.index(row[0].colour))
