"""sync steps

``pointstate.sync_steps``: each sync step's last success and what holds it now (JSON: step -> {ok_at, stuck,
since}), for the sync page. Empty until the next round.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 12:13:47.321288
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('pointstate', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sync_steps', sa.Text(), nullable=False, server_default=""))
    # The default was for the row already there; a new row gets its own from the model.
    with op.batch_alter_table('pointstate', schema=None) as batch_op:
        batch_op.alter_column('sync_steps', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('pointstate', schema=None) as batch_op:
        batch_op.drop_column('sync_steps')
