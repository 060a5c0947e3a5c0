"""A case's timeline: one line per thing that happened to it, each also a link of the audit chain.

Every layer writes here (intake, routing, decisions, the desk, supervision), so it sits on the ground floor
beside the models; reading a case's timeline is hub/approval/cases.py's job.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from sync.clock import uuid7

from hub.core.audit import next_audit_row
from hub.core.clock import utc_now
from hub.core.models import AuditEntry, CaseEvent

HUB_ACTOR = "hub"


def record_event(session: Session, case_id: str, *, actor: str, action: str, note: str = "",
                 data: dict[str, Any] | None = None) -> CaseEvent:
    """Append one line to a case's timeline and to the audit chain (never personal data in ``note`` or ``data``).

    ``note`` is the line in English for the API and the CLI; ``data`` holds its facts as values (department
    codes, ISO dates, counts) so the pages can word it in their own language (hub/web/timeline.py)."""
    event_row, audit_row = event_rows(session, case_id, actor=actor, action=action, note=note, data=data)
    event = CaseEvent(**event_row)
    session.add(event)
    session.add(AuditEntry(**audit_row))
    return event


def event_rows(session: Session, case_id: str, *, actor: str, action: str, note: str = "",
               data: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """One timeline line and its audit entry as rows, not added yet: what ``record_event`` stores, and what
    ingest's bulk path (hub/intake/bulk.py) inserts for many cases at once. The audit chain links to the entry; the
    entry names the line and has its time, so ``audit verify`` checks the line against it (hub/core/auditrows.py)."""
    note, at, line_id = note[:2000], utc_now(), uuid7()
    event = {"id": line_id, "case_id": case_id, "at": at, "actor": actor[:128], "action": action, "note": note,
             "data": data or {}}
    return event, next_audit_row(session, actor=actor, action=action, subject=f"case:{case_id}",
                                 detail={"note": note, "line": str(line_id), **({"data": data} if data else {})},
                                 at=at)
