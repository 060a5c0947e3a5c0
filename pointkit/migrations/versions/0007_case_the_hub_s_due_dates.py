"""case: the hub's due dates

The promised and legal due dates the hub's STATUS messages carry (protocol 3) and the working days 补正 paused
the clock, shown instead of the promised date printed at intake. Existing cases have none until the hub next
speaks about them: their printed date stands, as before.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 13:28:58.595617
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hub_promised_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('hub_legal_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('hub_paused_days', sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.alter_column('hub_paused_days', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_column('hub_paused_days')
        batch_op.drop_column('hub_legal_date')
        batch_op.drop_column('hub_promised_date')
