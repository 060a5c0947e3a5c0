"""sealed scans in S3-compatible object storage: when a scan was removed after the county's retention

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('casescan', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purged_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('casescan', schema=None) as batch_op:
        batch_op.drop_column('purged_at')
