"""Where a case stands and when it is due, as the point shows it: the hub's word over the point's own.

The point prints a promised date at intake (受理). Once the hub has spoken (a STATUS carries its current due
dates and the case's state, inbox.apply_status), its dates replace the point's copy wherever a page shows a date:
the point never counts a date the hub has moved (docs/architecture.md, STATUS). Until then the date printed at
intake stands.

States are shown in words, never as stored keys: ``stage`` sums up a case for residents (the kiosk), and the
pages translate the point's own status and the hub's state with the labels in pointkit/i18n.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, func, select

from sync.kit.workdays import COUNTY_TIMEZONE, Calendar

from .models import Case
from .state import as_utc

# The hub's states in which a case waits for the resident's materials (补正): its clock stands still.
PAUSED_HUB_STATES = ("supplement_requested",)
# A merged duplicate whose one result the resident collected at this same point with her other receipt (the hub
# says "collected_elsewhere" from where it stands; here it was not elsewhere).
COLLECTED_HERE = "collected_here"
# The hub's states that end a case without a result for this window.
ENDED_HUB_STATES = ("withdrawn", "merged", "refused")


@dataclass(frozen=True)
class CaseDates:
    """A case's dates as the point shows them: ``promised`` is the hub's when it gave one, else intake's."""

    promised: date | None
    printed: date | None
    legal: date | None
    paused_days: int
    paused: bool
    return_by: date | None
    # The years of a holiday schedule that made the hub count the dates again ("" when none did).
    calendar_years: str = ""
    # The special procedure (特别程序) that stops the clock now ("" when none), and when the department expects
    # it to end (None: not known).
    procedure: str = ""
    procedure_until: date | None = None

    @property
    def moved(self) -> bool:
        """Did the hub move the promised date away from the one printed at intake?"""
        return self.promised is not None and self.printed is not None and self.promised != self.printed


def case_dates(case: Case) -> CaseDates:
    """The dates to show for ``case``: the hub's current due dates over the promised date printed at intake,
    whether the clock stands still for a 补正, and the day the resident must bring its materials by."""
    paused = case.status == "supplement_requested" or case.hub_status in PAUSED_HUB_STATES
    return CaseDates(promised=case.hub_promised_date or case.promised_date, printed=case.promised_date,
                     legal=case.hub_legal_date, paused_days=case.hub_paused_days, paused=paused,
                     return_by=_return_by(case) if case.status == "supplement_requested" else None,
                     calendar_years=case.hub_dates_reason.removeprefix("calendar:")
                     if case.hub_dates_reason.startswith("calendar:") else "",
                     procedure=case.hub_procedure, procedure_until=case.hub_procedure_until)


def calendar_missing(calendar: Calendar, case: Case) -> list[int]:
    """Years from intake to the promised date shown for ``case`` that ``calendar`` (the point's) has no schedule
    for: there the date counts weekends only and may move if it falls on a public holiday (the receipt and the
    API say so)."""
    received_on = as_utc(case.received_at).astimezone(COUNTY_TIMEZONE).date()
    return calendar.missing_years(received_on, case_dates(case).promised or received_on)


def _return_by(case: Case) -> date | None:
    raw = json.loads(case.supplement_json).get("return_by") if case.supplement_json else None
    return date.fromisoformat(raw) if raw else None


def waiting_at_window(session: Session) -> tuple[int, int]:
    """How many cases wait for the window: (补正 requested of the resident, results ready for pickup)."""
    counts = dict(session.exec(select(Case.status, func.count()).where(
        Case.status.in_(("supplement_requested", "result_ready")))  # type: ignore[attr-defined]
        .group_by(Case.status)).all())
    return counts.get("supplement_requested", 0), counts.get("result_ready", 0)


def stage(case: Case) -> str:
    """Where ``case`` stands, in one word residents get a sentence for (i18n.STAGE_LABELS)."""
    if case.status in ("result_ready", "collected", "collected_elsewhere", COLLECTED_HERE, "supplement_requested",
                       "supplemented"):
        return case.status
    if case.hub_status in ENDED_HUB_STATES:
        return case.hub_status
    if case.hub_status in ("result_issued", "delivered", "closed"):
        return "decided"
    if case.hub_status == "rejected":
        return "send_problem"
    if case.status in ("received", "queued", "sent"):
        return "sending"
    return "in_review"
