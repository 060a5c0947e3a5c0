"""point: last seq and receipt

Each point's highest envelope sequence number and newest receipt number, which every pull answer names so a
point restored from an old backup numbers on from where it really stood. Existing hubs fill them from the
envelopes and cases they hold.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 08:20:06.917652
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('point', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_seq', sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column('last_receipt', sa.String(length=40), nullable=False, server_default=""))
    op.execute(
        'UPDATE point SET '
        'last_seq = COALESCE((SELECT MAX(seq) FROM rawenvelope WHERE rawenvelope.point_id = point.id), 0), '
        'last_receipt = COALESCE((SELECT MAX(receipt_no) FROM "case" WHERE "case".point_id = point.id), \'\')')
    # The defaults were for the rows already there; new rows get theirs from the model, as on a new hub.
    with op.batch_alter_table('point', schema=None) as batch_op:
        batch_op.alter_column('last_seq', server_default=None)
        batch_op.alter_column('last_receipt', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('point', schema=None) as batch_op:
        batch_op.drop_column('last_receipt')
        batch_op.drop_column('last_seq')
