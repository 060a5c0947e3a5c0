"""special procedures

``case.hub_procedure`` / ``hub_procedure_since`` / ``hub_procedure_until``: the special procedure (特别程序,
行政许可法 第四十五条) that stops the hub's clock on a case now, as a protocol-4 STATUS says, for the pages and the
kiosk to tell the resident. Empty until such a STATUS arrives.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 01:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hub_procedure', sa.String(length=24), nullable=False, server_default=""))
        batch_op.add_column(sa.Column('hub_procedure_since', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('hub_procedure_until', sa.Date(), nullable=True))
    # The default was for the rows already there; new rows get theirs from the model.
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.alter_column('hub_procedure', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_column('hub_procedure_until')
        batch_op.drop_column('hub_procedure_since')
        batch_op.drop_column('hub_procedure')
