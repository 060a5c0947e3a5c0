"""each point's daily ingest budget

What each point made the hub store each county day (``pointingestday``, issue 27), and a point's own budget
(``point.ingest_budget_mib``; none: the county's default).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('point') as batch_op:
        batch_op.add_column(sa.Column('ingest_budget_mib', sa.Integer(), nullable=True))
    op.create_table('pointingestday',
    sa.Column('point_id', sa.Uuid(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('stored_bytes', sa.BigInteger(), nullable=False),
    sa.Column('envelopes', sa.Integer(), nullable=False),
    sa.Column('over_budget_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['point_id'], ['point.id'], ),
    sa.PrimaryKeyConstraint('point_id', 'day')
    )


def downgrade() -> None:
    op.drop_table('pointingestday')
    with op.batch_alter_table('point') as batch_op:
        batch_op.drop_column('ingest_budget_mib')
