"""The ``pointkit-hub`` command: set up, serve and administer a county hub."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from sqlmodel import Session, select

from sync import Identity

from .accounts import AccountError, create_staff
from .catalog import CatalogError, import_catalog, load_catalog_file
from .db import database_url, init_db, iso, make_engine, session_scope
from .enrollment import EnrollmentError, create_enrollment_token
from .instance import LOG_FILE, InstanceError, initialize, is_initialized
from .keys import load_identity
from .models import POINT_LEVELS, ROLES, Point

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8700

data_option = click.option(
    "--data", "data_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
    help="The hub's data directory (database, keys, logs).")


@contextmanager
def _hub(data_dir: Path) -> Iterator[tuple[Session, Identity]]:
    """A committed-on-success session and the hub's keys for an initialized data directory."""
    if not is_initialized(data_dir):
        raise click.ClickException(f"{data_dir} is not a hub data directory; run 'pointkit-hub init --data {data_dir}'")
    engine = make_engine(database_url(data_dir))
    init_db(engine)
    try:
        with session_scope(engine) as session:
            yield session, load_identity(data_dir)
    finally:
        engine.dispose()


@click.group()
@click.version_option(package_name="pointkit")
def main() -> None:
    """pointkit-hub: the county hub that enrolls points, routes cases and signs results."""


@main.command()
@data_option
@click.option("--admin-user", default="admin", show_default=True, help="Username of the first admin account.")
@click.option("--admin-password", default=None,
              help="Password of the first admin account (at least 8 characters); generated and printed if omitted.")
def init(data_dir: Path, admin_user: str, admin_password: str | None) -> None:
    """Create a new hub: database, hub keys and the first admin account."""
    try:
        done = initialize(data_dir, admin_user=admin_user, admin_password=admin_password)
    except (InstanceError, AccountError) as exc:
        raise click.ClickException(str(exc)) from None
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
def serve(data_dir: Path, host: str, port: int, threads: int) -> None:
    """Serve the hub's pages, staff API and sync endpoints with waitress."""
    if not is_initialized(data_dir):
        raise click.ClickException(f"{data_dir} is not a hub data directory; run 'pointkit-hub init --data {data_dir}'")
    from sync.web import serve as run_server

    from . import create_app

    _configure_logging(data_dir)
    app = create_app(data_dir)
    run_server(app, host, port, threads=threads,
               on_start=lambda: logging.getLogger("hub").info("hub serving %s on http://%s:%s", data_dir, host, port))


def _configure_logging(data_dir: Path) -> None:
    # Logs carry ids, statuses and reasons only: never names, ID numbers or phones.
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for handler in (logging.FileHandler(data_dir / LOG_FILE, encoding="utf-8"), logging.StreamHandler(sys.stderr)):
        handler.setFormatter(formatter)
        root.addHandler(handler)


@main.group()
def points() -> None:
    """Register and list points (township and village windows)."""


@points.command("add")
@click.argument("name")
@click.option("--level", required=True, type=click.Choice(POINT_LEVELS), help="The point's level.")
@data_option
def points_add(name: str, level: str, data_dir: Path) -> None:
    """Register point NAME and print its one-time enrollment token (the last line)."""
    try:
        with _hub(data_dir) as (session, identity):
            issued = create_enrollment_token(session, name=name, level=level, identity=identity)
    except EnrollmentError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Point {issued.point_name} ({issued.level}) registered; the token below works once "
               f"and expires {iso(issued.expires_at)}.")
    click.echo(issued.token)


@points.command("list")
@data_option
def points_list(data_dir: Path) -> None:
    """List points with their status, fingerprint and last contact."""
    with _hub(data_dir) as (session, _identity):
        rows = session.exec(select(Point).order_by(Point.name)).all()
        if not rows:
            click.echo("No points yet; add one with 'pointkit-hub points add NAME --level village'.")
        for point in rows:
            click.echo("\t".join([str(point.id), point.name, point.level, point.status, point.fingerprint or "-",
                                  iso(point.last_contact) or "-"]))


@main.group()
def catalog() -> None:
    """Manage the service catalog (事项目录)."""


@catalog.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@data_option
def catalog_import(file: Path, data_dir: Path) -> None:
    """Import a catalog JSON FILE; a new signed version is made only if something changed."""
    try:
        parsed = load_catalog_file(file)
        with _hub(data_dir) as (session, identity):
            result = import_catalog(session, parsed, identity=identity, source=file.name)
    except CatalogError as exc:
        raise click.ClickException(str(exc)) from None
    state = "new version" if result.changed else "unchanged, still version"
    click.echo(f"Catalog {state} {result.version}: {result.departments} departments, {result.items} items")


@main.group()
def users() -> None:
    """Manage hub accounts (admins, operators, department reviewers)."""


@users.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What the account may do.")
@click.option("--department", default=None, help="Department code; required for reviewers.")
@click.option("--password", required=True, help="The account's password (at least 8 characters).")
@click.option("--display-name", default="", help="Name shown on pages (defaults to the username).")
@data_option
def users_add(username: str, role: str, department: str | None, password: str, display_name: str,
              data_dir: Path) -> None:
    """Add account USERNAME."""
    try:
        with _hub(data_dir) as (session, _identity):
            staff = create_staff(session, username=username, password=password, role=role,
                                 department_code=department, display_name=display_name)
            summary = f"Added {staff.role} {staff.username}" + (
                f" in department {staff.department_code}" if staff.department_code else "")
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(summary)
