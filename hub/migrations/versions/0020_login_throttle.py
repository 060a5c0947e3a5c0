"""login throttling instead of a hard lock

Reserved for issue 27 (filled in by its change; empty until then).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
