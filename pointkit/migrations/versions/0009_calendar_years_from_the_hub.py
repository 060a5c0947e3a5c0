"""calendar years from the hub

``calendaryear``: the holiday-calendar years the county hub signed and sent (online, through the township or
on a USB bundle); each replaces the shipped file of its year. ``pointstate.last_sync_path`` (online, relay or
usb) and ``pointstate.relay_name`` (the township a village syncs through), for ``pointkit status``. Empty
until the next sync; a village enrolled through a township before this revision learns its township's name
when it is enrolled again, and says "relay" meanwhile only once it syncs.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 13:27:14.114690
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('calendaryear',
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('document', sa.Text(), nullable=False),
    sa.Column('signature', sa.String(length=200), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('year')
    )
    with op.batch_alter_table('pointstate', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_sync_path', sa.String(length=16), nullable=False, server_default=""))
        batch_op.add_column(sa.Column('relay_name', sa.String(length=128), nullable=False, server_default=""))
    # The defaults were for the row already there; a new row gets its own from the model.
    with op.batch_alter_table('pointstate', schema=None) as batch_op:
        batch_op.alter_column('last_sync_path', server_default=None)
        batch_op.alter_column('relay_name', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('pointstate', schema=None) as batch_op:
        batch_op.drop_column('relay_name')
        batch_op.drop_column('last_sync_path')
    op.drop_table('calendaryear')
