"""intake time evidence

``point.sealed_seq`` / ``sealed_at``: how many envelopes a point said it had sealed on its last signed pull, and
when (a lower bound on the intake time of every later envelope). ``case.vouched_intake`` /
``intake_vouched_by``: an intake time an operator accepted for a claim the hub could not believe. Empty for
existing rows: their claims were judged as before.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 13:51:18.684641
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
        batch_op.add_column(sa.Column('vouched_intake', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('intake_vouched_by', sa.String(length=64), nullable=False, server_default=""))
    with op.batch_alter_table('point', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sealed_seq', sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column('sealed_at', sa.DateTime(timezone=True), nullable=True))
    # The defaults were for the rows already there; new rows get theirs from the models.
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.alter_column('intake_vouched_by', server_default=None)
    with op.batch_alter_table('point', schema=None) as batch_op:
        batch_op.alter_column('sealed_seq', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('point', schema=None) as batch_op:
        batch_op.drop_column('sealed_at')
        batch_op.drop_column('sealed_seq')
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_column('intake_vouched_by')
        batch_op.drop_column('vouched_intake')
