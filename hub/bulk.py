"""New cases applied in bulk: the rows of many plain SUBMITs inserted with one statement per table.

Most of what points push is a new case that needs nothing but storing and
routing. Ingest (hub/ingest.py) decides which envelopes of a batch are such
plain cases, from lookups it made once for the whole batch under the write
lock; a run of them in a row is written here: the raw envelope, the case, its
scans, the timeline's "received" and "routed" lines with their audit entries,
the review tasks and the status message, exactly the rows the per-envelope
path writes for such a case, without building an ORM object for each.

A run goes in one savepoint. Should it break a constraint after all, the
savepoint rolls back and ingest sends the run's envelopes the per-envelope
way, which answers each on its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection, Table, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from sync import Envelope, Kind, SubmitCase, uuid7
from sync.catalog import ServiceItem
from sync.workdays import county_date

from .audit import next_audit_row
from .db import as_utc, utc_now
from .keys import Keyring
from .models import AuditEntry, Case, CaseEvent, CaseScan, OutMessage, Point, RawEnvelope, ReviewTask
from .outbox import next_seq, status_payload
from .routing import HUB_ACTOR, planned_tasks, routed_note
from .timelimits import due_dates, intake_on_hub_clock

log = logging.getLogger(__name__)

ACCEPTED = "case received and routed"
# Parents before children (foreign keys are checked as rows go in).
_TABLES = (RawEnvelope, Case, CaseScan, CaseEvent, ReviewTask, AuditEntry, OutMessage)


@dataclass
class PlainCase:
    """A SUBMIT the batch lookups cleared: new envelope, new case, known current item, unseen resident."""

    envelope: Envelope
    point: Point
    intent: SubmitCase
    item: ServiceItem
    resident_key: str
    scans: list[dict[str, Any]]


@dataclass
class BulkRun:
    """Plain cases waiting to be written together, in arrival order."""

    session: Session
    keyring: Keyring
    pending: list[PlainCase] = field(default_factory=list)
    _due: dict[tuple[date, str], tuple[date, date]] = field(default_factory=dict)

    def add(self, plain: PlainCase) -> None:
        self.pending.append(plain)

    def write(self) -> list[PlainCase]:
        """Write the pending cases; return those to send the per-envelope way instead (all of them, when
        the run broke a constraint)."""
        run, self.pending = self.pending, []
        if not run:
            return []
        savepoint = self.session.begin_nested()
        try:
            rows = self._rows(run)
            connection = self.session.connection()
            for table in _TABLES:
                if rows[table]:
                    insert_rows(connection, table.__table__, rows[table])  # type: ignore[attr-defined]
            savepoint.commit()
        except IntegrityError:
            savepoint.rollback()
            log.warning("a run of %d new cases broke a constraint; applying them one by one", len(run))
            return run
        for plain in run:
            log.info("case %s (receipt %s) received from point %s", plain.intent.case_id, plain.intent.receipt_no,
                     plain.point.id)
        return []

    def _rows(self, run: list[PlainCase]) -> dict[type, list[dict[str, Any]]]:
        session, now = self.session, utc_now()
        rows: dict[type, list[dict[str, Any]]] = {table: [] for table in _TABLES}
        signer = self.keyring.generation  # the current generation signs, as for any message queued now

        def event(case_id: str, actor: str, action: str, note: str) -> None:
            rows[CaseEvent].append({"id": uuid7(), "case_id": case_id, "at": now, "actor": actor[:128],
                                    "action": action, "note": note[:2000]})
            rows[AuditEntry].append(next_audit_row(session, actor=actor, action=action, subject=f"case:{case_id}",
                                                   detail={"note": note[:2000]}))

        for plain in run:
            intent, point, item, header = plain.intent, plain.point, plain.item, plain.envelope.header
            if intent.clock_offset_ms is not None:
                point.clock_offset_ms = intent.clock_offset_ms
                session.add(point)
            received_at = as_utc(intent.received_at)
            due, legal_due = self._due_dates(county_date(intake_on_hub_clock(
                received_at, intent.clock_offset_ms, point.clock_offset_ms, now)), item)
            rows[RawEnvelope].append({
                "id": uuid7(), "envelope_id": str(header.envelope_id), "point_id": point.id, "seq": header.seq,
                "kind": int(header.kind), "header": plain.envelope.header_bytes,
                "ciphertext": plain.envelope.ciphertext, "signature": plain.envelope.signature,
                "sender_clock_ms": header.sender_clock_ms, "received_at": now, "outcome": "accepted", "reason": "",
                "case_id": intent.case_id})
            rows[Case].append({
                "id": intent.case_id, "point_id": point.id, "receipt_no": intent.receipt_no,
                "item_code": intent.item_code, "item_name": item.name_zh, "catalog_version": intent.catalog_version,
                "status": "routed", "applicant": intent.applicant.model_dump(), "form": intent.form,
                "materials": intent.materials, "staff": intent.staff, "received_at": received_at,
                "hub_received_at": now, "promised_date": intent.promised_date, "due_date": due,
                "decision": None, "reason": "", "certificate_no": "", "decided_at": None, "result": None,
                "closed_at": None, "version": 1, "resident_key": plain.resident_key, "merged_into": None,
                "legal_due_date": legal_due, "clock_offset_ms": intent.clock_offset_ms, "paused_days": 0,
                "paused_since": None})
            rows[CaseScan].extend(plain.scans)
            event(intent.case_id, point.name, "received", f"received at the point by {intent.staff}")
            rows[ReviewTask].extend(planned_tasks(intent.case_id, item))
            event(intent.case_id, HUB_ACTOR, "routed", routed_note(item, due))
            rows[OutMessage].append({
                "id": uuid7(), "point_id": point.id, "seq": next_seq(session, point.id), "kind": int(Kind.STATUS),
                "case_id": intent.case_id, "envelope": None, "signer": signer, "created_at": now,
                "delivered_at": None,
                "payload": status_payload(intent.case_id, "routed", "sent to " + ", ".join(item.departments))})
        return rows

    def _due_dates(self, start: date, item: ServiceItem) -> tuple[date, date]:
        key = (start, item.code)
        if key not in self._due:
            self._due[key] = due_dates(start, item)
        return self._due[key]


# (table, dialect name) -> (the INSERT of every column in the driver's own SQL, each column's name and the
# type's bind processor)
_INSERTS: dict[tuple[str, str], tuple[str, bool, list[tuple[str, Any]]]] = {}


def insert_rows(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT ``rows`` (each a value for every column of ``table``) with one executemany.

    The values go through the column types' own bind processors, as an ORM flush sends them, so the rows
    read back the same; what this skips is SQLAlchemy building and processing parameters row by row.
    """
    dialect = connection.dialect
    key = (table.name, dialect.name)
    if key not in _INSERTS:
        compiled = insert(table).compile(dialect=dialect)
        names = list(compiled.positiontup) if compiled.positional else [column.key for column in table.columns]
        columns = {column.key: column for column in table.columns}
        _INSERTS[key] = (compiled.string, compiled.positional,
                         [(name, columns[name].type.dialect_impl(dialect).bind_processor(dialect)) for name in names])
    sql, positional, processors = _INSERTS[key]
    params: list[Any] = []
    for row in rows:
        values = [row[name] if process is None or row[name] is None else process(row[name])
                  for name, process in processors]
        params.append(tuple(values) if positional else dict(zip((name for name, _ in processors), values)))
    connection.exec_driver_sql(sql, params)
