"""supplement round: return by (the day the resident must bring a 补正's materials)

Rounds still open get theirs from ``pointkit-hub upgrade``'s second transaction (hub/migrate.py), which counts
it with today's catalog and calendar.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 13:25:10.882427
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('supplementround', schema=None) as batch_op:
        batch_op.add_column(sa.Column('return_by', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('supplementround', schema=None) as batch_op:
        batch_op.drop_column('return_by')
