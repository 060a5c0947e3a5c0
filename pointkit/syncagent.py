"""The sync agent: push the outbox, pull hub messages, refresh the catalog, relay, upload scans.

Every step checkpoints as it goes: each push result is committed as soon as
it is read, each pulled batch is applied together with its cursor, each scan
chunk and catalog byte is kept. A link that drops mid-round loses nothing;
the next round carries on from where this one stopped. The steps are
independent: one the link cuts short is noted and the next one runs. One
round at a time per data directory, across processes (a lock file). The
background worker runs rounds on a timer with exponential backoff and jitter
while the hub is unreachable, and wakes early when a new case is queued.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from filelock import FileLock
from filelock import Timeout as FileLockTimeout
from flask import Flask
from sqlmodel import select

from sync.client import HubRefused, HubUnreachable, Narrowing
from sync.clock import utcnow
from sync.envelope import Kind
from sync.keys import Identity
from sync.kit.workdays import CalendarError

from .certificates import note_hub_answer
from . import audit, db
from .calendar import held_versions
from .catalog import CatalogError
from .catalogfetch import calendar_download, catalog_download, fetch_calendar, fetch_catalog
from .hubheads import keep_hub_head
from .inbox import apply_messages
from .keyrotation import settle_key_rotation
from .models import Case, Outbox
from .outbox import queued
from .relay import RELAYED, relay_round
from .restored import take_hub_numbers
from .prechecks import tidy_prechecks
from .scans import apply_retention, upload_scans
from .state import as_utc, get_state, hub_client, load_identity
from .trust import opening_keys

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
SYNC_LOCK_FILE = "sync.lock"
# "Sync now" (page or API) waits this long for a round already under way before saying so.
SYNC_NOW_WAIT_S = 5.0
SYNC_BUSY_MESSAGE = ("a sync round is already running on this data directory (the server's background sync or "
                     "another `pointkit sync`)")
HUB_REFUSED_STEP = "the county hub refused the request; tell county IT"
# Why the hub could not be reached (plain_reason), in a clerk's words; the sync page says them in its language.
LINK_TIMED_OUT = "the link to the county hub timed out"
CANNOT_CONNECT = "cannot connect to the county hub (no network, or the hub is down)"
HUB_SERVER_ERROR = "the county hub answered with a server error; tell county IT"
LINK_BROKE_OFF = "the link to the county hub broke off"
CANNOT_REACH_HUB = "cannot reach the county hub"
# The steps of a round, in order, and what each does in a clerk's words (the sync page shows the stuck ones).
STEP_NAMES = {
    "push": "sending cases and requests to the county hub",
    "pull": "receiving results and messages from the county hub",
    "catalog": "fetching the new service catalog and holiday calendar",
    "relay": "relaying for the villages",
    "scans": "uploading scans of materials",
}

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
    # Bytes of a catalog download that arrived this round (it may resume in the next).
    catalog_bytes: int = 0
    # Copy requests a point restored from an older backup sent for the cases its laptop took after the backup.
    copies_asked: int = 0
    errors: list[str] = field(default_factory=list)
    # The steps that finished, and those the link or the hub stopped, with why in plain words.
    done: list[str] = field(default_factory=list)
    stuck: dict[str, str] = field(default_factory=dict)
    # The link (not the hub) cut a step short.
    cut: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


class SyncBusy(RuntimeError):
    """Another thread or process holds this data directory's sync (``sync_lock``)."""


def note_steps(stored: str, *, done: list[str], stuck: dict[str, str], at: datetime) -> str:
    """The point's record of each sync step (JSON: step -> {ok_at, stuck, since}) after a round: a step that
    finished clears what held it; one stuck keeps when it first stuck."""
    try:
        steps = json.loads(stored) if stored else {}
    except ValueError:
        steps = {}
    steps = steps if isinstance(steps, dict) else {}
    for step in done:
        steps[step] = {"ok_at": at.isoformat(), "stuck": "", "since": ""}
    for step, why in stuck.items():
        before = steps.get(step) if isinstance(steps.get(step), dict) else {}
        steps[step] = {"ok_at": before.get("ok_at", ""), "stuck": why,
                       "since": before.get("since") or at.isoformat()}
    return json.dumps(steps, sort_keys=True)


@dataclass(frozen=True)
class StepStatus:
    """One sync step as the sync page shows it: when it last finished, and what holds it since when."""

    ok_at: datetime | None
    stuck: str
    since: datetime | None


def step_status(stored: str) -> dict[str, StepStatus]:
    """The recorded steps (``note_steps``) read back, with their times as UTC datetimes."""
    try:
        steps = json.loads(stored) if stored else {}
    except ValueError:
        return {}

    def when(value: object) -> datetime | None:
        try:
            return datetime.fromisoformat(value) if isinstance(value, str) and value else None
        except ValueError:
            return None

    return {step: StepStatus(when(entry.get("ok_at")), str(entry.get("stuck", "")), when(entry.get("since")))
            for step, entry in (steps.items() if isinstance(steps, dict) else []) if isinstance(entry, dict)}


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
        return LINK_TIMED_OUT
    if isinstance(cause, httpx.ConnectError):
        return CANNOT_CONNECT
    if isinstance(cause, httpx.HTTPStatusError):
        return HUB_SERVER_ERROR
    if isinstance(cause, httpx.TransportError):
        return LINK_BROKE_OFF
    return CANNOT_REACH_HUB


@contextmanager
def sync_lock(data_dir: Path, *, wait: float | None = None) -> Iterator[None]:
    """Hold this data directory's sync, across threads and processes (the server's background rounds, the
    "sync now" button, ``pointkit sync``): two rounds at once would send every scan twice. ``wait``: seconds
    to wait for a round under way (None: until it ends); SyncBusy when it is still running then."""
    timeout = -1 if wait is None else wait
    in_process = _round_lock(data_dir)
    if not in_process.acquire(timeout=timeout):
        raise SyncBusy(SYNC_BUSY_MESSAGE)
    try:
        across_processes = FileLock(data_dir / SYNC_LOCK_FILE, timeout=timeout)
        try:
            across_processes.acquire()
        except FileLockTimeout:
            raise SyncBusy(SYNC_BUSY_MESSAGE) from None
        try:
            yield
        finally:
            across_processes.release()
    finally:
        in_process.release()


def sync_once(target: str | Path | Flask, *, transport: httpx.BaseTransport | None = None,
              attempts: int | None = None, send_scans: bool = False, wait: float | None = None,
              now: datetime | None = None) -> SyncReport:
    """One round of independent steps: push queued envelopes, pull until the hub has nothing more, refresh the
    catalog, relay for villages (a township), upload scans (held on a metered link outside its unmetered hours
    unless ``send_scans``).

    A step the link or the hub stops is recorded (``report.stuck``, the sync page) and the next step still
    runs: a catalog download cut short never keeps scans from going. Only when the hub cannot be reached at
    all does the round stop early; if no step reached it, HubUnreachable is raised (after recording the point
    as offline). Everything already done stays done. ``wait``: see ``sync_lock``. ``now``: the time the
    round's timers are judged by (the hourly catalog check, a township's village list); a benchmark runs a
    simulated day with it.
    """
    data_dir = _data_dir(target)
    with sync_lock(data_dir, wait=wait):
        with db.session_scope(data_dir) as session:
            state = get_state(session)
            state.last_attempt_at = utcnow()
            session.add(state)
        identity = load_identity(data_dir, state.key_prefix)
        report = SyncReport()
        client = hub_client(state, identity, transport=transport, attempts=attempts)
        steps: list[tuple[str, Callable[[], None]]] = [
            ("push", lambda: _push(data_dir, client, report)),
            ("pull", lambda: _pull_and_copies(data_dir, client, identity, report)),
            ("catalog", lambda: _refresh_county_data(data_dir, client, report, now)),
            ("relay", lambda: relay_round(data_dir, client, report, now=now)),
            ("scans", lambda: _sync_scans(data_dir, client, report, send_scans)),
        ]
        unreachable: HubUnreachable | None = None
        try:
            for step, run in steps:
                if report.revoked:
                    break
                try:
                    run()
                    report.done.append(step)
                except HubRefused as exc:
                    if exc.reason == REVOKED:
                        report.revoked = True
                        break
                    report.stuck[step] = HUB_REFUSED_STEP
                    log.warning("sync step %s refused by the hub: %s %s", step, exc.reason, exc)
                except HubUnreachable as exc:
                    unreachable = unreachable or exc
                    report.cut = True
                    report.stuck[step] = plain_reason(exc)
                    if _link_down(exc):
                        break  # no later step can reach the hub either
        finally:
            client.close()
        if unreachable is not None and not client.answers:
            _finish(data_dir, report, client.clock_offset_ms, identity, online=False, error=plain_reason(unreachable))
            log.warning("sync round stopped: %s (pushed %d, pulled %d)", plain_reason(unreachable), report.pushed,
                        report.pulled)
            raise unreachable
        if report.revoked:
            report.errors.append(REVOKED_MESSAGE)
        # The steps the round left unfinished are recorded one by one (``note_steps``), for the sync page.
        _finish(data_dir, report, client.clock_offset_ms, identity, online=True,
                error="; ".join(report.errors)[:1000], revoked=report.revoked)
        log.info("sync round: pushed %d (accepted %d, duplicate %d, conflict %d, rejected %d), pulled %d, "
                 "applied %d, %d error(s)%s", report.pushed, report.accepted, report.duplicate, report.conflict,
                 report.rejected, report.pulled, report.applied, len(report.errors),
                 "".join(f"; {step} stuck: {why}" for step, why in report.stuck.items()))
        return report


def _link_down(exc: HubUnreachable) -> bool:
    """The hub could not even be connected to (as opposed to a transfer cut short)."""
    return isinstance(exc.__cause__, (httpx.ConnectError, httpx.ConnectTimeout))


def _finish(data_dir: Path, report: SyncReport, clock_offset_ms: int, identity: Identity, *, online: bool, error: str,
            revoked: bool = False) -> None:
    """Record how the round ended, and each step's; the hub answering normally again lifts a revocation. Then
    anchor this point's own audit head (pointkit/audit.py)."""
    with db.session_scope(data_dir) as session:
        state = get_state(session)
        state.sync_steps = note_steps(state.sync_steps, done=report.done, stuck=report.stuck, at=utcnow())
        state.online = online
        state.clock_offset_ms = clock_offset_ms
        state.last_error = error
        if online:
            state.last_sync_at = utcnow()
            state.last_sync_path = "relay" if state.relay_name else "online"
            if revoked and not state.revoked:
                state.revoked, state.revoked_at = True, utcnow()
                audit.record(session, audit.HUB_ACTOR, "point_revoked", state.point_id)
                log.warning("the county hub refuses this point as revoked; queued envelopes are kept")
            elif not revoked and state.revoked:
                state.revoked, state.revoked_at = False, None
                audit.record(session, audit.HUB_ACTOR, "point_reinstated", state.point_id)
        session.add(state)
    with db.session_scope(data_dir) as session:  # after the commit: a head names committed entries only
        audit.anchor_own_head(session, data_dir, identity)


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
        if client.hub_audit_head is not None:
            with db.session_scope(data_dir) as session:
                keep_hub_head(session, get_state(session), client.hub_audit_head)
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
                note_hub_answer(session, case.id, reason, message)
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
    tidy_prechecks(data_dir)
    scans = upload_scans(data_dir, client, force=force, push_outbox=lambda: _push(data_dir, client, report))
    report.scans_sent += scans.sent
    report.scan_bytes_sent += scans.bytes_sent
    report.scans_held = scans.held
    report.relayed += scans.relayed
    report.errors.extend(scans.errors)


def _pull_and_copies(data_dir: Path, client, identity: Identity, report: SyncReport) -> None:
    """Pull; a point restored from an older backup that now asks the hub for its cases (a COPY_REQUEST) pushes
    the request and takes what the hub sends back in the same round."""
    _pull(data_dir, client, identity, report)
    if report.copies_asked:
        _push(data_dir, client, report)
        _pull(data_dir, client, identity, report)


def _pull(data_dir: Path, client, identity: Identity, report: SyncReport) -> None:
    for _ in range(MAX_PULL_BATCHES):
        with db.session_scope(data_dir) as session:
            state = get_state(session)
            after, sealed = state.pull_cursor, state.next_seq - 1
        result = client.pull(after, sealed=sealed)
        keys = opening_keys(data_dir)
        with db.session_scope(data_dir) as session:
            state = get_state(session)
            applied = apply_messages(session, state, keys, result.envelopes, result.cursor, identity=identity)
            if take_hub_numbers(session, state, identity, last_seq=client.hub_last_seq or 0,
                                last_receipt=client.hub_last_receipt or ""):
                report.copies_asked += 1
        report.pulled += len(result.envelopes)
        report.applied += applied.applied
        report.errors.extend(f"a hub message was refused: {error}" for error in applied.errors)
        if not result.envelopes or result.cursor <= after:
            return


def _refresh_county_data(data_dir: Path, client, report: SyncReport, now: datetime | None = None) -> None:
    """The county's reference data: the catalog, then the holiday calendar, each when the pull named something
    this point lacks (or, without that, at the hourly check), and each download a cut left unfinished."""
    with db.session_scope(data_dir) as session:
        state = get_state(session)
        held_years = held_versions(session)
    checked = as_utc(state.catalog_checked_at)
    hourly = not (state.catalog_version and checked and (now or utcnow()) - checked < CATALOG_REFRESH)
    _refresh_catalog(data_dir, client, report, hourly)
    announced = client.hub_calendar
    due = (any(version > held_years.get(year, 0) for year, version in announced.items()) if announced is not None
           else hourly)  # a hub or township from before calendars names none: the hourly check asks
    if due or calendar_download(data_dir).offset:
        try:
            fetch_calendar(data_dir, client)
        except CalendarError as exc:
            report.errors.append(f"the holiday calendar from the hub was refused: {exc}")
        except HubRefused as exc:
            if exc.status != 404:
                raise
            log.info("the hub (or township) serves no holiday calendar yet")
        if announced is None:
            _checked(data_dir)


def _checked(data_dir: Path) -> None:
    """The hourly check of county data is done (it counts from now)."""
    with db.session_scope(data_dir) as session:
        state = get_state(session)
        state.catalog_checked_at = utcnow()
        session.add(state)


def _refresh_catalog(data_dir: Path, client, report: SyncReport, hourly: bool) -> None:
    """Fetch the catalog when the pull named a version we lack (or, without that, when the hourly check is due),
    and go on with a download a cut left unfinished: a delta from ours, or the whole version when a delta does
    not apply."""
    with db.session_scope(data_dir) as session:
        state = get_state(session)
    announced = client.hub_catalog_version
    due = announced != state.catalog_version if announced is not None and state.catalog_version else hourly
    if not due and not catalog_download(data_dir).offset:
        return
    received_before = catalog_download(data_dir).offset

    def progress(received: int, total: int) -> None:
        report.catalog_bytes = received - received_before

    try:
        fetch_catalog(data_dir, client, progress=progress)
    except CatalogError as exc:
        report.errors.append(f"the catalog from the hub was refused: {exc}")


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
            self.run_round()
            if self._wake.wait(self.next_delay()):
                # Woken by new work (a case received, "sync now"): back to the fast interval.
                self.idle_rounds = 0
            self._wake.clear()

    def run_round(self, now: datetime | None = None) -> SyncReport | None:
        """One round and what it tells the timer; None when it could not run (the hub unreachable, another
        round under way in another process, or a bug, logged)."""
        try:
            report = sync_once(self.data_dir, transport=self.transport, wait=0, now=now)
        except SyncBusy:
            return None  # that round does the work; this timer comes round again
        except HubUnreachable:
            self.failures += 1
            return None
        except Exception:
            # A bug must not kill the thread: the queue would silently stop flowing.
            log.exception("sync round failed")
            self.failures += 1
            return None
        moved = (report.pushed or report.pulled or report.scans_sent or report.scan_bytes_sent or report.relayed
                 or report.catalog_bytes)
        if report.revoked:
            self.failures = 32  # a revoked point asks again only rarely: the county must act first
        elif report.cut:
            # The link cut a step short: at once again while it makes progress, backing off while it does not.
            self.failures = 1 if moved else self.failures + 1
        else:
            self.failures = 0
        self.idle_rounds = 0 if moved else self.idle_rounds + 1
        return report
