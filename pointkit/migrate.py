"""The point's schema migrations (pointkit/migrations/versions): what ``pointkit upgrade`` runs.

Every other command and ``serve`` only create a new database at the newest
revision or check that an existing one is there (``pointkit.db.init_db``).
"""

from __future__ import annotations

from pathlib import Path

from sync.kit.migrate import Migrations, Upgraded

from . import relaystore  # noqa: F401  (registers the relay tables on PointTable.metadata)
from .models import PointTable

# The previous release (4315ee0) made its tables without migrations; upgrade stamps such a database here.
MIGRATIONS = Migrations(Path(__file__).with_name("migrations"), PointTable.metadata, baseline="0001")


def upgrade_advice(data_dir: Path | str) -> str:
    """What to do about an older schema: the backup and the upgrade command, for error messages."""
    return f"back it up (pointkit backup --data {data_dir} FILE), then run: pointkit upgrade --data {data_dir}"


def upgrade(database: Path) -> Upgraded:
    """Bring the point's database file to the newest revision in one transaction."""
    return MIGRATIONS.upgrade_sqlite(database)
