"""New cases applied in bulk: the rows of many plain SUBMITs inserted with one statement per table.

Most of what points push is a new case that needs nothing but storing and
routing. Such a case is drafted before the write lock, while ingest verifies
and opens its envelope (``draft_case``): the payload checked, the raw
envelope, case, scan and review-task rows built and converted for the driver,
the due dates counted. Under the lock, ingest (hub/intake/ingest.py) decides from
lookups it made once for the whole batch which drafts are still plain cases,
and a run of them in a row is written here (``BulkRun``): with the timeline's
"received" and "routed" lines, their audit entries, the case's state entry
(what the chain records of its rows, hub/core/auditrows.py; fingerprinted with
the draft) and the status message, which need the lock (the audit chain's
head, the point's next message number). These are exactly the rows the per-envelope path writes for such a
case, without building an ORM object for each, and most of the work is done
outside the one lock every hub process queues for.

A run goes in one savepoint. Should it break a constraint after all, the
savepoint rolls back and ingest sends the run's envelopes the per-envelope
way, which answers each on its own.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection, Dialect, Table, bindparam, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from sync.auditrows import CASE_STATE
from sync.catalog import ServiceItem
from sync.clock import uuid7
from sync.envelope import Envelope, Kind
from sync.kit.workdays import county_date
from sync.messages import SubmitCase
from sync.uploads import ScanError

from hub.approval.routing import planned_tasks, routed_data, routed_note
from hub.approval.scans import expected_scan
from hub.approval.timelimits import due_dates, intake_on_hub_clock
from hub.catalog.calendar import county_calendar
from hub.catalog.versions import current_version_number, find_item
from hub.core.audit import next_audit_row
from hub.core.auditrows import case_fingerprint, task_fingerprint
from hub.core.clock import as_utc, utc_now
from hub.core.models import AuditEntry, Case, CaseEvent, CaseScan, OutMessage, Point, RawEnvelope, ReviewTask
from hub.core.outbox import current_signer, next_seq, status_payload
from hub.core.timeline import HUB_ACTOR, event_rows
from hub.intake.intaketime import judge_intake
from hub.intake.intents import received_data
from hub.reconcile.arrival import resident_key

log = logging.getLogger(__name__)

# Parents before children (foreign keys are checked as rows go in).
_TABLES = (RawEnvelope, Case, CaseScan, CaseEvent, ReviewTask, AuditEntry, OutMessage)


@dataclass
class Draft:
    """A SUBMIT as a new case, prepared before the write lock against the hub as it stood then.

    ``catalog_version`` and ``point_offset_ms`` are what the draft was made under (the current catalog
    version, the point's clock offset its due dates used): under the lock it is a plain case only if they
    still hold. ``rows`` are already in the driver's form; ``state`` is what the case's state entry records of
    its case and task rows (hub/core/auditrows.py), fingerprinted here to keep the work out of the lock.
    """

    envelope: Envelope
    intent: SubmitCase
    item: ServiceItem
    resident_key: str
    scan_ids: set[str]
    catalog_version: int
    point_offset_ms: int
    routed_note: str
    rows: dict[type, list[Any]]
    due_dates: tuple[date, date]
    state: dict[str, Any]

    @property
    def case_id(self) -> str:
        return self.intent.case_id


def draft_case(session: Session, envelope: Envelope, payload: Any, point: Point) -> Draft | None:
    """``payload`` (an opened SUBMIT from ``point``) drafted as a new case, or None when it needs the
    per-envelope path whatever the lookups say: an invalid payload or scan listing, an item the hub does
    not have, a catalog version older than the current one (its drift is checked and noted there)."""
    try:
        intent = SubmitCase.model_validate(payload)
        uuid.UUID(intent.case_id)
        scans = [expected_scan(scan, intent.case_id, point.id) for scan in intent.scans]
    except (ValueError, ScanError):  # pydantic's ValidationError is a ValueError
        return None
    scan_ids = {scan["scan_id"] for scan in scans}
    latest = current_version_number(session)
    item = find_item(session, intent.item_code)
    # A case opened with a referral slip links to its referral, a joint item opens its joint review under its
    # lead department, a renewal sets the day it is deemed granted and a pre-check's files join the case as its
    # scans: the per-envelope path does those. 免提交 references are checked one by one on that path too.
    if (intent.referral_no or intent.certificates or intent.precheck_id or len(scan_ids) < len(scans)
            or latest is None
            or intent.catalog_version < latest
            or item is None or point.level not in item.levels or item.route == "joint" or item.renewal):
        return None
    now, header, dialect = utc_now(), envelope.header, session.get_bind().dialect
    received_at = as_utc(intent.received_at)
    intake = intake_on_hub_clock(received_at, intent.clock_offset_ms, point.clock_offset_ms, now)
    if judge_intake(session, point, header.seq, intent.catalog_version, intake)[0] is not None:
        return None  # an intake time the hub cannot believe: parked the per-envelope way
    due, legal_due = due_dates(county_date(intake), item, calendar=county_calendar(session))
    raw = {"id": uuid7(), "envelope_id": str(header.envelope_id), "point_id": point.id, "seq": header.seq,
           "kind": int(header.kind), "header": envelope.header_bytes, "ciphertext": envelope.ciphertext,
           "signature": envelope.signature, "sender_clock_ms": header.sender_clock_ms, "received_at": now,
           "outcome": "accepted", "reason": "", "case_id": intent.case_id}
    case = {"id": intent.case_id, "point_id": point.id, "receipt_no": intent.receipt_no,
            "item_code": intent.item_code, "item_name": item.name_zh, "catalog_version": intent.catalog_version,
            "status": "routed", "applicant": intent.applicant.model_dump(), "form": intent.form,
            "materials": intent.materials, "staff": intent.staff, "received_at": received_at,
            "hub_received_at": now, "promised_date": intent.promised_date, "due_date": due, "decision": None,
            "reason": "", "certificate_no": "", "decided_at": None, "result": None, "closed_at": None,
            "version": 1, "resident_key": resident_key(intent.applicant.id_number), "merged_into": None,
            "legal_due_date": legal_due, "clock_offset_ms": intent.clock_offset_ms, "paused_days": 0,
            "paused_since": None, "vouched_intake": None, "intake_vouched_by": "",
            "first_contact_name": intent.first_contact_name, "first_contact_post": intent.first_contact_post,
            "referral_no": intent.referral_no, "project_id": None, "project_stage": "", "paused_natural_days": 0,
            "deemed_on": None}
    tasks = planned_tasks(intent.case_id, item)
    rows: dict[type, list[Any]] = {
        RawEnvelope: [driver_row(dialect, RawEnvelope, raw)],
        Case: [driver_row(dialect, Case, case)],
        CaseScan: [driver_row(dialect, CaseScan, scan) for scan in scans],
        ReviewTask: [driver_row(dialect, ReviewTask, task) for task in tasks],
    }
    state = {"case": case_fingerprint(case), "tasks": {str(task["id"]): task_fingerprint(task) for task in tasks}}
    return Draft(envelope, intent, item, case["resident_key"], scan_ids, latest, point.clock_offset_ms,
                 routed_note(item, due), rows, (due, legal_due), state)


@dataclass
class BulkRun:
    """Plain cases waiting to be written together, in arrival order."""

    session: Session
    pending: list[tuple[Draft, Point]] = field(default_factory=list)

    def add(self, draft: Draft, point: Point) -> None:
        """Queue ``draft``; the point's clock offset it reports counts from now on, as if applied (a later
        envelope of the batch is checked against it)."""
        if draft.intent.clock_offset_ms is not None:
            point.clock_offset_ms = draft.intent.clock_offset_ms
            self.session.add(point)
        self.pending.append((draft, point))

    def write(self) -> list[Draft]:
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
                    insert_rows(connection, table, rows[table])
            savepoint.commit()
        except IntegrityError:
            savepoint.rollback()
            log.warning("a run of %d new cases broke a constraint; applying them one by one", len(run))
            return [draft for draft, _ in run]
        return []

    def _rows(self, run: list[tuple[Draft, Point]]) -> dict[type, list[Any]]:
        """The drafts' rows, with what needs the lock: timeline lines, their audit entries, each case's state
        entry, status messages."""
        session, now, dialect = self.session, utc_now(), self.session.get_bind().dialect
        rows: dict[type, list[Any]] = {table: [] for table in _TABLES}
        signer = current_signer(self.session)  # as for any message queued now (hub/core/outbox.py)

        def event(case_id: str, actor: str, action: str, note: str, data: dict[str, Any]) -> None:
            event_row, audit_row = event_rows(session, case_id, actor=actor, action=action, note=note, data=data)
            rows[CaseEvent].append(driver_row(dialect, CaseEvent, event_row))
            rows[AuditEntry].append(driver_row(dialect, AuditEntry, audit_row))

        for draft, point in run:
            intent = draft.intent
            for table, drafted in draft.rows.items():
                rows[table].extend(drafted)
            event(intent.case_id, point.name, "received", f"received at the point by {intent.staff}",
                  received_data(intent))
            event(intent.case_id, HUB_ACTOR, "routed", draft.routed_note, routed_data(draft.item, draft.due_dates[0]))
            # The entry the per-envelope path appends as its transaction commits (hub/core/audit.py, CASE_ROWS).
            rows[AuditEntry].append(driver_row(dialect, AuditEntry, next_audit_row(
                session, actor=HUB_ACTOR, action=CASE_STATE, subject=f"case:{intent.case_id}", detail=draft.state)))
            rows[OutMessage].append(driver_row(dialect, OutMessage, {
                "id": uuid7(), "point_id": point.id, "seq": next_seq(session, point.id), "kind": int(Kind.STATUS),
                "case_id": intent.case_id, "envelope": None, "signer": signer, "created_at": now,
                "delivered_at": None,
                "payload": status_payload(intent.case_id, "routed", "sent to " + ", ".join(draft.item.departments),
                                          state="routed", promised_date=draft.due_dates[0],
                                          legal_date=draft.due_dates[1], paused_days=0)}))
        return rows


# (table, dialect name) -> (the INSERT of every column in the driver's own SQL, whether the driver takes
# positional parameters, each column's name and its type's bind processor)
_INSERTS: dict[tuple[str, str], tuple[str, bool, list[tuple[str, Any]]]] = {}


def _insert_of(dialect: Dialect, model: type) -> tuple[str, bool, list[tuple[str, Any]]]:
    table: Table = model.__table__  # type: ignore[attr-defined]
    key = (table.name, dialect.name)
    if key not in _INSERTS:
        # Every column but a key the database gives (an audit entry's id: its order across chains).
        given = [column for column in table.columns if not (column.primary_key and column.key == "id"
                                                            and table.name == AuditEntry.__tablename__)]
        compiled = insert(table).values({column.key: bindparam(column.key) for column in given}).compile(
            dialect=dialect)
        names = list(compiled.positiontup) if compiled.positional else [column.key for column in given]
        columns = {column.key: column for column in table.columns}
        _INSERTS[key] = (compiled.string, compiled.positional,
                         [(name, columns[name].type.dialect_impl(dialect).bind_processor(dialect)) for name in names])
    return _INSERTS[key]


def driver_row(dialect: Dialect, model: type, row: dict[str, Any]) -> Any:
    """``row`` (a value for every column of ``model``'s table) as the driver takes it for ``insert_rows``.

    The values go through the column types' own bind processors, as an ORM flush sends them, so the rows
    read back the same; what this skips is SQLAlchemy building and processing parameters row by row.
    """
    _, positional, processors = _insert_of(dialect, model)
    values = [row[name] if process is None or row[name] is None else process(row[name])
              for name, process in processors]
    return tuple(values) if positional else dict(zip((name for name, _ in processors), values))


def insert_rows(connection: Connection, model: type, rows: list[Any]) -> None:
    """INSERT ``rows`` (made by ``driver_row``) into ``model``'s table with one executemany."""
    connection.exec_driver_sql(_insert_of(connection.dialect, model)[0], rows)
