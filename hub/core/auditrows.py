"""What the hub's audit chain records of each case's rows, and the check of the live rows against it.

Each transaction that adds or changes a case, its review tasks or its 补正
rounds appends one ``case_state`` entry (hub/core/audit.py, and hub/intake/bulk.py for
the cases ingest writes in bulk) whose detail holds the fingerprint of each
such row::

    {"case": {...}, "tasks": {task id: {...}}, "rounds": {round id: {...}}}

A timeline line needs none: the entry written with it names it (``line``)
and holds its time, actor, action and note (hub/approval/cases.py).

``cross_check`` (``pointkit-hub audit verify``) compares every live row with
the newest entry that recorded it: a decision, an applicant's name or a
timeline note edited in the database fails, naming the entry. Rows from
before the hub recorded them get a ``case_baseline`` entry once, when
``pointkit-hub upgrade`` runs (``unrecorded_rows``), its timeline lines
under ``events``.

What is kept as it is and what only as a digest (sync/auditrows.py): the
decision, its reason, who decided and when, states, dates and timeline notes
as they are (notes and reasons are written for the resident to read, never
with her data); the applicant, the form, the result document, what a
department filled in and the point's 补正 note as SHA-256 digests salted
with the case id.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlmodel import Session, select

from sync.audit import AuditProblem
from sync.auditrows import DIGEST_SUFFIX, STATE_ACTIONS, content_digest, difference

from hub.core.clock import iso
from hub.core.models import AuditEntry, Case, CaseEvent, ReviewTask, SupplementRound

WATCHED = (Case, ReviewTask, SupplementRound)
_CASE_FIELDS = ("point_id", "receipt_no", "item_code", "status", "received_at", "due_date", "legal_due_date",
                "paused_days", "vouched_intake", "intake_vouched_by", "decision", "reason", "certificate_no",
                "decided_at", "closed_at", "merged_into")
_CASE_DIGESTS = ("applicant", "form", "result")
_TASK_FIELDS = ("department_code", "stage", "status", "decided_by", "reason", "certificate_no", "decided_at")
_TASK_DIGESTS = ("result_fields",)
_ROUND_FIELDS = ("department_code", "materials", "note", "requested_by", "requested_at", "supplemented_at",
                 "paused_days", "return_by")
_ROUND_DIGESTS = ("supplement_note",)
_EVENT_FIELDS = ("at", "actor", "action", "note", "data")
# The detail's keys for the rows besides the case itself, and how a message names one.
_KINDS = {ReviewTask: "tasks", SupplementRound: "rounds"}
_NAMES = {"case": "the case", "tasks": "review task", "rounds": "补正 round", "events": "timeline line"}


def case_of(row: Any) -> str:
    """The case a watched row belongs to."""
    return row.id if isinstance(row, Case) else row.case_id


def _value(row: Any, name: str) -> Any:
    value = row[name] if isinstance(row, Mapping) else getattr(row, name)
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value) if isinstance(value, UUID) else value


def _fingerprint(case_id: str, row: Any, fields: tuple[str, ...], digests: tuple[str, ...]) -> dict[str, Any]:
    values = {name: _value(row, name) for name in fields}
    for name in digests:
        value = _value(row, name)
        values[name + DIGEST_SUFFIX] = None if value is None else content_digest(case_id, value)
    return values


def case_fingerprint(case: Any) -> dict[str, Any]:
    """What the chain records of a case row (a Case, or its row as a dict)."""
    return _fingerprint(_value(case, "id"), case, _CASE_FIELDS, _CASE_DIGESTS)


def task_fingerprint(task: Any) -> dict[str, Any]:
    return _fingerprint(_value(task, "case_id"), task, _TASK_FIELDS, _TASK_DIGESTS)


def round_fingerprint(supplement: Any) -> dict[str, Any]:
    return _fingerprint(_value(supplement, "case_id"), supplement, _ROUND_FIELDS, _ROUND_DIGESTS)


def event_fingerprint(line: Any) -> dict[str, Any]:
    """A timeline line: its time, actor, action, note and data."""
    return {name: _value(line, name) for name in _EVENT_FIELDS}


_FINGERPRINTS = {"tasks": task_fingerprint, "rounds": round_fingerprint, "events": event_fingerprint}


def state_detail(case: Any, rows: list[Any]) -> dict[str, Any]:
    """A ``case_state`` entry's detail: ``case`` and those of ``rows`` that are its tasks or rounds."""
    detail: dict[str, Any] = {"case": case_fingerprint(case)}
    for row in rows:
        kind = _KINDS.get(type(row))
        if kind:
            detail.setdefault(kind, {})[str(row.id)] = _FINGERPRINTS[kind](row)
    return detail


@dataclass(frozen=True)
class Recorded:
    """The newest entry that recorded a row: its id, the row's case, and the fingerprint it holds."""

    entry_id: int
    case_id: str
    fingerprint: Any


def recorded_rows(session: Session) -> dict[tuple[str, str], Recorded]:
    """(kind, row id) -> the newest entry recording that row: a timeline line's own entry, else a state or
    baseline entry; kind is "case" (row id: the case id), "tasks", "rounds" or "events"."""
    recorded: dict[tuple[str, str], Recorded] = {}
    entries = select(AuditEntry).where(AuditEntry.subject.startswith("case:")).order_by(AuditEntry.id)  # type: ignore[attr-defined]
    for entry in session.exec(entries):
        case_id, detail = entry.subject.removeprefix("case:"), entry.detail
        if not isinstance(detail, dict):
            continue
        if isinstance(detail.get("line"), str):
            recorded[("events", detail["line"])] = Recorded(entry.id, case_id, {
                "at": _value(entry, "at"), "actor": entry.actor, "action": entry.action, "note": detail.get("note"),
                "data": detail.get("data", {})})
            continue
        if entry.action not in STATE_ACTIONS:
            continue
        if "case" in detail:
            recorded[("case", case_id)] = Recorded(entry.id, case_id, detail["case"])
        for kind in _FINGERPRINTS:
            rows = detail.get(kind)
            for row_id, fingerprint in (rows.items() if isinstance(rows, dict) else ()):
                recorded[(kind, row_id)] = Recorded(entry.id, case_id, fingerprint)
    return recorded


def _live_rows(session: Session) -> Iterator[tuple[str, str, str, Any]]:
    """(kind, row id, case id, fingerprint) of every live row the chain records."""
    for case in session.exec(select(Case)):
        yield "case", case.id, case.id, case_fingerprint(case)
    for model, kind in (*_KINDS.items(), (CaseEvent, "events")):
        for row in session.exec(select(model)):
            yield kind, str(row.id), row.case_id, _FINGERPRINTS[kind](row)


def cross_check(session: Session) -> list[AuditProblem]:
    """Every live case row against the newest entry that recorded it; every recorded row still there."""
    recorded = recorded_rows(session)
    problems: list[AuditProblem] = []
    for kind, row_id, case_id, fingerprint in _live_rows(session):
        what = _NAMES[kind] if kind == "case" else f"{_NAMES[kind]} {row_id}"
        entry = recorded.pop((kind, row_id), None)
        if entry is None:
            problems.append(AuditProblem(None, (
                f"case {case_id}: {what} is in no audit entry (written outside pointkit, or before this hub recorded "
                "case contents: run pointkit-hub upgrade once to record them)")))
            continue
        changed = difference(entry.fingerprint, fingerprint)
        if changed:
            problems.append(AuditProblem(entry.entry_id, f"case {case_id}: {what} no longer matches it: {changed} "
                                                         "(changed outside pointkit)"))
    for (kind, row_id), entry in recorded.items():
        what = _NAMES[kind] if kind == "case" else f"{_NAMES[kind]} {row_id}"
        problems.append(AuditProblem(entry.entry_id, f"case {entry.case_id}: {what} it records no longer exists "
                                                     "(deleted outside pointkit)"))
    return problems


def unrecorded_rows(session: Session) -> dict[str, dict[str, Any]]:
    """case id -> a baseline entry's detail for the rows of that case no entry records yet (rows of a hub from
    before case contents were recorded): the same shape as a state entry, ``case`` only when the case row
    itself is unrecorded. A row some entry records is never taken again, so an edited one stays found."""
    recorded = recorded_rows(session)
    baseline: dict[str, dict[str, Any]] = {}
    for kind, row_id, case_id, fingerprint in _live_rows(session):
        if (kind, row_id) not in recorded:
            detail = baseline.setdefault(case_id, {})
            if kind == "case":
                detail["case"] = fingerprint
            else:
                detail.setdefault(kind, {})[row_id] = fingerprint
    return baseline
