"""timers that run once across hub machines

The lease of each periodic job (``timerlease``, issue 23): the process that takes a due round runs it.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('timerlease',
    sa.Column('name', sa.String(length=96), nullable=False),
    sa.Column('holder', sa.String(length=128), nullable=False),
    sa.Column('lease_id', sa.String(length=32), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_run_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_run_by', sa.String(length=128), nullable=False),
    sa.Column('rounds', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )


def downgrade() -> None:
    op.drop_table('timerlease')
