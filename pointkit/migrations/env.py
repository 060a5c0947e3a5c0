"""The point's migration environment: Alembic runs it for every upgrade, stamp and autogenerate (pointkit/migrate.py)."""

from alembic import context

from sync.kit.migrate import run_environment

from pointkit.migrate import MIGRATIONS

run_environment(context, MIGRATIONS.metadata)
