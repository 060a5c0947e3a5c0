"""hub audit head

``pointstate.hub_audit_head``: the longest head of the hub's audit chain the hub signed for this point (JSON
{document, signature}), kept as evidence outside the hub's database. Empty until the next push answer or hub
bundle.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 13:32:11.401484
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('pointstate', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hub_audit_head', sa.Text(), nullable=False, server_default=""))
    # The default was for the row already there; a new row gets its own from the model.
    with op.batch_alter_table('pointstate', schema=None) as batch_op:
        batch_op.alter_column('hub_audit_head', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('pointstate', schema=None) as batch_op:
        batch_op.drop_column('hub_audit_head')
