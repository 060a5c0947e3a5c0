"""``pointkit-hub upgrade`` on SQLite and on PostgreSQL: an older schema is refused by every other command
(naming the upgrade), upgraded in one run, and a second run changes nothing.

The older schema here is today's hub stepped down to the baseline revision with its rows kept; the previous
release's own code making one is tests/system/test_upgrade.py (SQLite: the previous release had no PostgreSQL).
"""

from __future__ import annotations

from alembic import command
from click.testing import CliRunner
from sqlalchemy import make_url

from hub.cli import main
from hub.core.db import database_url, is_sqlite, make_engine
from hub.instance import initialize
from hub.migrate import MIGRATIONS
from sync.kit.migrate import sqlite_migration_engine


def step_down_to_baseline(data) -> None:
    url = database_url(data)
    engine = sqlite_migration_engine(make_url(url).database) if is_sqlite(url) else make_engine(url)
    with engine.begin() as connection:
        command.downgrade(MIGRATIONS.config(connection), MIGRATIONS.baseline)
    engine.dispose()


def test_upgrade_brings_an_older_hub_database_to_the_newest_revision(tmp_path, hub_database):
    data = tmp_path / "hub"
    done = initialize(data, admin_password="admin-pass-1")
    step_down_to_baseline(data)
    cli = CliRunner()

    refused = cli.invoke(main, ["keys", "list", "--data", str(data)])
    assert refused.exit_code == 1
    assert f"needs revision {MIGRATIONS.head()}" in refused.output
    assert f"pointkit-hub upgrade --data {data}" in refused.output
    if hub_database != "sqlite":
        assert "pg_dump" in refused.output and "--database-url" in refused.output

    upgraded = cli.invoke(main, ["upgrade", "--data", str(data)])
    assert upgraded.exit_code == 0, upgraded.output
    assert "Back up first" in upgraded.output
    assert f"from {MIGRATIONS.baseline} to schema revision {MIGRATIONS.head()}" in upgraded.output
    again = cli.invoke(main, ["upgrade", "--data", str(data)])
    assert f"already at schema revision {MIGRATIONS.head()}; nothing to do" in again.output

    listed = cli.invoke(main, ["keys", "list", "--data", str(data)])
    assert listed.exit_code == 0 and listed.output.startswith(f"1\t{done.fingerprint}\t"), listed.output
