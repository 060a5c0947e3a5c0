"""outbox: seal messages when they leave

A message is queued as its payload and the hub key generation that signs it, and sealed to the point's
newest key when it first leaves (hub/core/outbox.py). Rows queued before this revision are sealed already:
their ``payload`` and ``signer`` stay empty.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 00:14:11.153835
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outmessage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payload', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('signer', sa.Integer(), nullable=True))
        batch_op.alter_column('envelope',
               existing_type=sa.LargeBinary(),
               nullable=True)


def downgrade() -> None:
    with op.batch_alter_table('outmessage', schema=None) as batch_op:
        batch_op.alter_column('envelope',
               existing_type=sa.LargeBinary(),
               nullable=False)
        batch_op.drop_column('signer')
        batch_op.drop_column('payload')

