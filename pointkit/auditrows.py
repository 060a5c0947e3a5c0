"""What the point's audit chain records of each case row, and the check of the live rows against it.

Each transaction that adds or changes a case appends one ``case_state``
entry (pointkit/audit.py) recording the case as it leaves it: receipt,
status, the decision it received, pickup, who handed it over and when, as
they are; the applicant (name, ID number, phone), the form, the result
document, the hashed pickup code and the resident's words as SHA-256
digests salted with the case id (sync/auditrows.py), so the chain holds no
resident's data. ``pointkit audit verify`` compares every case with the
newest entry that recorded it; ``pointkit upgrade`` records a
``case_baseline`` entry for cases from before (``unrecorded_cases``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, select

from sync.audit import AuditProblem
from sync.auditrows import DIGEST_SUFFIX, STATE_ACTIONS, content_digest, difference

from .models import AuditEntry, Case
from .state import as_utc

_FIELDS = ("receipt_no", "item_code", "status", "hub_status", "hub_version", "received_at", "promised_date",
           "hub_promised_date", "hub_legal_date", "hub_paused_days", "hub_dates_reason", "decision", "collected_at",
           "collected_by", "staff", "rating", "restored_at")
# Digest name -> the columns it covers.
_DIGESTS = {"applicant": ("applicant_name", "id_number", "phone"), "form": ("form_json", "materials_json"),
            "result": ("result_document", "result_signature"), "pickup_code": ("pickup_code_hash",),
            "hub_note": ("hub_note",), "supplement": ("supplement_json",), "rating_comment": ("rating_comment",)}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    return value.isoformat() if isinstance(value, date) else value


def case_fingerprint(case: Case) -> dict[str, Any]:
    """What the chain records of a case row."""
    values = {name: _plain(getattr(case, name)) for name in _FIELDS}
    values.update({name + DIGEST_SUFFIX: content_digest(case.id, {column: getattr(case, column) for column in columns})
                   for name, columns in _DIGESTS.items()})
    return values


def _recorded(session: Session) -> dict[str, tuple[int, Any]]:
    """case id -> (id, recorded fingerprint) of the newest state or baseline entry about it."""
    recorded: dict[str, tuple[int, Any]] = {}
    entries = select(AuditEntry).where(AuditEntry.action.in_(STATE_ACTIONS)).order_by(AuditEntry.id)  # type: ignore[attr-defined]
    for entry in session.exec(entries):
        try:
            detail = json.loads(entry.detail)
        except ValueError:
            detail = None
        recorded[entry.subject] = (entry.id, detail.get("case") if isinstance(detail, dict) else None)
    return recorded


def _cases(session: Session) -> Iterator[Case]:
    return iter(session.exec(select(Case).order_by(Case.received_at)))


def cross_check(session: Session) -> list[AuditProblem]:
    """Every case against the newest entry that recorded it; every recorded case still there."""
    recorded = _recorded(session)
    problems: list[AuditProblem] = []
    for case in _cases(session):
        entry = recorded.pop(case.id, None)
        if entry is None:
            problems.append(AuditProblem(None, (
                f"case {case.id} is in no audit entry (written outside pointkit, or before this point recorded "
                "case contents: run pointkit upgrade once to record them)")))
            continue
        changed = difference(entry[1], case_fingerprint(case))
        if changed:
            problems.append(AuditProblem(entry[0], f"case {case.id} no longer matches it: {changed} "
                                                   "(changed outside pointkit)"))
    for case_id, (entry_id, _fingerprint) in recorded.items():
        problems.append(AuditProblem(entry_id, f"case {case_id} it records no longer exists (deleted outside "
                                               "pointkit)"))
    return problems


def unrecorded_cases(session: Session) -> list[Case]:
    """Cases no entry records yet (taken before the chain recorded case contents)."""
    recorded = _recorded(session)
    return [case for case in _cases(session) if case.id not in recorded]
