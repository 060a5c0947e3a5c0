"""pointstate: receipt floor

The newest receipt number the hub holds from this point (named on its pull answers): a point restored from
an old backup numbers receipts on from it. Empty until the next pull.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 08:20:07.814655
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('pointstate', schema=None) as batch_op:
        batch_op.add_column(sa.Column('receipt_floor', sa.String(length=40), nullable=False, server_default=""))
    # The default was for the row already there; a new point gets its own from the model.
    with op.batch_alter_table('pointstate', schema=None) as batch_op:
        batch_op.alter_column('receipt_floor', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('pointstate', schema=None) as batch_op:
        batch_op.drop_column('receipt_floor')
