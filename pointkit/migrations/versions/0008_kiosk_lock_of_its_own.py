"""kiosk lock of its own

``case.kiosk_failures`` and ``case.kiosk_locked_until``: the residents' kiosk counts wrong pickup codes on a
counter of its own, so a lock there never keeps staff from handing a result over. Nothing counted yet.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 13:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kiosk_failures', sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column('kiosk_locked_until', sa.DateTime(), nullable=True))
    # The default was for the rows already there; new rows get theirs from the model.
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.alter_column('kiosk_failures', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_column('kiosk_locked_until')
        batch_op.drop_column('kiosk_failures')
