"""Schema migrations for both sides: Alembic, configured in code, one migration environment per package.

Points in the field upgrade months late, so every schema change is a
versioned, reviewed Alembic revision instead of columns added on the fly.
Each side ships its environment inside its package (``hub/migrations``,
``pointkit/migrations``: env.py, script.py.mako, versions/), so a wheel
carries it and no alembic.ini is needed; ``Migrations`` below is the one
way both sides run it.

A database is in one of these states:

- empty: created at head (``create_all`` plus a stamp), as ``init`` does;
  tests/test_migrations.py proves that equals running every revision;
- unversioned: tables but no ``alembic_version``: the release before
  migrations (the baseline revision). ``upgrade`` stamps it there first;
- behind: an older revision: ``upgrade`` runs the revisions after it;
- current: at head; everything opens it;
- unknown: a revision this code has never heard of (a newer release wrote
  it): nothing opens it.

Only ``upgrade`` changes an existing schema; everything else refuses a
database that is not current with a ``SchemaError`` naming the command.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, MetaData, create_engine, event, inspect, text

VERSION_TABLE = "alembic_version"
# Revision files are NNNN_what.py, numbered in order (scripts/new_migration does it; tests/test_migrations.py
# checks Alembic's chain agrees). Reading the numbers from the file names lets every command check the schema
# without importing Alembic (a third of a second per process); only creating and upgrading import it.
REVISION_FILES = "[0-9][0-9][0-9][0-9]_*.py"


class SchemaError(RuntimeError):
    """A database this release cannot use as it is: older (upgrade it) or newer (upgrade the software)."""


@dataclass(frozen=True)
class Upgraded:
    """What ``Migrations.upgrade`` did: the revision before (None: unversioned, stamped at the baseline) and after."""

    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


@dataclass(frozen=True)
class Migrations:
    """One side's migration environment: its directory, its tables and the revision of the release before it."""

    directory: Path
    metadata: MetaData
    baseline: str

    def config(self, connection: Connection | None = None):
        """An Alembic configuration in code; env.py runs on ``connection`` (the caller's transaction)."""
        from alembic.config import Config

        config = Config()
        # Config values go through ConfigParser interpolation: a '%' in the install path must be doubled.
        config.set_main_option("script_location", str(self.directory).replace("%", "%%"))
        config.attributes["connection"] = connection
        return config

    def revisions(self) -> tuple[str, ...]:
        """Every revision id, oldest first."""
        return _revisions(self.directory)

    def head(self) -> str:
        return self.revisions()[-1]

    def knows(self, revision: str) -> bool:
        return revision in self.revisions()

    def revision(self, connection: Connection) -> str | None:
        """The revision stamped in the database, or None when it has none."""
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()

    def ensure(self, connection: Connection, advice: str) -> None:
        """Create the tables at head in an empty database; refuse one at any other revision.

        ``advice`` ends the message for an older schema: how to back it up and which command upgrades it.
        """
        tables = set(inspect(connection).get_table_names()) - {VERSION_TABLE}
        if not tables & set(self.metadata.tables):
            from alembic import command

            self.metadata.create_all(connection)
            command.stamp(self.config(connection), "head")
            return
        current, head = self.revision(connection), self.head()
        if current == head:
            return
        if current is None or self.knows(current):
            made_by = "the release before migrations" if current is None else f"revision {current}"
            raise SchemaError(f"the database has the schema of an older pointkit ({made_by}; this release needs "
                              f"revision {head}): {advice}")
        raise SchemaError(f"the database has schema revision {current}, which this pointkit does not know: a newer "
                          "release wrote it; install that release (or newer) instead of this one")

    def upgrade(self, connection: Connection) -> Upgraded:
        """Bring the database to head: stamp an unversioned one at the baseline first, then run what is missing."""
        from alembic import command

        before = self.revision(connection)
        if before is not None and not self.knows(before):
            raise SchemaError(f"the database has schema revision {before}, which this pointkit does not know: a "
                              "newer release wrote it; it cannot be upgraded by an older one")
        config = self.config(connection)
        if before is None:
            if not set(inspect(connection).get_table_names()) & set(self.metadata.tables):
                raise SchemaError("the database holds no tables to upgrade")
            command.stamp(config, self.baseline)
        command.upgrade(config, "head")
        return Upgraded(before, self.head())

    def build(self, connection: Connection) -> None:
        """Run every revision on an empty database (what the models are compared with)."""
        from alembic import command

        command.upgrade(self.config(connection), "head")

    def differences(self, connection: Connection) -> list:
        """What the models have that the database lacks, or the other way round (Alembic's autogenerate diff)."""
        from alembic.autogenerate import compare_metadata
        from alembic.runtime.migration import MigrationContext

        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, self.metadata)

    def upgrade_sqlite(self, path: str | Path) -> Upgraded:
        """Upgrade one SQLite file in one transaction (all or nothing), its foreign keys checked before commit."""
        engine = sqlite_migration_engine(path)
        try:
            with engine.begin() as connection:
                upgraded = self.upgrade(connection)
                check_foreign_keys(connection)
        finally:
            engine.dispose()
        return upgraded


@functools.cache
def _revisions(directory: Path) -> tuple[str, ...]:
    return tuple(sorted(path.name.split("_", 1)[0] for path in (directory / "versions").glob(REVISION_FILES)))


def run_environment(context, metadata: MetaData) -> None:
    """The body of each side's env.py: migrate the caller's connection inside its transaction.

    ``render_as_batch`` makes autogenerate write SQLite-safe operations (copy and move for what ALTER TABLE
    cannot do); on PostgreSQL the same batch blocks run as plain ALTER statements.
    """
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise SchemaError("pointkit's migrations run on a connection given in code (see sync/migrate.py)")
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True,
                      render_item=render_plain_types)
    with context.begin_transaction():
        context.run_migrations()


def render_plain_types(kind: str, value, _autogen_context) -> str | bool:
    """Write SQLModel's column types as the SQLAlchemy types they store as (``AutoString(64)`` as
    ``sa.String(length=64)``): a revision must keep running whatever a later SQLModel calls its types."""
    if kind == "type" and type(value).__module__.startswith("sqlmodel"):
        return "sa." + repr(value.impl)
    return False


def sqlite_migration_engine(path: str | Path) -> Engine:
    """An engine for migrating one SQLite file: foreign keys off, the whole upgrade in one transaction.

    Batch mode copies a table, drops the old one and renames the copy; with foreign keys on, dropping a table
    other rows point at would fail (or cascade). The upgrade checks the keys itself once the copy is done
    (``check_foreign_keys``). BEGIN IMMEDIATE keeps any other writer out until the upgrade commits.
    """
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _own_transactions(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys=OFF")

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def check_foreign_keys(connection: Connection) -> None:
    """Fail (rolling the upgrade back) if a SQLite upgrade left a row pointing at nothing."""
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        tables = sorted({row[0] for row in broken})
        raise SchemaError(f"the upgrade would leave {len(broken)} row(s) pointing at missing rows "
                          f"(tables {', '.join(tables)}); nothing was changed")
