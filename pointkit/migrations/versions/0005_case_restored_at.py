"""case: restored_at

``case.restored_at``: when the hub sent the case back (CASE_COPY) to this point, restored from a backup older
than the case. Such a case has no pickup code here; staff hand its result over on the full ID number. Empty
for every case already there: this point took them itself.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 12:35:44.523973
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('restored_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_column('restored_at')
