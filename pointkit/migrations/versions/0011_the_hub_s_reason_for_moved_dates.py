"""the hub's reason for moved dates

``case.hub_dates_reason``: why the hub last counted a case's dates again when the holiday calendar changed
("calendar:2031"), for the pages that show the moved date. Empty until such a STATUS arrives.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 15:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hub_dates_reason', sa.String(length=64), nullable=False, server_default=""))
    # The default was for the rows already there; new rows get theirs from the model.
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.alter_column('hub_dates_reason', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_column('hub_dates_reason')
