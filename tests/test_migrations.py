"""The migration revisions match the models: what keeps every model change honest.

A model change without a revision fails here; scripts/new_migration writes the revision (docs/migrations.md).
Two ways make a schema: running every revision (an upgraded database) and ``create_all`` plus a stamp (a new
one, ``init``). Both must give the same tables, columns, defaults, keys and indexes, on SQLite and, for the
hub, on PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timezone
from pathlib import Path

from tests.support import pgdb
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, Table, create_engine, inspect

from hub.migrate import MIGRATIONS as HUB
from hub.reconcile.arrival import resident_key
from pointkit.migrate import MIGRATIONS as POINT
from sync.kit.migrate import Migrations, SchemaError, Upgraded, sqlite_migration_engine

SIDES = {"hub": HUB, "point": POINT}
ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def empty_database(backend: str, tmp_path: Path, name: str) -> Iterator[Engine]:
    """A new empty database: a SQLite file, or a scratch PostgreSQL database (CI never skips it)."""
    if backend == "sqlite":
        engine = sqlite_migration_engine(tmp_path / f"{name}.db")
        yield engine
        engine.dispose()
        return
    reason = pgdb.unreachable()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI runs the hub's migrations on PostgreSQL too: {reason}")
        pytest.skip(reason)
    with pgdb.scratch_database() as url:
        engine = create_engine(url)
        yield engine
        engine.dispose()


def schema_of(connection: Connection) -> dict[str, dict]:
    """Everything about each table that matters, in a form two databases can be compared by (not column order)."""
    inspector = inspect(connection)
    return {
        table: {
            "columns": {column["name"]: (str(column["type"]), column["nullable"], column.get("default"))
                        for column in inspector.get_columns(table)},
            "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
            "foreign_keys": sorted((tuple(fk["constrained_columns"]), fk["referred_table"],
                                    tuple(fk["referred_columns"])) for fk in inspector.get_foreign_keys(table)),
            "indexes": sorted((index["name"], tuple(index["column_names"]), bool(index["unique"]))
                              for index in inspector.get_indexes(table)),
            "unique": sorted(tuple(unique["column_names"]) for unique in inspector.get_unique_constraints(table)),
        }
        for table in inspector.get_table_names()
    }


def built_both_ways(migrations: Migrations, backend: str, tmp_path: Path) -> tuple[dict, dict, list]:
    """The schema from every revision, the schema from create_all, and the revisions' difference from the models."""
    with empty_database(backend, tmp_path, "revisions") as engine, engine.begin() as connection:
        migrations.build(connection)
        differences = migrations.differences(connection)
        by_revisions = schema_of(connection)
    with empty_database(backend, tmp_path, "new") as engine, engine.begin() as connection:
        migrations.ensure(connection, advice="(not expected)")
        assert migrations.revision(connection) == migrations.head()
        made_new = schema_of(connection)
    return by_revisions, made_new, differences


@pytest.mark.parametrize("side", SIDES)
def test_the_revisions_build_exactly_the_models_schema_on_sqlite(side, tmp_path):
    by_revisions, made_new, differences = built_both_ways(SIDES[side], "sqlite", tmp_path)
    assert differences == [], (f"the {side} models and its newest revision differ; write the revision with "
                               f"scripts/new_migration {side} \"WHAT CHANGED\"")
    assert by_revisions == made_new


def test_the_hub_revisions_build_exactly_the_models_schema_on_postgresql(tmp_path):
    by_revisions, made_new, differences = built_both_ways(HUB, "postgresql", tmp_path)
    assert differences == []
    assert by_revisions == made_new


@pytest.mark.parametrize("side", SIDES)
def test_every_revision_steps_down_and_up_again(side, tmp_path):
    migrations = SIDES[side]
    with empty_database("sqlite", tmp_path, side) as engine, engine.begin() as connection:
        migrations.build(connection)
        config = migrations.config(connection)
        command.downgrade(config, migrations.baseline)
        baseline = schema_of(connection)
        assert set(baseline) < set(migrations.metadata.tables) | {"alembic_version"}
        command.downgrade(config, "base")
        assert set(inspect(connection).get_table_names()) == {"alembic_version"}
        command.upgrade(config, "head")
        assert migrations.differences(connection) == []


@pytest.mark.parametrize("side", SIDES)
def test_the_revision_files_are_numbered_in_the_order_alembic_chains_them(side):
    migrations = SIDES[side]
    chain = [script.revision for script in ScriptDirectory(str(migrations.directory)).walk_revisions()][::-1]
    assert list(migrations.revisions()) == chain
    assert chain[0] == migrations.baseline
    assert len(ScriptDirectory(str(migrations.directory)).get_heads()) == 1, "one line of revisions, no branches"


def filled(table: Table, **given) -> dict:
    """A row for ``table`` with a plain value in every NOT NULL column not given."""
    samples = {sa.String: "x", sa.Integer: 7, sa.DateTime: datetime(2026, 3, 2, tzinfo=timezone.utc),
               sa.Date: date(2026, 3, 2), sa.JSON: {}, sa.LargeBinary: b"", sa.Uuid: uuid.uuid4(), sa.Boolean: False}
    row = dict(given)
    for column in table.columns:
        if column.name not in row and not column.nullable:
            row[column.name] = next(value for kind, value in samples.items() if isinstance(column.type, kind))
    return row


@pytest.mark.parametrize("backend", ("sqlite", "postgresql"))
def test_a_previous_release_hub_database_with_rows_upgrades_and_gains_values(backend, tmp_path):
    with empty_database(backend, tmp_path, "hub") as engine:
        with engine.begin() as connection:
            command.upgrade(HUB.config(connection), HUB.baseline)
            connection.execute(sa.text("DROP TABLE alembic_version"))  # as the previous release left it
            old = sa.MetaData()
            old.reflect(connection)
            point_id = uuid.uuid4().hex  # how SQLite stores a UUID; PostgreSQL reads it too
            connection.execute(old.tables["point"].insert().values(filled(old.tables["point"], id=point_id)))
            connection.execute(old.tables["case"].insert().values(filled(
                old.tables["case"], id="case-1", point_id=point_id, applicant={"id_number": "45102719800101234x"})))
        with engine.begin() as connection:
            upgraded = HUB.upgrade(connection)
            assert (upgraded.before, upgraded.after) == (None, HUB.head())
        with engine.begin() as connection:
            assert HUB.upgrade(connection) == Upgraded(HUB.head(), HUB.head())
            case = connection.execute(sa.text('SELECT version, paused_days, resident_key FROM "case"')).one()
            point = connection.execute(sa.text("SELECT protocol, clock_offset_ms FROM point")).one()
    assert tuple(case) == (1, 0, resident_key("45102719800101234X"))
    assert tuple(point) == (1, 0)


def test_a_database_from_a_newer_release_is_refused(tmp_path):
    with empty_database("sqlite", tmp_path, "point") as engine, engine.begin() as connection:
        POINT.ensure(connection, advice="")
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
        for attempt in (lambda: POINT.ensure(connection, advice=""), lambda: POINT.upgrade(connection)):
            with pytest.raises(SchemaError, match="newer release"):
                attempt()


@pytest.mark.parametrize("package", ("hub", "pointkit"))
def test_the_migration_environment_sees_every_table(package):
    """A table defined in a module migrate.py does not import would be missed by new databases and drift checks."""
    probe = (f"import importlib, pkgutil, {package}, {package}.migrate as m\n"
             "before = set(m.MIGRATIONS.metadata.tables)\n"
             f"for module in pkgutil.iter_modules({package}.__path__):\n"
             f"    importlib.import_module('{package}.' + module.name)\n"
             "print(sorted(set(m.MIGRATIONS.metadata.tables) - before))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"import these tables' module in {package}/migrate.py: {done.stdout}"


def test_a_hub_upgrade_on_postgresql_waits_for_the_hub_write_lock(tmp_path, monkeypatch):
    """A hub process writing, or a second upgrade started beside the first: the upgrade waits for the hub's
    write lock, then runs (or finds nothing to do), instead of changing the schema under them."""
    from hub.core.db import DATABASE_URL_ENV, hold_write_lock
    from hub.instance import initialize
    from hub.migrate import upgrade

    with empty_database("postgresql", tmp_path, "hub") as engine:
        monkeypatch.setenv(DATABASE_URL_ENV, engine.url.render_as_string(hide_password=False))
        initialize(tmp_path / "hub", admin_password="admin-pass-1")
        with engine.begin() as connection:
            command.downgrade(HUB.config(connection), HUB.baseline)
        outcome: dict[str, object] = {}
        with engine.connect() as holder:
            holder.begin()
            hold_write_lock(holder)  # as a hub process applying a push holds it
            upgrading = threading.Thread(target=lambda: outcome.update(done=upgrade(tmp_path / "hub")))
            upgrading.start()
            waiting = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            deadline = time.monotonic() + 60
            while holder.execute(sa.text(waiting)).scalar() == 0:
                assert upgrading.is_alive() and time.monotonic() < deadline, "the upgrade did not wait for the lock"
            with engine.connect() as look:
                assert HUB.revision(look) == HUB.baseline, "nothing changed while the lock was held"
            holder.commit()
        upgrading.join(timeout=120)
        assert outcome["done"] == Upgraded(HUB.baseline, HUB.head())
        with engine.connect() as look:
            assert HUB.revision(look) == HUB.head()
