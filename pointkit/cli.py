"""The ``pointkit`` command: enroll a point, serve it, sync it, manage staff accounts, rotate keys, verify the audit log.

Errors go to stderr in plain English with exit code 1.
"""

from __future__ import annotations

import json
import logging
import secrets
import sys
import threading
from pathlib import Path
from typing import NoReturn

import click
from sqlalchemy.exc import OperationalError
from sqlmodel import func, select

from sync.bundle import BundleError
from sync.client import HubUnreachable
from sync.kit.backup import backup_command, passphrase_option, restore_command
from sync.kit.migrate import SchemaError
from sync.kit.safety import private_data_dir, private_umask
from sync.kit.slowclients import ClientLimits, head_timeout_option

from . import audit, db, migrate
from .auth import StaffError, check_post, create_staff, set_post
from .bookings import BookingError, set_plan
from .bundles import export_bundle, import_bundle
from .catalogfetch import catalog_download
from .enrollment import CATALOG_WAIT_S, EnrollmentError, enroll, is_initialized
from .hubheads import exported_hub_head
from .keyrotation import KeyRotationError, start_key_rotation
from .models import DEFAULT_POST, Outbox, PointState
from .scans import save_scan_settings, waiting_totals
from .state import NotEnrolled, get_state, load_identity
from .status import SYNC_PATHS, point_status
from .syncagent import (
    DEFAULT_INTERVAL,
    MAX_IDLE_INTERVAL,
    STEP_NAMES,
    SYNC_BUSY_MESSAGE,
    SyncBusy,
    SyncWorker,
    plain_reason,
    sync_once,
)

LOG_FILE = "point.log"

data_option = click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
                           help="The point's data directory (database, keys, logs).")


behind_tls_option = click.option(
    "--behind-tls", is_flag=True, default=False,
    help="This server is reached only through a TLS proxy (https): session cookies are marked Secure, so a browser "
         "never sends them over plain http (docs/deploy.md).")


def fail(message: str) -> NoReturn:
    """Stop with ``message`` as every pointkit and pointkit-hub command does ("Error: ...", exit 1)."""
    raise click.ClickException(message)


def require_enrolled(data_dir: Path) -> None:
    if not is_initialized(data_dir):
        fail(f"{data_dir} is not an enrolled point; run `pointkit init --data {data_dir} ...` first")


def open_point(data_dir: Path) -> None:
    """An enrolled point whose database has this release's schema (else: which command to run)."""
    if db.database_path(data_dir).exists():
        require_schema(data_dir)
    require_enrolled(data_dir)


def require_schema(data_dir: Path) -> None:
    try:
        db.init_db(data_dir)
    except SchemaError as exc:
        fail(str(exc))


@click.group(help="pointkit: the village/township service point (intake, receipts, sync, pickup).")
@click.version_option(package_name="pointkit")
def main() -> None:
    # Databases, keys, scans and logs hold residents' data and secrets: only the account running pointkit reads them.
    private_umask()


class _DownloadProgress:
    """Shows on stderr how much of a download has arrived: one line rewritten on a terminal, else a line at
    each quarter (a log shows a download that cuts kept resuming)."""

    def __init__(self, what: str):
        self.what = what
        self.quarter = -1

    def __call__(self, received: int, total: int) -> None:
        line = f"fetching the {self.what}: {received / 1024:.1f} of {total / 1024:.1f} KB"
        quarter = received * 4 // max(total, 1)
        if sys.stderr.isatty():
            click.echo("\r" + line, nl=received >= total, err=True)
        elif quarter != self.quarter:
            click.echo(line, err=True)
        self.quarter = quarter


@main.command(help="Enroll a new point with the county hub, fetch the catalog and create a staff account.")
@data_option
@click.option("--hub", "hub_url", required=True, help="The county hub's address, e.g. http://hub.example:8700.")
@click.option("--token", required=True, help="The one-time enrollment token from the hub (SECRET.FINGERPRINT).")
@click.option("--name", default="", help="This point's name as the token was issued for (default: the hub's).")
@click.option("--relay", "relay_url", default="",
              help="A village registered --via a township: the township's address, e.g. http://township.lan:8080. "
                   "Enrollment talks to --hub once; every sync after it goes through the township.")
@click.option("--staff-user", default="staff", show_default=True, help="Username of the first staff account.")
@click.option("--staff-name", default="",
              help="The real name of the first staff member, printed as 经办人 on receipts (default: the username; "
                   "set it later with `pointkit users add` for each clerk).")
@click.option("--staff-post", default=DEFAULT_POST, show_default=True,
              help="The first staff member's post (岗位), printed beside the name as the first-contact person "
                   "(首问责任人) on receipts, notices and referral slips.")
@click.option("--staff-password", default=None,
              help="Password of the first staff account (default: a generated one, printed once).")
@click.option("--catalog-wait", default=CATALOG_WAIT_S, show_default=True, type=click.FloatRange(min=0),
              help="Seconds to keep resuming the catalog download over a link that cuts before giving up "
                   "(the point is enrolled either way; `pointkit sync` finishes the download).")
def init(data_dir: Path, hub_url: str, token: str, name: str, relay_url: str, staff_user: str, staff_name: str,
         staff_post: str, staff_password: str | None, catalog_wait: float) -> None:
    if is_initialized(data_dir):
        fail(f"{data_dir} already holds an enrolled point; use another data directory")
    generated = staff_password is None
    password = staff_password if staff_password is not None else secrets.token_urlsafe(9)
    if len(password) < 8:
        fail("the staff password must be at least 8 characters")
    try:
        staff_post = check_post(staff_post)
    except StaffError as exc:
        fail(str(exc))
    try:
        result = enroll(data_dir, hub_url=hub_url, token=token, name=name, relay_url=relay_url,
                        catalog_wait_s=catalog_wait, progress=_DownloadProgress("service catalog"))
    except EnrollmentError as exc:
        fail(str(exc))
    with db.session_scope(data_dir) as session:
        create_staff(session, staff_user, password, role="admin", display_name=staff_name.strip(), post=staff_post,
                     actor="cli")
    click.echo(f"point id:         {result.point_id}")
    click.echo(f"name:             {result.name}")
    click.echo(f"level:            {result.level}")
    click.echo(f"hub fingerprint:  {result.hub_fingerprint}")
    click.echo(f"catalog version:  {result.catalog_version}")
    click.echo(f"syncs with:       {result.sync_url}" + (f" (township {result.relay_name})" if result.relay_name else ""))
    if result.relay_name and not relay_url:
        click.echo(f"warning: the hub says this village syncs through {result.relay_name}; it syncs with the hub "
                   "directly until it is enrolled again with --relay TOWNSHIP_URL", err=True)
    private_data_dir(data_dir)
    click.echo(f"staff account:    {staff_user} (admin), named {staff_name.strip() or staff_user} ({staff_post}) "
               "on receipts")
    if generated:
        click.echo(f"staff password:   {password}   (shown once; write it down)")
    if result.catalog_error:
        fail(f"enrolled, but without a service catalog: {result.catalog_error}. The point cannot receive cases "
             f"until it has one: run `pointkit sync --data {data_dir}` (it resumes the download where it stopped) "
             f"or start `pointkit serve --data {data_dir}`, which keeps trying")
    click.echo(f"next: pointkit serve --data {data_dir}   then log in at http://127.0.0.1:8080/login")


@main.command(help="Serve the point's pages and API with waitress, syncing in the background.")
@data_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port to listen on.")
@click.option("--sync-interval", default=DEFAULT_INTERVAL, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds between background sync rounds (longer while the hub is unreachable).")
@click.option("--max-idle-interval", default=MAX_IDLE_INTERVAL, show_default=True, type=click.FloatRange(min=0.1),
              help="While nothing moves, rounds slow down (doubling) up to this many seconds; new work resets it.")
@click.option("--metered/--unmetered", default=None,
              help="Metered link: cases and messages sync at once, scans wait for the unmetered hours or a manual "
                   "send (kept until changed; default: as stored).")
@click.option("--unmetered-hours", default=None, metavar="START-END",
              help="County hours when scans may go on a metered link, e.g. 22-6 (kept until changed).")
@click.option("--max-photo-kb", default=None, type=click.IntRange(min=0),
              help="Re-encode JPEG/PNG photos larger than this many KB before sealing; 0 never (kept until changed).")
@click.option("--scan-retention-days", default=None, type=click.IntRange(min=0),
              help="Days to keep sent scans after the result is collected (kept until changed; default 0).")
@behind_tls_option
@head_timeout_option
def serve(data_dir: Path, host: str, port: int, sync_interval: float, max_idle_interval: float,
          metered: bool | None, unmetered_hours: str | None, max_photo_kb: int | None,
          scan_retention_days: int | None, behind_tls: bool, head_timeout: float) -> None:
    from sync.kit.web import serve as serve_app

    from . import create_app

    open_point(data_dir)
    _log_to_file(data_dir)
    _store_scan_settings(data_dir, metered, unmetered_hours, max_photo_kb, scan_retention_days)
    private_data_dir(data_dir)
    app = create_app(data_dir, test_config={"SESSION_COOKIE_SECURE": behind_tls})
    worker = SyncWorker(data_dir, interval=sync_interval, max_idle_interval=max_idle_interval)
    app.extensions["pointkit_sync_worker"] = worker

    def started() -> None:
        worker.start()
        logging.getLogger("pointkit").info("serving on http://%s:%d, syncing every %ss", host, port, sync_interval)
        click.echo(f"pointkit serving on http://{host}:{port} (data {data_dir})")

    try:
        serve_app(app, host, port, on_start=started, limits=ClientLimits(head_timeout_s=head_timeout))
    finally:
        worker.stop()


def _store_scan_settings(data_dir: Path, metered: bool | None, unmetered_hours: str | None,
                         max_photo_kb: int | None, scan_retention_days: int | None) -> None:
    """Keep each stored scan setting the command line does not give."""
    if (metered, unmetered_hours, max_photo_kb, scan_retention_days) == (None, None, None, None):
        return
    with db.session_scope(data_dir) as session:
        state = get_state(session)
        try:
            save_scan_settings(
                session, metered=state.metered if metered is None else metered,
                unmetered_hours=state.unmetered_hours if unmetered_hours is None else unmetered_hours.strip(),
                max_photo_kb=state.max_photo_kb if max_photo_kb is None else max_photo_kb,
                scan_retention_days=state.scan_retention_days if scan_retention_days is None else scan_retention_days,
                actor="cli")
        except ValueError as exc:
            fail(str(exc))


def _bytes_waiting(data_dir: Path) -> int:
    """Sealed bytes the hub does not hold yet: queued envelopes plus the unsent part of every scan."""
    with db.session_scope(data_dir) as session:
        queued = session.exec(select(func.coalesce(func.sum(func.length(Outbox.envelope)), 0))
                              .where(Outbox.state == "queued")).one()
        _, scan_bytes = waiting_totals(session)
    return int(queued) + scan_bytes


def _sync_with_progress(data_dir: Path, *, send_scans: bool = False, wait: float | None = None):
    """One sync round; on a terminal, a progress bar of the bytes still to send while it runs."""
    total = _bytes_waiting(data_dir)
    if not sys.stdout.isatty() or not total:
        return sync_once(data_dir, send_scans=send_scans, wait=wait)
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["report"] = sync_once(data_dir, send_scans=send_scans, wait=wait)
        except BaseException as exc:  # handed to the main thread as it is
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="pointkit-sync-once")
    worker.start()
    with click.progressbar(length=total, label="sending", show_percent=True, show_pos=True) as bar:
        shown = 0
        while worker.is_alive():
            worker.join(0.25)
            sent = total - _bytes_waiting(data_dir)
            if sent > shown:
                bar.update(sent - shown)
                shown = sent
    if "error" in outcome:
        raise outcome["error"]
    return outcome["report"]


@main.command(help="Run one sync round now: push queued envelopes, pull results, refresh the catalog. "
                   "On a terminal it shows a progress bar of the bytes still to send. While another round runs on "
                   "this data directory (the server's, or another `pointkit sync`), it waits for that one to end.")
@data_option
@click.option("--scans", "send_scans", is_flag=True,
              help="Send waiting scans now even on a metered link outside its unmetered hours.")
@click.option("--no-wait", is_flag=True, help="Exit at once (status 1) if another sync round is running.")
def sync(data_dir: Path, send_scans: bool, no_wait: bool) -> None:
    open_point(data_dir)
    _log_to_file(data_dir)
    try:
        try:
            report = _sync_with_progress(data_dir, send_scans=send_scans, wait=0)
        except SyncBusy:
            if no_wait:
                fail(f"{SYNC_BUSY_MESSAGE}; try again when it ends")
            click.echo(f"{SYNC_BUSY_MESSAGE}; waiting for it to end ...", err=True)
            logging.getLogger("pointkit.sync").info("pointkit sync waits for the sync round under way")
            report = _sync_with_progress(data_dir, send_scans=send_scans)
    except HubUnreachable as exc:
        fail(f"{plain_reason(exc)}; queued envelopes stay queued and are sent next time")
    except NotEnrolled as exc:
        fail(str(exc))
    click.echo(f"pushed {report.pushed}: accepted {report.accepted}, duplicate {report.duplicate}, "
               f"conflict {report.conflict}, rejected {report.rejected}")
    click.echo(f"pulled {report.pulled}: applied {report.applied}")
    click.echo(f"scans sent {report.scans_sent} ({report.scan_bytes_sent} bytes)"
               + (f", {report.scans_held} held for the unmetered hours (send them with --scans)"
                  if report.scans_held else ""))
    for step, why in report.stuck.items():
        click.echo(f"warning: {STEP_NAMES[step]} did not finish: {why} (the next round goes on from there)", err=True)
    for error in report.errors:
        click.echo(f"warning: {error}", err=True)



@main.command(help="Print how this point stands: who it is and its hub, the catalog version and holiday-calendar years "
                   "it holds, what waits to go, and when and how it last synced (what support staff ask on the phone).")
@data_option
@click.option("--json", "as_json", is_flag=True, help="Print the same as JSON, for scripts.")
def status(data_dir: Path, as_json: bool) -> None:
    open_point(data_dir)
    with db.session_scope(data_dir) as session:
        facts = point_status(session, catalog_download(data_dir))
    if as_json:
        click.echo(json.dumps(facts, ensure_ascii=False, indent=1))
        return
    last = facts["last_sync"]
    click.echo(f"point:            {facts['name']} ({facts['level']})")
    click.echo(f"hub:              {facts['hub_url']}" + (f" (through township {facts['relay']})"
                                                            if facts["relay"] else ""))
    click.echo(f"catalog version:  {facts['catalog_version'] or 'none yet: cases cannot be received'}")
    for year in facts["calendar"]:
        click.echo(f"calendar {year['year']}:    {year['from']}  {year['source']}")
    if not facts["calendar"]:
        click.echo("calendar:         no year at all: dates count weekends only")
    click.echo(f"waiting to go:    {facts['queued']} envelope(s), {facts['queued_bytes']} bytes; "
               f"{facts['scans_waiting']} scan(s), {facts['scan_bytes_waiting']} bytes"
               + (f"; {facts['quarantined']} refused by the hub" if facts["quarantined"] else ""))
    click.echo(f"last sync:        {last['at_county_time'] or 'never'}" + (f" ({SYNC_PATHS[last['path']]})" if last["path"] else "")
               + ("" if facts["online"] else "; offline now"))
    for step, why in facts["stuck_steps"].items():
        click.echo(f"stuck:            {STEP_NAMES[step]}: {why}")
    if facts["catalog_download"]:
        received, total = facts["catalog_download"]
        click.echo(f"catalog download: {received} of {total} bytes (resumes in the next sync)")


@main.command("export-bundle", help="Write every envelope and scan the hub has not acknowledged to a USB bundle "
                                    "FILE, signed by this point (for a village with no link: carry it to the county).")
@data_option
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def export_bundle_command(data_dir: Path, file: Path) -> None:
    open_point(data_dir)
    exported = export_bundle(data_dir, file)
    click.echo(f"wrote {exported.envelopes} envelope(s) and {exported.scans} scan(s), {exported.size} bytes, "
               f"to {file}")
    click.echo("they stay queued here until the hub's answer comes back (a hub bundle or the next online sync)")
    if exported.scans_left:
        click.echo(f"warning: {exported.scans_left} scan(s) did not fit or their files are missing; "
                   "export another bundle once the county has imported this one", err=True)


@main.command("import-bundle", help="Apply a USB bundle FILE from the county hub: results, status updates and the "
                                    "hub's acknowledgements. A bundle changed in any byte is refused whole.")
@data_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_bundle_command(data_dir: Path, file: Path) -> None:
    open_point(data_dir)
    try:
        imported = import_bundle(data_dir, file)
    except BundleError as exc:
        fail(str(exc))
    acked = imported.settled
    click.echo(f"messages {imported.messages}: applied {imported.applied}; cursor now {imported.cursor}")
    click.echo(f"acknowledged by the hub: accepted {acked.accepted}, conflict {acked.conflict}, "
               f"rejected {acked.rejected}")
    click.echo(f"scans the hub holds whole: {imported.scans_complete}")
    if imported.copies_asked:
        click.echo("this point was restored from an older backup: it asked the hub for the cases it took after the "
                   "backup; carry its next bundle (pointkit export-bundle) to the hub, then the hub's back here")
    if imported.catalog_version is not None:
        click.echo(f"catalog now version {imported.catalog_version}")
    if imported.calendar_years:
        click.echo(f"holiday calendar from the hub: {', '.join(map(str, imported.calendar_years))}")
    for error in imported.errors:
        click.echo(f"warning: {error}", err=True)

@main.command(help="Write an encrypted backup of the data directory (database, keys, scans) to FILE. Safe while "
                   "the point is serving.")
@data_option
@passphrase_option
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup(data_dir: Path, passphrase_file: Path | None, file: Path) -> None:
    require_enrolled(data_dir)
    with db.session_scope(data_dir) as session:
        # One column, not the whole row: a database still on an older schema is backed up before its upgrade.
        name = session.exec(select(PointState.name)).first() or ""
    backup_command(data_dir, db.DATABASE_FILE, file, passphrase_file, kind="point", name=name)


@main.command(help="Restore an encrypted backup FILE into a new data directory. Cases taken after the backup was "
                   "made are not in it: the hub keeps them and sends them back when the restored point next "
                   "syncs.")
@data_option
@passphrase_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def restore(data_dir: Path, passphrase_file: Path | None, file: Path) -> None:
    restore_command(file, data_dir, passphrase_file, kind="point")


@main.command(help="After installing a new pointkit: bring the point's database to its schema. Stop `pointkit serve` "
                   "first and back up first (`pointkit backup`); running it again changes nothing.")
@data_option
def upgrade(data_dir: Path) -> None:
    database = db.database_path(data_dir)
    if not database.exists():
        fail(f"{data_dir} holds no point database")
    click.echo(f"back up first if you have not: pointkit backup --data {data_dir} FILE")
    try:
        done = migrate.upgrade(database)
    except SchemaError as exc:
        fail(str(exc))
    except OperationalError as exc:
        fail(f"could not upgrade {database} ({exc.orig}); stop `pointkit serve` on it and run this again")
    if private_data_dir(data_dir):
        click.echo(f"made {data_dir} readable by this account only (folders 0700, files 0600)")
    if done.changed:
        click.echo(f"upgraded the point database from {done.before or 'the release before migrations'} to schema "
                   f"revision {done.after}")
    else:
        click.echo(f"the point database is already at schema revision {done.after}; nothing to do")
    with db.session_scope(data_dir) as session:
        baselines = audit.record_baseline(session)
    if baselines:
        click.echo(f"recorded a baseline of {baselines} case(s) in the audit chain: as they are now, checked by "
                   "audit verify from here on")


@main.group(help="Manage staff accounts.")
def users() -> None:
    pass


@users.command("add", help="Add a staff account.")
@click.argument("username")
@click.option("--password", required=True, help="The account's password (at least 8 characters).")
@click.option("--role", type=click.Choice(["staff", "admin"]), default="staff", show_default=True,
              help="staff may receive and hand over; admin may also re-send quarantined envelopes.")
@click.option("--name", "--display-name", "display_name", required=True,
              help="The staff member's real name, as receipts and notices print it (经办人) and the header shows it.")
@click.option("--post", default=DEFAULT_POST, show_default=True,
              help="The staff member's post (岗位: 窗口工作人员, 站长, 代办员 …), printed beside the name wherever she "
                   "is the first-contact person (首问责任人).")
@data_option
def users_add(username: str, password: str, role: str, display_name: str, post: str, data_dir: Path) -> None:
    open_point(data_dir)
    try:
        with db.session_scope(data_dir) as session:
            create_staff(session, username, password, role=role, display_name=display_name, post=post, actor="cli")
    except StaffError as exc:
        fail(str(exc))
    click.echo(f"added {role} {username}")


@users.command("post", help="Give a staff account another post (岗位); cases already received keep the old one.")
@click.argument("username")
@click.argument("post")
@data_option
def users_post(username: str, post: str, data_dir: Path) -> None:
    open_point(data_dir)
    try:
        with db.session_scope(data_dir) as session:
            staff = set_post(session, username, post, actor="cli")
    except StaffError as exc:
        fail(str(exc))
    click.echo(f"{staff.username} is now {staff.post}")


@main.command("bookings-plan", help="Set the hours this point takes bookings (预约) on working days and how many "
                                    "residents a half-hour takes; the plan goes to the county's site at the next sync.")
@click.option("--periods", default="09:00-12:00,13:30-17:00", show_default=True,
              help="Opening periods in county time, comma between them.")
@click.option("--capacity", default=1, show_default=True, type=int, help="Residents a half-hour (1 to 20).")
@click.option("--days-ahead", default=14, show_default=True, type=int, help="Days bookable ahead (1 to 60).")
@data_option
def bookings_plan(periods: str, capacity: int, days_ahead: int, data_dir: Path) -> None:
    open_point(data_dir)
    try:
        with db.session_scope(data_dir) as session:
            plan = set_plan(session, "cli", [p.strip() for p in periods.split(",") if p.strip()], capacity,
                            days_ahead, identity=load_identity(data_dir))
    except BookingError as exc:
        fail(str(exc))
    click.echo(f"bookings: {', '.join(plan.periods)} on working days, {plan.capacity} a half-hour, "
               f"{plan.days_ahead} days ahead; queued for the hub")


@main.group(help="Manage this point's own keys.")
def keys() -> None:
    pass


@keys.command("rotate", help="Make new point keys and announce them to the hub; they take over once the hub "
                             "acknowledges the announcement (the next sync). Old keys still open earlier messages.")
@data_option
def keys_rotate(data_dir: Path) -> None:
    open_point(data_dir)
    try:
        with db.session_scope(data_dir) as session:
            state = get_state(session)
            row = start_key_rotation(session, state, data_dir, actor="cli")
    except KeyRotationError as exc:
        fail(str(exc))
    click.echo(f"new keys made; their announcement is queued as envelope {row.seq}")
    click.echo("this point keeps signing with its current keys until the hub acknowledges it: "
               f"run `pointkit sync --data {data_dir}` (or let the running point sync)")


@main.group("audit", help="Check the point's hash-chained audit log.")
def audit_group() -> None:
    pass


@audit_group.command("verify", help="Verify the audit chain, the heads in audit-heads.log and every case against "
                                    "the chain: exit 0 when all hold (and anchor the head), 1 naming the entry of "
                                    "each problem.")
@data_option
def audit_verify(data_dir: Path) -> None:
    if not db.database_path(data_dir).exists():
        fail(f"{data_dir} holds no point database")
    require_schema(data_dir)
    require_enrolled(data_dir)
    with db.session_scope(data_dir) as session:
        check = audit.verify(session)
        problems = audit.check_rows_and_heads(session, data_dir)
    if not check.holds:
        click.echo(f"Error: audit chain broken at entry {check.bad_entry_id}: {check.problem} ({check.count} "
                   "entries stored)", err=True)
    for found in problems:
        click.echo(f"Error: audit check failed{f' at entry {found.entry_id}' if found.entry_id else ''}: "
                   f"{found.problem}", err=True)
    if not check.holds or problems:
        sys.exit(1)
    with db.session_scope(data_dir) as session:
        audit.anchor_own_head(session, data_dir, load_identity(data_dir))
    click.echo(f"audit chain holds: {check.count} entries; every case matches the newest entry that recorded it, "
               f"and the chain reaches every head in {audit.heads_file(data_dir)}")


@audit_group.command("head", help="Print the newest head of the county hub's audit chain this point holds, as the "
                                  "hub signed it (JSON; no residents' data). County IT collects these and checks "
                                  "the hub with: pointkit-hub audit verify --with-point-heads FILE...")
@data_option
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the head to this file (e.g. on a USB stick) instead of printing it.")
def audit_head(data_dir: Path, out: Path | None) -> None:
    open_point(data_dir)
    with db.session_scope(data_dir) as session:
        exported = exported_hub_head(get_state(session))
    if exported is None:
        fail("this point holds no signed audit head from the county hub yet: it gets one with every push the hub "
             "answers (run `pointkit sync`) and with every hub bundle it imports")
    text = json.dumps(exported, ensure_ascii=False, sort_keys=True)
    if out is None:
        click.echo(text)
        return
    out.write_text(text + "\n", encoding="utf-8")
    document = exported["document"]
    click.echo(f"wrote the hub's audit head ({document['entries']} entries, signed {document['signed_at']}) to {out}")


def _log_to_file(data_dir: Path) -> None:
    """Log to DATA/point.log: counts and reasons only, never residents' data."""
    path = (Path(data_dir) / LOG_FILE).resolve()
    logger = logging.getLogger("pointkit")
    logger.setLevel(logging.INFO)
    if any(getattr(h, "baseFilename", None) == str(path) for h in logger.handlers):
        return
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
