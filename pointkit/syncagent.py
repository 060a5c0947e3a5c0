"""The sync agent: push the outbox, pull hub messages, refresh the catalog.

Every step checkpoints as it goes: each push result is committed as soon as
it is read, each pulled batch is applied together with its cursor. A link
that drops mid-round loses nothing; the next round carries on from where
this one stopped. The background worker runs rounds on a timer with
exponential backoff and jitter while the hub is unreachable, and wakes
early when a new case is queued.
"""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
from flask import Flask
from sqlmodel import select

from sync import HubRefused, HubUnreachable, Kind
from sync.client import Narrowing
from sync.catalog import CATALOG_DELTA_TYPE
from sync.clock import utcnow

from . import audit, db
from .amend import resume_numbering
from .catalog import CatalogError, store_catalog
from .inbox import apply_messages
from .models import Case, Outbox
from .outbox import queued
from .relay import RELAYED, relay_round
from .scans import apply_retention, upload_scans
from .state import as_utc, get_state, hub_client, load_identity
from .trust import opening_keys, settle_key_rotation

log = logging.getLogger("pointkit.sync")

BATCH_SIZES = (4, 16, 64)
MAX_BATCH_BYTES = 256 * 1024
MAX_PULL_BATCHES = 200
CATALOG_REFRESH = timedelta(hours=1)
DEFAULT_INTERVAL = 30.0
# An idle point polls ever more slowly, up to this: about 100 polls a day, a few hundred bytes each.
MAX_IDLE_INTERVAL = 900.0
MAX_BACKOFF = 600.0
# A first failure after a working round is most likely a cut of a village link: try again almost at once.
CUT_RETRY_S = 0.5
# Refusals that say "this envelope is bad", as opposed to "this point may not talk" (401/403).
_ENVELOPE_REFUSALS = (400, 413, 422)
REVOKED = "point_revoked"
REVOKED_MESSAGE = "this point has been revoked by the county hub; contact county IT"

_round_locks: dict[Path, threading.Lock] = {}
_round_locks_guard = threading.Lock()


@dataclass
class SyncReport:
    """What one sync round moved."""

    pushed: int = 0
    accepted: int = 0
    duplicate: int = 0
    conflict: int = 0
    rejected: int = 0
    pulled: int = 0
    applied: int = 0
    revoked: bool = False
    # Village envelopes a township holds for the hub (answered "relayed"), forwarded, or messages fetched for them.
    relayed: int = 0
    scans_sent: int = 0
    scan_bytes_sent: int = 0
    scans_held: int = 0
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _data_dir(target: str | Path | Flask) -> Path:
    if isinstance(target, Flask):
        return Path(target.config["DATA_DIR"])
    return Path(target)


def _round_lock(data_dir: Path) -> threading.Lock:
    with _round_locks_guard:
        return _round_locks.setdefault(data_dir.resolve(), threading.Lock())


def plain_reason(exc: BaseException) -> str:
    """Why the hub could not be reached, in words a window clerk understands."""
    cause = exc.__cause__ or exc
    if isinstance(cause, httpx.TimeoutException):
        return "the link to the county hub timed out"
    if isinstance(cause, httpx.ConnectError):
        return "cannot connect to the county hub (no network, or the hub is down)"
    if isinstance(cause, httpx.HTTPStatusError):
        return f"the county hub answered with an error (HTTP {cause.response.status_code})"
    if isinstance(cause, httpx.TransportError):
        return "the link to the county hub broke off"
    return "cannot reach the county hub"


def sync_once(target: str | Path | Flask, *, transport: httpx.BaseTransport | None = None,
              attempts: int | None = None, send_scans: bool = False) -> SyncReport:
    """One round: push queued envelopes, pull until the hub has nothing more, refresh the catalog, then
    upload scans (held on a metered link outside its unmetered hours unless ``send_scans``).

    Raises HubUnreachable (after recording the point as offline) when the
    hub cannot be reached; everything already done in the round stays done.
    """
    data_dir = _data_dir(target)
    with _round_lock(data_dir):
        with db.session_scope(data_dir) as session:
            state = get_state(session)
            state.last_attempt_at = utcnow()
            session.add(state)
        identity = load_identity(data_dir, state.key_prefix)
        report = SyncReport()
        client = hub_client(state, identity, transport=transport, attempts=attempts)
        try:
            _push(data_dir, client, report)
            if not report.revoked:
                _pull(data_dir, client, report)
            if not report.revoked:
                _refresh_catalog(data_dir, client, report)
            if not report.revoked:
                relay_round(data_dir, client, report)
            if not report.revoked:
                _sync_scans(data_dir, client, report, send_scans)
        except HubRefused as exc:
            if exc.reason != REVOKED:
                raise
            report.revoked = True
        except HubUnreachable as exc:
            _finish(data_dir, client.clock_offset_ms, online=False, error=plain_reason(exc))
            log.warning("sync round stopped: %s (pushed %d, pulled %d)", plain_reason(exc), report.pushed,
                        report.pulled)
            raise
        finally:
            client.close()
        if report.revoked:
            report.errors.append(REVOKED_MESSAGE)
        _finish(data_dir, client.clock_offset_ms, online=True, error="; ".join(report.errors)[:1000],
                revoked=report.revoked)
        log.info("sync round: pushed %d (accepted %d, duplicate %d, conflict %d, rejected %d), pulled %d, "
                 "applied %d, %d error(s)", report.pushed, report.accepted, report.duplicate, report.conflict,
                 report.rejected, report.pulled, report.applied, len(report.errors))
        return report


def _finish(data_dir: Path, clock_offset_ms: int, *, online: bool, error: str, revoked: bool = False) -> None:
    """Record how the round ended; the hub answering normally again lifts a revocation shown earlier."""
    with db.session_scope(data_dir) as session:
        state = get_state(session)
        state.online = online
        state.clock_offset_ms = clock_offset_ms
        state.last_error = error
        if online:
            state.last_sync_at = utcnow()
            if revoked and not state.revoked:
                state.revoked, state.revoked_at = True, utcnow()
                audit.record(session, audit.HUB_ACTOR, "point_revoked", state.point_id)
                log.warning("the county hub refuses this point as revoked; queued envelopes are kept")
            elif not revoked and state.revoked:
                state.revoked, state.revoked_at = False, None
                audit.record(session, audit.HUB_ACTOR, "point_reinstated", state.point_id)
        session.add(state)


def _next_batch(data_dir: Path, after_seq: int, size: int) -> list[Outbox]:
    with db.session_scope(data_dir) as session:
        rows = queued(session, size, after_seq)
        batch, total = [], 0
        for row in rows:
            if batch and total + row.size > MAX_BATCH_BYTES:
                break
            batch.append(row)
            total += row.size
        for row in batch:
            row.attempts += 1
            session.add(row)
            case = session.get(Case, row.case_id) if row.case_id else None
            if case is not None and case.status == "queued":
                case.status = "sent"
                session.add(case)
                audit.record(session, audit.SYSTEM_ACTOR, "case_sent", case.id, seq=row.seq)
        return batch


def _push(data_dir: Path, client, report: SyncReport) -> None:
    """Push in batches that grow (a slow link gets a small first batch through quickly).

    A batch the hub refuses (400/413/422) or fails on (5xx) goes again one envelope at a time, so the
    envelope it objects to is found and the rest go on. One the hub refuses is quarantined; one it fails on
    stays queued for the next round (the hub stored none of it). A second failure in a row says the hub is
    failing, not one envelope: the push stops there and the round goes on to its other steps.
    """
    after_seq, round_number, narrowing = 0, 0, Narrowing()
    while True:
        size = 1 if narrowing.single else BATCH_SIZES[min(round_number, len(BATCH_SIZES) - 1)]
        batch = _next_batch(data_dir, after_seq, size)
        if not batch:
            return
        round_number += 1
        try:
            results = client.push([row.envelope for row in batch])
        except HubUnreachable as exc:
            if not narrowing.hub_failed(exc, len(batch), report.errors):
                return
            if len(batch) == 1:
                _note_hub_failure(data_dir, batch[0], exc.status, report)
                after_seq = batch[0].seq
            continue
        except HubRefused as exc:
            if exc.reason == REVOKED:
                _unsend(data_dir, batch)
                raise
            if exc.status in _ENVELOPE_REFUSALS and len(batch) == 1:
                _settle(data_dir, batch[0].envelope_id, "rejected", f"hub_refused:{exc.reason}", str(exc), report)
                report.pushed += 1
                after_seq = batch[0].seq
                continue
            if exc.status in _ENVELOPE_REFUSALS:
                narrowing.single = True  # find the one envelope the hub objects to; the rest go on
                continue
            report.errors.append(f"the hub refused the push ({exc.reason}): {exc}")
            return
        narrowing.answered()
        report.pushed += len(batch)
        by_id = {row.envelope_id: row for row in batch}
        if any(result.reason == REVOKED for result in results):
            # Not a bad envelope: this point may no longer send. Keep everything queued and show why.
            _unsend(data_dir, batch)
            report.revoked = True
            return
        for result in results:
            if result.envelope_id in by_id:
                _settle(data_dir, result.envelope_id, result.status, result.reason, result.message, report)
        after_seq = batch[-1].seq


def _note_hub_failure(data_dir: Path, row: Outbox, status: int, report: SyncReport) -> None:
    """The hub failed on this one envelope: it stays queued (the hub stored nothing), and staff see why."""
    message = f"the county hub failed on this envelope (HTTP {status}); it stays queued and goes again next round"
    with db.session_scope(data_dir) as session:
        stored = session.get(Outbox, row.id)
        if stored is not None:
            stored.last_error = message
            session.add(stored)
    report.errors.append(f"envelope {row.seq}: {message}")


def _unsend(data_dir: Path, batch: list[Outbox]) -> None:
    """The hub took none of ``batch``: its cases go back from "sent" to "queued"."""
    with db.session_scope(data_dir) as session:
        for row in batch:
            case = session.get(Case, row.case_id) if row.case_id else None
            if case is not None and case.status == "sent":
                case.status = "queued"
                session.add(case)
                audit.record(session, audit.SYSTEM_ACTOR, "case_unsent", case.id, seq=row.seq)


def _settle(data_dir: Path, envelope_id: str, status: str, reason: str, message: str, report: SyncReport) -> None:
    """Record one envelope's answer in its own transaction: the per-envelope checkpoint."""
    with db.session_scope(data_dir) as session:
        row = session.exec(select(Outbox).where(Outbox.envelope_id == envelope_id)).first()
        if row is None or row.state != "queued":
            return
        case = session.get(Case, row.case_id) if row.case_id else None
        if status in ("accepted", "duplicate", "conflict"):
            row.state, row.acked_at, row.last_error = "acked", utcnow(), ""
            setattr(report, status, getattr(report, status) + 1)
            audit.record(session, audit.HUB_ACTOR, f"envelope_{status}", row.case_id or str(row.seq),
                         seq=row.seq, envelope_id=row.envelope_id)
            if case is not None and case.status in ("queued", "sent") and row.kind == Kind.SUBMIT:
                case.status = "acked"
                if status == "conflict":
                    case.hub_status = "conflict"
                audit.record(session, audit.HUB_ACTOR, "case_acked", case.id, hub_status=case.hub_status)
            if row.kind == Kind.POINT_KEYS:
                settle_key_rotation(session, get_state(session), row, status)
        elif status == "rejected":
            row.state, row.reason, row.last_error = "quarantined", (reason or "rejected")[:200], message[:500]
            report.rejected += 1
            audit.record(session, audit.HUB_ACTOR, "envelope_rejected", row.case_id or str(row.seq),
                         seq=row.seq, envelope_id=row.envelope_id, reason=row.reason)
            if case is not None and case.status == "sent":
                case.status = "queued"
                case.hub_status = "rejected"
            if row.kind == Kind.POINT_KEYS:
                settle_key_rotation(session, get_state(session), row, status)
        elif status == RELAYED:
            # Held by our township for the hub: stays queued (and is sent again) until the hub's own answer.
            report.relayed += 1
        else:
            row.last_error = f"unknown push status {status!r}"[:500]
            report.errors.append(f"the hub answered an unknown status {status!r} for an envelope")
        session.add(row)
        if case is not None:
            session.add(case)


def _sync_scans(data_dir: Path, client, report: SyncReport, force: bool) -> None:
    """Scans go last (small before large); an envelope queued meanwhile is pushed before the next chunk."""
    apply_retention(data_dir)
    scans = upload_scans(data_dir, client, force=force, push_outbox=lambda: _push(data_dir, client, report))
    report.scans_sent += scans.sent
    report.scan_bytes_sent += scans.bytes_sent
    report.scans_held = scans.held
    report.relayed += scans.relayed
    report.errors.extend(scans.errors)


def _pull(data_dir: Path, client, report: SyncReport) -> None:
    for _ in range(MAX_PULL_BATCHES):
        with db.session_scope(data_dir) as session:
            after = get_state(session).pull_cursor
        result = client.pull(after)
        keys = opening_keys(data_dir)
        with db.session_scope(data_dir) as session:
            state = get_state(session)
            applied = apply_messages(session, state, keys, result.envelopes, result.cursor)
            resume_numbering(session, state, resume_seq=(client.hub_last_seq or 0) + 1,
                             receipt_floor=client.hub_last_receipt or "")
        report.pulled += len(result.envelopes)
        report.applied += applied.applied
        report.errors.extend(f"a hub message was refused: {error}" for error in applied.errors)
        if not result.envelopes or result.cursor <= after:
            return


def _refresh_catalog(data_dir: Path, client, report: SyncReport) -> None:
    """Fetch the catalog when the pull named a version we lack (or, without that, hourly): a delta from ours,
    or the whole version when a delta does not apply."""
    with db.session_scope(data_dir) as session:
        state = get_state(session)
    checked = as_utc(state.catalog_checked_at)
    announced = client.hub_catalog_version
    if announced is not None and state.catalog_version:
        due = announced != state.catalog_version
    else:
        due = not (state.catalog_version and checked and utcnow() - checked < CATALOG_REFRESH)
    if not due:
        return
    try:
        signed = client.catalog(have=state.catalog_version or None)
        with db.session_scope(data_dir) as session:
            if signed is None:
                unchanged = get_state(session)
                unchanged.catalog_checked_at = utcnow()
                session.add(unchanged)
                return
            try:
                if store_catalog(session, get_state(session), signed):
                    _log_catalog(state.catalog_version, signed)
                return
            except CatalogError as exc:
                if signed.get("document", {}).get("type") != CATALOG_DELTA_TYPE:
                    report.errors.append(f"the catalog from the hub was refused: {exc}")
                    return
                log.warning("catalog delta not applied (%s); fetching the whole catalog", exc)
        whole = client.catalog()
        with db.session_scope(data_dir) as session:
            if store_catalog(session, get_state(session), whole):
                _log_catalog(state.catalog_version, whole)
    except HubRefused as exc:
        if exc.reason == REVOKED:
            raise
        report.errors.append(f"the hub refused the catalog request ({exc.reason})")
    except CatalogError as exc:
        report.errors.append(f"the catalog from the hub was refused: {exc}")


def _log_catalog(before: int, signed: dict) -> None:
    document = signed["document"]
    if document.get("type") == CATALOG_DELTA_TYPE:
        how = f"delta: {len(document['items'])} changed or new, {len(document['withdrawn'])} withdrawn"
    else:
        how = f"whole catalog: {len(document['items'])} items"
    log.info("catalog version %d -> %d (%s)", before, document["version"], how)


def idle_delay(interval: float, idle_rounds: int, max_idle_interval: float) -> float:
    """The interval doubled for each round in a row that moved nothing, up to ``max_idle_interval``."""
    return min(interval * 2 ** min(idle_rounds, 30), max(max_idle_interval, interval))


class SyncWorker:
    """Runs sync rounds in a background thread: on a timer, sooner when woken, slower while offline."""

    def __init__(self, data_dir: str | Path, *, interval: float = DEFAULT_INTERVAL, max_backoff: float = MAX_BACKOFF,
                 max_idle_interval: float = MAX_IDLE_INTERVAL, transport: httpx.BaseTransport | None = None):
        self.data_dir = Path(data_dir)
        self.interval = interval
        self.max_backoff = max_backoff
        self.max_idle_interval = max_idle_interval
        self.transport = transport
        self.failures = 0
        self.idle_rounds = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pointkit-sync", daemon=True)

    def __repr__(self) -> str:
        return f"SyncWorker({str(self.data_dir)!r}, interval={self.interval})"

    def start(self) -> "SyncWorker":
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def next_delay(self) -> float:
        """The wait before the next round: at once after a first failure (a cut), then the interval doubled
        per failed round, capped, with jitter; otherwise fast after activity and slower with every idle round."""
        if not self.failures:
            return idle_delay(self.interval, self.idle_rounds, self.max_idle_interval)
        if self.failures == 1:
            return CUT_RETRY_S
        backoff = min(self.interval * 2 ** self.failures, self.max_backoff)
        return backoff * random.uniform(0.75, 1.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                report = sync_once(self.data_dir, transport=self.transport)
                # A revoked point asks again only rarely: the county must act before anything can move.
                self.failures = 32 if report.revoked else 0
                moved = report.pushed or report.pulled or report.scans_sent or report.relayed
                self.idle_rounds = 0 if moved else self.idle_rounds + 1
            except HubUnreachable:
                self.failures += 1
            except Exception:
                # A bug must not kill the thread: the queue would silently stop flowing.
                log.exception("sync round failed")
                self.failures += 1
            if self._wake.wait(self.next_delay()):
                # Woken by new work (a case received, "sync now"): back to the fast interval.
                self.idle_rounds = 0
            self._wake.clear()
