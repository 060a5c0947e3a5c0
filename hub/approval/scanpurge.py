"""Removing scans after the county's retention: a closed case's sealed scans (and the pre-check photos it took in,
which are the same stored files) are deleted from the scan store once the case has been closed for
``retention_days``; the rows stay, marked ``purged_at``, so the case page says the scan was removed rather than
failing to open it. Each case's removal is one audit-chain entry (how many scans and bytes, never a name).

Off unless the county sets a retention (``--scan-retention-days``): what a county must keep, and for how long, is
its archive rules' call, not the software's.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, select

from hub.approval.scanstore import scan_store
from hub.core.audit import append_audit
from hub.core.clock import utc_now
from hub.core.db import session_scope, write_lock
from hub.core.leases import DEFAULT_LEASE_S, start_timer
from hub.core.models import Case, CaseScan

log = logging.getLogger(__name__)

HUB_ACTOR = "hub"
SCAN_PURGE_TIMER = "scan-purge"


@dataclass
class PurgeReport:
    """What one purge removed: scans and sealed bytes, per case."""

    scans: int = 0
    bytes: int = 0
    cases: dict[str, int] = field(default_factory=dict)


def purge_scans(session: Session, data_dir: str | Path, *, retention_days: int,
                now: datetime | None = None) -> PurgeReport:
    """Delete the scans of cases closed at least ``retention_days`` ago; mark their rows and audit each case.

    The bytes go first and the rows are marked after: a purge cut in between leaves rows whose bytes are gone,
    which the next purge marks (deleting nothing is no error), never marked rows whose bytes linger.
    """
    now = now or utc_now()
    due = session.exec(select(CaseScan).join(Case, Case.id == CaseScan.case_id)
                       .where(Case.status == "closed", Case.closed_at <= now - timedelta(days=retention_days),
                              CaseScan.purged_at.is_(None))
                       .order_by(CaseScan.case_id, CaseScan.scan_id)).all()
    store = scan_store(data_dir)
    by_case: dict[str, list[CaseScan]] = defaultdict(list)
    for row in due:
        store.delete(row.scan_id)
        by_case[row.case_id].append(row)
    report = PurgeReport()
    for case_id, rows in by_case.items():
        stored = sum(row.received for row in rows)
        for row in rows:
            row.purged_at = now
            session.add(row)
        append_audit(session, actor=HUB_ACTOR, action="scans_purged", subject=f"case:{case_id}",
                     detail={"scans": len(rows), "bytes": stored, "retention_days": retention_days})
        report.scans += len(rows)
        report.bytes += stored
        report.cases[case_id] = len(rows)
    if report.scans:
        log.info("removed %d scan(s) of %d closed case(s) after %d days (%d bytes)", report.scans,
                 len(report.cases), retention_days, report.bytes)
    return report


def purge_once(engine: Engine, data_dir: str | Path, retention_days: int) -> PurgeReport:
    """One purge round in its own transaction (``pointkit-hub scans purge``)."""
    with session_scope(engine) as session:
        return purge_in(session, data_dir, retention_days)


def purge_in(session: Session, data_dir: str | Path, retention_days: int) -> PurgeReport:
    """One purge round in the caller's transaction, under the write lock (a round run by hand may meet the
    timer's)."""
    write_lock(session)
    return purge_scans(session, data_dir, retention_days=retention_days)


def start_scan_purge(engine: Engine, data_dir: str | Path, interval_s: float, retention_days: int, *, holder: str,
                     lease_s: float = DEFAULT_LEASE_S) -> threading.Event:
    """Run a purge round every ``interval_s`` seconds, once across every hub process and machine on the database
    (hub/core/leases.py); set the event to stop it."""
    return start_timer(engine, SCAN_PURGE_TIMER, interval_s,
                       lambda session: purge_in(session, data_dir, retention_days), holder=holder, lease_s=lease_s)
