"""The ``pointkit-hub`` command: set up, serve and administer a county hub."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from sqlalchemy import make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from sync.bundle import BundleError
from sync.keys import Identity
from sync.kit.backup import backup_command, passphrase_option, restore_command
from sync.kit.migrate import SchemaError
from sync.kit.safety import private_data_dir, private_umask
from sync.kit.slowclients import ClientLimits, head_timeout_option
from sync.kit.workdays import county_date

from hub.approval.certificates import CertificateError, register_rows, revoke, status_of
from hub.approval.cases import case_detail, find_cases
from hub.approval.recount import recount_open_cases
from hub.approval.reports import ReportError, monthly_report, parse_month
from hub.approval.prechecks import PrecheckLimits, expire_once, start_precheck_expiry
from hub.approval.scanpurge import purge_once, start_scan_purge
from hub.approval.scanstore import (
    SCANS_ENV,
    BadScanStoreUrl,
    ScanStoreError,
    parse_scans_url,
    record_scans_url,
    scan_store,
)
from hub.approval.supervision import start_supervisor, supervise_once
from hub.approval.complaints import MAX_REPLY_DAYS
from hub.approval.timelimits import DEFAULT_WARN_SHARE
from hub.catalog.calendar import CalendarError, county_calendar, held_years, import_year, missing_next_year
from hub.catalog.diff import diff_documents
from hub.catalog.files import CatalogError, read_catalog
from hub.catalog.versions import export_catalog, import_catalog, version_document
from hub.core.clock import iso, utc_now
from hub.core.db import (
    DATABASE_FILE,
    DATABASE_URL_ENV,
    database_kind,
    database_url,
    is_sqlite,
    make_engine,
    session_scope,
)
from hub.core.leases import DEFAULT_LEASE_S
from hub.core.models import DEFAULT_COMPLAINT_REPLY_DAYS, POINT_LEVELS, ROLES, HubKey
from hub.instance import LOG_FILE, InstanceError, initialize, is_initialized
from hub.intake.budget import DEFAULT_INGEST_BUDGET_MIB, MAX_INGEST_BUDGET_MIB, BudgetError, set_budget
from hub.intake.bundles import export_point_bundle, import_point_bundle
from hub.machines import (
    MachineError,
    check_machine_name,
    export_machine,
    join_machine,
    machine_name,
    process_holder,
    refresh_machine,
)
from hub.migrate import complete_data as complete_database
from hub.migrate import init_db
from hub.migrate import upgrade as upgrade_database
from hub.trust.accounts import AccountError, create_staff, find_staff, list_staff, set_disabled
from hub.trust.auditcheck import check_audit
from hub.trust.auditheads import DEFAULT_ANCHOR_EVERY_S, anchor_now, heads_file, read_point_heads, start_anchoring
from hub.trust.enrollment import DEFAULT_TOKEN_HOURS, EnrollmentError, create_enrollment_token
from hub.trust.keys import (
    HubKeyError,
    ensure_keys,
    load_keyring,
    publish_current,
    purge_generation,
    rotate_keys,
    suite_names,
)
from hub.trust.points import PointError, points_overview, revoke_point
from hub.trust.townships import TownshipError, place_village, township_names, village_townships
from hub.web.relay import assign_relay
from hub.web.reportfiles import report_csv, report_xlsx, worded

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8700

_data_dir_option = click.option(
    "--data", "data_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
    help="The hub's data directory (keys, scans, logs; the database too unless --database-url says otherwise).")


def _use_database_url(_ctx: click.Context, _param: click.Parameter, url: str | None) -> None:
    # hub.core.db.database_url is the one place that resolves the URL, for everything this process opens.
    if url:
        os.environ[DATABASE_URL_ENV] = url


_database_url_option = click.option(
    "--database-url", envvar=DATABASE_URL_ENV, show_envvar=True, expose_value=False, callback=_use_database_url,
    metavar="URL", help="The hub's database, e.g. postgresql+psycopg://USER@HOST:5432/NAME for several hub "
                        "processes on one PostgreSQL; default: SQLite (hub.db) in the data directory.")


def _use_scans_url(_ctx: click.Context, _param: click.Parameter, url: str | None) -> None:
    # hub.approval.scanstore.scans_url is the one place that resolves the store, for everything this process opens.
    if url is None:
        return
    try:
        parse_scans_url(url)
    except BadScanStoreUrl as exc:
        raise click.BadParameter(str(exc)) from None
    os.environ[SCANS_ENV] = url


_scans_option = click.option(
    "--scans", envvar=SCANS_ENV, show_envvar=True, expose_value=False, callback=_use_scans_url, metavar="URL",
    help="Where sealed scans are kept: s3://BUCKET/PREFIX?endpoint=http://HOST:PORT&region=R for an S3-compatible "
         "store shared by several hub machines (credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the "
         "file POINTKIT_HUB_S3_CREDENTIALS names, never the URL), or 'local'; default: the store serve last used, "
         "else files in the data directory.")


def data_option(command):
    """--data DIR, --database-url URL and --scans URL: where a hub command finds its files, database and scans."""
    return _data_dir_option(_database_url_option(_scans_option(command)))


def _engine(data_dir: Path):
    if not is_initialized(data_dir):
        raise click.ClickException(f"{data_dir} is not a hub data directory; run 'pointkit-hub init --data {data_dir}'")
    engine = make_engine(database_url(data_dir))
    try:
        init_db(engine, data_dir)
    except SchemaError as exc:
        engine.dispose()
        raise click.ClickException(str(exc)) from None
    return engine


@contextmanager
def _hub(data_dir: Path) -> Iterator[tuple[Session, Identity]]:
    """A committed-on-success session and the hub's keys for an initialized data directory."""
    engine = _engine(data_dir)
    try:
        with session_scope(engine) as session:
            yield session, ensure_keys(session, data_dir).current
    finally:
        engine.dispose()


@click.group()
@click.version_option(package_name="pointkit")
def main() -> None:
    """pointkit-hub: the county hub that enrolls points, routes cases and signs results."""
    # The database, keys, scans and logs hold residents' data and secrets: only the hub's account reads them.
    private_umask()


@main.command()
@data_option
@click.option("--admin-user", default="admin", show_default=True, help="Username of the first admin account.")
@click.option("--admin-password", default=None,
              help="Password of the first admin account (at least 8 characters); generated and printed if omitted.")
@click.option("--pq/--no-pq", "post_quantum", default=False, show_default=True,
              help="Give the hub a hybrid post-quantum key (ML-KEM-768 + X25519): points seal to it.")
def init(data_dir: Path, admin_user: str, admin_password: str | None, post_quantum: bool) -> None:
    """Create a new hub: database, hub keys (generation 1) and the first admin account."""
    try:
        done = initialize(data_dir, admin_user=admin_user, admin_password=admin_password,
                          post_quantum=post_quantum)
    except (InstanceError, AccountError) as exc:
        raise click.ClickException(str(exc)) from None
    private_data_dir(data_dir)
    click.echo(f"Initialized hub in {done.data_dir}")
    click.echo(f"Hub key fingerprint: {done.fingerprint}")
    click.echo(f"Admin user: {done.admin_user}")
    if done.password_generated:
        click.echo(f"Admin password (shown once, write it down): {done.admin_password}")
    click.echo(f"Next: pointkit-hub catalog import FILE --data {data_dir}; "
               f"then pointkit-hub serve --data {data_dir} and log in at /login")


@main.command()
@data_option
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int, help="Port to listen on.")
@click.option("--threads", default=8, show_default=True, type=int, help="Worker threads.")
@click.option("--warn-share", default=DEFAULT_WARN_SHARE, show_default=True, type=click.FloatRange(0.1, 1.0),
              help="Share of a time limit used up when a case turns yellow (warning).")
@click.option("--complaint-reply-days", default=DEFAULT_COMPLAINT_REPLY_DAYS, show_default=True,
              type=click.IntRange(1, MAX_REPLY_DAYS),
              help="Working days a department has to reply to a complaint, as the complaint desk proposes it.")
@click.option("--supervise-every", default=300, show_default=True, type=click.IntRange(0),
              help="Seconds between supervision rounds (deemed approvals, cards, orders); 0 turns the timer off.")
@click.option("--anchor-every", default=DEFAULT_ANCHOR_EVERY_S, show_default=True, type=click.IntRange(0),
              help="Seconds between appending the audit chain's signed head to audit-heads.log in the data "
                   "directory (when it moved); 0 turns the timer off.")
@click.option("--precheck-days", default=PrecheckLimits().expiry_days, show_default=True, type=click.IntRange(1, 365),
              help="Days a resident's pre-check lives before it expires and its photos are deleted, unless an "
                   "intake took it in (checked on the --supervise-every timer).")
@click.option("--behind-tls", is_flag=True, default=False,
              help="The hub is reached only through a TLS proxy (https): session cookies are marked Secure, so a "
                   "browser never sends them over plain http (docs/deploy.md).")
@click.option("--machine", default=None, metavar="NAME",
              help="This machine's name in the log and the timers' leases; default: DATA/machine-name, else the "
                   "host name.")
@click.option("--timer-lease", default=DEFAULT_LEASE_S, show_default=True, type=click.IntRange(1),
              help="Seconds a timer's round may run before another hub process on the database takes it over "
                   "from a holder that stopped answering.")
@click.option("--trusted-proxy", default=None, metavar="ADDRESS",
              help="The load balancer's address: its X-Forwarded-For and X-Forwarded-Proto are believed; from "
                   "anyone else those headers are dropped.")
@click.option("--scan-retention-days", default=0, show_default=True, type=click.IntRange(0),
              help="Days after a case is closed before its scans are removed from the scan store (checked on the "
                   "--supervise-every timer, recorded in the audit chain); 0 keeps them.")
@head_timeout_option
@click.option("--ingest-budget-mib", default=DEFAULT_INGEST_BUDGET_MIB, show_default=True,
              type=click.IntRange(1, MAX_INGEST_BUDGET_MIB),
              help="MiB a point may make the hub store in a county day before the hub warns (log, audit, points "
                   "page); its envelopes are still accepted. 'points budget' sets one point's own.")
def serve(data_dir: Path, host: str, port: int, threads: int, warn_share: float, complaint_reply_days: int,
          supervise_every: int, anchor_every: int, precheck_days: int, behind_tls: bool, machine: str | None,
          timer_lease: int, trusted_proxy: str | None, scan_retention_days: int, head_timeout: float,
          ingest_budget_mib: int) -> None:
    """Serve the hub's pages, staff API and sync endpoints with waitress."""
    if not is_initialized(data_dir):
        raise click.ClickException(f"{data_dir} is not a hub data directory; run 'pointkit-hub init --data {data_dir}'")
    from sync.kit.web import serve as run_server

    from hub.web import create_app

    private_data_dir(data_dir)
    try:
        machine = check_machine_name(machine) if machine else machine_name(data_dir)
    except MachineError as exc:
        raise click.ClickException(str(exc)) from None
    _configure_logging(data_dir, machine)
    try:
        record_scans_url(data_dir)
        store = scan_store(data_dir)
    except BadScanStoreUrl as exc:
        raise click.ClickException(str(exc)) from None
    try:
        app = create_app(data_dir, test_config={"WARN_SHARE": warn_share, "SESSION_COOKIE_SECURE": behind_tls,
                                                 "COMPLAINT_REPLY_DAYS": complaint_reply_days,
                                                 "PRECHECK_LIMITS": {"expiry_days": precheck_days},
                                                 "INGEST_BUDGET_MIB": ingest_budget_mib})
    except SchemaError as exc:
        raise click.ClickException(str(exc)) from None
    engine, holder = app.extensions["hub_engine"], process_holder(machine)
    if supervise_every:
        start_supervisor(engine, data_dir, supervise_every, holder=holder, lease_s=timer_lease, warn_share=warn_share)
        start_precheck_expiry(engine, data_dir, supervise_every, holder=holder, lease_s=timer_lease)
        if scan_retention_days:
            start_scan_purge(engine, data_dir, supervise_every, scan_retention_days, holder=holder,
                             lease_s=timer_lease)
    if anchor_every:
        start_anchoring(engine, data_dir, anchor_every, machine=machine, holder=holder, lease_s=timer_lease)
    run_server(app, host, port, threads=threads, trusted_proxy=trusted_proxy,
               limits=ClientLimits(head_timeout_s=head_timeout),
               on_start=lambda: logging.getLogger("hub").info("hub serving %s on http://%s:%s, scans in %s",
                                                              data_dir, host, port, store))


def _configure_logging(data_dir: Path, machine: str) -> None:
    # Logs carry ids, statuses and reasons only: never names, ID numbers or phones. Each line names the
    # machine, so the logs of several hub machines can be read side by side.
    formatter = logging.Formatter(f"%(asctime)s %(levelname)s [{machine.replace('%', '%%')}] %(name)s: %(message)s")
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for handler in (logging.FileHandler(data_dir / LOG_FILE, encoding="utf-8"), logging.StreamHandler(sys.stderr)):
        handler.setFormatter(formatter)
        root.addHandler(handler)


@main.command()
@data_option
def upgrade(data_dir: Path) -> None:
    """After installing a new pointkit: bring the hub's database to its schema (running it again changes nothing).

    Stop every hub process on the database first, and back it up first (pointkit-hub backup; pg_dump for
    PostgreSQL). The schema change is one transaction: it applies completely or not at all. Then open cases
    from older releases get what today's hub records for them (their legal time limits), and case rows no audit
    entry records yet get a baseline entry, in transactions of their own.
    """
    if not is_initialized(data_dir):
        raise click.ClickException(f"{data_dir} is not a hub data directory")
    click.echo(f"Back up first if you have not: pointkit-hub backup --data {data_dir} FILE (PostgreSQL: pg_dump)")
    try:
        done = upgrade_database(data_dir)
        completed = complete_database(data_dir)
    except SchemaError as exc:
        raise click.ClickException(str(exc)) from None
    except OperationalError as exc:
        raise click.ClickException(f"could not upgrade the hub database ({exc.orig}); stop every hub process on "
                                   "it and run this again") from None
    if private_data_dir(data_dir):
        click.echo(f"Made {data_dir} readable by this account only (folders 0700, files 0600)")
    if done.changed:
        click.echo(f"Upgraded the hub database from {done.before or 'the release before migrations'} to schema "
                   f"revision {done.after}")
    else:
        click.echo(f"The hub database is already at schema revision {done.after}; nothing to do")
    if completed.legal_limits:
        click.echo(f"Counted the legal time limit of {completed.legal_limits} open case(s) received before the hub "
                   "kept one")
    if completed.return_dates:
        click.echo(f"Counted the return date of {completed.return_dates} open supplement request(s) made before "
                   "the hub kept one")
    if completed.baselines:
        click.echo(f"Recorded a baseline of {completed.baselines} case(s) in the audit chain: their rows as they are "
                   "now, checked by audit verify from here on")


@main.group()
def points() -> None:
    """Register, list and revoke points (township and village windows)."""


@points.command("add")
@click.argument("name")
@click.option("--level", required=True, type=click.Choice(POINT_LEVELS), help="The point's level.")
@click.option("--expires-hours", default=DEFAULT_TOKEN_HOURS, show_default=True, type=click.IntRange(1, 720),
              help="Hours until the enrollment token expires.")
@click.option("--via", "relay", default=None, metavar="TOWNSHIP",
              help="A village only: the township point it syncs through (the township relays its envelopes "
                   "and messages; enroll the village with 'pointkit init --relay TOWNSHIP_URL'). The village "
                   "belongs to that township too, unless --township names another.")
@click.option("--township", default=None, metavar="TOWNSHIP",
              help="A village only: the township point it belongs to (that township's reviewers decide its "
                   "township-level reviews, and its staff see its work).")
@data_option
def points_add(name: str, level: str, expires_hours: int, relay: str | None, township: str | None,
               data_dir: Path) -> None:
    """Register point NAME and print its one-time enrollment token (the last line)."""
    if (relay or township) and level != "village":
        raise click.ClickException("--via and --township are for villages: only a village syncs through a township "
                                   "or belongs to one")
    township = township or relay
    try:
        with _hub(data_dir) as (session, identity):
            issued = create_enrollment_token(session, name=name, level=level, identity=identity,
                                             expires_hours=expires_hours)
            if relay:
                assign_relay(session, name, relay)
            if township:
                place_village(session, name, township)
    except (EnrollmentError, TownshipError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Point {issued.point_name} ({issued.level}) registered; the token below works once "
               f"and expires {iso(issued.expires_at)}.")
    if relay:
        click.echo(f"It syncs through township {relay}.")
    if township:
        click.echo(f"It belongs to township {township}.")
    click.echo(issued.token)


@points.command("township")
@click.argument("village")
@click.argument("township")
@data_option
def points_township(village: str, township: str, data_dir: Path) -> None:
    """Place village point VILLAGE under township point TOWNSHIP (or move it there): from now on that township's
    reviewers decide its township-level reviews and its staff see its work."""
    try:
        with _hub(data_dir) as (session, _identity):
            place_village(session, village, township)
    except TownshipError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Village {village} belongs to township {township}.")


@points.command("list")
@data_option
def points_list(data_dir: Path) -> None:
    """List points: id, name, level, status, fingerprint, last contact, when a pending token expires, and the
    township a village belongs to ("no township" for a village not placed yet)."""
    with _hub(data_dir) as (session, _identity):
        rows = points_overview(session)
        townships = village_townships(session)
    if not rows:
        click.echo("No points yet; add one with 'pointkit-hub points add NAME --level village'.")
    for point in rows:
        expiry = f"token expires {point['token_expires_at']}" if point["token_expires_at"] else (
            f"revoked {point['revoked_at']}" if point["revoked_at"] else "")
        township = townships.get(point["name"], "no township") if point["level"] == "village" else "-"
        click.echo("\t".join([point["point_id"], point["name"], point["level"], point["status"],
                              point["fingerprint"] or "-", point["last_contact"] or "-", expiry or "-", township]))


@points.command("budget")
@click.argument("name")
@click.option("--mib", type=click.IntRange(1, MAX_INGEST_BUDGET_MIB), default=None,
              help="MiB point NAME may make the hub store in a county day before the hub warns.")
@click.option("--default", "use_default", is_flag=True, default=False,
              help="Back to the county's default (serve --ingest-budget-mib).")
@data_option
def points_budget(name: str, mib: int | None, use_default: bool, data_dir: Path) -> None:
    """Set point NAME's daily ingest budget (a busy township may need more than the county's default). Past it
    the hub still accepts the point's envelopes, and warns: log, audit entry, the points page."""
    if (mib is None) == (not use_default):
        raise click.ClickException("give either --mib N or --default")
    try:
        with _hub(data_dir) as (session, _identity):
            set_budget(session, name, mib, actor="cli")
    except BudgetError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Point {name}: daily ingest budget {mib} MiB." if mib else
               f"Point {name}: the county's default daily ingest budget.")


@points.command("revoke")
@click.argument("name")
@data_option
def points_revoke(name: str, data_dir: Path) -> None:
    """Revoke point NAME (a lost or stolen laptop): the hub refuses all it sends from now on."""
    try:
        with _hub(data_dir) as (session, _identity):
            point = revoke_point(session, name, actor="cli")
            summary = f"Point {point.name} revoked; its envelopes and requests are refused from now on."
    except PointError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(summary)
    click.echo("Cases it sent before are unchanged. Enroll a replacement laptop under a new name.")


@main.group()
def keys() -> None:
    """The hub's own keys: list generations, rotate, purge old ones."""


@keys.command("list")
@data_option
def keys_list(data_dir: Path) -> None:
    """List key generations: number, fingerprint, suites, created, purged (the last one is current)."""
    with _hub(data_dir) as (session, _identity):
        rows = session.exec(select(HubKey).order_by(HubKey.generation)).all()
        current = rows[-1].generation
        for row in rows:
            state = "current" if row.generation == current else (
                f"purged {iso(row.purged_at)}" if row.purged_at else "held")
            click.echo("\t".join([str(row.generation), row.fingerprint, suite_names(row.suites),
                                  f"created {iso(row.created_at)}", state]))


@keys.command("rotate")
@data_option
@click.option("--pq/--no-pq", "post_quantum", default=None,
              help="Whether the new key includes ML-KEM-768 (hybrid suite); default: as the current key.")
def keys_rotate(data_dir: Path, post_quantum: bool | None) -> None:
    """Make a new key generation and announce it to every active point, signed by the current key."""
    engine = _engine(data_dir)
    try:
        with session_scope(engine) as session:
            keyring = rotate_keys(session, data_dir, ensure_keys(session, data_dir), post_quantum=post_quantum,
                                  actor="cli")
        publish_current(data_dir, keyring.current)
    finally:
        engine.dispose()
    click.echo(f"Hub keys rotated to generation {keyring.generation}; the old key still opens envelopes sealed to it.")
    click.echo(f"New fingerprint: {keyring.fingerprint}")


@keys.command("purge")
@click.argument("generation", type=int)
@data_option
def keys_purge(generation: int, data_dir: Path) -> None:
    """Delete old key GENERATION's private keys; envelopes still sealed to it are refused from then on."""
    try:
        with _hub(data_dir) as (session, _identity):
            purge_generation(session, data_dir, generation, actor="cli")
    except HubKeyError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Generation {generation} purged: its private keys are deleted.")


@main.group()
def machine() -> None:
    """Run the hub on several machines that share one PostgreSQL database (docs/deploy.md)."""


@machine.command("export")
@data_option
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def machine_export(data_dir: Path, out: Path) -> None:
    """Write what a new machine of this hub needs to OUT (readable by you only): every held key generation
    and the session secret, never the database's URL or password. Carry it to the new machine, run
    'machine join' there, then delete it."""
    try:
        with _hub(data_dir) as (session, _identity):
            generations = export_machine(session, data_dir, out)
    except (MachineError, HubKeyError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Wrote the hub's keys (generation(s) {', '.join(map(str, generations))}) and session secret to "
               f"{out}; it unlocks every envelope sent to the hub: move it only to the new machine, then delete it")


@machine.command("join")
@data_option
@click.option("--from", "export", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The file 'pointkit-hub machine export' wrote on a machine of the hub.")
@click.option("--machine", "name", default=None, metavar="NAME",
              help="This machine's name in logs and timer leases (saved in DATA/machine-name); default: the host "
                   "name.")
@click.option("--refresh", is_flag=True, default=False,
              help="DATA is already a machine of the hub: add the key generations a 'keys rotate' on another "
                   "machine made (a serving machine takes them up at once).")
def machine_join(data_dir: Path, export: Path, name: str | None, refresh: bool) -> None:
    """Make DATA a new machine of the hub whose database --database-url gives, from an export of its keys;
    refuses a database that holds no hub or another hub's keys."""
    try:
        if refresh:
            generations = refresh_machine(data_dir, export, database_url(data_dir))
            click.echo(f"{data_dir} holds key generation(s) {', '.join(map(str, generations))}; delete {export}")
            return
        joined = join_machine(data_dir, export, database_url(data_dir), machine=name or machine_name(data_dir))
    except (MachineError, HubKeyError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Machine {joined.machine} joined the hub in {joined.data_dir} (key generation(s) "
               f"{', '.join(map(str, joined.generations))})")
    click.echo(f"Next: pointkit-hub serve --data {data_dir} (with the same database URL) and add it to the load "
               f"balancer; delete {export}")


@main.group()
def audit() -> None:
    """The hub's hash-chained audit log."""


@audit.command("verify")
@data_option
@click.option("--with-point-heads", "point_heads", multiple=True,
              type=click.Path(exists=True, path_type=Path),
              help="A file of heads exported from points (pointkit audit head), or a folder of them (*.json); "
                   "repeatable. The chain must still reach every head a point holds.")
def audit_verify(data_dir: Path, point_heads: tuple[Path, ...]) -> None:
    """Check the audit chain, the heads anchored outside the database and the case rows; exit 1 naming the
    entry of each problem. When everything holds, the head is anchored in audit-heads.log."""
    with _hub(data_dir) as (session, _identity):
        keyring = load_keyring(session, data_dir)
        findings = check_audit(session, data_dir, keyring, read_point_heads(list(point_heads)))
        if findings.holds:
            anchor_now(session, data_dir, keyring)
    chain = findings.chain
    if chain.broken is not None:
        click.echo(f"Audit chain broken at entry {chain.broken.entry_id} (position {chain.broken.position + 1} "
                   f"of {chain.entries}): {chain.broken.problem}", err=True)
    for found in findings.problems:
        click.echo(f"Audit check failed{f' at entry {found.entry_id}' if found.entry_id else ''}: {found.problem}",
                   err=True)
    if not findings.holds:
        sys.exit(1)
    click.echo(f"Audit chain holds: {chain.entries} entries; head {chain.head}")
    click.echo(f"It reaches {findings.anchored} head(s) in {heads_file(data_dir)} and {findings.point_heads} held by "
               "points; every case row matches the newest entry that recorded it")


@main.group()
def catalog() -> None:
    """Manage the service catalog (事项目录)."""


@catalog.command("import")
@click.argument("file", type=click.Path(exists=True, path_type=Path))
@data_option
@click.option("--dry-run", is_flag=True, help="Only print what would change; store nothing.")
def catalog_import(file: Path, data_dir: Path, dry_run: bool) -> None:
    """Import FILE: a catalog .json, or CSV tables (a folder or .zip; see docs/catalog.md).

    A new signed version is made only if something changed; items missing from FILE are withdrawn in it.
    """
    try:
        source = read_catalog(file)
        with _hub(data_dir) as (session, identity):
            result = import_catalog(session, source.catalog, identity=identity, source=file.name,
                                    locate=source.locate, dry_run=dry_run)
    except CatalogError as exc:
        raise click.ClickException(f"{file} was not imported; fix these and import again:\n{exc}") from None
    for line in result.changes.lines():
        click.echo(line)
    if not result.changed:
        state = "unchanged, still version"
    else:
        state = "dry run: nothing stored; would make version" if dry_run else "new version"
    click.echo(f"Catalog {state} {result.version}: {result.departments} departments, {result.items} items"
               + (f" ({result.changes.summary()})" if result.changed else ""))


@catalog.command("export")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="json", show_default=True,
              help="json: one file; csv: departments/items/materials/fields/projects.csv in folder FILE (or FILE.zip).")
@click.option("--version", "version", type=int, default=None, help="Catalog version to export (default: current).")
@data_option
def catalog_export(file: Path, fmt: str, version: int | None, data_dir: Path) -> None:
    """Write the catalog to FILE for editing in Excel or a text editor; importing it unchanged makes no version."""
    try:
        with _hub(data_dir) as (session, _identity):
            written = export_catalog(session, file, fmt, version)
    except CatalogError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("Wrote " + ", ".join(written))


@catalog.command("diff")
@click.argument("version_from", type=int)
@click.argument("version_to", type=int)
@data_option
def catalog_diff(version_from: int, version_to: int, data_dir: Path) -> None:
    """Print what changed from catalog version VERSION_FROM to VERSION_TO, item by item and field by field."""
    with _hub(data_dir) as (session, _identity):
        documents = [version_document(session, number) for number in (version_from, version_to)]
    missing = [str(number) for number, document in zip((version_from, version_to), documents) if document is None]
    if missing:
        raise click.ClickException(f"the hub has no catalog version {', '.join(missing)}")
    changes = diff_documents(*documents)
    for line in changes.lines():
        click.echo(line)
    click.echo(f"Version {version_from} → {version_to}: {changes.summary()}")


@main.group("calendar")
def calendar_group() -> None:
    """Manage the holiday calendar (节假日安排): one signed year at a time, sent to every point."""


@calendar_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@data_option
@click.option("--actor", default="cli", show_default=True, help="Who imports it, for the audit chain.")
def calendar_import(file: Path, data_dir: Path, actor: str) -> None:
    """Import FILE, one year's schedule (YYYY.json, docs/calendar.md): checked, signed, versioned, and sent to every
    point with its catalog. A correction of a year already held becomes its next version; a bad file changes
    nothing."""
    try:
        data = json.loads(file.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"{file} is not readable JSON ({exc}); nothing was imported") from None
    year = int(file.stem) if file.stem.isdigit() and len(file.stem) == 4 else None
    try:
        with _hub(data_dir) as (session, identity):
            done = import_year(session, data, identity=identity, actor=actor, where=file.name, year=year)
            # The dates of every running case follow the new schedule (hub/approval/recount.py), in the same transaction.
            recounted = recount_open_cases(session, [done.year]) if done.changed else None
    except CalendarError as exc:
        raise click.ClickException(f"{exc}; nothing was imported") from None
    if done.changed:
        click.echo(f"Calendar {done.year}: new version {done.version} ({done.source or 'no source given'}); "
                   "points get it in their next sync, USB points in their next hub bundle")
        click.echo(f"Dates counted again for {recounted.counted} running case(s): {recounted.moved} moved, each "
                   "on its timeline and sent to its point")
    else:
        click.echo(f"Calendar {done.year}: unchanged, still version {done.version}")


@calendar_group.command("list")
@data_option
def calendar_list(data_dir: Path) -> None:
    """List the years the hub holds (version, source, who imported them when) and the years shipped with the
    release that no import replaced."""
    with _hub(data_dir) as (session, _identity):
        held = held_years(session)
        in_force = county_calendar(session)
        missing = missing_next_year(session, county_date(utc_now()))
    imported = {row.year for row in held}
    for row in held:
        click.echo(f"{row.year}  version {row.version}  imported {iso(row.created_at)[:16]} by {row.imported_by}  "
                   f"{row.source}")
    for year in sorted(in_force.years - imported):
        click.echo(f"{year}  shipped with this release  {in_force.sources.get(year, '')}")
    if missing:
        click.echo(f"warning: no schedule for {missing} yet; import it when the State Council publishes it",
                   err=True)


@main.group()
def users() -> None:
    """Manage hub accounts (admins, operators, department reviewers)."""


@users.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What the account may do.")
@click.option("--department", default=None, help="Department code; required for reviewers.")
@click.option("--township", default=None, metavar="TOWNSHIP",
              help="The township point the account belongs to: required for a reviewer of a township-scoped "
                   "department (乡镇人民政府), for --role township (a township's read-only staff) and for a "
                   "township's agent (none: the county centre's).")
@click.option("--password", required=True, help="The account's password (at least 8 characters).")
@click.option("--display-name", default="", help="Name shown on pages (defaults to the username).")
@data_option
def users_add(username: str, role: str, department: str | None, township: str | None, password: str,
              display_name: str, data_dir: Path) -> None:
    """Add account USERNAME."""
    try:
        with _hub(data_dir) as (session, _identity):
            staff = create_staff(session, username=username, password=password, role=role,
                                 department_code=department, display_name=display_name, township=township)
            summary = f"Added {staff.role} {staff.username}" + (
                f" in department {staff.department_code}" if staff.department_code else "") + (
                f" of township {township}" if staff.township_id else "")
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(summary)


@users.command("list")
@data_option
def users_list(data_dir: Path) -> None:
    """List accounts: username, role, department, display name, enabled or disabled, created, and the township
    the account belongs to ("-" for the county)."""
    with _hub(data_dir) as (session, _identity):
        townships = township_names(session)
        for staff in list_staff(session):
            state = f"disabled {iso(staff.disabled_at)}" if staff.disabled_at else "enabled"
            click.echo("\t".join([staff.username, staff.role, staff.department_code or "-", staff.display_name,
                                  state, f"created {iso(staff.created_at)}",
                                  townships.get(staff.township_id, "-") if staff.township_id else "-"]))


def _set_disabled(username: str, data_dir: Path, *, disabled: bool) -> bool:
    try:
        with _hub(data_dir) as (session, _identity):
            staff = find_staff(session, username)
            if staff is None:
                raise click.ClickException(f"no account {username!r}; see 'pointkit-hub users list --data {data_dir}'")
            return set_disabled(session, staff, disabled=disabled, actor="cli")
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None


@users.command("disable")
@click.argument("username")
@data_option
def users_disable(username: str, data_dir: Path) -> None:
    """Disable account USERNAME: it can no longer log in and its API tokens stop working."""
    changed = _set_disabled(username, data_dir, disabled=True)
    click.echo(f"Disabled {username}; its past decisions keep its name." if changed
               else f"{username} was already disabled.")


@users.command("enable")
@click.argument("username")
@data_option
def users_enable(username: str, data_dir: Path) -> None:
    """Enable account USERNAME again (it logs in with its old password)."""
    changed = _set_disabled(username, data_dir, disabled=False)
    click.echo(f"Enabled {username}." if changed else f"{username} was already enabled.")


@main.command(help="Write an encrypted backup of the hub's data directory (database, keys, scans) to FILE. Safe while "
                   "the hub is serving. A hub on PostgreSQL: the keys and scans only; back the database up with "
                   "pg_dump first (docs/deploy.md). Scans in object storage are not in it: the store keeps them "
                   "(its replication or versioning).")
@data_option
@passphrase_option
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup(data_dir: Path, passphrase_file: Path | None, file: Path) -> None:
    # Not _engine: a database still on an older schema is backed up before its upgrade.
    if not is_initialized(data_dir):
        raise click.ClickException(f"{data_dir} is not a hub data directory")
    # The marker init leaves names a database outside the data directory, with or without --database-url.
    url = database_url(data_dir)
    elsewhere = database_kind(data_dir) or ("" if is_sqlite(url) else make_url(url).get_backend_name())
    backup_command(data_dir, DATABASE_FILE, file, passphrase_file, kind="hub", database_elsewhere=elsewhere)
    if elsewhere:
        click.echo(f"the hub's tables are in its {elsewhere} database, not in this backup: back that up with the "
                   "database's own tools (pg_dump) before this backup, as docs/deploy.md describes")


@main.command(help="Restore an encrypted hub backup FILE into a new data directory.")
@data_option
@passphrase_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def restore(data_dir: Path, passphrase_file: Path | None, file: Path) -> None:
    info = restore_command(file, data_dir, passphrase_file, kind="hub")
    if info.database != "sqlite":
        click.echo(f"the hub's tables were in its {info.database} database: restore its dump (pg_restore) into an "
                   f"empty database, then check it with: pointkit-hub audit verify --data {data_dir} "
                   "--database-url URL")


@main.command("import-bundle")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@data_option
def import_bundle(file: Path, data_dir: Path) -> None:
    """Ingest a point's USB bundle FILE exactly like a push; print each envelope's result."""
    engine = _engine(data_dir)
    try:
        with session_scope(engine) as session:
            report = import_point_bundle(session, file, keyring=ensure_keys(session, data_dir), data_dir=data_dir)
    except BundleError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    for result in report.results:
        click.echo("\t".join([result["envelope_id"] or "-", result["status"], result["reason"] or "-"]))
    counts = {status: sum(r["status"] == status for r in report.results)
              for status in ("accepted", "duplicate", "conflict", "rejected")}
    click.echo(f"Bundle from {report.point_name}: {len(report.results)} envelope(s): "
               + ", ".join(f"{status} {count}" for status, count in counts.items())
               + f"; {report.delivered} hub message(s) confirmed delivered")
    for scan_id, outcome in report.scans.items():
        click.echo(f"scan {scan_id}\t{outcome}")
    stored = sum(outcome in ("accepted", "duplicate") for outcome in report.scans.values())
    click.echo(f"scans: {len(report.scans)} in the bundle, {stored} held whole")


@main.command("export-bundle")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--point", "point_name", required=True, help="Name of the point the bundle is for.")
@data_option
def export_bundle(file: Path, point_name: str, data_dir: Path) -> None:
    """Write the point's undelivered hub messages and the hub's acks to a USB bundle FILE, signed by the hub."""
    engine = _engine(data_dir)
    try:
        with session_scope(engine) as session:
            report = export_point_bundle(session, point_name, file, keyring=ensure_keys(session, data_dir))
    except BundleError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    click.echo(f"Bundle for {report.point_name} written to {file}: {report.messages} message(s) "
               f"(up to number {report.cursor}), acks for {report.acks} envelope(s)")
    if report.catalog_version is not None:
        click.echo(f"It carries catalog version {report.catalog_version}")
    if report.calendar_years:
        click.echo(f"It carries the holiday calendar of {', '.join(map(str, report.calendar_years))}")


@main.command()
@data_option
@click.option("--warn-share", default=DEFAULT_WARN_SHARE, show_default=True, type=click.FloatRange(0.1, 1.0),
              help="Share of a time limit used up when a case earns a yellow card (as serve's --warn-share).")
def supervise(data_dir: Path, warn_share: float) -> None:
    """Run one supervision round now: deem approved every silence-is-consent case past its legal limit, clear and
    raise yellow, red and legal-limit cards, raise the supervision orders red and legal cards call for."""
    engine = _engine(data_dir)
    try:
        done = supervise_once(engine, data_dir, warn_share=warn_share)
    finally:
        engine.dispose()
    for case_id in done.deemed:
        click.echo(f"{case_id}\tdeemed approved")
    for order_no in done.orders:
        click.echo(f"{order_no}\tsupervision order raised")
    click.echo(f"Supervision done: {len(done.deemed)} case(s) deemed approved; cards raised: "
               f"{done.cards['yellow']} yellow, {done.cards['red']} red, {done.cards['legal']} past the legal limit; "
               f"{done.cleared} card(s) cleared; {len(done.orders)} supervision order(s) raised.")
    if done.follow_ups_dated:
        click.echo(f"Gave {done.follow_ups_dated} open low-rating follow-up(s) their due date.")


@main.group()
def prechecks() -> None:
    """Residents' pre-checks (网上预审, docs/precheck.md)."""


@prechecks.command("expire")
@data_option
def prechecks_expire(data_dir: Path) -> None:
    """Expire now every pre-check past its time that no intake took in, and delete its photos (serve does this on
    its --supervise-every timer)."""
    engine = _engine(data_dir)
    try:
        expired = expire_once(engine, data_dir)
    finally:
        engine.dispose()
    for precheck_no in expired:
        click.echo(f"{precheck_no}\texpired")
    click.echo(f"Expired {len(expired)} pre-check(s); their photos are deleted.")


@main.group()
def scans() -> None:
    """Sealed scans of materials in the scan store (docs/deploy.md, "Scans in object storage")."""


@scans.command("purge")
@data_option
@click.option("--retention-days", required=True, type=click.IntRange(1),
              help="Remove the scans of cases closed at least this many days ago (as serve's --scan-retention-days).")
def scans_purge(data_dir: Path, retention_days: int) -> None:
    """Remove now the scans (and the pre-check photos they came from) of cases closed for the retention period;
    the case pages then say so (serve does this on its --supervise-every timer when --scan-retention-days is set)."""
    engine = _engine(data_dir)
    try:
        done = purge_once(engine, data_dir, retention_days)
    except (BadScanStoreUrl, ScanStoreError) as exc:
        raise click.ClickException(f"nothing was removed: {exc}") from None
    finally:
        engine.dispose()
    for case_id, count in done.cases.items():
        click.echo(f"{case_id}	{count} scan(s) removed")
    click.echo(f"Removed {done.scans} scan(s), {done.bytes} sealed bytes, of {len(done.cases)} case(s) closed "
               f"{retention_days} or more days ago, from {scan_store(data_dir)}.")


@main.command()
@click.option("--month", required=True, metavar="YYYY-MM", help="The county month to report on, e.g. 2026-11.")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv"]), default="xlsx", show_default=True,
              help="xlsx: a workbook, one sheet per table; csv: the tables one after another (UTF-8 with BOM).")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write (default: report-YYYY-MM.xlsx or .csv in the current directory).")
@data_option
def report(month: str, fmt: str, out: Path | None, data_dir: Path) -> None:
    """Write the monthly report (per department, item, point and clerk; docs/reports.md) with Chinese headers."""
    try:
        chosen = parse_month(month, today=county_date(utc_now()))
    except ReportError as exc:
        raise click.ClickException(str(exc)) from None
    with _hub(data_dir) as (session, _identity):
        figures = monthly_report(session, chosen)
    target = out or Path(f"report-{chosen.label}.{fmt}")
    with worded():
        body = report_xlsx(figures) if fmt == "xlsx" else report_csv(figures).encode("utf-8")
    try:
        target.write_bytes(body)
    except OSError as exc:
        raise click.ClickException(f"cannot write {target}: {exc.strerror}; pick another --out") from None
    click.echo(f"Monthly report {chosen.label} written to {target}: {len(figures.departments)} department(s), "
               f"{len(figures.items)} item(s), {len(figures.points)} point(s), {len(figures.clerks)} clerk(s)")


@main.group()
def cases() -> None:
    """Look at cases as the hub records them."""


@cases.command("show")
@click.argument("case_id")
@data_option
def cases_show(case_id: str, data_dir: Path) -> None:
    """Print case CASE_ID (id or receipt number): state, deadlines, department tasks and the full timeline."""
    with _hub(data_dir) as (session, _identity):
        found = find_cases(session, case_id)
        if not found:
            raise click.ClickException(f"no case with id or receipt number {case_id!r}")
        details = [case_detail(session, case) for case in found]
    if len(details) > 1:
        click.echo(f"warning: receipt number {case_id} names {len(details)} cases (a point restored from an old "
                   "backup gave it again); tell them apart by applicant and date, and see the conflict desk", err=True)
    for number, detail in enumerate(details):
        if number:
            click.echo("")
        _show_case(detail)


def _show_case(detail: dict) -> None:
    click.echo(f"Case {detail['case_id']} receipt {detail['receipt_no']}: {detail['item_code']} {detail['item_name']}")
    click.echo(f"Point {detail['point_name']}; status {detail['status']}; time {detail['time']['state']} "
               f"({detail['time']['elapsed_days']} of {detail['time']['limit_days']} working days); "
               f"due {detail['due_date']}, legal limit {detail['legal_due_date']}, paused {detail['paused_days']} day(s)")
    for task in detail["tasks"]:
        click.echo(f"  task {task['department']} stage {task['stage']}: {task['status']}"
                   + (f" by {task['decided_by']}" if task["decided_by"] else "")
                   + (f" ({task['reason']})" if task["reason"] else ""))
    for event in detail["events"]:
        click.echo("\t".join([event["at"] or "", event["actor"], event["action"], event["note"]]))


@main.group()
def certificates() -> None:
    """The certificate register (电子证照): list and revoke."""


@certificates.command("list")
@data_option
@click.option("--holder", default="", help="Only this holder's certificates (ID number or credit code).")
def certificates_list(data_dir: Path, holder: str) -> None:
    """List certificates, newest first: number, type, status, valid until, case."""
    with _hub(data_dir) as (session, _identity):
        for row in register_rows(session, query=holder):
            click.echo("\t".join([row.number, row.cert_type, status_of(row),
                                  row.valid_until.isoformat() if row.valid_until else "-", row.case_id]))


@certificates.command("revoke")
@click.argument("number")
@click.option("--reason", required=True, help="Why the county revokes it (recorded in the audit chain).")
@click.option("--type", "cert_type", default="", help="The certificate type, when two types share the number.")
@click.option("--actor", default="cli", help="Who revokes (recorded).")
@data_option
def certificates_revoke(number: str, reason: str, cert_type: str, actor: str, data_dir: Path) -> None:
    """Revoke certificate NUMBER; every point learns it on its next sync."""
    try:
        with _hub(data_dir) as (session, _identity):
            certificate = revoke(session, number, reason=reason, actor=actor, cert_type=cert_type)
            summary = f"Certificate {certificate.number} ({certificate.cert_type}) revoked."
    except CertificateError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(summary)
    click.echo("Points learn of it on their next sync.")
