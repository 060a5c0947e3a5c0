"""The hub's migration environment: Alembic runs it for every upgrade, stamp and autogenerate (hub/migrate.py)."""

from alembic import context

from hub.migrate import MIGRATIONS
from sync.kit.migrate import run_environment

run_environment(context, MIGRATIONS.metadata)
