"""The hub's migration environment: Alembic runs it for every upgrade, stamp and autogenerate (hub/migrate.py)."""

from alembic import context

from sync.kit.migrate import run_environment

from hub.migrate import MIGRATIONS

run_environment(context, MIGRATIONS.metadata)
