"""drop indexes the unique keys give already

``outmessage`` and ``seennonce`` each had an index on ``point_id`` beside a unique key that starts with
``point_id`` (``(point_id, seq)``, ``(point_id, nonce)``), which serves the same lookups. Every status
message and every signed request paid for the second index. (``rawenvelope`` keeps its ``point_id``
index: its unique key is partial and does not serve a lookup by point alone.)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 03:22:50.795968
"""

from __future__ import annotations

from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outmessage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outmessage_point_id'))
    with op.batch_alter_table('seennonce', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_seennonce_point_id'))


def downgrade() -> None:
    with op.batch_alter_table('seennonce', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_seennonce_point_id'), ['point_id'], unique=False)
    with op.batch_alter_table('outmessage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outmessage_point_id'), ['point_id'], unique=False)
