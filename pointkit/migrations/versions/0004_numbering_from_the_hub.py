"""numbering from the hub

``pointstate.receipt_floor``: the newest receipt number the hub holds from this point (named on its pull
answers): a point restored from an old backup numbers receipts on from it. ``relayvillage.last_seq`` and
``last_receipt``: the same for each village a township relays for, passed on to the village. Empty or 0
until the next pull.

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
    with op.batch_alter_table('relayvillage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_seq', sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column('last_receipt', sa.String(length=40), nullable=False, server_default=""))
    # The defaults were for the rows already there; new rows get theirs from the models.
    with op.batch_alter_table('pointstate', schema=None) as batch_op:
        batch_op.alter_column('receipt_floor', server_default=None)
    with op.batch_alter_table('relayvillage', schema=None) as batch_op:
        batch_op.alter_column('last_seq', server_default=None)
        batch_op.alter_column('last_receipt', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('relayvillage', schema=None) as batch_op:
        batch_op.drop_column('last_receipt')
        batch_op.drop_column('last_seq')
    with op.batch_alter_table('pointstate', schema=None) as batch_op:
        batch_op.drop_column('receipt_floor')
