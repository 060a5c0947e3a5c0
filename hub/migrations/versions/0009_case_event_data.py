"""case event data

``caseevent.data``: a timeline line's facts as values (department codes, dates, counts), from which the pages
word the line in Chinese or English; ``note`` stays the English line of the API and the CLI. Empty for
existing lines: the pages show what they can of those from their action.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 18:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('caseevent', schema=None) as batch_op:
        batch_op.add_column(sa.Column('data', sa.JSON(), nullable=False, server_default="{}"))
    # The default was for the lines already there; new lines get theirs from the model.
    with op.batch_alter_table('caseevent', schema=None) as batch_op:
        batch_op.alter_column('data', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('caseevent', schema=None) as batch_op:
        batch_op.drop_column('data')
