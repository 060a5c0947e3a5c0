"""sealed scans in S3-compatible object storage (filled by the object-store work)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
